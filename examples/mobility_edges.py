"""A mobility edge from spectra (the KAN paper's §4.4): the generalized Aubry–André model.

``kanlab.data.localization`` builds the model's Hamiltonians on open chains, diagonalises them
and labels each eigenstate localized when its fractal dimension is below 1/2. A KAN
``[4, 2, 1]`` classifies states from ``(E, α, λ, φ)`` (standardised; a logit out); the
interaction test of ``kanlab.interpret.hypothesis`` shows which inputs act together; a
hypothesis with that structure, compiled into a KAN (``kanlab.compile_formula``) and trained
on the raw data, gives the edge as a formula. The theory (Ganeshan et al. 2015): localized
where ``αE + 2λ − 2 > 0``.

Run ``python examples/mobility_edges.py [--quick] [--out FOLDER]``.
"""

import argparse
import math
from pathlib import Path

import sympy
import torch
import torch.nn.functional as F
from matplotlib.figure import Figure

import kanlab
from kanlab.data import Dataset
from kanlab.data.localization import gaam_order, sample_spectra
from kanlab.interpret.hypothesis import interaction_matrix

RANGES = {"alpha": (-0.6, 0.6), "lambda": (0.5, 1.5), "phi": (0.0, 2 * math.pi)}


def accuracy(logits, labels):
    return 100 * float(((logits > 0).double() == labels).double().mean())


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter chains, fewer steps")
    parser.add_argument("--out", type=Path, default=Path("."), help="folder for the figure")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    n_sites, hamiltonians, steps = (100, 400, 30) if args.quick else (200, 1500, 100)

    spectra = sample_spectra("gaam", hamiltonians, n_sites, RANGES, seed=0, states=20)
    raw = spectra.dataset(test_fraction=0.2, seed=0)  # test rows: other Hamiltonians
    e, alpha, lam = raw.test_input[:, :3].T.numpy()
    theory = 100 * float(((gaam_order(e, alpha, lam) > 0) == (raw.test_label[:, 0].numpy() > .5)
                          ).mean())
    print(f"{len(spectra.x)} states of {hamiltonians} chains of {n_sites} sites, "
          f"{100 * spectra.localized.mean():.0f} % localized")
    print(f"theory alpha*E + 2*lambda - 2 > 0: test accuracy {theory:.1f} %")

    mean, std = raw.train_input.mean(0), raw.train_input.std(0)
    data = Dataset((raw.train_input - mean) / std, raw.train_label,
                   (raw.test_input - mean) / std, raw.test_label)
    model = kanlab.KAN([4, 2, 1], grid_size=5, seed=0, dtype=torch.float64)
    kanlab.fit(model, data, steps=steps, loss_fn=F.binary_cross_entropy_with_logits,
               progress=False)
    with torch.no_grad():
        acc = accuracy(model(data.test_input), data.test_label)
    print(f"KAN [4, 2, 1]: test accuracy {acc:.1f} %")

    names = ["E", "alpha", "lambda", "phi"]
    inter = interaction_matrix(model, data.train_input[:2000])
    pairs = sorted(((float(inter[i, k]), names[i], names[k]) for i in range(4)
                    for k in range(i + 1, 4)), reverse=True)
    print("interactions: " + ", ".join(f"{a}-{b} {v:.2f}" for v, a, b in pairs[:3]))

    E, a, lam = sympy.symbols(["E", "alpha", "lam"])  # hypothesis: g = (E)(alpha) + lam
    guess = kanlab.compile_formula(a * E + lam, [E, a, lam])
    three = Dataset(raw.train_input[:, :3], raw.train_label, raw.test_input[:, :3],
                    raw.test_label)
    kanlab.fit(guess, three, steps=steps, loss_fn=F.binary_cross_entropy_with_logits,
               update_grid=False, progress=False)
    (g,) = guess.symbolic_formula([E, a, lam])
    g = sympy.expand(g)
    unit = sympy.expand(g / g.coeff(a * E))
    snapped = unit.xreplace({n: sympy.Integer(round(float(n))) for n in unit.atoms(sympy.Number)})
    with torch.no_grad():
        print(f"hypothesis trained: {sympy.N(unit, 3)} = 0 "
              f"(test accuracy {accuracy(guess(three.test_input), three.test_label):.1f} %)")
    print(f"snapped: {snapped} = 0")

    figure = Figure(figsize=(5, 3.6))
    ax = figure.add_subplot()
    x = raw.test_input
    ax.scatter(x[:, 0] * x[:, 1], x[:, 2], c=raw.test_label[:, 0], s=2, cmap="coolwarm",
               rasterized=True)
    ae = torch.linspace(float((x[:, 0] * x[:, 1]).min()), float((x[:, 0] * x[:, 1]).max()), 50)
    ax.plot(ae, 1 - ae / 2, "k-", label="theory: αE + 2λ − 2 = 0")
    ax.set(xlabel="αE", ylabel="λ", title="GAAM states (red: localized)", ylim=RANGES["lambda"])
    ax.legend(fontsize=8)
    figure.savefig(args.out / "mobility_edges.png", bbox_inches="tight")


if __name__ == "__main__":
    main()
