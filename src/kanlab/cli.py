"""The ``kanlab`` command line."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

__all__ = ["main"]

DEMO_GRIDS = (3, 5, 10, 20, 50)


def _demo(args: argparse.Namespace) -> int:
    if args.story == "symbolic":
        return _demo_symbolic(args)
    import torch

    from . import KAN, fit
    from .data import make_toy_dataset

    grids = tuple(args.grids)
    steps = args.steps_per_grid * len(grids)
    data = make_toy_dataset("exp_sin_sq", n_train=1000, n_test=1000, seed=0, dtype=torch.float64)
    print("kanlab demo: f(x, y) = exp(sin(pi x) + y^2), 1000 train / 1000 test points")
    print(
        f"LBFGS, float64, grid extension G = {', '.join(map(str, grids))} every "
        f"{args.steps_per_grid} steps (the KAN paper's Figure 2.3)\n"
    )
    results = {}
    times = {}
    start = time.perf_counter()
    for widths in ([2, 1, 1], [2, 5, 1]):
        t0 = time.perf_counter()
        model = KAN(widths, grid_size=grids[0], seed=args.seed, dtype=torch.float64)
        history = fit(model, data, opt="lbfgs", steps=steps, grid_schedule=list(grids),
                      progress=not args.no_progress)
        results[str(widths)] = history.final_by_grid()
        times[str(widths)] = time.perf_counter() - t0
    total = time.perf_counter() - start

    names = list(results)
    header = "| G | " + " | ".join(f"{n} train RMSE | {n} test RMSE" for n in names) + " |"
    print(header)
    print("|" + "---|" * (1 + 2 * len(names)))
    for g in grids:
        cells = []
        for n in names:
            r = results[n].get(g, {"train_rmse": float("nan"), "test_rmse": float("nan")})
            cells += [f"{r['train_rmse']:.3e}", f"{r['test_rmse']:.3e}"]
        print(f"| {g} | " + " | ".join(cells) + " |")
    print()
    for n in names:
        print(f"{n}: {times[n]:.1f} s")
    print(f"total: {total:.1f} s")
    return 0


def _demo_symbolic(args: argparse.Namespace) -> int:
    from pathlib import Path

    import sympy  # noqa: F401 - imported before the clock starts (start-up, not the story)

    from .demos import STORY_LIBRARY, symbolic_story

    out = Path(args.out)
    print("kanlab demo symbolic: the KAN paper's §2.5.2 story on exp(sin(pi x) + y^2)")
    print("[2, 5, 1] KAN, float64, 50 LBFGS steps of up to 10 iterations per stage: sparsify "
          "(lamb 0.03), prune, retrain, auto-symbolic on "
          f"{{{', '.join(STORY_LIBRARY)}}}, fit the affine parameters, read the formula\n")
    results = []
    for seed in range(args.seeds):
        plots = out if seed == 0 else None
        r = symbolic_story(seed, plot_dir=plots, report=print if seed == 0 else None)
        results.append(r)
        formula = "no formula" if r.formula is None else _rounded(r.formula)
        print(f"seed {seed}: {r.pruned_widths} -> {r.widths}, formula test RMSE "
              f"{r.formula_test_rmse:.2e} ({'recovered' if r.recovered else 'NOT recovered'}), "
              f"{r.seconds:.1f} s: {formula}")
    n_ok = sum(r.recovered for r in results)
    times = [r.seconds for r in results]
    print(f"\nrecovered exactly (formula test RMSE < 1e-6): {n_ok} of {len(results)} seeds")
    print(f"seconds per seed: min {min(times):.1f}, median {sorted(times)[len(times) // 2]:.1f}, "
          f"max {max(times):.1f}")
    print(f"plots of seed 0 (trained, symbolic): {out}/")
    return 0


def _rounded(expr) -> str:
    from .formula import tidy

    return str(tidy(expr))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kanlab", description="Kolmogorov-Arnold Networks on PyTorch."
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo = sub.add_parser(
        "demo", help="fit exp(sin(pi x) + y^2) with grid extension and print the RMSE table; "
        "'demo symbolic': sparsify, prune and recover the formula"
    )
    demo.add_argument("story", nargs="?", choices=("fit", "symbolic"), default="fit",
                      help="fit (grid extension, the default) or symbolic (formula recovery)")
    demo.add_argument("--seeds", type=int, default=10, help="symbolic: model seeds 0..n-1")
    demo.add_argument("--out", default="kanlab_demo_symbolic",
                      help="symbolic: directory for the plots of seed 0")
    demo.add_argument("--steps-per-grid", type=int, default=200, help="LBFGS steps per grid")
    demo.add_argument("--grids", type=int, nargs="+", default=list(DEMO_GRIDS),
                      help="grid sizes, in order")
    demo.add_argument("--seed", type=int, default=0, help="model seed")
    demo.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    demo.set_defaults(func=_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    return args.func(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
