"""Synthetic-function benchmark of importance-density grid adaptation (input vs curvature).

Reproduces Benchmark 1 ("custom functions") of the importance-density grid-adaptation paper
(reference code: github.com/srigas/kan_grid, JAX): ten 1D-6D functions with localised features,
KANs of widths ``[n, 10, 1]`` trained with full-batch Adam, grids extended 3 -> 6 -> 9 -> 12 and
re-adapted at every extension under each arm's importance density, in one least-squares fit per
layer (``model.update_grid(x, grid_size=G)``, as the reference's ``update_grids(grid_size_new)``):

``input``              knots at sample quantiles (every sample weighs 1);
``curvature``          ``sum_j |phi''_ji|`` per layer and input, from the splines (closed form);
``curvature_network``  the reference code's rule (the paper's arm): second differences of the
                       whole network at its inputs, one weight per sample, used for every layer;
``curvature_p05``      ``(sum_j |phi''_ji|)^0.5`` per layer: our proposal, not the paper's.

All arms use a 1 % margin at the grid ends (the reference's bounds). Run
``python experiments/idf_synthetic.py [--quick] [--seeds N] [--functions f1,f2] [--arms ...]``;
it writes ``experiments/results/idf_synthetic{,_quick}.{md,png}`` and ``..._runs.csv``.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch

import kanlab
from kanlab.nn.initialization import INITIALIZATIONS

sys.path.insert(0, str(Path(__file__).resolve().parent))
from idf_common import (  # noqa: E402
    ARM_NOTES,
    ARMS,
    DEFAULT_ARMS,
    Run,
    check_names,
    collect_runs,
    relative_l2,
    report,
    summary,
    train_scheduled,
)

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
    init: str = "pykan"  # kanlab's default; the reference uses "glorot_fine"

    @classmethod
    def quick(cls) -> Config:
        """A smoke-test version: 200 epochs, the schedule scaled down, one seed."""
        return cls(epochs=200, schedule={0: 3, 50: 6, 100: 9, 150: 12}, seeds=(42,))


# --------------------------------------------------------------------------------- data
def train_data(name: str, cfg: Config) -> tuple[torch.Tensor, torch.Tensor]:
    """``n_train`` uniform samples, fixed per function (seed ``42 + k`` for ``fk``)."""
    spec = FUNCTIONS[name]
    gen = torch.Generator().manual_seed(42 + int(name[1:]))
    x = spec.low + (spec.high - spec.low) * torch.rand(cfg.n_train, spec.dim, generator=gen,
                                                        dtype=torch.float64)
    return x.to(cfg.dtype), spec.fn(x).unsqueeze(1).to(cfg.dtype)


def test_data(name: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Dense test set: 10001 grid points (1D), a 200x200 grid (2D), 10000 uniform points (4D+)."""
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


# ----------------------------------------------------------------------------- training
def train_run(name: str, arm: str, seed: int, cfg: Config, data, test,
              return_model: bool = False):
    """Train one KAN under one arm; time the grid adaptations separately. Returns the
    :class:`Run` (and the trained model with ``return_model``)."""
    x, y = data
    model = kanlab.KAN([FUNCTIONS[name].dim, cfg.hidden, 1], grid_size=cfg.schedule[0],
                       seed=seed, dtype=cfg.dtype, grid=ARMS[arm](), init=cfg.init)
    train_s, adapt_s = train_scheduled(model, x, lambda m: torch.mean((m(x) - y) ** 2),
                                       cfg.epochs, cfg.schedule, cfg.lr, y_adapt=y)
    run = Run(name, arm, seed, relative_l2(model, *test), train_s, adapt_s)
    return (run, model) if return_model else run


def markdown(runs: list[Run], functions: list[str], arms: list[str], cfg: Config,
             wall: str) -> str:
    """The results page: per-function medians, reductions, test statistics, overheads."""
    lines = [
        "# Importance-density grid adaptation: synthetic benchmark",
        "",
        f"Settings: widths [n, {cfg.hidden}, 1], {cfg.n_train} uniform training samples, "
        f"full-batch Adam lr {cfg.lr}, {cfg.epochs} epochs, grid schedule {cfg.schedule} "
        f"(epoch: G; extend and re-adapt under the arm's density in one fit per layer, "
        f"`model.update_grid(x, grid_size=G)`, then a fresh Adam; no adaptation between), "
        f"seeds {list(cfg.seeds)}, {str(cfg.dtype).removeprefix('torch.')}, {cfg.init} "
        "initialisation. Error: "
        "relative L2 on 10001 grid points (1D), a 200x200 grid (2D), 10000 uniform points "
        "(4D, 6D; seed 2024). Median over seeds.",
        "",
        ARM_NOTES,
        "",
    ]
    lines += summary(runs, functions, arms, PAPER_MEDIANS, PAPER_MEAN_REDUCTION, wall=wall)
    return "\n".join(lines)


# --------------------------------------------------------------------------------- main
def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="2 functions, 1 seed, 200 epochs")
    p.add_argument("--seeds", type=int, help="number of seeds (42, 43, ...)")
    p.add_argument("--seed-list", help="explicit comma-separated seeds, e.g. 43")
    p.add_argument("--functions", help="comma-separated subset, e.g. f1,f2")
    p.add_argument("--arms", default=",".join(DEFAULT_ARMS),
                   help="comma-separated subset of " + ",".join(ARMS))
    p.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    p.add_argument("--init", choices=INITIALIZATIONS, default="pykan",
                   help="initialisation (the reference code's is glorot_fine)")
    p.add_argument("--out", help="output stem (default idf_synthetic or idf_synthetic_quick)")
    p.add_argument("--from-csv", type=Path, nargs="+", help="re-summarise the runs of earlier "
                   "*_runs.csv files (written with the default settings) instead of training")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    torch.set_num_threads(1)
    cfg = Config.quick() if args.quick else Config()
    cfg.dtype = getattr(torch, args.dtype)
    cfg.init = args.init
    if args.seeds:
        cfg.seeds = tuple(range(42, 42 + args.seeds))
    if args.seed_list:
        cfg.seeds = tuple(int(s) for s in args.seed_list.split(","))
    default = "f1,f2" if args.quick else ",".join(FUNCTIONS)
    functions = (args.functions or default).split(",")
    arms = args.arms.split(",")
    check_names("functions", functions, FUNCTIONS)
    check_names("arms", arms, ARMS)

    def trainer(f):
        data, test = train_data(f, cfg), test_data(f)
        return lambda arm, seed: train_run(f, arm, seed, cfg, data, test)

    stem = args.out or ("idf_synthetic_quick" if args.quick else "idf_synthetic")
    runs, functions, arms, cfg.seeds, wall = collect_runs(
        functions, arms, cfg.seeds, stem, trainer, args.from_csv, FUNCTIONS)
    report(runs, functions, arms, stem, lambda: markdown(runs, functions, arms, cfg, wall),
           "Grid adaptation by importance density (median over seeds)")


if __name__ == "__main__":
    main()
