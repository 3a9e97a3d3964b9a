"""Continual learning (the KAN paper's §3.5): five Gaussian peaks, shown one region at a time.

The data of phase k lie in the k-th fifth of [-1, 1], around peak k; earlier regions are never
shown again. A KAN [1, 1] on 200 uniform grid intervals (no base branch, fixed grid, only the
spline coefficients trained) is local: a sample moves only the few coefficients around it, so
the KAN keeps the peaks it learned. An MLP [1, 64, 64, 1] trained the same way forgets them.

Run ``python examples/continual_learning.py [--quick] [--out FOLDER]``.
"""

import argparse
from pathlib import Path

import torch
from matplotlib.figure import Figure

import kanlab
from kanlab.data import Dataset
from kanlab.nn.mlp import MLP

CENTERS = (-0.8, -0.4, 0.0, 0.4, 0.8)


def peaks(x):
    return sum(torch.exp(-((x - c) ** 2) / (2 * 0.05**2)) for c in CENTERS)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10 instead of 100 steps per phase")
    parser.add_argument("--out", type=Path, default=Path("."), help="folder for the figures")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    steps = 10 if args.quick else 100

    gen = torch.Generator().manual_seed(0)
    regions = [-1 + 0.4 * k + 0.4 * torch.rand(200, 1, generator=gen, dtype=torch.float64)
               for k in range(5)]
    kan = kanlab.KAN([1, 1], grid_size=200, base_fn="zero", seed=0, dtype=torch.float64)
    for name in ("spline_scale", "base_scale", "bias"):  # global scalars stay fixed
        getattr(kan.layers[0], name).requires_grad_(False)
    models = {"KAN": kan, "MLP": MLP([1, 64, 64, 1], seed=0, dtype=torch.float64)}

    xs = torch.linspace(-1, 1, 801, dtype=torch.float64)[:, None]
    truth = peaks(xs).numpy()
    figure = Figure(figsize=(12, 4.5))
    axes = figure.subplots(2, 5, sharex=True, sharey=True)
    for row, (name, model) in enumerate(models.items()):
        for k, x in enumerate(regions):
            data = Dataset(x, peaks(x), x, peaks(x))
            kanlab.fit(model, data, steps=steps, update_grid=False, progress=False)
            with torch.no_grad():
                axes[row, k].plot(xs.numpy(), truth, color="0.8")
                axes[row, k].plot(xs.numpy(), model(xs).numpy(), color=f"C{row}")
            axes[row, k].axvspan(-1 + 0.4 * k, -0.6 + 0.4 * k, color="C2", alpha=0.2)
            axes[0, k].set_title(f"after phase {k + 1}")
        axes[row, 0].set_ylabel(name)
        with torch.no_grad():  # after the last phase: the RMSE on every region
            rmse = [float((model(x) - peaks(x)).pow(2).mean().sqrt()) for x in regions]
        print(f"{name}: RMSE per region after all phases: "
              + "  ".join(f"{r:.1e}" for r in rmse))
    axes[0, 0].set_ylim(-0.5, 1.5)
    figure.savefig(args.out / "continual_learning.png", bbox_inches="tight")


if __name__ == "__main__":
    main()
