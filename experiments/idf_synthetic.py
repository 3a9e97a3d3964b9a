"""Synthetic-function benchmark of importance-density grid adaptation (input vs curvature).

Reproduces Benchmark 1 ("custom functions") of the importance-density grid-adaptation paper
(reference code: github.com/srigas/kan_grid, JAX): ten 1D-6D functions with localised features,
KANs of widths ``[n, 10, 1]`` trained with full-batch Adam, grids extended 3 -> 6 -> 9 -> 12 and
re-adapted at every extension under each arm's importance density:

``input``              knots at sample quantiles (every sample weighs 1);
``curvature``          ``sum_j |phi''_ji|`` per layer and input, from the splines (closed form);
``curvature_network``  the reference code's rule: second differences of the whole network at
                       its inputs, one weight per sample, used for every layer.

Run ``python experiments/idf_synthetic.py [--quick] [--seeds N] [--functions f1,f2]``; it writes
``experiments/results/idf_synthetic{,_quick}.{md,png}`` and ``..._runs.csv``.
"""

from __future__ import annotations

import argparse
import csv
import math
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch

import kanlab
from kanlab.density import DensityGrid

RESULTS = Path(__file__).resolve().parent / "results"
ARMS = ("input", "curvature", "curvature_network")
PI = math.pi


# ----------------------------------------------------------------------------- functions
def f1(x):
    """Sharp 2D Gaussian peak on a sinusoidal background."""
    x1, x2 = x[:, 0], x[:, 1]
    peak = 100 * torch.exp(-100 * ((x1 - 0.3) ** 2 + (x2 - 0.7) ** 2))
    return peak + 5 * torch.sin(2 * PI * x1) * torch.cos(2 * PI * x2)


def f2(x):
    """Smoothed step tanh(50 x)."""
    return torch.tanh(50 * x[:, 0])


def f3(x):
    """Three 2D Gaussian peaks."""
    x1, x2 = x[:, 0], x[:, 1]
    return (
        50 * torch.exp(-80 * ((x1 - 0.2) ** 2 + (x2 - 0.2) ** 2))
        + 30 * torch.exp(-60 * ((x1 - 0.8) ** 2 + (x2 - 0.3) ** 2))
        + 80 * torch.exp(-100 * ((x1 - 0.5) ** 2 + (x2 - 0.8) ** 2))
    )


def f4(x):
    """Runge function 1 / (1 + 25 x^2)."""
    return 1 / (1 + 25 * x[:, 0] ** 2)


def f5(x):
    """Chirp sin(10 pi x^2)."""
    return torch.sin(10 * PI * x[:, 0] ** 2)


def f6(x):
    """Boundary layer x - exp(-50 (1 - x))."""
    return x[:, 0] - torch.exp(-50 * (1 - x[:, 0]))


def f7(x):
    """Corner singularity sqrt(x1^2 + x2^2 + 0.01)."""
    return torch.sqrt(x[:, 0] ** 2 + x[:, 1] ** 2 + 0.01)


def f8(x):
    """Two tanh steps, at both ends of [0, 1]."""
    return torch.tanh(30 * x[:, 0]) + torch.tanh(30 * (x[:, 0] - 1))


def f9(x):
    """Sparse 6D interactions."""
    return torch.sin(PI * x[:, 0] * x[:, 1]) + torch.cos(PI * x[:, 2] * x[:, 3]) + x[:, 4] * x[:, 5]


def f10(x):
    """4D ridge along the diagonal."""
    return 10 * torch.exp(-20 * ((x - x.mean(1, keepdim=True)) ** 2).sum(1))


@dataclass(frozen=True)
class Function:
    fn: Callable[[torch.Tensor], torch.Tensor]
    dim: int
    low: float
    high: float


FUNCTIONS = {
    "f1": Function(f1, 2, -1.0, 1.0),
    "f2": Function(f2, 1, -1.0, 1.0),
    "f3": Function(f3, 2, 0.0, 1.0),
    "f4": Function(f4, 1, -1.0, 1.0),
    "f5": Function(f5, 1, 0.0, 1.0),
    "f6": Function(f6, 1, 0.0, 1.0),
    "f7": Function(f7, 2, 0.0, 1.0),
    "f8": Function(f8, 1, 0.0, 1.0),
    "f9": Function(f9, 6, 0.0, 1.0),
    "f10": Function(f10, 4, 0.0, 1.0),
}

