"""Continual learning (the KAN paper's §3.5, Figure 3.4): five Gaussian peaks, one region at a time.

``f(x) = Σ_k exp(−(x − c_k)² / (2σ²))`` with ``c_k = −0.8, −0.4, 0, 0.4, 0.8`` and ``σ = 0.05``
on ``[−1, 1]``. Phase ``k`` trains only on ``x`` uniform in the ``k``-th fifth of the interval
(around peak ``k``); nothing of earlier phases is shown again. A KAN ``[1, 1]`` (G = 200 uniform
knots, no base branch, grid kept fixed, only the spline coefficients trained: the edge's scale
and the bias are global, and pykan's tutorial freezes them too) is local: a sample moves only
the ``k + 1`` coefficients around it. An MLP ``[1, 64, 64, 1]`` (SiLU) is not. Both train
with the same LBFGS steps per phase.

Forgetting: the RMSE on each region after its own phase and after the last phase. Run
``python experiments/continual_learning.py [--quick]``; writes
``experiments/results/continual_learning{,_quick}.{md,png}``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

import kanlab
from kanlab.data import Dataset
from kanlab.nn.mlp import MLP, n_parameters

RESULTS = Path(__file__).resolve().parent / "results"
CENTERS = (-0.8, -0.4, 0.0, 0.4, 0.8)
SIGMA = 0.05


def target(x: torch.Tensor) -> torch.Tensor:
    """The five peaks, ``(N, 1) -> (N, 1)``."""
    return sum(torch.exp(-((x - c) ** 2) / (2 * SIGMA**2)) for c in CENTERS)


def region(k: int, n: int, gen: torch.Generator) -> torch.Tensor:
    """``n`` points uniform in the ``k``-th fifth of ``[−1, 1]``, ``(n, 1)`` float64."""
    lo = -1.0 + 0.4 * k
    return lo + 0.4 * torch.rand(n, 1, generator=gen, dtype=torch.float64)


def region_rmse(model, xs: list[torch.Tensor]) -> list[float]:
    model.eval()
    with torch.no_grad():
        out = [float((model(x) - target(x)).pow(2).mean().sqrt()) for x in xs]
    model.train()
    return out


def run(steps: int, n: int, seed: int):
    gen = torch.Generator().manual_seed(seed)
    train = [region(k, n, gen) for k in range(5)]
    test = [region(k, n, gen) for k in range(5)]
    models = {
        "KAN [1, 1], G=200": kanlab.KAN([1, 1], grid_size=200, base_fn="zero", seed=seed,
                                         dtype=torch.float64),
        "MLP [1, 64, 64, 1]": MLP([1, 64, 64, 1], seed=seed, dtype=torch.float64),
    }
    kan = models["KAN [1, 1], G=200"]
    for name in ("spline_scale", "base_scale", "bias"):  # global scalars: only the local
        getattr(kan.layers[0], name).requires_grad_(False)  # coefficients train (as pykan's)
    grid = torch.linspace(-1, 1, 801, dtype=torch.float64)[:, None]
    results = {}
    for name, model in models.items():
        after_own, curves = [], []
        t0 = time.perf_counter()
        for k in range(5):
            data = Dataset(train[k], target(train[k]), test[k], target(test[k]))
            kanlab.fit(model, data, steps=steps, update_grid=False, progress=False)
            after_own.append(region_rmse(model, [test[k]])[0])
            model.eval()
            with torch.no_grad():
                curves.append(model(grid)[:, 0].clone())
            model.train()
        final = region_rmse(model, test)
        results[name] = {"own": after_own, "final": final, "curves": curves,
                         "params": n_parameters(model), "seconds": time.perf_counter() - t0}
    return results, grid[:, 0]


def plot(results, grid, path: Path) -> None:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(15, 7))
    axes = fig.subplots(3, 5, sharex=True, sharey=True)
    truth = target(grid[:, None])[:, 0]
    for k in range(5):
        lo = -1.0 + 0.4 * k
        inside = (grid >= lo) & (grid <= lo + 0.4)
        axes[0, k].plot(grid, truth, color="0.85")
        axes[0, k].plot(grid[inside], truth[inside], color="k")
        axes[0, k].axvspan(lo, lo + 0.4, color="C2", alpha=0.2)
        axes[0, k].set_title(f"phase {k + 1}: data in [{lo:.1f}, {lo + 0.4:.1f}]")
        for row, name in enumerate(results, start=1):
            axes[row, k].plot(grid, truth, color="0.8")
            axes[row, k].plot(grid, results[name]["curves"][k], color="C0" if row == 1 else "C3")
            axes[row, k].axvspan(lo, lo + 0.4, color="C2", alpha=0.1)
        axes[0, 0].set_ylabel("data")
    axes[0, 0].set_ylim(-0.5, 1.5)  # shared: the MLP's excursions beyond are clipped
    for row, name in enumerate(results, start=1):
        axes[row, 0].set_ylabel(name)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20 steps per phase")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    steps, n = (20, 200) if args.quick else (100, 200)
    results, grid = run(steps, n, args.seed)
    rows = []
    for name, r in results.items():
        for k in range(5):
            forgotten = r["final"][k] - r["own"][k]
            rows.append(f"| {name} | {k + 1} | {r['own'][k]:.2e} | {r['final'][k]:.2e} | "
                        f"{forgotten:+.2e} |")
    summary = []
    for name, r in results.items():
        earlier = [r["final"][k] for k in range(4)]
        summary.append(f"| {name} | {r['params']} | {max(earlier):.2e} | {r['final'][4]:.2e} | "
                       f"{r['seconds']:.1f} |")
    mode = "_quick" if args.quick else ""
    RESULTS.mkdir(parents=True, exist_ok=True)
    plot(results, grid, RESULTS / f"continual_learning{mode}.png")
    text = (
        "# Continual learning: five Gaussian peaks shown one region at a time (paper §3.5)\n\n"
        f"`python experiments/continual_learning.py{' --quick' if args.quick else ''}`: "
        f"{steps} LBFGS steps per phase, {n} training points per region, float64, seed "
        f"{args.seed}. Test RMSE on each region's own held-out points.\n\n"
        "| model | parameters | worst RMSE on regions 1-4 after all phases | RMSE on region 5 | "
        "s |\n|---|---:|---:|---:|---:|\n" + "\n".join(summary) + "\n\n"
        "| model | region | RMSE after its own phase | RMSE after the last phase | forgotten "
        "(difference) |\n|---|---:|---:|---:|---:|\n" + "\n".join(rows) + "\n\n"
        f"Figure: `continual_learning{mode}.png` (top: the data of each phase; middle: KAN; "
        "bottom: MLP).\n"
    )
    (RESULTS / f"continual_learning{mode}.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
