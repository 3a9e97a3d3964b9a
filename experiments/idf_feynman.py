"""Feynman-subset benchmark of importance-density grid adaptation (input vs curvature).

Reproduces Benchmark 2 ("Feynman subset") of the importance-density grid-adaptation paper
(reference code: github.com/srigas/kan_grid, ``benchmarks/feynman.py`` and the notebook
``Benchmark 2 - Feynman Subset.ipynb``): 15 dimensionless Feynman equations in 2 or 3 variables
on ``[-1 + 1e-6, 1]^d``, KANs ``[n, 10, 1]`` (k = 3), full-batch Adam lr 1e-3 for 2000 epochs,
grids G = 3, 6, 9, 12 at epochs 0, 500, 1000, 1500 (extend and adapt in one fit per layer, fresh
Adam), seeds 44, 45, 46, relative L2 error on a dense grid. Arms as in ``idf_synthetic.py``.

Run ``python experiments/idf_feynman.py [--quick] [--seeds N] [--functions f1,f2]``; it writes
``experiments/results/idf_feynman{,_quick}.{md,png}`` and ``..._runs.csv``.
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
    paper_medians,
    relative_l2,
    report,
    summary,
    train_scheduled,
)

PI = math.pi
EPS = 1e-6  # the reference's: samples in [-1 + eps, 1], |x| < eps pushed to sign(x) * eps


# ----------------------------------------------------------------------------- functions
def _c(x, i):
    return x[:, i]


FUNCTIONS: dict[str, tuple[Callable[[torch.Tensor], torch.Tensor], int]] = {
    "f1": (lambda x: torch.exp(-(_c(x, 0) - _c(x, 1)) ** 2 / (2 * _c(x, 2) ** 2))
           / torch.sqrt(2 * PI * _c(x, 2) ** 2), 3),
    "f2": (lambda x: 1 + _c(x, 0) * torch.sin(_c(x, 1)), 2),
    "f3": (lambda x: _c(x, 0) * (1 / _c(x, 1) - 1), 2),
    "f4": (lambda x: (_c(x, 0) + _c(x, 1)) / (1 + _c(x, 0) * _c(x, 1)), 2),
    "f5": (lambda x: (1 + _c(x, 0) * _c(x, 1)) / (1 + _c(x, 0)), 2),
    "f6": (lambda x: 1 / (1 + _c(x, 0) * _c(x, 1)), 2),
    "f7": (lambda x: torch.sqrt(1 + _c(x, 0) ** 2
                                - 2 * _c(x, 0) * torch.cos(_c(x, 1) - _c(x, 2))), 3),
    "f8": (lambda x: torch.sin(_c(x, 0) * _c(x, 1) / 2) ** 2 / torch.sin(_c(x, 1) / 2) ** 2, 2),
    "f9": (lambda x: _c(x, 0) * torch.exp(-_c(x, 1)), 2),
    "f10": (lambda x: (_c(x, 0) - 1) * _c(x, 1), 2),
    "f11": (lambda x: (1 / (4 * PI)) * _c(x, 2) * torch.sqrt(_c(x, 0) ** 2 + _c(x, 1) ** 2), 3),
    "f12": (lambda x: _c(x, 0) * (1 + _c(x, 1) * torch.cos(_c(x, 2))), 3),
    "f13": (lambda x: _c(x, 0) / (torch.exp(_c(x, 1)) + torch.exp(-_c(x, 1))), 2),
    "f14": (lambda x: _c(x, 0) + _c(x, 1) * _c(x, 2), 3),
    "f15": (lambda x: _c(x, 1) * (1 + _c(x, 0) * torch.cos(_c(x, 2))), 3),
}


def _paper_rows() -> list[tuple[str, str, float]]:
    """The reference repository's results/feynman_results.csv (seeds 44-46), as (f, arm, err)."""
    errors = {  # function: (input_adaptive x3, curvature_adaptive x3)
        "f1": (0.6035491, 0.5042515, 0.82690334, 0.5523761, 0.4513713, 0.83245826),
        "f2": (0.0004486944, 0.00034345096, 0.0002129693, 0.0008518615, 0.0003168649,
               0.00023576588),
        "f3": (1.0150002, 0.8828377, 0.9413329, 1.0201437, 0.7466201, 0.71756715),
        "f4": (0.020757575, 0.022433758, 0.02186435, 0.022144007, 0.021145279, 0.02168762),
        "f5": (0.99990416, 0.9999455, 0.9999345, 0.9999335, 0.99994516, 0.9999399),
        "f6": (0.99998033, 0.9999468, 0.99994665, 0.9999781, 0.99994934, 0.999947),
        "f7": (0.0056440267, 0.0073090247, 0.0036403183, 0.005966625, 0.0039855503, 0.005413497),
        "f8": (0.00054684334, 0.00062155345, 0.00030774582, 0.00072340237, 0.0005185146,
               0.00031590855),
        "f9": (0.0007684782, 0.0009007061, 0.0011865749, 0.0012033987, 0.0007349935,
               0.00048079257),
        "f10": (0.001066672, 0.00041181417, 0.0005110881, 0.00073286664, 0.00043769702,
                0.00041393144),
        "f11": (0.018282281, 0.02292307, 0.006722153, 0.016648494, 0.025620809, 0.008288116),
        "f12": (0.0019314174, 0.0025898474, 0.002177391, 0.001938483, 0.0027701696, 0.00194526),
        "f13": (0.00044917664, 0.0007471409, 0.00024855667, 0.00037052782, 0.0017458991,
                0.00027968414),
        "f14": (0.0020748626, 0.002686896, 0.0014853793, 0.0017674892, 0.0028607305,
                0.0014332826),
        "f15": (0.0018100555, 0.0023477327, 0.0023428386, 0.0016005025, 0.0023557818,
                0.002111189),
    }
    return [(f, "input_adaptive" if i < 3 else "curvature_adaptive", e)
            for f, errs in errors.items() for i, e in enumerate(errs)]


