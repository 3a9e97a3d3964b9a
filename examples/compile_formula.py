"""Formula to KAN: compile a law you know into a network, then let data correct it.

``kanlab.compile_formula`` turns a sympy expression into a KAN whose symbolic edges compute it
exactly, with a product node wherever it multiplies (pykan's ``kanpiler``). Here: the
relativistic velocity addition ``(u + v)/(1 + u·v)`` (Feynman I.16.6), checked against the
formula, read back as a formula; then the compiled model is grown (``expand_depth``, an identity
layer on top, and ``expand_width``, spare nodes) and trained on data from a *different* law,
``(u + v)/(1 + u·v) + 0.1·u·v``: its symbolic edges fit their affine parameters and the spare
parts learn the rest.

Run ``python examples/compile_formula.py [--quick] [--out FOLDER]``.
"""

import argparse
from pathlib import Path

import sympy as sp
import torch

import kanlab
from kanlab.nn.grow import expand_depth, expand_width
from kanlab.symbolic.formula import tidy


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer LBFGS steps")
    parser.add_argument("--out", type=Path, default=Path("."), help="folder for the figure")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    steps = 10 if args.quick else 60

    u, v = sp.symbols("u v")
    law = (u + v) / (1 + u * v)
    model = kanlab.compile_formula(law, [u, v])
    print(f"compiled {law}: widths {model.config['widths']}")
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(1000, 2, generator=gen, dtype=torch.float64) * 1.6 - 0.8
    exact = (x[:, 0] + x[:, 1]) / (1 + x[:, 0] * x[:, 1])
    with torch.no_grad():
        error = float((model(x)[:, 0] - exact).abs().max())
    print(f"forward against the formula: max |error| {error:.1e}")
    (back,) = model.symbolic_formula([u, v])
    print(f"read back: {tidy(back, digits=None)}; equal: {sp.simplify(tidy(back) - law) == 0}")
    model.plot(x, in_vars=["u", "v"], out_vars=[law], path=args.out / "compiled.png")

    # grow it, then train on a law that differs from the compiled one
    target = (exact + 0.1 * x[:, 0] * x[:, 1])[:, None]
    data = {"train_input": x[:800], "train_label": target[:800],
            "test_input": x[800:], "test_label": target[800:]}
    grown = expand_width(expand_depth(model, x), 1, n=2)
    print(f"grown: widths {grown.config['widths']}")
    before = float((grown(x[800:]).detach() - target[800:]).square().mean().sqrt())
    history = kanlab.fit(grown, data, steps=steps, update_grid=False, progress=False)
    print(f"test RMSE on the new law: compiled {before:.2e} -> trained "
          f"{history.test_rmse[-1]:.2e}")


if __name__ == "__main__":
    main()
