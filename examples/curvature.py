"""Where the knots go: importance-density grids, by input samples or by curvature.

``f(x) = exp(-200 x^2)`` is a sharp peak (width ~0.05) on [-1, 1]. A one-edge KAN [1, 1] is
trained on its initial uniform grid, its grid is then adapted once to the training inputs, and
it is trained again. ``grid="input"`` puts the knots at quantiles of the samples (uniform data:
a near-uniform grid); ``grid="curvature"`` puts them at quantiles weighted by the spline's
``|phi''|``, which gathers them on the peak.

Run ``python examples/curvature.py [--quick] [--out FOLDER]``.
"""

import argparse
from pathlib import Path

import torch
from matplotlib.figure import Figure

import kanlab


def peak(x):
    return torch.exp(-200 * x[:, 0] ** 2)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer Adam steps")
    parser.add_argument("--out", type=Path, default=Path("."), help="folder for the figures")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    steps = 150 if args.quick else 1000  # Adam steps before and after the adaptation

    data = kanlab.data.make_dataset(peak, 1, n_train=2000, n_test=2001, dtype=torch.float64)
    xs = torch.linspace(-1, 1, 2001, dtype=torch.float64)[:, None]  # for the plot
    figure = Figure(figsize=(7, 4))
    ax = figure.add_subplot()
    ax.plot(xs[:, 0].numpy(), peak(xs).numpy(), "k", lw=2, label="target")
    print("grid        test RMSE   knots with |x| < 0.1")
    for k, (grid, color) in enumerate([("input", "tab:blue"), ("curvature", "tab:red")]):
        model = kanlab.KAN([1, 1], grid_size=10, grid=grid, seed=0, dtype=torch.float64)
        options = {"opt": "adam", "lr": 1e-2, "steps": steps, "update_grid": False,
                   "progress": False}
        kanlab.fit(model, data, **options)  # on the initial uniform grid
        model.update_grid(data.train_input)  # knots move; the function is refitted on them
        history = kanlab.fit(model, data, **options)
        knots = model.layers[0].grid[0]
        print(f"{grid:<10}  {history.test_rmse[-1]:.3e}   {int((knots.abs() < 0.1).sum())} "
              f"of {len(knots)}")
        with torch.no_grad():
            fit = model(xs)[:, 0].numpy()
        ax.plot(xs[:, 0].numpy(), fit, color=color, ls="--", label=f"{grid} fit")
        ax.plot(knots.numpy(), [-0.1 - 0.1 * k] * len(knots), "|", color=color, ms=12, mew=2,
                label=f"{grid} knots")
    ax.set(xlabel="x", title="exp(-200 x^2), G = 10")
    ax.legend(fontsize=8)
    figure.savefig(args.out / "curvature.png", bbox_inches="tight")


if __name__ == "__main__":
    main()
