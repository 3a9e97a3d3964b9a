"""Grid rules on sharp 1D features with structure on their flanks, and on smooth functions.

A one-edge KAN of widths ``[1, 1]`` (SiLU base + cubic spline, float64) fits ``f`` on
``[-1, 1]`` from 2000 uniform samples with ``kanlab.fit``: Adam, lr 1e-2, 2000 steps, the grid
adapted every 200 steps until step 1600 under the arm's strategy. Error: relative L2 on 10001
grid points; median over 5 seeds (seed s: data seed 1000 + s, model seed s).

Arms: ``input`` (knots at sample quantiles), ``curvature`` (kanlab's default curvature rule:
``|φ''|^((k+1)/(2k+3))`` weights, floor 0.1, guard; on these least-squares fits an undone update
keeps the old knots), ``curvature_keep`` (the same, an undone update keeping the knots whatever
the check), ``curvature_paper``
(the importance-density paper's raw rule: ``|φ''|`` weights, no floor, no guard).

Run ``python experiments/grid_rule_1d.py [--grid-size 20] [--quick]``; it writes
``experiments/results/grid_rule_1d_G{G}{,_quick}.md`` and ``..._runs.csv``.
"""

from __future__ import annotations

import argparse
import csv
import math
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

import kanlab
from kanlab.grids import DensityGrid, get_grid_strategy
from kanlab.training import grid_events

sys.path.insert(0, str(Path(__file__).resolve().parent))
from idf_common import RESULTS, Run, check_names, log, wilcoxon_p  # noqa: E402

from kanlab.splines.lstsq import fit_coefficients  # noqa: E402

PI = math.pi
Fn = Callable[[torch.Tensor], torch.Tensor]

#: Sharp features (steps, peaks, a kink) with a sine or a polynomial on their flanks.
SHARP: dict[str, tuple[Fn, str]] = {
    "step_quad": (lambda x: torch.tanh(30 * (x + 0.2)) + 0.5 * x**2,
                  "tanh(30(x+0.2)) + 0.5x²"),
    "step_sine": (lambda x: torch.tanh(30 * (x + 0.2)) + 0.3 * torch.sin(3 * PI * x),
                  "tanh(30(x+0.2)) + 0.3 sin(3πx)"),
    "peak_sine": (lambda x: torch.exp(-200 * (x - 0.3) ** 2) + 0.3 * torch.sin(2 * PI * x),
                  "exp(-200(x-0.3)²) + 0.3 sin(2πx)"),
    "peak_cubic": (lambda x: torch.exp(-300 * (x + 0.4) ** 2) + x**3 - 0.5 * x,
                   "exp(-300(x+0.4)²) + x³ - 0.5x"),
    "two_steps_sine": (lambda x: torch.tanh(40 * (x + 0.5)) - torch.tanh(40 * (x - 0.5))
                       + 0.2 * torch.sin(5 * PI * x),
                       "tanh(40(x+0.5)) - tanh(40(x-0.5)) + 0.2 sin(5πx)"),
    "lorentz_cos": (lambda x: 0.0025 / ((x - 0.1) ** 2 + 0.0025) + 0.5 * torch.cos(3 * PI * x),
                    "0.05²/((x-0.1)² + 0.05²) + 0.5 cos(3πx)"),
    "kink_sine": (lambda x: torch.sqrt((x - 0.2) ** 2 + 1e-3) + 0.2 * torch.sin(4 * PI * x),
                  "sqrt((x-0.2)² + 0.001) + 0.2 sin(4πx)"),
}
#: Smooth functions, where adapting the knots has little to gain.
SMOOTH: dict[str, tuple[Fn, str]] = {
    "sin": (lambda x: torch.sin(PI * x), "sin(πx)"),
    "sin2": (lambda x: torch.sin(2 * PI * x), "sin(2πx)"),
    "exp": (lambda x: torch.exp(x), "exp(x)"),
    "cubic": (lambda x: x**3 - 0.5 * x, "x³ - 0.5x"),
    "quartic": (lambda x: x**4 + 0.5 * x, "x⁴ + 0.5x"),
}
FUNCTIONS = {**SHARP, **SMOOTH}
ARMS: dict[str, Callable[[], kanlab.grids.GridStrategy]] = {
    "input": lambda: DensityGrid("input", floor=0.0, guard=None),
    "curvature": lambda: get_grid_strategy("curvature"),
    "curvature_keep": lambda: get_grid_strategy("curvature", fallback="keep"),
    "curvature_paper": lambda: get_grid_strategy("curvature_paper"),
}


@dataclass
class Run1D(Run):
    """A run, with the error of the best cubic spline on its final knots (placement alone)."""

    best: float = math.nan


