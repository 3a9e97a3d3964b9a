"""Hello, KAN: fit exp(sin(pi x) + y^2), sparsify, prune, and read the formula off the network.

The KAN paper's §2.5.2 story with kanlab: a [2, 5, 1] KAN is trained with sparsity
regularisation (``lamb``), pruned to the edges that matter, its edges are snapped to symbolic
functions (``auto_symbolic``), and the network is read as a formula.

Run ``python examples/hellokan.py [--quick] [--out FOLDER]``.
"""

import argparse
from pathlib import Path

import torch

import kanlab


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer LBFGS steps per stage")
    parser.add_argument("--out", type=Path, default=Path("."), help="folder for the figures")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    steps = 20 if args.quick else 50

    data = kanlab.data.make_toy_dataset("exp_sin_sq", dtype=torch.float64)
    model = kanlab.KAN([2, 5, 1], seed=0, dtype=torch.float64)

    # 1. train with sparsification: L1 + entropy of the edges (paper eq. 2.20)
    history = kanlab.fit(model, data, steps=steps, lamb=0.03, progress=False)
    print(f"trained [2, 5, 1]: test RMSE {history.test_rmse[-1]:.2e}")
    model.plot(path=args.out / "hellokan_trained.png")

    # 2. prune: a NEW, smaller model; retrain it without the penalty
    model = model.prune()
    history = kanlab.fit(model, data, steps=steps, progress=False)
    print(f"pruned to {model.widths}: test RMSE {history.test_rmse[-1]:.2e}")

    # 3. snap every edge to its best c*f(a*x+b)+d, then polish the affine parameters
    fixed = model.auto_symbolic(lib=["x", "x^2", "exp", "sin", "tanh"])
    for edge, fitted in fixed.items():  # edge = (layer, input node, output node)
        print(f"edge {edge} -> {fitted.name} (r2 {fitted.r2:.6f})")
    history = kanlab.fit(model, data, steps=steps, update_grid=False, progress=False,
                         callbacks=[lambda state: state.loss < 1e-28])  # stop at round-off
    kanlab.interpret.symbolic_model.canonicalize(model)  # an exact rewrite that reads better
    print(f"symbolic: test RMSE {history.test_rmse[-1]:.2e}")
    model.plot(path=args.out / "hellokan_symbolic.png")

    # 4. the formula, rounded for display
    (formula,) = model.symbolic_formula(["x", "y"])
    print("formula:", kanlab.symbolic.formula.tidy(formula, digits=4))


if __name__ == "__main__":
    main()
