"""Getting started: a KAN layer, a KAN trained with LBFGS, its grids, saving and loading.

Run ``python examples/getting_started.py [--quick] [--out FOLDER]``.
"""

import argparse
from pathlib import Path

import torch

import kanlab


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer LBFGS steps")
    parser.add_argument("--out", type=Path, default=Path("."), help="folder for the outputs")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)

    # a drop-in layer: (..., in) -> (..., out), one B-spline per edge plus a SiLU base
    layer = kanlab.KANLinear(64, 32, grid_size=5, spline_order=3)
    print("KANLinear(64, 32):", tuple(layer(torch.randn(128, 64)).shape))

    # a dataset: exp(sin(pi x) + y^2) on [-1, 1]^2, 1000 train and 1000 test points
    data = kanlab.data.make_toy_dataset("exp_sin_sq", dtype=torch.float64)

    # a [2, 1, 1] network, trained with LBFGS while the grid is refined G = 3 -> 5 -> 10
    model = kanlab.KAN([2, 1, 1], grid_size=3, seed=0, dtype=torch.float64)
    history = kanlab.fit(model, data, steps=45 if args.quick else 300,
                         grid_schedule=[3, 5, 10], progress=False)
    for g, rmse in history.final_by_grid().items():
        print(f"G = {g:>2}: test RMSE {rmse['test_rmse']:.2e}")

    # grids: move the knots to the data (the function is kept), or refine to a finer grid
    model.update_grid(data.train_input)
    finer = model.refine(20)  # a new model, same function
    with torch.no_grad():
        change = (finer(data.test_input) - model(data.test_input)).abs().max()
    print(f"refined to G = 20: largest change of the output {change:.1e}")

    # save and load: config.json + state_dict.pt
    model.save(args.out / "my_model")
    same = kanlab.KAN.load(args.out / "my_model")
    print("loaded model equal:", torch.equal(same(data.test_input), model(data.test_input)))

    # the network picture: each edge's learned function
    model.plot(path=args.out / "getting_started.png", in_vars=["x", "y"])


if __name__ == "__main__":
    main()