@torch.no_grad()
def best_spline_error(fn: Fn, knots: torch.Tensor, x: torch.Tensor, xt: torch.Tensor) -> float:
    """Relative L2 error on ``xt`` of the least-squares cubic spline through ``(x, fn(x))`` on
    ``knots`` ``(1, n)``: how good the knots are, whatever the optimiser reached."""
    coef = fit_coefficients(x, fn(x).unsqueeze(-1), knots, 3)  # (1, 1, nb)
    from kanlab.splines.basis import bspline_basis

    pred = bspline_basis(xt, knots, 3)[:, 0, :] @ coef[0, 0]
    yt = fn(xt)[:, 0]
    return float(torch.linalg.vector_norm(pred - yt) / torch.linalg.vector_norm(yt))


def write_runs_1d(runs: list[Run1D], path: Path) -> None:
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["case", "arm", "seed", "rel_l2", "best_spline", "train_s", "adapt_s"])
        for r in runs:
            w.writerow([r.case, r.arm, r.seed, f"{r.error:.6e}", f"{r.best:.6e}",
                        f"{r.train_s:.3f}", f"{r.adapt_s:.4f}"])


def train_run(name: str, arm: str, seed: int, grid_size: int, steps: int,
              batch_size: int | None = None, grid_samples: str = "auto") -> Run1D:
    """Fit one function under one arm; the time in grid updates is measured by wrapping the
    function that ``fit``'s grid events call."""
    fn = FUNCTIONS[name][0]
    gen = torch.Generator().manual_seed(1000 + seed)
    x = 2 * torch.rand(2000, 1, generator=gen, dtype=torch.float64) - 1
    xt = torch.linspace(-1, 1, 10001, dtype=torch.float64).unsqueeze(1)
    model = kanlab.KAN([1, 1], grid_size=grid_size, seed=seed, grid=ARMS[arm](),
                       dtype=torch.float64)
    adapt = [0.0]
    update = grid_events.update_network_grid

    def timed(*args, **kwargs):
        t0 = time.perf_counter()
        out = update(*args, **kwargs)
        adapt[0] += time.perf_counter() - t0
        return out

    grid_events.update_network_grid = timed
    try:
        t0 = time.perf_counter()
        kanlab.fit(model, {"train_input": x, "train_label": fn(x)}, opt="adam", lr=1e-2,
                   steps=steps, grid_update_every=steps // 10,
                   grid_update_until=steps * 4 // 5, progress=False, log_every=steps,
                   batch_size=batch_size, grid_samples=grid_samples)
        train_s = time.perf_counter() - t0
    finally:
        grid_events.update_network_grid = update
    with torch.no_grad():
        yt = fn(xt)
        err = float(torch.linalg.vector_norm(model(xt) - yt) / torch.linalg.vector_norm(yt))
    best = best_spline_error(fn, model.layers[0].knots, x, xt)
    return Run1D(name, arm, seed, err, train_s, adapt[0], best)


