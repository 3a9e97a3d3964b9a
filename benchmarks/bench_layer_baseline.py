"""``KANLinear`` against a baseline kanlab (an older checkout) and a dense floor, in one process.

Restructuring must not slow the layer down, and timings on this shared 2-core machine drift by
tens of percent between runs, so the two versions are timed side by side: the baseline's
``src/kanlab`` is copied into a temporary folder as the package ``kanlab_baseline`` (its
imports are relative, so it loads beside today's ``kanlab``), both layers are built from the same
seed (their outputs are checked equal), and each round times every model in turn, the order
rotating from round to round (``_common.interleaved_times``). The table gives the minimum and
the median over the rounds, and the ratios of the minima; the header records the load.

Usage::

    git worktree add /tmp/kanlab_before <commit>
    python benchmarks/bench_layer_baseline.py --baseline /tmp/kanlab_before [--rounds 40]

writes ``benchmarks/results/layer_baseline.md``.
"""

from __future__ import annotations

import argparse
import importlib
import shutil
import sys
import tempfile
from pathlib import Path

import torch
from _common import LoadWatch, header_lines, interleaved_times, markdown_table, write_result
from torch import nn

G, K = 5, 3
SHAPES = [(2, 5, 1000), (64, 64, 4096), (256, 256, 1024), (784, 64, 256)]
#: seconds per model and pass over all rounds
MIN_TIME = 1.0


def load_baseline(checkout: Path, into: Path):
    """The package ``src/kanlab`` of ``checkout``, imported as ``kanlab_baseline``."""
    shutil.copytree(checkout / "src" / "kanlab", into / "kanlab_baseline")
    sys.path.insert(0, str(into))
    return importlib.import_module("kanlab_baseline")


def models(baseline, n_in: int, n_out: int) -> dict[str, tuple[nn.Module, int]]:
    import kanlab

    made = {}
    for name, lib in (("kanlab", kanlab), ("baseline", baseline)):
        gen = torch.Generator().manual_seed(0)
        made[name] = (lib.KANLinear(n_in, n_out, grid_size=G, spline_order=K, generator=gen), n_in)
    made["floor"] = (nn.Linear(n_in * (G + K + 1), n_out), n_in * (G + K + 1))
    return made


def calls(model: nn.Module, width: int, batch: int):
    """``(forward under no_grad, forward + backward)`` closures on fixed random data."""
    gen = torch.Generator().manual_seed(1)
    x = (torch.rand(batch, width, generator=gen) * 2 - 1).requires_grad_()
    params = [p for p in model.parameters() if p.requires_grad]

    def fwd() -> None:
        with torch.no_grad():
            model(x)

    def fwd_bwd() -> None:
        for p in params:
            p.grad = None
        x.grad = None
        model(x).sum().backward()

    return fwd, fwd_bwd


def run(baseline, rounds: int) -> str:
    rows = []
    for n_in, n_out, batch in SHAPES:
        made = models(baseline, n_in, n_out)
        with torch.no_grad():
            x = torch.rand(8, n_in, generator=torch.Generator().manual_seed(2))
            assert torch.equal(made["kanlab"][0](x), made["baseline"][0](x)), "outputs differ"
        for mode, index in (("fwd", 0), ("f+b", 1)):
            fns = {name: calls(m, w, batch)[index] for name, (m, w) in made.items()}
            times = interleaved_times(fns, rounds=rounds, min_time=MIN_TIME)
            low = {name: t.min * 1e3 for name, t in times.items()}
            med = {name: t.median * 1e3 for name, t in times.items()}
            rows.append([f"({n_in}, {n_out}, {batch})", mode,
                         f"{low['kanlab']:.3g} / {med['kanlab']:.3g}",
                         f"{low['baseline']:.3g} / {med['baseline']:.3g}",
                         f"{low['floor']:.3g} / {med['floor']:.3g}",
                         f"{low['kanlab'] / low['floor']:.2f}",
                         f"{low['baseline'] / low['floor']:.2f}",
                         f"**{low['kanlab'] / low['baseline']:.3f}**"])
    header = ["(in, out, batch)", "pass", "kanlab ms min / median", "baseline ms min / median",
              "floor ms min / median", "kanlab/floor", "baseline/floor", "kanlab/baseline"]
    return markdown_table(header, rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", type=Path, required=True,
                        help="a checkout of the kanlab to compare with (holds src/kanlab)")
    parser.add_argument("--rounds", type=int, default=40, help="interleaved rounds (40)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory(prefix="kanlab-baseline-") as tmp, LoadWatch() as load:
        baseline = load_baseline(args.baseline.resolve(), Path(tmp))
        table = run(baseline, args.rounds)
    text = "\n".join([
        f"# KANLinear against a baseline checkout (G={G}, k={K}, float32, CPU)",
        "",
        *header_lines(load),
        "",
        f"Baseline: `{args.baseline}` (`src/kanlab` loaded as `kanlab_baseline`); the same seed "
        "gives both layers the same parameters (outputs checked equal). Each of "
        f"{args.rounds} rounds times kanlab, the baseline and the floor (`nn.Linear(in*9, out)`) "
        "in rotating order (`_common.interleaved_times`: each model's calls per round "
        f"calibrated so that its rounds take about {MIN_TIME:g} s in all); ratios are of the "
        "minima; a busy machine: compare only the ratios of one run. fwd: forward "
        "under `no_grad`; f+b: forward + backward of the sum with the input requiring grad.",
        "",
        table,
    ])
    print(text)
    print(f"wrote {write_result('layer_baseline.md', text)}", file=sys.stderr)


if __name__ == "__main__":
    main()
