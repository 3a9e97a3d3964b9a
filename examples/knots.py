"""A knot's signature from its geometric invariants (the KAN paper's §4.3), on real knots.

``make knot-data`` computes the invariants of 10,000 knots of SnapPy's census into
``data/knots`` (SnapPy comes with kanlab's optional ``knots`` extra); ``kanlab.data.knots``
loads them. A KAN ``[F, 1, C]`` (the paper's ``[17, 1, 14]``: G = 3, k = 3) classifies the
signature, an even integer, from the standardised invariants with cross-entropy; attribution
ranks the inputs, and DeepMind's human formula (signature ≈ slope / 2, slope = Re(λ/μ))
scores the same test rows.

Run ``python examples/knots.py [--quick] [--data FOLDER] [--out FOLDER]``; ``--quick`` (or a
machine without ``data/knots``) uses the 48-knot sample the tests use.
"""

import argparse
from pathlib import Path

import torch
import torch.nn.functional as F
from matplotlib.figure import Figure

import kanlab
from kanlab.data import Dataset
from kanlab.data.knots import NUMERIC, load_knots
from kanlab.interpret.importance import importance

ROOT = Path(__file__).resolve().parents[1]
SHORT = {"meridional_translation_real": "mu_r", "meridional_translation_imag": "mu_i",
         "longitudinal_translation": "lambda"}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the 48-knot sample, 20 steps")
    parser.add_argument("--data", type=Path, default=ROOT / "data" / "knots")
    parser.add_argument("--out", type=Path, default=Path("."), help="folder for the figure")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    folder = args.data
    if args.quick or not (folder / "knots.csv").exists():
        folder = ROOT / "tests" / "fixtures" / "knots"
    table = load_knots(folder)
    shown = folder.relative_to(ROOT) if folder.is_relative_to(ROOT) else folder
    print(f"knots: {len(table)} from {shown}, signatures {table.classes().tolist()}")

    data = table.dataset(NUMERIC, symmetry=True, test_fraction=0.2, seed=0)
    keep = data.train_input.std(0) > 0  # symmetry groups that occur
    names = [SHORT.get(n, n) for n, k in zip(table.feature_names(), keep) if k]
    mean, std = data.train_input[:, keep].mean(0), data.train_input[:, keep].std(0)
    data = Dataset((data.train_input[:, keep] - mean) / std, data.train_label,
                   (data.test_input[:, keep] - mean) / std, data.test_label)

    model = kanlab.KAN([len(names), 1, len(table.classes())], grid_size=3, seed=0,
                       dtype=torch.float64)
    kanlab.fit(model, data, steps=20 if args.quick else 200, loss_fn=F.cross_entropy,
               progress=False)
    with torch.no_grad():
        accuracy = (model(data.test_input).argmax(1) == data.test_label).double().mean()
    print(f"KAN {model.widths}: test accuracy {100 * float(accuracy):.1f} % "
          f"({sum(p.numel() for p in model.parameters())} parameters)")

    raw = table.dataset(NUMERIC, symmetry=False, test_fraction=0.2, seed=0).test_input
    mu_r, mu_i, lam = raw[:, 3], raw[:, 4], raw[:, 5]
    human = 2 * torch.round(lam * mu_r / (mu_r**2 + mu_i**2) / 4)  # slope / 2, even
    truth = torch.as_tensor(table.classes(), dtype=human.dtype)[data.test_label]
    hits = float((human == truth).double().mean())
    print(f"human formula slope/2: test accuracy {100 * hits:.1f} %")

    scores = importance(model, data.test_input).nodes[0]
    scores = scores / scores.sum()
    order = scores.argsort(descending=True).tolist()
    print("inputs by attribution: " + ", ".join(f"{names[i]} {scores[i]:.2f}" for i in order[:4]))

    figure = Figure(figsize=(7, 3))
    ax = figure.add_subplot()
    ax.bar(range(len(order)), scores[order].tolist())
    ax.set_xticks(range(len(order)), [names[i] for i in order], rotation=40, ha="right")
    ax.set(ylabel="share of attribution", title="what the signature depends on")
    figure.savefig(args.out / "knots.png", bbox_inches="tight")


if __name__ == "__main__":
    main()