def markdown(runs: list[Run1D], names: list[str], arms: list[str], grid_size: int, steps: int,
             seeds: list[int], wall: str, batches: str = "full batch") -> str:
    med = {(n, a): statistics.median(r.error for r in runs if r.case == n and r.arm == a)
           for n in names for a in arms}
    best = {(n, a): statistics.median(r.best for r in runs if r.case == n and r.arm == a)
            for n in names for a in arms}
    by_seed = {(r.case, r.arm, r.seed): r.error for r in runs}
    lines = [
        f"# Grid rules on sharp and smooth 1D functions (G = {grid_size})", "",
        f"KAN [1, 1], cubic spline + SiLU base, float64; 2000 uniform samples on [-1, 1]; "
        f"`kanlab.fit`, Adam lr 1e-2, {steps} steps ({batches}), grid updates every "
        f"{steps // 10} steps "
        f"until step {steps * 4 // 5}; seeds {seeds}. Relative L2 error on 10001 points, "
        "median over seeds. `input`: sample quantiles; `curvature`: kanlab's default rule "
        "(|φ''|^(4/9) weights, floor 0.1, guard; on these least-squares fits an undone update "
        "keeps the old knots); `curvature_keep`: the same, an undone update "
        "keeping the old knots; "
        "`curvature_paper`: the paper's raw rule "
        "(|φ''|, no floor, no guard). `best spline`: the least-squares cubic spline through the "
        "training samples on the run's final knots (the knots' quality, without the "
        "optimiser's noise); `seeds ≤ input`: the share of seeds whose error is at most "
        "input's on the same seed (same data).", "",
        "| family | function | f(x) | " + " | ".join(arms) + " | "
        + " | ".join(f"{a} / input" for a in arms if a != "input") + " | "
        + " | ".join(f"best spline: {a}" for a in arms) + " | "
        + " | ".join(f"{a}: seeds ≤ input" for a in arms if a != "input") + " |",
        "|---" * (1 + 4 * len(arms)) + "|",
    ]
    for n in names:
        family = "sharp" if n in SHARP else "smooth"
        wins = {a: sum(by_seed[n, a, s] <= by_seed[n, "input", s] for s in seeds) / len(seeds)
                for a in arms if a != "input"}
        lines.append(f"| {family} | {n} | {FUNCTIONS[n][1]} | "
                     + " | ".join(f"{med[n, a]:.3e}" for a in arms) + " | "
                     + " | ".join(f"{med[n, a] / med[n, 'input']:.3f}"
                                  for a in arms if a != "input") + " | "
                     + " | ".join(f"{best[n, a]:.3e}" for a in arms) + " | "
                     + " | ".join(f"{wins[a]:.2f}" for a in wins) + " |")
    lines += ["", "| family | statistic | " + " | ".join(arms) + " |",
              "|---" * (2 + len(arms)) + "|"]
    for family, members in (("sharp", SHARP), ("smooth", SMOOTH)):
        chosen = [n for n in names if n in members]
        if not chosen:
            continue
        fam = {a: statistics.median(med[n, a] for n in chosen) for a in arms}
        lines.append(f"| {family} | median over the family of the medians | "
                     + " | ".join(f"{fam[a]:.3e}" for a in arms) + " |")
        lines.append(f"| {family} | change of that median vs input | " + " | ".join(
            f"{100 * (fam[a] / fam['input'] - 1):+.1f} %" for a in arms) + " |")
        lines.append(f"| {family} | worst ratio to input | " + " | ".join(
            f"{max(med[n, a] / med[n, 'input'] for n in chosen):.3f}" for a in arms) + " |")
        lines.append(f"| {family} | best spline on the final knots: worst ratio to input | "
                     + " | ".join(f"{max(best[n, a] / best[n, 'input'] for n in chosen):.3f}"
                                  for a in arms) + " |")
        lines.append(f"| {family} | Wilcoxon p vs input (medians over functions) | " + " | ".join(
            f"{wilcoxon_p([med[n, 'input'] for n in chosen], [med[n, a] for n in chosen]):.3g}"
            for a in arms) + " |")
    adapt = {a: 100 * sum(r.adapt_s for r in runs if r.arm == a)
             / sum(r.train_s for r in runs if r.arm == a) for a in arms}
    lines += ["", "Adaptation overhead (time in update_grid over training time): "
              + ", ".join(f"{a} {adapt[a]:.1f} %" for a in arms) + ".", "",
              f"Runs: {len(runs)}. Total wall time: {wall}.", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grid-size", type=int, default=20)
    parser.add_argument("--quick", action="store_true", help="2 functions, 1 seed, 300 steps")
    parser.add_argument("--functions", type=lambda s: s.split(","), default=None)
    parser.add_argument("--arms", type=lambda s: s.split(","), default=list(ARMS))
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--out", help="output stem (default grid_rule_1d_G{G}...)")
    parser.add_argument("--grid-samples", default="auto",
                        help='what grid updates see with batches: "batch" or "all" (auto)')
    args = parser.parse_args(argv)
    names = args.functions or (["step_quad", "sin"] if args.quick else list(FUNCTIONS))
    check_names("function", names, FUNCTIONS)
    check_names("arm", args.arms, ARMS)
    seeds = [0] if args.quick else list(range(args.seeds))
    steps = 300 if args.quick else 2000
    torch.set_num_threads(1)
    stem = f"grid_rule_1d_G{args.grid_size}" + ("_quick" if args.quick else "")
    batches = "full batch"
    if args.batch_size:
        stem += f"_batch{args.batch_size}_{args.grid_samples}"
        batches = (f"batches of {args.batch_size}, grid updates on "
                   + ("the step's batch" if args.grid_samples == "batch" else
                      "the whole training set"))
    stem = args.out or stem
    RESULTS.mkdir(parents=True, exist_ok=True)
    start, runs = time.perf_counter(), []
    for name in names:
        for arm in args.arms:
            for seed in seeds:
                runs.append(train_run(name, arm, seed, args.grid_size, steps, args.batch_size,
                                      args.grid_samples))
                log(runs[-1])
                write_runs_1d(runs, RESULTS / f"{stem}_runs.csv")
    wall = f"{(time.perf_counter() - start) / 60:.1f} min (1 thread)"
    text = markdown(runs, names, args.arms, args.grid_size, steps, seeds, wall, batches)
    (RESULTS / f"{stem}.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
