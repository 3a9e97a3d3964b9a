"""The KAN paper's §3.4 PDE: ``Δu = f`` on ``[−1, 1]²``, ``u = sin(πx)·sin(πy²)``, KAN vs MLPs.

Loss ``α·mean((Δu − f)²) + mean((u − g)²)`` with α = 0.01 on ``n_i`` interior and ``n_b``
boundary points (the paper: 10 000 and 800), full-batch LBFGS (strong-Wolfe, history 10, up to
20 iterations per step). The KAN [2, 10, 1] (G = 5) adapts its grid to the interior points
every 5 steps during the first 50 (the paper's protocol for fits). MLPs [2, h, h, 1] (tanh).
Errors against the exact solution on 10 000 fresh points: L2 (RMS of u) and H1 (RMS of u and
∇u).

Run ``python experiments/pde_poisson.py [--quick]``; writes
``experiments/results/pde_poisson{,_quick}.{md,png}``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

import kanlab
from kanlab.nn.mlp import MLP, n_parameters
from kanlab.science.pde import POISSON, h1_error, l2_error, sample_boundary, sample_interior
from kanlab.training.lbfgs import LBFGS

RESULTS = Path(__file__).resolve().parent / "results"


def train(model, steps: int, interior, boundary, test, grid_updates: bool):
    params = [p for p in model.parameters() if p.requires_grad]
    opt = LBFGS(params, lr=1, history_size=10, line_search_fn="strong_wolfe", max_iter=20,
                tolerance_grad=1e-32, tolerance_change=1e-32)
    curve = []
    t0 = time.perf_counter()
    for step in range(steps):
        if grid_updates and step % 5 == 0 and step < 50:
            model.update_grid(interior)

        def closure():
            opt.zero_grad()
            loss = POISSON.loss(model, interior, boundary)
            loss.backward()
            return loss

        opt.step(closure)
        curve.append((l2_error(model, POISSON.solution, test),
                      h1_error(model, POISSON.solution, test)))
    return curve, time.perf_counter() - t0


def run(steps: int, n_interior: int, n_boundary: int, widths: tuple[int, ...], seed: int):
    dt = torch.float64
    gen = torch.Generator().manual_seed(seed)
    interior = sample_interior(n_interior, POISSON.bounds, generator=gen, dtype=dt)
    boundary = sample_boundary(n_boundary, POISSON.bounds, generator=gen, dtype=dt)
    test = sample_interior(10_000, POISSON.bounds, generator=gen, dtype=dt)
    models = {"KAN [2, 10, 1], G=5": (kanlab.KAN([2, 10, 1], grid_size=5, seed=seed, dtype=dt),
                                      True)}
    for h in widths:
        models[f"MLP [2, {h}, {h}, 1]"] = (MLP([2, h, h, 1], activation="tanh", seed=seed,
                                                dtype=dt), False)
    out = {}
    for name, (model, adapt) in models.items():
        curve, seconds = train(model, steps, interior, boundary, test, adapt)
        out[name] = {"params": n_parameters(model), "curve": curve, "seconds": seconds}
        print(f"{name}: params {out[name]['params']}, L2 {curve[-1][0]:.2e}, "
              f"H1 {curve[-1][1]:.2e}, {seconds:.1f} s", flush=True)
    return out


def plot(results, path: Path) -> None:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 4))
    axes = fig.subplots(1, 2)
    for k, label in enumerate(("L2 error", "H1 error")):
        for name, r in results.items():
            axes[k].plot([c[k] for c in r["curve"]], label=f"{name} ({r['params']} params)")
        axes[k].set_yscale("log")
        axes[k].set_xlabel("LBFGS step")
        axes[k].set_title(label)
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="1000 interior / 200 boundary points, 20 steps")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.quick:
        steps, n_i, n_b, widths = 20, 1000, 200, (10, 30)
    else:
        steps, n_i, n_b, widths = 50, 10_000, 800, (10, 30, 100)
    results = run(steps, n_i, n_b, widths, args.seed)
    mode = "_quick" if args.quick else ""
    RESULTS.mkdir(parents=True, exist_ok=True)
    plot(results, RESULTS / f"pde_poisson{mode}.png")
    rows = [f"| {name} | {r['params']} | {r['curve'][-1][0]:.2e} | {r['curve'][-1][1]:.2e} | "
            f"{min(c[0] for c in r['curve']):.2e} | {r['seconds']:.1f} |"
            for name, r in results.items()]
    text = (
        "# Poisson equation (paper §3.4): KAN vs MLPs\n\n"
        f"`python experiments/pde_poisson.py{' --quick' if args.quick else ''}`: "
        f"{steps} LBFGS steps, {n_i} interior / {n_b} boundary points, α = 0.01, float64, "
        f"seed {args.seed}; errors on 10 000 fresh points.\n\n"
        "| model | parameters | L2 error | H1 error | best L2 | s |\n"
        "|---|---:|---:|---:|---:|---:|\n" + "\n".join(rows) + "\n\n"
        f"Training curves: `pde_poisson{mode}.png`.\n"
    )
    (RESULTS / f"pde_poisson{mode}.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
