"""What product nodes cost: one KAN layer with and without them, float32 on CPU.

At each (in, rows, batch) three layers with the same edges (``in × rows``, so the same spline
work) take turns:

* ``sums``: ``KANLinear(in, rows)``, every row an output (sum nodes only);
* ``half products``: ``KANLinear(in, rows, products=[2] * (rows // 4))``: half the rows are
  multiplied in pairs (``rows / 2`` sum nodes and ``rows / 4`` product nodes);
* ``all products``: ``KANLinear(in, rows, products=[2] * (rows // 2))``: every row is a factor.

Timing: forward + backward of the output with the input requiring grad (as for a hidden
layer), and the forward under ``no_grad``, interleaved as in ``bench_layer.py``
(``_common.interleaved_times``: 30 rounds, the order rotating, about 1 s per layer over all
rounds; ``--quick``: 5 rounds of 0.1 s). The ratio to ``sums`` is of the minima and of the
medians.

Usage: ``python benchmarks/bench_product_nodes.py [--quick] [--rounds N] [--shapes ...]
[--threads N]``; a full run of the default shapes writes
``benchmarks/results/product_nodes.md``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

import torch
from _common import (
    LoadWatch,
    add_round_options,
    fmt,
    header_lines,
    interleaved_times,
    markdown_table,
    mode_text,
    parse_shapes,
    ratio,
    rounds_of,
    threads_text,
    write_result,
)

import kanlab

SHAPES = [(64, 64, 4096), (2, 8, 1000)]
LAYERS = {"sums": 0, "half products": 4, "all products": 2}  # name: rows per product node


def make_layers(n_in: int, rows: int) -> dict[str, kanlab.KANLinear]:
    """The three layers at one shape, initialised alike."""
    out = {}
    for name, per in LAYERS.items():
        products = [] if per == 0 else [2] * (rows // per)
        out[name] = kanlab.KANLinear(n_in, rows, grid_size=5, products=products,
                                     generator=torch.Generator().manual_seed(0))
    return out


def _calls(layers: dict[str, kanlab.KANLinear], batch: int
           ) -> dict[str, dict[str, Callable[[], object]]]:
    x = torch.rand(batch, next(iter(layers.values())).in_features,
                   generator=torch.Generator().manual_seed(1)) * 2 - 1
    fwd, fb = {}, {}
    for name, layer in layers.items():
        xg = x.clone().requires_grad_(True)
        with torch.no_grad():
            g = torch.ones_like(layer(x))

        def step(layer=layer, xg=xg, g=g) -> None:
            for p in layer.parameters():
                p.grad = None
            xg.grad = None
            layer(xg).backward(g)

        fwd[name] = lambda layer=layer: layer(x)
        fb[name] = step
    return {"fwd": fwd, "f+b": fb}


def run(shapes: list[tuple[int, int, int]], rounds: int, min_time: float, quick: bool) -> str:
    rows_out = []
    with LoadWatch() as load:
        for n_in, n_rows, batch in shapes:
            calls = _calls(make_layers(n_in, n_rows), batch)
            for pass_, fns in calls.items():
                if pass_ == "fwd":
                    with torch.no_grad():
                        t = interleaved_times(fns, rounds=rounds, min_time=min_time)
                else:
                    t = interleaved_times(fns, rounds=rounds, min_time=min_time)
                base = t["sums"]
                for name in LAYERS:
                    rows_out.append([f"({n_in}, {n_rows}, {batch})", pass_, name,
                                     fmt(t[name].min * 1e3), fmt(t[name].median * 1e3),
                                     ratio(t[name].min, base.min),
                                     ratio(t[name].median, base.median)])
                print(f"  ({n_in}, {n_rows}, {batch}) {pass_}: " + "  ".join(
                    f"{n} {t[n].min * 1e3:.3g}" for n in LAYERS), file=sys.stderr)
    head = ["(in, rows, batch)", "pass", "layer", "min ms", "median ms", "/ sums (min)",
            "/ sums (median)"]
    return "\n".join([
        f"# Product nodes: one layer's time ({mode_text(rounds, quick)}), G=5, k=3, float32, CPU",
        "",
        *header_lines(load),
        "",
        "Layers with the same edges: `sums` = `KANLinear(in, rows)`; `half products` = "
        "`products=[2] * (rows // 4)`; `all products` = `products=[2] * (rows // 2)`. "
        "fwd: forward under `no_grad`; f+b: forward + backward with the input requiring grad. "
        f"{rounds} interleaved rounds, about {min_time:g} s per layer. {threads_text()}.",
        "",
        markdown_table(head, rows_out),
        "",
    ])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_round_options(parser)
    parser.add_argument("--shapes", type=parse_shapes, default=SHAPES,
                        help="INxROWSxBATCH,... (default "
                             + ",".join("x".join(map(str, s)) for s in SHAPES) + ")")
    parser.add_argument("--threads", type=int, default=None, help="torch threads")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    rounds, min_time = rounds_of(args)
    text = run(args.shapes, rounds, min_time, args.quick)
    print(text)
    if not args.quick and args.shapes == SHAPES:
        print(f"wrote {write_result('product_nodes.md', text)}", file=sys.stderr)


if __name__ == "__main__":
    main()
