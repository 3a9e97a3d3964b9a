"""The KAN paper's §4.4, mosaic model: the mobility edge as a function of energy.

Data (:mod:`kanlab.data.localization`): Hamiltonians of the mosaic model (``κ = 2``: the
potential ``λ cos(2π b n + φ)`` on every second site) on open chains of ``N`` sites with
``λ ∈ [0.5, 3.5]`` and ``φ ∈ [0, 2π)`` drawn at random, diagonalised; a few eigenstates of
each are rows ``(E, λ)``, labelled localized when their fractal dimension is below 1/2; train
and test rows from different Hamiltonians (80/20).

The closed form (derived in :mod:`kanlab.data.localization` from Wang et al. 2020, the paper's
ref. [47]): localized where ``λ > λ_c(E) = 2 / |a_κ(E)|``, for ``κ = 2`` ``λ_c = 2/|E|``.

Alice's KAN (the paper's Figure 4.5): ``[2, 1]`` with the edge from ``λ`` fixed to a line
(``g = λ − h(E)`` up to scale) and a sigmoid on the output (here: cross-entropy on the logit),
so the learnt edge is where the logit vanishes, ``λ_c(E) = −g(E, 0) / (g(E, 1) − g(E, 0))``.
It is compared with the closed form at the energies where the data decide it: where both
sides of the closed-form edge (``λ/λ_c`` in ``[0.9, 1)`` and ``(1, 1.1]``) hold states (in
the spectral gaps, and where ``λ_c`` leaves ``[0.5, 3.5]``, no data say where the edge is).
Several chain lengths show how the finite-size labels move the learnt edge.

Run ``python experiments/mobility_mosaic.py [--quick]``; it writes
``experiments/results/mobility_mosaic{,_quick}.{md,png}``.
"""

from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

import kanlab
from kanlab.data.localization import Spectra, mosaic_edge, mosaic_order, sample_spectra

sys.path.insert(0, str(Path(__file__).resolve().parent))
from mobility_common import accuracy, logistic_loss  # noqa: E402
from script_frame import parser, run_script  # noqa: E402

RANGES = {"lambda": (0.5, 3.5), "phi": (0.0, 2 * math.pi)}
BIN = 0.05  # width of the energy bins the edge is compared on


