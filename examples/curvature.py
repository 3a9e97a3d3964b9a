"""Where the knots go: importance-density grids, by input samples or by curvature.

``f(x) = exp(-200 x^2) + 0.3 sin(2 pi x)`` is a sharp peak (width ~0.05) on a wavy background
on [-1, 1]. A one-edge KAN [1, 1] with 10 grid intervals is trained with Adam, its grid adapted
every 200 steps. ``grid="input"`` puts the knots at quantiles of the samples (uniform data: a
near-uniform grid); ``grid="curvature"`` (kanlab's default curvature rule) weighs the samples by
the spline's ``|phi''|^(4/9)``, keeps every interval at least 0.1 of the uniform one and undoes
an update that makes the fit worse; ``grid="curvature_paper"`` is the importance-density
paper's raw rule (``|phi''|``, no floor), whose repeated updates pull every inner knot onto the
peak and leave the background to two intervals.

Run ``python examples/curvature.py [--quick] [--out FOLDER]``.
"""

import argparse
from pathlib import Path

import torch
from matplotlib.figure import Figure

import kanlab


def peak(x):
    return torch.exp(-200 * x[:, 0] ** 2) + 0.3 * torch.sin(2 * torch.pi * x[:, 0])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer Adam steps")
    parser.add_argument("--out", type=Path, default=Path("."), help="folder for the figures")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    steps = 300 if args.quick else 2000  # Adam steps; the grid adapts every steps / 10

    data = kanlab.data.make_dataset(peak, 1, n_train=2000, n_test=2001, dtype=torch.float64)
    xs = torch.linspace(-1, 1, 2001, dtype=torch.float64)[:, None]  # for the plot
    figure = Figure(figsize=(7, 4))
    ax = figure.add_subplot()
    ax.plot(xs[:, 0].numpy(), peak(xs).numpy(), "k", lw=2, label="target")
    print("grid              test RMSE   knots with |x| < 0.1   narrowest interval")
    arms = [("input", "tab:blue"), ("curvature", "tab:red"), ("curvature_paper", "tab:gray")]
    for k, (grid, color) in enumerate(arms):
        model = kanlab.KAN([1, 1], grid_size=10, grid=grid, seed=0, dtype=torch.float64)
        history = kanlab.fit(model, data, opt="adam", lr=1e-2, steps=steps,
                             grid_update_every=steps // 10, grid_update_until=steps * 4 // 5,
                             progress=False, log_every=steps)
        knots = model.layers[0].grid[0]
        print(f"{grid:<16}  {history.test_rmse[-1]:.3e}   {int((knots.abs() < 0.1).sum())} "
              f"of {len(knots)}               {float(knots.diff().min()):.4f}")
        with torch.no_grad():
            fit = model(xs)[:, 0].numpy()
        ax.plot(xs[:, 0].numpy(), fit, color=color, ls="--", label=f"{grid} fit")
        ax.plot(knots.numpy(), [-0.45 - 0.1 * k] * len(knots), "|", color=color, ms=12, mew=2,
                label=f"{grid} knots")
    ax.set(xlabel="x", title="exp(-200 x^2) + 0.3 sin(2 pi x), G = 10")
    ax.legend(fontsize=7)
    figure.savefig(args.out / "curvature.png", bbox_inches="tight")


if __name__ == "__main__":
    main()
