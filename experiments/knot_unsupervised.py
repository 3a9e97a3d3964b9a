"""The KAN paper's §4.3, unsupervised: which knot invariants depend on each other?

Data: the knots of the table of ``make knot-data`` (:func:`kanlab.data.knots.load_knots`)
whose short geodesic and injectivity radius were computed (one knot in five was tried, and a
Dirichlet domain was found for most non-alternating knots but few alternating ones: see the
manifest), or a seeded sample of ``--knots`` of them (2000: all of them by default). Features:
every invariant the table holds (the numeric ones, the geodesic ones; the symmetry group
dummy-coded: a column for each group that at least 1 % of the knots, and 10, have, less the
commonest group's) and the signature, standardised. kanlab's unsupervised mode
(:mod:`kanlab.science.unsupervised`: real rows against rows with every column shuffled, a ``[d,
1, 1]`` KAN whose last edge is a Gaussian) is trained for ``seeds`` seeds × two λ, all members
side by side in one ensemble (:func:`~kanlab.science.unsupervised.unsupervised_ensemble`, λ one
per member). The recipe of ``experiments/unsupervised_toy.py``: 50 LBFGS steps at λ/5, then 30
at λ without grid updates (sparsify), entropy weight 10.
:func:`~kanlab.science.unsupervised.relation_groups` reads each member's group (members whose
contrastive test accuracy is not above 0.6 found nothing).

The paper's three groups (200 networks: seeds 0..99 × λ ∈ {1e-2, 1e-3}):

1. the signature with μ_r and λ (the signature relation studied in the supervised part);
2. the cusp volume with a meridional part and λ -- by definition the maximal cusp's area is
   ``λ·Im(μ)``, so ``V = λ·μ_i / 2`` in SnapPy's convention (the paper writes ``V = μ_r λ``:
   its real and imaginary names are swapped against SnapPy's here);
3. the short geodesic's real part with the injectivity radius (``g_r ≤ 2r``).

A member finds group 1 when its group holds {signature, μ_r, λ}, group 2 when it holds
{cusp volume, μ_i, λ}, group 3 when it holds {g_r, r}, each with at most two more features (as
the paper's group 1 did). The report also counts group 1 with λ replaced by V and μ_i (the same
relation through group 2's ``λ = 2V/μ_i``: the paper's "two other variables which can be
removed because of" another group), apart from the paper's count.

Run ``python experiments/knot_unsupervised.py [--quick] [--seeds N] [--data data/knots]``; it
writes ``experiments/results/knot_unsupervised{,_quick}.md``.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from kanlab.data.knots import GEODESIC, NUMERIC, KnotTable
from kanlab.science.unsupervised import (
    contrastive_accuracy,
    contrastive_dataset,
    fit_unsupervised,
    relation_groups,
    unsupervised_ensemble,
    unsupervised_model,
)

PAPER_GROUPS = {
    "1: σ with μ_r, λ": {"signature", "meridional_translation_real", "longitudinal_translation"},
    "2: V = λ·μ_i/2": {"cusp_volume", "meridional_translation_imag", "longitudinal_translation"},
    "3: g_r with r": {"short_geodesic_real", "injectivity_radius"},
}
#: group 1 with λ written through group 2 (λ = 2V/μ_i): counted apart from the paper's groups
GROUP_1_THROUGH_V = {"signature", "meridional_translation_real", "cusp_volume",
                     "meridional_translation_imag"}
LAMBDAS = (1e-2, 1e-3)

sys.path.insert(0, str(Path(__file__).resolve().parent))
from knot_common import SAMPLE, SHORT, knot_parser, load_knots, run_script  # noqa: E402, F401


@dataclass
class Budget:
    seeds: int = 50
    knots: int = 2000  # a seeded sample of the knots with geodesics (about 1,200: all)
    steps: int = 50
    sparsify_steps: int = 30


QUICK = Budget(seeds=2, knots=48, steps=3, sparsify_steps=2)


def features(table: KnotTable, knots: int | None = None) -> tuple[torch.Tensor, list[str]]:
    """Standardised features ``(N, d)``: the invariants that vary and the signature, of the
    knots with geodesics when the table has them; of a seeded sample of ``knots`` rows (None:
    all)."""
    columns = NUMERIC
    if table.has_geodesics().any():
        table, columns = table.subset(table.has_geodesics()), (*NUMERIC, *GEODESIC)
    x = table.features(columns, symmetry=True)
    names = table.feature_names(columns, symmetry=True)
    x = torch.cat([x, torch.as_tensor(table.signature, dtype=x.dtype)[:, None]], dim=1)
    names = [*names, "signature"]
    if knots is not None and knots < len(x):
        x = x[torch.randperm(len(x), generator=torch.Generator().manual_seed(0))[:knots]]
    # the columns that vary, a symmetry group's only when at least 1 % of the knots (and 10)
    # have it: rarer ones say nothing here, and are constant on many splits
    rare = torch.tensor([n.startswith("symmetry_") for n in names]) & (
        x.sum(0) < max(10, 0.01 * len(x)))
    keep = (x.std(0) > 0) & ~rare
    # dummy coding: the commonest group's column is the reference, left out; otherwise the
    # kept one-hots sum to about 1, a relation of their own that the networks find
    symmetry = torch.tensor([n.startswith("symmetry_") for n in names]) & keep
    if symmetry.any():
        keep[torch.where(symmetry, x.sum(0), -1).argmax()] = False
    keep = keep.nonzero().flatten()
    x = x[:, keep]
    return (x - x.mean(0)) / x.std(0), [names[i] for i in keep]


def alone(x: torch.Tensor, names: list[str], group: set[str], steps: int) -> float:
    """How plain a group's relation is: the contrastive test accuracy of one unsupervised
    ``[len(group), 1, 1]`` KAN (seed 0, no penalty) on the group's columns alone (0.5: the
    real rows look like shuffled ones; 1: a sharp relation)."""
    columns = [names.index(c) for c in sorted(group) if c in names]
    if len(columns) < 2:
        return float("nan")
    part = x[:, columns]
    model = unsupervised_model(len(columns), grid_size=3, seed=0, dtype=x.dtype)
    fit_unsupervised(model, part, generator=torch.Generator().manual_seed(0), steps=steps)
    data = contrastive_dataset(part, generator=torch.Generator().manual_seed(0))
    return contrastive_accuracy(model, data.test_input, data.test_label)


def run(table: KnotTable, budget: Budget, say=print) -> dict:
    x, names = features(table, budget.knots)
    seeds = list(range(budget.seeds))
    members = [(s, lam) for lam in LAMBDAS for s in seeds]
    ensemble = unsupervised_ensemble(x.shape[1], [s for s, _ in members], grid_size=3,
                                     dtype=torch.float64)
    lamb = torch.tensor([lam for _, lam in members], dtype=torch.float64)
    common = {"lamb_entropy": 10.0}
    start = time.perf_counter()
    fit_unsupervised(ensemble, x, generator=torch.Generator().manual_seed(0),
                     steps=budget.steps, lamb=lamb / 5, **common)
    fit_unsupervised(ensemble, x, generator=torch.Generator().manual_seed(0),
                     steps=budget.sparsify_steps, lamb=lamb, update_grid=False, **common)
    seconds = time.perf_counter() - start
    say(f"{len(members)} members trained together in {seconds:.0f} s")
    data = contrastive_dataset(x, generator=torch.Generator().manual_seed(0))
    groups = relation_groups(ensemble, x, data=data)
    wanted_groups = {**PAPER_GROUPS, "1 through V": GROUP_1_THROUGH_V}
    found = {key: [] for key in wanted_groups}
    for group, group_members in groups:
        group_names = {names[i] for i in group}
        for key, wanted in wanted_groups.items():
            if wanted <= group_names and len(group_names) <= len(wanted) + 2:
                found[key] += group_members
    found["1 through V"] = sorted(set(found["1 through V"]) | set(found["1: σ with μ_r, λ"]))
    plain = {key: alone(x, names, wanted, budget.steps) for key, wanted in PAPER_GROUPS.items()}
    return {"knots": len(x), "names": names, "members": members, "groups": groups,
            "found": found, "alone": plain, "bound": geodesic_bound(table),
            "train_seconds": seconds}


def geodesic_bound(table: KnotTable) -> dict | None:
    """How tight ``g_r ≤ 2r`` is on the knots with geodesics: the share that obey it, the share
    of pairs with ``g_r`` shuffled (a seeded permutation) that break it, the median ``g_r /
    2r`` and the correlation; None without geodesics."""
    done = table.has_geodesics()
    if not done.any():
        return None
    g = table.numeric["short_geodesic_real"][done]
    r = table.numeric["injectivity_radius"][done]
    shuffled = g[np.random.default_rng(0).permutation(len(g))]
    return {"holds": float((g <= 2 * r).mean()),
            "shuffled_violations": float((shuffled > 2 * r).mean()),
            "median_ratio": float(np.median(g / (2 * r))), "corr": float(np.corrcoef(g, r)[0, 1])}


def report(out: dict, command: str, seconds: float) -> str:
    names, members = out["names"], out["members"]
    n = len(members)
    lines = [
        "# Relations among knot invariants (KAN paper §4.3, unsupervised)", "",
        f"`{command}` — {out['knots']} knots, {n} networks ({n // len(LAMBDAS)} seeds × λ ∈ "
        f"{{{', '.join(f'{lam:g}' for lam in LAMBDAS)}}}) trained side by side in "
        f"{out['train_seconds']:.0f} s; {seconds:.0f} s in all. Features: "
        f"{', '.join(SHORT.get(c, c) for c in names)}.", "",
        "## The paper's groups", "",
        "The last column: the contrastive test accuracy of one network on the group's "
        "features alone (0.5: no relation to find; see `alone`).", "",
        "| group | networks that found it | share | by λ | seeds (at either λ) | alone |",
        "|---|---|---|---|---|---|",
    ]
    seeds = len({s for s, _ in members})
    for key, found in out["found"].items():
        by_lam = ", ".join(f"{lam:g}: {sum(members[e][1] == lam for e in found)}"
                           for lam in LAMBDAS)
        accuracy = out["alone"].get(key)
        accuracy = "" if accuracy is None else f"{accuracy:.3f}"
        if key == "1 through V":
            key = "(1, or σ with μ_r, V, μ_i: λ through group 2)"
        by_seed = len({members[e][0] for e in found})
        lines.append(f"| {key} | {len(found)} | {len(found) / n:.0%} | {by_lam} | "
                     f"{by_seed} of {seeds} ({by_seed / seeds:.0%}) | {accuracy} |")
    if out.get("bound"):
        b = out["bound"]
        lines += ["", f"Group 3's relation on these knots: g_r ≤ 2r holds for {b['holds']:.1%} "
                  f"of them, but for {1 - b['shuffled_violations']:.1%} of the pairs with g_r "
                  f"shuffled too (the bound is slack: median g_r / 2r = {b['median_ratio']:.2f}); "
                  f"corr(g_r, r) = {b['corr']:.2f}."]
    if not any(c in out["names"] for c in GEODESIC):
        lines += ["", "The table has no geodesics (an older `make knot-data`): group 3 cannot be "
                  "found."]
    lines += ["", "## Every group found", "",
              "Networks whose contrastive test accuracy was not above 0.6 found no relation "
              "and are not counted.", "", "| group | networks |", "|---|---|"]
    for group, found in out["groups"]:
        text = ", ".join(SHORT.get(names[i], names[i]) for i in group) or "(none)"
        lines.append(f"| {text} | {len(found)} |")
    left = n - sum(len(f) for _, f in out["groups"])
    lines.append(f"| (no relation: accuracy ≤ 0.6) | {left} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = knot_parser(__doc__)
    parser.add_argument("--seeds", type=int, default=None, help="seeds per λ (50)")
    parser.add_argument("--knots", type=int, default=None, help="sample size (2000)")
    args = parser.parse_args(argv)
    budget = QUICK if args.quick else Budget()
    extra = ""
    if args.seeds is not None:
        budget.seeds, extra = args.seeds, extra + f" --seeds {args.seeds}"
    if args.knots is not None:
        budget.knots, extra = args.knots, extra + f" --knots {args.knots}"
    return run_script("knot_unsupervised", args, lambda table: run(table, budget), report,
                      extra)


if __name__ == "__main__":
    sys.exit(main())