PAPER = paper_medians(_paper_rows())
PAPER_MEAN_REDUCTION = 9.4


# ------------------------------------------------------------------------------- config
@dataclass
class Config:
    """Protocol settings (the reference notebook's by default)."""

    epochs: int = 2000
    schedule: dict[int, int] = field(default_factory=lambda: {0: 3, 500: 6, 1000: 9, 1500: 12})
    lr: float = 1e-3
    n_samples: int = 5000
    n_train: int = 4000  # the 80 % split; the other 20 % are never used (as in the reference)
    hidden: int = 10
    seeds: tuple[int, ...] = (44, 45, 46)
    dtype: torch.dtype = torch.float32
    init: str = "pykan"  # kanlab's default; the reference uses "glorot_fine"

    @classmethod
    def quick(cls) -> Config:
        """A smoke-test version: 200 epochs, the schedule scaled down, one seed."""
        return cls(epochs=200, schedule={0: 3, 50: 6, 100: 9, 150: 12}, seeds=(44,))


# --------------------------------------------------------------------------------- data
def _push(x: torch.Tensor) -> torch.Tensor:
    return torch.where(x.abs() < EPS, torch.sign(x) * EPS, x)


def train_data(name: str, seed: int, cfg: Config) -> tuple[torch.Tensor, torch.Tensor]:
    """5000 samples of U(-1 + eps, 1)^d drawn with the run's seed; a random 80 % for training."""
    fn, dim = FUNCTIONS[name]
    gen = torch.Generator().manual_seed(seed)
    x = -1 + EPS + (2 - EPS) * torch.rand(cfg.n_samples, dim, generator=gen, dtype=torch.float64)
    x = _push(x)
    x = x[torch.randperm(cfg.n_samples, generator=gen)[: cfg.n_train]]
    return x.to(cfg.dtype), fn(x).unsqueeze(1).to(cfg.dtype)


def test_data(name: str) -> tuple[torch.Tensor, torch.Tensor]:
    """The reference's evaluation grid: 200 points per axis (2D), 30 (3D), on [-1 + eps, 1]."""
    fn, dim = FUNCTIONS[name]
    axis = _push(torch.linspace(-1 + EPS, 1, {2: 200, 3: 30}[dim], dtype=torch.float64))
    x = torch.cartesian_prod(*[axis] * dim)
    return x, fn(x).unsqueeze(1)


