"""Learnable-activation networks (the KAN paper's Appendix B): activations on nodes, not edges.

``kanlab.LAN`` is an MLP whose hidden nodes each carry a learnable activation, a base function
plus a B-spline; its grids move with the data as a KAN's. Here a LAN and a KAN of the same
widths fit the toy function of Figure B.1, ``exp(sin(πx) + y²)``, with the same ``fit``; the
LAN's picture shows its weight matrices and node activations. With a sine base and frozen
splines a LAN is SIREN.

Run ``python examples/lan.py [--quick] [--out FOLDER]``.
"""

import argparse
import math
from pathlib import Path

import torch

import kanlab
from kanlab.data import make_dataset


def rmse(model, data):
    with torch.no_grad():
        return float(((model(data.test_input) - data.test_label) ** 2).mean().sqrt())


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer steps")
    parser.add_argument("--out", type=Path, default=Path("."), help="folder for the figure")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    steps = 20 if args.quick else 100

    data = make_dataset(lambda x: torch.exp(torch.sin(math.pi * x[:, :1]) + x[:, 1:] ** 2), 2,
                        dtype=torch.float64)
    for name, model in (("LAN", kanlab.LAN([2, 5, 1], grid_size=5, seed=0, dtype=torch.float64)),
                        ("KAN", kanlab.KAN([2, 5, 1], grid_size=5, seed=0, dtype=torch.float64))):
        kanlab.fit(model, data, steps=steps, progress=False)
        count = sum(p.numel() for p in model.parameters())
        print(f"{name} [2, 5, 1]: {count} parameters, test RMSE {rmse(model, data):.2e}")
        if name == "LAN":
            lan, before = model, rmse(model, data)
    lan.refine_(10, data.train_input)  # grid extension: the function kept by least squares
    kanlab.fit(lan, data, steps=steps, progress=False)
    print(f"LAN refined to G = {lan.grid_size[0]} and trained on: test RMSE {before:.2e} -> "
          f"{rmse(lan, data):.2e}")

    siren = kanlab.LAN([2, 16, 1], base="sine", omega=30.0, noise_scale=0.0,
                       learn_activations=False, seed=0, dtype=torch.float64)
    x = data.test_input
    by_hand = siren.linears[1](torch.sin(30.0 * siren.linears[0](x)))
    print(f"sine base, frozen zero splines = SIREN: {torch.allclose(siren(x), by_hand)}")
    lan.plot(data.train_input, path=args.out / "lan.png")


if __name__ == "__main__":
    main()
