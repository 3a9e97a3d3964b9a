"""Solving a PDE with a KAN: the Poisson equation of the KAN paper's §3.4.

``Δu = f`` on [-1, 1]^2 with ``u = 0`` on the boundary; the exact solution is
``u = sin(pi x) sin(pi y^2)``. The physics-informed loss (``kanlab.science.pde.POISSON.loss``) is
``0.01 · mean((Δu - f)^2)`` on interior points plus ``mean((u - g)^2)`` on boundary points; a
KAN's second derivatives come from forward-mode jets in one pass. Both models train through
``kanlab.fit`` with the loss as a ``ModelLoss`` (it sees the model and the batch: the label
marks the boundary points), so the KAN gets fit's grid updates; a KAN [2, 10, 1] (G = 5) is
compared with an MLP [2, 30, 30, 1] (tanh) under the same LBFGS steps.

Run ``python examples/pde.py [--quick] [--out FOLDER]``.
"""

import argparse
from pathlib import Path

import torch
from matplotlib.figure import Figure

import kanlab
from kanlab.nn.mlp import MLP, n_parameters
from kanlab.science.pde import POISSON, l2_error, sample_boundary, sample_interior
from kanlab.training import ModelLoss


def pde_loss(model, x, on_boundary):
    """The physics-informed loss of a batch whose label marks the boundary points."""
    edge = on_boundary[:, 0] > 0.5
    return POISSON.loss(model, x[~edge], x[edge])


def solve(model, steps, interior, boundary, test, adapt_grid):
    """``kanlab.fit`` on the PDE loss (full-batch LBFGS; grid updates, under their guard, for
    the KAN); returns the L2 error after each step."""
    points = torch.cat([interior, boundary])
    on_boundary = torch.cat([torch.zeros(len(interior), 1), torch.ones(len(boundary), 1)])
    errors = []
    kanlab.fit(model, {"train_input": points, "train_label": on_boundary.to(points.dtype)},
               steps=steps, loss_fn=ModelLoss(pde_loss), update_grid=adapt_grid,
               progress=False,
               callbacks=[lambda state: errors.append(l2_error(model, POISSON.solution, test))])
    return errors


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer points and steps")
    parser.add_argument("--out", type=Path, default=Path("."), help="folder for the figures")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    steps, n_interior, n_boundary = (8, 400, 100) if args.quick else (50, 10_000, 800)

    gen = torch.Generator().manual_seed(0)
    interior = sample_interior(n_interior, POISSON.bounds, generator=gen, dtype=torch.float64)
    boundary = sample_boundary(n_boundary, POISSON.bounds, generator=gen, dtype=torch.float64)
    test = sample_interior(2000, POISSON.bounds, generator=gen, dtype=torch.float64)
    models = {
        "KAN [2, 10, 1]": kanlab.KAN([2, 10, 1], grid_size=5, seed=0, dtype=torch.float64),
        "MLP [2, 30, 30, 1]": MLP([2, 30, 30, 1], activation="tanh", seed=0,
                                  dtype=torch.float64),
    }
    figure = Figure(figsize=(10, 4))
    curves, error_map = figure.subplots(1, 2)
    for name, model in models.items():
        errors = solve(model, steps, interior, boundary, test, adapt_grid=name.startswith("KAN"))
        print(f"{name:<18} {n_parameters(model):>5} parameters, L2 error {errors[-1]:.2e}")
        curves.plot(range(1, steps + 1), errors, label=name)
    curves.set(xlabel="LBFGS step", ylabel="L2 error", yscale="log")
    curves.legend()

    # the KAN's error |u_KAN - u| on a 101 x 101 grid
    ticks = torch.linspace(-1, 1, 101, dtype=torch.float64)
    grid = torch.cartesian_prod(ticks, ticks)
    with torch.no_grad():
        error = (models["KAN [2, 10, 1]"](grid)[:, 0] - POISSON.solution(grid)).abs()
    image = error_map.imshow(error.reshape(101, 101).T.numpy(), origin="lower",
                             extent=(-1, 1, -1, 1))
    figure.colorbar(image, ax=error_map)
    error_map.set(xlabel="x", ylabel="y", title="|u_KAN - u|")
    figure.savefig(args.out / "pde.png", bbox_inches="tight")


if __name__ == "__main__":
    main()