# ----------------------------------------------------------------------------- training
def train_run(name: str, arm: str, seed: int, cfg: Config, test) -> Run:
    """Train one KAN under one arm; time the grid adaptations separately."""
    x, y = train_data(name, seed, cfg)
    model = kanlab.KAN([FUNCTIONS[name][1], cfg.hidden, 1], grid_size=cfg.schedule[0],
                       spline_order=3, seed=seed, dtype=cfg.dtype, grid=ARMS[arm](),
                       init=cfg.init)
    train_s, adapt_s = train_scheduled(model, x, lambda m: torch.mean((m(x) - y) ** 2),
                                       cfg.epochs, cfg.schedule, cfg.lr, y_adapt=y)
    return Run(name, arm, seed, relative_l2(model, *test), train_s, adapt_s)


def markdown(runs: list[Run], functions: list[str], arms: list[str], cfg: Config,
             wall: str) -> str:
    lines = [
        "# Importance-density grid adaptation: Feynman subset",
        "",
        f"Settings (the reference notebook's): widths [n, {cfg.hidden}, 1], k = 3, "
        f"{cfg.n_samples} samples of U(-1+1e-6, 1)^d per seed (|x| < 1e-6 pushed to ±1e-6), "
        f"a random {cfg.n_train} of them for training, full-batch Adam lr {cfg.lr}, "
        f"{cfg.epochs} epochs, grid schedule {cfg.schedule} (extend and adapt in one fit per "
        f"layer on the training inputs, then a fresh Adam; no adaptation between), seeds "
        f"{list(cfg.seeds)}, {str(cfg.dtype).removeprefix('torch.')}, {cfg.init} "
        "initialisation. Error: relative L2 on the "
        "reference's grid over [-1+1e-6, 1]^d (200 per axis in 2D, 30 in 3D). Median over seeds. "
        "The paper's columns are the medians of the reference's results/feynman_results.csv "
        "(seeds 44-46, JAX, its own data draws).",
        "",
        ARM_NOTES,
        "",
    ]
    lines += summary(runs, functions, arms, PAPER, PAPER_MEAN_REDUCTION, wall=wall)
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="2 functions, 1 seed, 200 epochs")
    p.add_argument("--seeds", type=int, help="number of seeds (44, 45, ...)")
    p.add_argument("--seed-list", help="explicit comma-separated seeds, e.g. 45")
    p.add_argument("--functions", help="comma-separated subset, e.g. f1,f2")
    p.add_argument("--arms", default=",".join(DEFAULT_ARMS),
                   help="comma-separated subset of " + ",".join(ARMS))
    p.add_argument("--init", choices=INITIALIZATIONS, default="pykan",
                   help="initialisation (the reference code's is glorot_fine)")
    p.add_argument("--out", help="output stem (default idf_feynman or idf_feynman_quick)")
    p.add_argument("--from-csv", type=Path, nargs="+", help="re-summarise earlier *_runs.csv "
                   "files (written with the default settings) instead of training")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    torch.set_num_threads(1)
    cfg = Config.quick() if args.quick else Config()
    cfg.init = args.init
    if args.seeds:
        cfg.seeds = tuple(range(44, 44 + args.seeds))
    if args.seed_list:
        cfg.seeds = tuple(int(s) for s in args.seed_list.split(","))
    default = "f2,f9" if args.quick else ",".join(FUNCTIONS)
    functions = (args.functions or default).split(",")
    arms = args.arms.split(",")
    check_names("functions", functions, FUNCTIONS)
    check_names("arms", arms, ARMS)

    def trainer(f):
        test = test_data(f)
        return lambda arm, seed: train_run(f, arm, seed, cfg, test)

    stem = args.out or ("idf_feynman_quick" if args.quick else "idf_feynman")
    runs, functions, arms, cfg.seeds, wall = collect_runs(
        functions, arms, cfg.seeds, stem, trainer, args.from_csv, FUNCTIONS)
    report(runs, functions, arms, stem, lambda: markdown(runs, functions, arms, cfg, wall),
           "Feynman subset: grid adaptation by importance density (median over seeds)")


if __name__ == "__main__":
    main()
