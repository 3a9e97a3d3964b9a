"""``torch.compile`` against eager: one ``KANLinear``, float32 on CPU, forward and forward+backward.

For each (in, out, batch) of the layer benchmark the same layer is timed eagerly and through
``torch.compile`` (inductor, default mode); the compile time (first call) is reported apart.
The compiled layer's output is checked against the eager one (max abs difference).

Timing: per shape and pass, eager and compiled take turns in interleaved rounds
(``_common.interleaved_times``: 30 rounds, the order rotating, about 1 s per variant over all
rounds; ``--quick``: 5 rounds of 0.1 s); the table gives the minimum and the median over the
rounds. The 1-minute load average before and after and the thread count are in the header.

Usage: ``python benchmarks/bench_compile.py [--quick] [--rounds N] [--shapes 64x64x4096,...]``;
writes ``benchmarks/results/compile.md``.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from collections.abc import Callable

import torch
from _common import (
    LoadWatch,
    Timing,
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

SHAPES = [(2, 5, 1000), (64, 64, 4096), (256, 256, 1024), (784, 64, 256)]


def _compiled_layer(layer: torch.nn.Module, xg: torch.Tensor) -> tuple[Callable, float]:
    """``torch.compile(layer)`` and the seconds of its first forward + backward (the compile)."""
    compiled = torch.compile(layer)
    t0 = time.perf_counter()
    with warnings.catch_warnings():  # inductor's searchsorted copy note; not an error
        warnings.simplefilter("ignore", UserWarning)
        compiled(xg).sum().backward()
    return compiled, time.perf_counter() - t0


def _pass_calls(
    models: dict[str, Callable], layer: torch.nn.Module, x: torch.Tensor, xg: torch.Tensor
) -> dict[str, dict[str, Callable[[], object]]]:
    """Per pass, one closure per variant: ``fwd`` (to be run under ``no_grad``) and ``f+b``
    (grads of the layer and the input reset to None each call)."""

    def fwd_bwd(model: Callable) -> Callable[[], None]:
        def step() -> None:
            layer.zero_grad(set_to_none=True)
            xg.grad = None
            model(xg).sum().backward()

        return step

    return {
        "fwd": {name: (lambda m=m: m(x)) for name, m in models.items()},
        "f+b": {name: fwd_bwd(m) for name, m in models.items()},
    }


def measure(
    n_in: int, n_out: int, batch: int, rounds: int, min_time: float
) -> tuple[dict[str, dict[str, Timing]], float, float]:
    """Interleaved timings of eager and compiled per pass, the compile seconds and the max
    absolute difference of their outputs."""
    gen = torch.Generator().manual_seed(0)
    layer = kanlab.KANLinear(n_in, n_out, generator=gen)
    x = torch.rand(batch, n_in, generator=gen) * 2 - 1
    xg = x.clone().requires_grad_()
    compiled, compile_s = _compiled_layer(layer, xg)
    with torch.no_grad():
        diff = float((compiled(x) - layer(x)).abs().max())
    calls = _pass_calls({"eager": layer, "compiled": compiled}, layer, x, xg)
    with torch.no_grad():
        fwd = interleaved_times(calls["fwd"], rounds=rounds, min_time=min_time)
    fb = interleaved_times(calls["f+b"], rounds=rounds, min_time=min_time)
    return {"fwd": fwd, "f+b": fb}, compile_s, diff


def time_row(shape: str, pass_: str, timings: dict[str, Timing]) -> list[object]:
    """Min and median ms of eager and compiled, and the speed-ups (eager / compiled)."""
    e, c = timings["eager"], timings["compiled"]
    return [shape, pass_, fmt(e.min * 1e3), fmt(e.median * 1e3), fmt(c.min * 1e3),
            fmt(c.median * 1e3), ratio(e.min, c.min), ratio(e.median, c.median)]  # fmt: skip


TIME_HEAD = ["(in, out, batch)", "pass", "eager min ms", "eager median ms", "compiled min ms",
             "compiled median ms", "speed-up (min)", "speed-up (median)"]  # fmt: skip


def run(shapes: list[tuple[int, int, int]], rounds: int, min_time: float, quick: bool) -> str:
    """Measure every shape; the markdown of ``compile.md``."""
    time_rows, compile_rows = [], []
    with LoadWatch() as load:
        for n_in, n_out, batch in shapes:
            shape = f"({n_in}, {n_out}, {batch})"
            timings, compile_s, diff = measure(n_in, n_out, batch, rounds, min_time)
            time_rows += [time_row(shape, p, t) for p, t in timings.items()]
            compile_rows.append([shape, fmt(compile_s, 2), fmt(diff, 2)])
            print(f"  {shape} done (compile {compile_s:.1f} s)", file=sys.stderr)
    mode = mode_text(rounds, quick)
    return "\n".join([
        f"# KANLinear: torch.compile against eager ({mode}; float32, CPU, G = 5, k = 3)",
        "",
        *header_lines(load),
        "",
        "fwd: forward under `torch.no_grad()`; f+b: forward + backward of the sum, the input "
        f"requiring grad, grads reset to None each call. {rounds} rounds per shape and pass in "
        "which eager and compiled take turns (the order rotating; each variant's calls per "
        f"round calibrated so that its rounds take about {min_time:g} s in all); speed-ups "
        f"are eager / compiled, of the minima and of the medians. {threads_text()}.",
        "",
        markdown_table(TIME_HEAD, time_rows),
        "",
        "Compile: seconds of the first forward + backward through `torch.compile` (inductor, "
        "default mode); max |diff|: largest absolute difference of the compiled forward from "
        "the eager one.",
        "",
        markdown_table(["(in, out, batch)", "compile s", "max \\|diff\\|"], compile_rows),
        "",
    ])  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_round_options(parser)
    parser.add_argument("--shapes", type=parse_shapes, default=SHAPES,
                        help="comma-separated INxOUTxBATCH (default: the layer benchmark's)")
    args = parser.parse_args(argv)
    rounds, min_time = rounds_of(args)
    text = run(args.shapes, rounds, min_time, args.quick)
    print(text)
    if not args.quick:  # a smoke test does not replace the results
        print(f"wrote {write_result('compile.md', text)}", file=sys.stderr)


if __name__ == "__main__":
    main()
