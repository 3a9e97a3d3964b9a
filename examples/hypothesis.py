"""Hypothesis tests on a trained KAN: which inputs separate, which group into modules.

A KAN is trained on ``f = exp(sin x1 + x2²) + x3·x4``; its Hessian then says that ``f`` splits
additively into ``{x1, x2}`` and ``{x3, x4}`` (pairwise interaction: the scale-free median of
``|∂²f/∂xi∂xk|``), and the generalised symmetry tests build the tree of modules. The same tests
on ``g = sin(x1)·(x2 + x3²)`` find the multiplicative split ``{x1} | {x2, x3}``; on
``sin(x1·x2 + x2·x3 + x3·x1)`` they find none. Inputs are numbered from 0 in the output.

Run ``python examples/hypothesis.py [--quick] [--out FOLDER]``.
"""

import argparse
from pathlib import Path

import torch

import kanlab
from kanlab.interpret.hypothesis import (
    interaction_matrix,
    modular_tree,
    plot_tree,
    separable_groups,
)


def trained(fn, x, widths, steps):
    model = kanlab.KAN(widths, seed=0, dtype=torch.float64)
    kanlab.fit(model, {"train_input": x, "train_label": fn(x)[:, None]}, steps=steps,
               progress=False)
    return model


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer samples and steps")
    parser.add_argument("--out", type=Path, default=Path("."), help="folder for the figure")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    n, steps = (600, 60) if args.quick else (1000, 100)
    gen = torch.Generator().manual_seed(0)

    def f(v):
        return torch.exp(torch.sin(v[:, 0]) + v[:, 1] ** 2) + v[:, 2] * v[:, 3]

    x = torch.rand(n, 4, generator=gen, dtype=torch.float64) * 2 - 1
    model = trained(f, x, [4, 5, 1], steps)
    print("f = exp(sin x1 + x2^2) + x3*x4, a trained [4, 5, 1] KAN:")
    print("pairwise interaction:\n", interaction_matrix(model, x).numpy().round(3))
    print("additive split:", separable_groups(model, x, "add"))
    tree = modular_tree(model, x)
    print(f"modular tree: {tree.groups()} (root: {tree.kind or 'composition'})")
    plot_tree(tree, names=["x1", "x2", "x3", "x4"], path=args.out / "tree.png")

    def g(v):
        return torch.sin(v[:, 0]) * (v[:, 1] + v[:, 2] ** 2)

    xg = torch.rand(n, 3, generator=gen, dtype=torch.float64) * 2 - 1
    xg[:, 0], xg[:, 1] = 1.0 + xg[:, 0] * 0.5, 1.5 + xg[:, 1] * 0.5  # g away from zero
    print("g = sin(x1)*(x2 + x3^2): multiplicative split",
          separable_groups(trained(g, xg, [3, 5, 1], steps), xg, "mul"))

    def h(v):
        return torch.sin(v[:, 0] * v[:, 1] + v[:, 1] * v[:, 2] + v[:, 2] * v[:, 0])

    xh = torch.rand(n, 3, generator=gen, dtype=torch.float64) * 2 - 1
    mh = trained(h, xh, [3, 5, 1], steps)
    print("h = sin(x1*x2 + x2*x3 + x3*x1): additive", separable_groups(mh, xh, "add"),
          "multiplicative", separable_groups(mh, xh, "mul"))


if __name__ == "__main__":
    main()