@dataclass
class Budget:
    sizes: tuple[int, ...] = (200, 400, 800, 1600)
    rows: int = 40000  # states per chain length: fewer, longer spectra for larger N
    most_hamiltonians: int = 1000
    grid_size: int = 30
    steps: int = 200
    min_states: int = 5  # states on each side of the edge that make a bin count

    def plan(self, n_sites: int) -> tuple[int, int]:
        """``(Hamiltonians, states of each)`` for chains of ``n_sites``: fewer, longer spectra
        as N grows (the diagonalisations cost ``N³`` each)."""
        hamiltonians = min(self.most_hamiltonians, max(1, 200_000 // n_sites))
        return hamiltonians, min(n_sites, self.rows // hamiltonians)


QUICK = Budget(sizes=(16, 32), rows=600, most_hamiltonians=60, grid_size=5, steps=3,
               min_states=1)


def alice(spectra: Spectra, budget: Budget, seed: int = 0) -> tuple[kanlab.KAN, float]:
    """The ``[2, 1]`` KAN with ``λ``'s edge a line, trained; and its test accuracy (%)."""
    data = spectra.dataset(test_fraction=0.2, seed=seed, columns=("E", "lambda"))
    model = kanlab.KAN([2, 1], grid_size=budget.grid_size, spline_order=3, seed=seed,
                       dtype=torch.float64)
    model.fix_symbolic(0, 1, 0, "x", fit_params=False)
    kanlab.fit(model, data, steps=budget.steps, loss_fn=logistic_loss, progress=False,
               log_every=budget.steps, seed=seed)
    return model, accuracy(model, data.test_input, data.test_label)


def learnt_edge(model: kanlab.KAN, energy: np.ndarray) -> np.ndarray:
    """Where the logit vanishes: ``λ_c(E) = −g(E, 0) / (g(E, 1) − g(E, 0))``."""
    e = torch.as_tensor(energy, dtype=torch.float64)
    with torch.no_grad():
        g0 = model(torch.stack([e, torch.zeros_like(e)], 1))[:, 0]
        g1 = model(torch.stack([e, torch.ones_like(e)], 1))[:, 0]
    return (-g0 / (g1 - g0)).numpy()


def decided_bins(spectra: Spectra, min_states: int) -> np.ndarray:
    """Centres of the energy bins whose states straddle the closed-form edge (at least
    ``min_states`` within 10 % below it and as many within 10 % above)."""
    e, lam = spectra.column("E"), spectra.column("lambda")
    ratio = lam / mosaic_edge(e)
    edges = np.arange(e.min() - BIN, e.max() + BIN, BIN)
    which = np.digitize(e, edges)
    below = np.bincount(which[(ratio > 0.9) & (ratio < 1)], minlength=len(edges) + 1)
    above = np.bincount(which[(ratio > 1) & (ratio < 1.1)], minlength=len(edges) + 1)
    keep = (below >= min_states) & (above >= min_states)
    centres = np.concatenate([edges, [edges[-1] + BIN]]) - BIN / 2
    return centres[keep]


def run(budget: Budget, say=print) -> dict:
    out: dict = {"budget": budget, "sizes": []}
    for n_sites in budget.sizes:
        start = time.perf_counter()
        hamiltonians, states = budget.plan(n_sites)
        spectra = sample_spectra("mosaic", hamiltonians, n_sites, RANGES, states=states)
        test = spectra.dataset(test_fraction=0.2, columns=("E", "lambda"))
        e, lam = test.test_input.T.numpy()
        theory = float(((mosaic_order(e, lam) > 0) == (test.test_label[:, 0].numpy() > 0.5)
                        ).mean()) * 100
        model, acc = alice(spectra, budget)
        energies = decided_bins(spectra, budget.min_states)
        error = np.abs(learnt_edge(model, energies) / mosaic_edge(energies) - 1)
        dense = decided_bins(spectra, 4 * budget.min_states)  # well populated on both sides
        dense_error = np.abs(learnt_edge(model, dense) / mosaic_edge(dense) - 1)
        row = {"n": n_sites, "hamiltonians": hamiltonians, "states": states,
               "rows": len(spectra.x), "theory": theory, "kan": acc,
               "energies": energies, "error": error, "dense_error": dense_error,
               "model": model, "spectra": spectra}
        out["sizes"].append(row)
        worst = f"{100 * error.max():.1f}" if len(error) else "–"
        say(f"N = {n_sites}: theory {theory:.1f} %, KAN {acc:.1f} %, edge error at most "
            f"{worst} % over {len(energies)} bins ({time.perf_counter() - start:.0f} s)")
    return out


def _span(energies: np.ndarray) -> str:
    positive = energies[energies > 0]
    if not len(positive):
        return "–"
    return f"{positive.min() - BIN / 2:.2f} ≤ E ≤ {positive.max() + BIN / 2:.2f}"


def report(out: dict, command: str, seconds: float) -> str:
    budget = out["budget"]
    lines = [
        "# Mobility edge of the mosaic model (KAN paper §4.4, Figure 4.5)", "",
        f"`{command}` — {seconds:.0f} s. κ = 2; about {budget.rows} states per chain length "
        f"(random eigenstates of each Hamiltonian), λ ∈ {list(RANGES['lambda'])}, "
        f"φ ∈ [0, 2π); {budget.steps} LBFGS steps. Alice's KAN [2, 1]: λ's edge fixed to a "
        f"line, E's a spline with G = {budget.grid_size}. Closed form: λ_c(E) = 2/|E|. The "
        f"learnt edge is compared with it in the {BIN} wide energy bins whose states "
        f"straddle the closed form (≥ {budget.min_states} states within 10 % on each side).",
        "",
        "| N | Hamiltonians × states | theory (%) | KAN (%) | bins compared | energies (and "
        "mirror) | edge error: median | max | within 2 % | bins with ≥ "
        f"{4 * budget.min_states} states a side: max error |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in out["sizes"]:
        err = row["error"]
        dense = row["dense_error"]
        stats = (f"{100 * np.median(err):.2f} % | {100 * err.max():.2f} % | "
                 f"{int((err <= 0.02).sum())} of {len(err)}" if len(err) else "– | – | –")
        stats += (f" | {100 * dense.max():.2f} % ({len(dense)} bins)" if len(dense)
                  else " | – (no bin)")
        lines.append(f"| {row['n']} | {row['hamiltonians']} × {row['states']} | "
                     f"{row['theory']:.1f} | {row['kan']:.1f} | "
                     f"{len(err)} | {_span(row['energies'])} | {stats} |")
    main = out["sizes"][-1]
    lines += ["", f"Learnt and closed-form edge at N = {main['n']}, every bin compared:", "",
              "| E | learnt λ_c | 2/abs(E) | error |", "|---|---|---|---|"]
    for e in main["energies"]:
        got = float(learnt_edge(main["model"], np.array([e]))[0])
        lines.append(f"| {e:.3f} | {got:.3f} | {2 / abs(e):.3f} | "
                     f"{100 * (got * abs(e) / 2 - 1):+.2f} % |")
    return "\n".join(lines) + "\n"


def plot(out: dict, path: Path) -> None:
    """The phase diagram (states coloured by their fractal dimension), the closed-form edge
    and the learnt one at the largest N."""
    from matplotlib.figure import Figure

    main = out["sizes"][-1]
    spectra = main["spectra"]
    fig = Figure(figsize=(6.4, 4.2))
    ax = fig.subplots()
    shown = ax.scatter(spectra.column("E"), spectra.column("lambda"), c=spectra.dimension,
                       s=1, cmap="coolwarm_r", vmin=0, vmax=1, rasterized=True)
    fig.colorbar(shown, ax=ax, label="fractal dimension D")
    e = np.linspace(spectra.column("E").min(), spectra.column("E").max(), 600)
    ax.plot(e, np.clip(mosaic_edge(e), None, 4), "k-", lw=1.2, label="closed form 2/|E|")
    ax.plot(e, np.clip(learnt_edge(main["model"], e), 0, 4), "g--", lw=1.2,
            label="KAN [2, 1] (Alice)")
    ax.set_ylim(*RANGES["lambda"])
    ax.set_xlabel("E")
    ax.set_ylabel("λ")
    ax.set_title(f"mosaic model, κ = 2, N = {main['n']}", fontsize=9)
    ax.legend(fontsize=8, loc="upper right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main(argv: list[str] | None = None) -> int:
    args = parser(__doc__).parse_args(argv)
    budget = QUICK if args.quick else Budget()

    return run_script("mobility_mosaic", args, lambda: run(budget), report,
                      figure=("phase diagram and edges", plot))


if __name__ == "__main__":
    sys.exit(main())