# Medians over the 5 seeds of the reference repository's results/custom_results.csv (its
# "curvature_adaptive" arm uses network-level second differences, i.e. our curvature_network).
PAPER_MEDIANS = {  # function: (input, curvature)
    "f1": (3.4422e-02, 2.9393e-02),
    "f2": (2.3947e-03, 1.0075e-03),
    "f3": (1.3436e-02, 9.9848e-03),
    "f4": (2.9112e-03, 1.8775e-03),
    "f5": (1.0641e-02, 6.7354e-03),
    "f6": (2.3956e-03, 2.1204e-03),
    "f7": (8.6138e-04, 6.4524e-04),
    "f8": (6.7290e-03, 5.0662e-03),
    "f9": (9.8000e-03, 7.0755e-03),
    "f10": (8.0567e-02, 8.5738e-02),
}
PAPER_MEAN_REDUCTION = 25.3


# ------------------------------------------------------------------------------- config
@dataclass
class Config:
    """Protocol settings (the paper's by default)."""

    epochs: int = 2000
    schedule: dict[int, int] = field(default_factory=lambda: {0: 3, 500: 6, 1000: 9, 1500: 12})
    lr: float = 1e-2
    n_train: int = 4000
    hidden: int = 10
    seeds: tuple[int, ...] = (42, 43, 44, 45, 46)
    dtype: torch.dtype = torch.float32

    @classmethod
    def quick(cls) -> Config:
        """A smoke-test version: 200 epochs, the schedule scaled down, one seed."""
        return cls(epochs=200, schedule={0: 3, 50: 6, 100: 9, 150: 12}, seeds=(42,))


@dataclass
class Run:
    function: str
    arm: str
    seed: int
    error: float
    train_s: float
    adapt_s: float


# --------------------------------------------------------------------------------- data
def train_data(name: str, cfg: Config) -> tuple[torch.Tensor, torch.Tensor]:
    """``n_train`` uniform samples, fixed per function (seed ``42 + k`` for ``fk``)."""
    spec = FUNCTIONS[name]
    gen = torch.Generator().manual_seed(42 + int(name[1:]))
    x = spec.low + (spec.high - spec.low) * torch.rand(cfg.n_train, spec.dim, generator=gen,
                                                        dtype=torch.float64)
    return x.to(cfg.dtype), spec.fn(x).unsqueeze(1).to(cfg.dtype)


