"""Where the knots go: input- vs curvature-based grid adaptation on a sharp 1D peak.

``f(x) = exp(-200 x^2)`` on ``[-1, 1]`` (width ~0.05) is fitted by a one-edge KAN of widths
``[1, 1]`` (``phi(x) = w_b silu(x) + w_s spline(x) + bias``). The model is trained on its initial
uniform grid, then the grid is re-adapted once (or ``R`` times, with training in between) under
the arm's importance density: ``input`` puts knots at sample quantiles (uniform samples: a
near-uniform grid), ``curvature`` (kanlab's default rule) at the quantiles of ``|phi''|^(4/9)``
with no interval below 0.1 of the uniform one and the guard, ``curvature_paper`` (the paper's
raw rule) at the quantiles of ``|phi''|``, which gathers them on the peak without limit.

Run ``python experiments/idf_peak_1d.py [--quick]``; it writes
``experiments/results/idf_peak_1d{,_quick}.{md,png}``.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from pathlib import Path

import torch

import kanlab
from kanlab.grids.density import DensityGrid
from kanlab.splines.lstsq import fit_coefficients

RESULTS = Path(__file__).resolve().parent / "results"
#: arm -> its strategy: sample quantiles, kanlab's default curvature rule, the paper's raw rule.
ARMS = {
    "input": lambda: DensityGrid("input", eps=0.0, floor=0.0, guard=None),
    "curvature": lambda: DensityGrid("curvature", eps=0.0),
    "curvature_paper": lambda: DensityGrid("curvature", power=1.0, floor=0.0, guard=None,
                                           eps=0.0),
}
PEAK = 0.1  # |x| below this counts as "on the peak" (f(0.1) = exp(-2) = 0.14)


def target(x: torch.Tensor) -> torch.Tensor:
    """The sharp peak ``exp(-200 x^2)``, ``(N, 1) -> (N, 1)``."""
    return torch.exp(-200 * x**2)


@dataclass
class Config:
    """Run settings."""

    grid_sizes: tuple[int, ...] = (5, 10, 20, 40)
    steps: int = 2000  # Adam steps in all, split evenly before and after each adaptation
    rounds: tuple[int, ...] = (1, 3)  # numbers of grid adaptations compared
    lr: float = 1e-2
    n_train: int = 2000
    n_test: int = 10001
    seed: int = 0
    show_grid: int = 10  # the grid size whose knots the plot shows

    @classmethod
    def quick(cls) -> Config:
        """A smoke test: two grid sizes, fewer steps."""
        return cls(grid_sizes=(5, 10), steps=300, rounds=(1, 2))


@dataclass
class Result:
    arm: str
    grid_size: int
    rounds: int
    error: float  # trained model
    best_error: float  # best spline on the final knots
    knots: torch.Tensor  # the final grid points (G + 1)
    model: kanlab.KAN


def train(model: kanlab.KAN, x: torch.Tensor, y: torch.Tensor, steps: int, lr: float) -> None:
    """Full-batch Adam on the mean squared error, with a fresh optimiser."""
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    for _ in range(steps):
        opt.zero_grad(set_to_none=True)
        loss = torch.mean((model(x) - y) ** 2)
        loss.backward()
        opt.step()


def relative_l2(pred: torch.Tensor, y: torch.Tensor) -> float:
    return float(torch.linalg.vector_norm(pred - y) / torch.linalg.vector_norm(y))


@torch.no_grad()
def best_spline_error(layer: kanlab.KANLinear, x: torch.Tensor, xt: torch.Tensor) -> float:
    """Relative L2 test error of the least-squares cubic spline on the layer's knots.

    Uses kanlab's ridge-regularised solve: knots that nearly coincide make the basis
    rank-deficient, where ``torch.linalg.lstsq``'s default CPU driver (gelsy) fails silently.
    """
    coef = fit_coefficients(x, target(x).unsqueeze(-1), layer.knots, layer.spline_order)
    return relative_l2(layer.basis(xt)[:, 0, :] @ coef[0, 0].unsqueeze(1), target(xt))


def run_arm(arm: str, grid_size: int, rounds: int, cfg: Config, x, y, xt) -> Result:
    """Train on the uniform grid, then ``rounds`` times: adapt under ``arm`` and train."""
    model = kanlab.KAN([1, 1], grid_size=grid_size, seed=cfg.seed, dtype=torch.float64,
                       grid=ARMS[arm]())
    phase = cfg.steps // (rounds + 1)
    train(model, x, y, phase, cfg.lr)
    for _ in range(rounds):
        model.update_grid(x, y=y)  # the targets: what the default rule's guard judges by
        train(model, x, y, phase, cfg.lr)
    with torch.no_grad():
        error = relative_l2(model(xt), target(xt))
    layer = model.layers[0]
    return Result(arm, grid_size, rounds, error, best_spline_error(layer, x, xt),
                  layer.grid[0].clone(), model)


def on_peak(knots: torch.Tensor) -> int:
    return int((knots.abs() < PEAK).sum())


def markdown(results: list[Result], cfg: Config, wall_s: float) -> str:
    """Error table against G and the number of adaptations, and the knots of ``show_grid``."""
    by = {(r.arm, r.grid_size, r.rounds): r for r in results}
    lines = [
        "# Sharp 1D peak: input- vs curvature-based knots",
        "",
        f"f(x) = exp(-200 x^2) on [-1, 1]; KAN widths [1, 1] (one edge: SiLU base + cubic "
        f"spline), float64, {cfg.n_train} uniform training samples (seed {cfg.seed}), "
        f"full-batch Adam lr {cfg.lr}, {cfg.steps} steps in all: trained on the initial uniform "
        f"grid, then R x (update_grid under the arm, then training), the steps "
        f"split evenly over the R + 1 phases. Relative L2 error on {cfg.n_test} grid points. "
        f"'best spline' = least-squares cubic spline on the arm's final knots (knot placement "
        f"alone, no optimiser). 'on peak' = grid points with |x| < {PEAK}.",
        "",
        "| G | R | arm | trained | best spline on its knots | on peak | narrowest interval / "
        "uniform |",
        "|---|---|---|---|---|---|---|",
    ]
    for rounds in cfg.rounds:
        for g in cfg.grid_sizes:
            for arm in ARMS:
                r = by[(arm, g, rounds)]
                narrow = float(r.knots.diff().min() / ((r.knots[-1] - r.knots[0]) / g))
                lines.append(f"| {g} | {rounds} | {arm} | {r.error:.3e} | {r.best_error:.3e} | "
                             f"{on_peak(r.knots)}/{g + 1} | {narrow:.3f} |")
    lines += ["", f"Grid points at G = {cfg.show_grid}:", ""]
    for rounds in cfg.rounds:
        for arm in ARMS:
            r = by.get((arm, cfg.show_grid, rounds))
            if r is not None:
                pts = ", ".join(f"{v:+.3f}" for v in r.knots.tolist())
                lines.append(f"- {arm}, R = {rounds}: {pts}")
    lines += ["", f"Total wall time: {wall_s:.0f} s (1 thread).", ""]
    return "\n".join(lines)


def plot(results: list[Result], cfg: Config, xt: torch.Tensor, path: Path) -> None:
    """Left: fits and knots at ``show_grid`` after one adaptation; right: error against G."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax, bx) = plt.subplots(1, 2, figsize=(11, 4))
    xs = xt[:, 0].numpy()
    ax.plot(xs, target(xt)[:, 0].numpy(), "k", lw=2, label="target")
    colors = {"input": "tab:blue", "curvature": "tab:red", "curvature_paper": "tab:gray"}
    first = cfg.rounds[0]
    for k, arm in enumerate(ARMS):
        r = next(r for r in results
                 if r.arm == arm and r.grid_size == cfg.show_grid and r.rounds == first)
        with torch.no_grad():
            ax.plot(xs, r.model(xt)[:, 0].numpy(), color=colors[arm], ls="--",
                    label=f"{arm} fit")
        knots = r.knots.numpy()
        ax.plot(knots, [-0.12 - 0.1 * k] * len(knots), "|", color=colors[arm], ms=14, mew=2,
                label=f"{arm} grid points")
    last = next(r for r in results if r.arm == "curvature" and r.grid_size == cfg.show_grid
                and r.rounds == cfg.rounds[-1])
    if last.rounds != first:
        knots = last.knots.numpy()
        ax.plot(knots, [-0.42] * len(knots), "|", color="darkred", ms=14, mew=2,
                label=f"curvature grid points, R = {last.rounds}")
    ax.set_title(f"G = {cfg.show_grid}: fits (R = {first}) and grid points")
    ax.set_xlabel("x")
    ax.legend(fontsize=8)
    styles = {cfg.rounds[0]: "-", cfg.rounds[-1]: "--"}
    for arm in ARMS:
        for rounds in cfg.rounds:
            rs = sorted((r for r in results if r.arm == arm and r.rounds == rounds),
                        key=lambda r: r.grid_size)
            bx.plot([r.grid_size for r in rs], [r.error for r in rs], "o",
                    ls=styles.get(rounds, ":"), color=colors[arm],
                    label=f"{arm}, R = {rounds} (trained)")
        rs = sorted((r for r in results if r.arm == arm and r.rounds == first),
                    key=lambda r: r.grid_size)
        bx.plot([r.grid_size for r in rs], [r.best_error for r in rs], "s", ls=":",
                color=colors[arm], alpha=0.5, label=f"{arm}, R = {first} (best spline)")
    bx.set_xscale("log")
    bx.set_yscale("log")
    bx.minorticks_off()
    bx.set_xticks(list(cfg.grid_sizes), [str(g) for g in cfg.grid_sizes])
    bx.set_xlabel("G (grid intervals)")
    bx.set_ylabel("relative L2 error")
    bx.set_title("error against grid size")
    bx.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="G = 5, 10 and fewer steps")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    cfg = Config.quick() if args.quick else Config()

    gen = torch.Generator().manual_seed(cfg.seed)
    x = 2 * torch.rand(cfg.n_train, 1, generator=gen, dtype=torch.float64) - 1
    y = target(x)
    xt = torch.linspace(-1, 1, cfg.n_test, dtype=torch.float64).unsqueeze(1)

    start, results = time.perf_counter(), []
    for rounds in cfg.rounds:
        for g in cfg.grid_sizes:
            for arm in ARMS:
                r = run_arm(arm, g, rounds, cfg, x, y, xt)
                results.append(r)
                print(f"G={g:>3} R={rounds} {arm:<16} rel L2 {r.error:.3e}  "
                      f"best spline {r.best_error:.3e}  on peak {on_peak(r.knots)}/{g + 1}",
                      flush=True)
    wall_s = time.perf_counter() - start

    RESULTS.mkdir(parents=True, exist_ok=True)
    stem = "idf_peak_1d_quick" if args.quick else "idf_peak_1d"
    text = markdown(results, cfg, wall_s)
    (RESULTS / f"{stem}.md").write_text(text)
    plot(results, cfg, xt, RESULTS / f"{stem}.png")
    print(text)


if __name__ == "__main__":
    main()
