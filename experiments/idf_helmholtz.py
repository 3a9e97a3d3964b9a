"""Physics-informed KAN on 2D Helmholtz: importance-density grid adaptation (input vs curvature).

Reproduces Benchmark 3 of the importance-density grid-adaptation paper (reference notebook
``Benchmark 3 - Helmholtz PDE.ipynb`` of github.com/srigas/kan_grid):

    Δu + k² u = q on [-1, 1]², u = 0 on the boundary, k = 1,
    u = sin(a1 π x) sin(a2 π y), q = (k² − π² (a1² + a2²)) u,
    (a1, a2) ∈ {(1,1), (1,2), (2,2), (2,4)}.

A KAN ``[2, 6, 6, 1]`` (k = 3, G = 3) is trained with full-batch Adam (lr 1e-3) on
``mean(residual²) + mean(u_boundary²)`` (weights 1, as the reference) with the PDE residual on a
uniform N×N collocation grid (boundary included; N = 64) and 4N boundary points; the Laplacian
comes from ``model.forward_derivatives`` (forward mode). Grids are extended and adapted in one fit
per layer on the collocation points at the schedule's epochs (reference: 5000 epochs, G = 3, 6, 9,
12 at 0, 1000, 2000, 3000), then a fresh Adam. Error: relative L2 of u on a 100×100 grid.

Run ``python experiments/idf_helmholtz.py [--quick] [--epochs E] [--seeds 3,5] [--cases 1-1,2-2]``;
``--epochs`` compresses the schedule proportionally. Writes
``experiments/results/idf_helmholtz{,_quick}.{md,png}`` and ``..._runs.csv``.
"""

from __future__ import annotations

import argparse
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path

import torch

import kanlab

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
CASES = {"1-1": (1.0, 1.0), "1-2": (1.0, 2.0), "2-2": (2.0, 2.0), "2-4": (2.0, 4.0)}

# The reference repository's results/helmholtz_results.csv (seeds 3, 5, 9): (input x3, curv x3).
_PAPER_ERRORS = {
    "1-1": (0.0135342879, 0.0301551819, 0.0183355585, 0.0120654982, 0.0253544580, 0.0114067588),
    "1-2": (0.0667982325, 0.0782941058, 0.0564651676, 0.0646958053, 0.0704849437, 0.0640315786),
    "2-2": (0.1882307678, 0.2943191230, 0.2171291262, 0.1746718884, 0.1285460740, 0.1570901722),
    "2-4": (1.2337486744, 0.5575923920, 1.0829639435, 0.7786401511, 0.7284005284, 0.9481536150),
}
PAPER = paper_medians([(c, "input_adaptive" if i < 3 else "curvature_adaptive", e)
                       for c, errs in _PAPER_ERRORS.items() for i, e in enumerate(errs)])
PAPER_MEAN_REDUCTION = 23.3


@dataclass
class Config:
    """Protocol settings (the reference notebook's by default)."""

    epochs: int = 5000
    schedule: dict[int, int] = field(
        default_factory=lambda: {0: 3, 1000: 6, 2000: 9, 3000: 12})
    lr: float = 1e-3
    wavenumber: float = 1.0
    colloc: int = 64
    widths: tuple[int, ...] = (2, 6, 6, 1)
    seeds: tuple[int, ...] = (3, 5, 9)
    n_eval: int = 100
    dtype: torch.dtype = torch.float32

    def with_epochs(self, epochs: int) -> Config:
        """The same protocol over ``epochs``, the schedule's epochs scaled proportionally."""
        scale = epochs / self.epochs
        self.schedule = {round(e * scale): g for e, g in self.schedule.items()}
        self.epochs = epochs
        return self

    @classmethod
    def quick(cls) -> Config:
        """A smoke test: 16×16 collocation, 200 epochs, one seed."""
        return cls(colloc=16, seeds=(3,)).with_epochs(200)


def exact(x: torch.Tensor, a1: float, a2: float) -> torch.Tensor:
    return torch.sin(a1 * PI * x[:, :1]) * torch.sin(a2 * PI * x[:, 1:])


