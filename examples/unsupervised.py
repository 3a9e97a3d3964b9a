"""Unsupervised discovery (the KAN paper's §4.2): which features depend on each other?

Six features without labels: x1, x2, x4, x6 ~ U(-1, 1), ``x3 = exp(sin(pi x1) + x2^2)`` and
``x5 = x4^3``. Real rows (label 1) are told apart from rows whose columns were shuffled one by
one (label 0) by a KAN [6, 1, 1] whose last edge is a Gaussian: it outputs about 1 only where
``h = sum_i phi_i(x_i)`` is near one value, so it has to find a relation that the real rows
satisfy. With sparsity regularisation only the features of one relation keep their edges:
{x1, x2, x3} or {x4, x5}, never x6. Which one a run finds depends on the seed -- so the
last part trains many seeds at once, as one ensemble, and counts the groups they find.

Run ``python examples/unsupervised.py [--quick] [--out FOLDER]``.
"""

import argparse
from pathlib import Path

import torch
from matplotlib.figure import Figure

from kanlab.science.unsupervised import (
    contrastive_accuracy,
    contrastive_dataset,
    dependent_features,
    feature_scores,
    fit_unsupervised,
    make_unsupervised_toy,
    relation_groups,
    unsupervised_ensemble,
    unsupervised_model,
)

NAMES = ["x1", "x2", "x3", "x4", "x5", "x6"]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 seeds, fewer samples and steps")
    parser.add_argument("--out", type=Path, default=Path("."), help="folder for the figures")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    seeds, n, steps, sparsify = ((0, 1), 400, 15, 15) if args.quick else (range(5), 1000, 50, 30)

    figure = Figure(figsize=(7, 3.5))
    ax = figure.add_subplot()
    for k, seed in enumerate(seeds):
        x = make_unsupervised_toy(n, generator=torch.Generator().manual_seed(1000 + seed),
                                  dtype=torch.float64)
        x = (x - x.mean(0)) / x.std(0)  # standardise: features far off [-1, 1] stall training
        model = unsupervised_model(6, grid_size=3, seed=seed, dtype=torch.float64)
        # the same generator seed in both calls: the same split and negatives
        fit_unsupervised(model, x, generator=torch.Generator().manual_seed(seed), steps=steps,
                         lamb=0.002, lamb_entropy=10.0)
        fit_unsupervised(model, x, generator=torch.Generator().manual_seed(seed), steps=sparsify,
                         lamb=0.01, lamb_entropy=10.0, update_grid=False)  # sparsify: stronger L1
        data = contrastive_dataset(x, generator=torch.Generator().manual_seed(seed))
        accuracy = contrastive_accuracy(model, data.test_input, data.test_label)
        group = [NAMES[i] for i in dependent_features(model)]
        print(f"seed {seed}: dependent features {{{', '.join(group)}}}, "
              f"test accuracy {accuracy:.3f}")
        width = 0.8 / len(seeds)  # one bar per seed and feature
        positions = [i + (k - (len(seeds) - 1) / 2) * width for i in range(6)]
        ax.bar(positions, feature_scores(model).tolist(), width, label=f"seed {seed}")
    ax.set_xticks(range(6), NAMES)
    ax.set(ylabel="relative feature score", title="first-layer edges kept after sparsification")
    ax.legend()
    figure.savefig(args.out / "unsupervised.png", bbox_inches="tight")

    # many seeds at once: one dataset, one ensemble of models, the groups they found
    members = 4 if args.quick else 20
    x = make_unsupervised_toy(n, generator=torch.Generator().manual_seed(7), dtype=torch.float64)
    x = (x - x.mean(0)) / x.std(0)
    ensemble = unsupervised_ensemble(6, range(members), grid_size=3, dtype=torch.float64)
    for phase in ({"steps": steps, "lamb": 0.002}, {"steps": sparsify, "lamb": 0.01,
                                                     "update_grid": False}):
        fit_unsupervised(ensemble, x, generator=torch.Generator().manual_seed(0),
                         lamb_entropy=10.0, **phase)
    data = contrastive_dataset(x, generator=torch.Generator().manual_seed(0))
    found = relation_groups(ensemble, x, data=data)
    counts = ", ".join(f"{{{', '.join(NAMES[i] for i in group)}}} in {len(who)}"
                       for group, who in found)
    print(f"{members} seeds at once: {counts} (of {members}; the others found no relation)")


if __name__ == "__main__":
    main()