def test_data(name: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Dense test set: 10001 grid points (1D), a 200x200 grid (2D), 10000 uniform points (4D, 6D)."""
    spec = FUNCTIONS[name]
    if spec.dim == 1:
        x = torch.linspace(spec.low, spec.high, 10001, dtype=torch.float64).unsqueeze(1)
    elif spec.dim == 2:
        axis = torch.linspace(spec.low, spec.high, 200, dtype=torch.float64)
        x = torch.cartesian_prod(axis, axis)
    else:
        gen = torch.Generator().manual_seed(2024)
        x = spec.low + (spec.high - spec.low) * torch.rand(10000, spec.dim, generator=gen,
                                                            dtype=torch.float64)
    return x, spec.fn(x).unsqueeze(1)


@torch.no_grad()
def relative_l2(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """``||pred - y|| / ||y||`` on the test set (computed in float64)."""
    pred = model(x.to(model.dtype)).to(torch.float64)
    return float(torch.linalg.vector_norm(pred - y) / torch.linalg.vector_norm(y))


# ----------------------------------------------------------------------------- training
def adapt(model: kanlab.KAN, x: torch.Tensor, grid_size: int) -> kanlab.KAN:
    """Extend the grid to ``grid_size`` (function kept), then re-adapt it to ``x``."""
    if model.grid_size[0] != grid_size:
        model = model.refine(grid_size)
    model.update_grid(x)
    return model


def train_run(name: str, arm: str, seed: int, cfg: Config, data, test) -> Run:
    """Train one KAN under one arm; time the grid adaptations separately."""
    x, y = data
    model = kanlab.KAN([FUNCTIONS[name].dim, cfg.hidden, 1], grid_size=cfg.schedule[0],
                       seed=seed, dtype=cfg.dtype, grid=DensityGrid(arm, eps=0.0))
    adapt_s, opt = 0.0, None
    start = time.perf_counter()
    for epoch in range(cfg.epochs):
        if epoch in cfg.schedule:
            t0 = time.perf_counter()
            model = adapt(model, x, cfg.schedule[epoch])
            adapt_s += time.perf_counter() - t0
            opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
        opt.zero_grad(set_to_none=True)
        loss = torch.mean((model(x) - y) ** 2)
        loss.backward()
        opt.step()
    train_s = time.perf_counter() - start
    return Run(name, arm, seed, relative_l2(model, *test), train_s, adapt_s)


# ---------------------------------------------------------------------------- summaries
def median_errors(runs: list[Run], functions: list[str]) -> dict[str, dict[str, float]]:
    """Median relative L2 error over seeds, per function and arm (NaN runs count as +inf)."""
    out: dict[str, dict[str, float]] = {}
    for f in functions:
        out[f] = {}
        for arm in ARMS:
            errs = [r.error if math.isfinite(r.error) else math.inf
                    for r in runs if r.function == f and r.arm == arm]
            out[f][arm] = statistics.median(errs)
    return out


def reduction(base: float, other: float) -> float:
    """Reduction of ``other`` relative to ``base`` in %."""
    return 100.0 * (base - other) / base


def wilcoxon_p(a: list[float], b: list[float]) -> float:
    """Two-sided Wilcoxon signed-rank p-value of paired samples (NaN when undefined)."""
    from scipy.stats import wilcoxon  # lazy: only the summary needs scipy

    if len(a) < 2 or all(u == v for u, v in zip(a, b)):
        return math.nan
    try:
        return float(wilcoxon(a, b).pvalue)
    except ValueError:
        return math.nan


def overhead(runs: list[Run], arm: str) -> float:
    """Adaptation time as a % of the total training time, over all runs of an arm."""
    sel = [r for r in runs if r.arm == arm]
    return 100.0 * sum(r.adapt_s for r in sel) / sum(r.train_s for r in sel)


def markdown(runs: list[Run], functions: list[str], cfg: Config, wall_s: float) -> str:
    """The results page: per-function medians, reductions, test statistics, overheads."""
    med = median_errors(runs, functions)
    red = {arm: [reduction(med[f]["input"], med[f][arm]) for f in functions]
           for arm in ARMS[1:]}
    paper = [f for f in functions if f in PAPER_MEDIANS]
    paper_red = [reduction(*PAPER_MEDIANS[f]) for f in paper]
    lines = [
        "# Importance-density grid adaptation: synthetic benchmark",
        "",
        f"Settings: widths [n, {cfg.hidden}, 1], {cfg.n_train} uniform training samples, "
        f"full-batch Adam lr {cfg.lr}, {cfg.epochs} epochs, grid schedule {cfg.schedule} "
        f"(epoch: G; extend, then re-adapt under the arm's density; no adaptation between), "
        f"eps = 0, seeds {list(cfg.seeds)}, {str(cfg.dtype).removeprefix('torch.')}. Error: "
        "relative L2 on 10001 grid points (1D), a 200x200 grid (2D), 10000 uniform points "
        "(4D, 6D; seed 2024). Median over seeds.",
        "",
        "| function | input | curvature | curvature_network | Δ curvature % | "
        "Δ curvature_network % | paper input | paper curvature | paper Δ % |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for i, f in enumerate(functions):
        p_in, p_cu = PAPER_MEDIANS.get(f, (math.nan, math.nan))
        lines.append(
            f"| {f} | {med[f]['input']:.3e} | {med[f]['curvature']:.3e} | "
            f"{med[f]['curvature_network']:.3e} | {red['curvature'][i]:+.1f} | "
            f"{red['curvature_network'][i]:+.1f} | {p_in:.3e} | {p_cu:.3e} | "
            f"{reduction(p_in, p_cu):+.1f} |"
        )
    ins = [med[f]["input"] for f in functions]
    lines += [
        "",
        "| | curvature | curvature_network | paper (network curvature) |",
        "|---|---|---|---|",
        f"| mean reduction of the median vs input (over functions) | "
        f"{statistics.mean(red['curvature']):+.1f} % | "
        f"{statistics.mean(red['curvature_network']):+.1f} % | "
        f"{statistics.mean(paper_red) if paper else math.nan:+.1f} % "
        f"(reported: {PAPER_MEAN_REDUCTION} %) |",
        f"| functions improved | {sum(r > 0 for r in red['curvature'])}/{len(functions)} | "
        f"{sum(r > 0 for r in red['curvature_network'])}/{len(functions)} | "
        f"{sum(r > 0 for r in paper_red)}/{len(paper)} |",
        f"| Wilcoxon signed-rank p (two-sided, medians over functions) | "
        f"{wilcoxon_p(ins, [med[f]['curvature'] for f in functions]):.3g} | "
        f"{wilcoxon_p(ins, [med[f]['curvature_network'] for f in functions]):.3g} | "
        f"{wilcoxon_p([PAPER_MEDIANS[f][0] for f in paper], [PAPER_MEDIANS[f][1] for f in paper]):.3g} |",
        "",
        "Adaptation overhead (time in refine + update_grid over total training time): "
        + ", ".join(f"{arm} {overhead(runs, arm):.2f} %" for arm in ARMS) + ".",
        "",
        f"Runs: {len(runs)}, non-finite errors: {sum(not math.isfinite(r.error) for r in runs)}. "
        f"Total wall time: {wall_s / 60:.1f} min (1 thread).",
        "",
    ]
    return "\n".join(lines)


def plot(runs: list[Run], functions: list[str], path: Path) -> None:
    """Grouped bars of the median error per function and arm, log scale."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    med = median_errors(runs, functions)
    width = 0.8 / len(ARMS)
    fig, ax = plt.subplots(figsize=(1.1 * len(functions) + 3, 4))
    for k, arm in enumerate(ARMS):
        xs = [i + (k - (len(ARMS) - 1) / 2) * width for i in range(len(functions))]
        ax.bar(xs, [med[f][arm] for f in functions], width, label=arm)
    ax.set_xticks(range(len(functions)), functions)
    ax.set_yscale("log")
    ax.set_ylabel("median relative L2 error")
    ax.set_title("Grid adaptation by importance density (median over seeds)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write_runs(runs: list[Run], path: Path) -> None:
    """Every run as a CSV row."""
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["function", "arm", "seed", "rel_l2", "train_s", "adapt_s"])
        for r in runs:
            w.writerow([r.function, r.arm, r.seed, f"{r.error:.6e}", f"{r.train_s:.3f}",
                        f"{r.adapt_s:.4f}"])


# --------------------------------------------------------------------------------- main
def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="2 functions, 1 seed, 200 epochs")
    p.add_argument("--seeds", type=int, help="number of seeds (42, 43, ...)")
    p.add_argument("--functions", help="comma-separated subset, e.g. f1,f2")
    p.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    torch.set_num_threads(1)
    cfg = Config.quick() if args.quick else Config()
    cfg.dtype = getattr(torch, args.dtype)
    if args.seeds:
        cfg.seeds = tuple(range(42, 42 + args.seeds))
    default = "f1,f2" if args.quick else ",".join(FUNCTIONS)
    functions = (args.functions or default).split(",")
    unknown = [f for f in functions if f not in FUNCTIONS]
    if unknown:
        sys.exit(f"unknown functions {unknown}; choose from {list(FUNCTIONS)}")

    start, runs = time.perf_counter(), []
    for f in functions:
        data, test = train_data(f, cfg), test_data(f)
        for arm in ARMS:
            for seed in cfg.seeds:
                run = train_run(f, arm, seed, cfg, data, test)
                runs.append(run)
                print(f"{f:>4} {arm:<18} seed {seed}: rel L2 {run.error:.3e}  "
                      f"({run.train_s:.1f} s, adapt {run.adapt_s:.2f} s)", flush=True)
    wall_s = time.perf_counter() - start

    RESULTS.mkdir(parents=True, exist_ok=True)
    stem = "idf_synthetic_quick" if args.quick else "idf_synthetic"
    text = markdown(runs, functions, cfg, wall_s)
    (RESULTS / f"{stem}.md").write_text(text)
    write_runs(runs, RESULTS / f"{stem}_runs.csv")
    plot(runs, functions, RESULTS / f"{stem}.png")
    print(text)


if __name__ == "__main__":
    main()