def collocation(n: int, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """The reference's points: an n×n grid with its boundary, and the 4 edges (n points each)."""
    axis = torch.linspace(-1, 1, n, dtype=torch.float64)
    pde = torch.cartesian_prod(axis, axis)
    one = torch.ones(n, dtype=torch.float64)
    bc = torch.cat([torch.stack([-one, axis], 1), torch.stack([one, axis], 1),
                    torch.stack([axis, -one], 1), torch.stack([axis, one], 1)])
    return pde.to(dtype), bc.to(dtype)


def train_run(case: str, arm: str, seed: int, cfg: Config) -> Run:
    a1, a2 = CASES[case]
    pde, bc = collocation(cfg.colloc, cfg.dtype)
    k2 = cfg.wavenumber**2
    q = ((k2 - PI**2 * (a1**2 + a2**2)) * exact(pde.double(), a1, a2)).to(cfg.dtype)

    def loss_fn(model: kanlab.KAN) -> torch.Tensor:
        u, _, d2u = model.forward_derivatives(pde)
        residual = d2u.sum(1) + k2 * u - q
        return residual.square().mean() + model(bc).square().mean()

    model = kanlab.KAN(list(cfg.widths), grid_size=cfg.schedule[0], spline_order=3, seed=seed,
                       dtype=cfg.dtype, grid=ARMS[arm]())
    train_s, adapt_s = train_scheduled(model, pde, loss_fn, cfg.epochs, cfg.schedule, cfg.lr)
    axis = torch.linspace(-1, 1, cfg.n_eval, dtype=torch.float64)
    xe = torch.cartesian_prod(axis, axis)
    return Run(case, arm, seed, relative_l2(model, xe, exact(xe, a1, a2)), train_s, adapt_s)


def markdown(runs: list[Run], cases: list[str], arms: list[str], cfg: Config, wall: str) -> str:
    lines = [
        "# Importance-density grid adaptation: physics-informed KAN on 2D Helmholtz",
        "",
        f"Settings: Δu + k²u = q on [-1, 1]², k = {cfg.wavenumber}, u = sin(a1πx) sin(a2πy) "
        f"(case a1-a2), zero Dirichlet data; KAN {list(cfg.widths)}, k = 3, full-batch Adam lr "
        f"{cfg.lr}, loss mean(residual²) + mean(u_bc²) on a {cfg.colloc}×{cfg.colloc} "
        f"collocation grid (boundary included) and 4×{cfg.colloc} boundary points, Laplacian "
        f"from `model.forward_derivatives`; {cfg.epochs} epochs, grid schedule {cfg.schedule} "
        "(extend and adapt in one fit per layer on the collocation points, then a fresh Adam), "
        f"seeds {list(cfg.seeds)}, {str(cfg.dtype).removeprefix('torch.')}. Error: relative L2 "
        f"of u on a {cfg.n_eval}×{cfg.n_eval} grid. Median over seeds. The paper's columns are "
        "the medians of the reference's results/helmholtz_results.csv (5000 epochs, schedule "
        "{0: 3, 1000: 6, 2000: 9, 3000: 12}, seeds 3, 5, 9).",
        "",
        ARM_NOTES,
        "",
    ]
    lines += summary(runs, cases, arms, PAPER, PAPER_MEAN_REDUCTION, case_label="a1-a2", wall=wall)
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="2 cases, 1 seed, 16x16, 200 epochs")
    p.add_argument("--epochs", type=int, help="total epochs (schedule compressed to match)")
    p.add_argument("--colloc", type=int, help="collocation points per axis (default 64)")
    p.add_argument("--seeds", help="comma-separated seeds (default 3,5,9)")
    p.add_argument("--cases", help="comma-separated subset of " + ",".join(CASES))
    p.add_argument("--arms", default=",".join(DEFAULT_ARMS),
                   help="comma-separated subset of " + ",".join(ARMS))
    p.add_argument("--out", help="output stem (default idf_helmholtz or idf_helmholtz_quick)")
    p.add_argument("--from-csv", type=Path, nargs="+", help="re-summarise earlier *_runs.csv "
                   "files (give the settings they ran with) instead of training")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    torch.set_num_threads(1)
    cfg = Config.quick() if args.quick else Config()
    if args.epochs:
        cfg.with_epochs(args.epochs)
    if args.colloc:
        cfg.colloc = args.colloc
    if args.seeds:
        cfg.seeds = tuple(int(s) for s in args.seeds.split(","))
    cases = (args.cases or ("1-1,2-2" if args.quick else ",".join(CASES))).split(",")
    arms = args.arms.split(",")
    check_names("cases", cases, CASES)
    check_names("arms", arms, ARMS)

    stem = args.out or ("idf_helmholtz_quick" if args.quick else "idf_helmholtz")
    runs, cases, arms, cfg.seeds, wall = collect_runs(
        cases, arms, cfg.seeds, stem,
        lambda case: lambda arm, seed: train_run(case, arm, seed, cfg),
        args.from_csv, CASES)
    report(runs, cases, arms, stem, lambda: markdown(runs, cases, arms, cfg, wall),
           "Helmholtz PIKAN: grid adaptation by importance density (median over seeds)")


if __name__ == "__main__":
    main()
