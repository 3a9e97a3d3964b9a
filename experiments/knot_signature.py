"""The KAN paper's §4.3, supervised: a knot's signature from its invariants.

Data: the table of ``make knot-data`` (:func:`kanlab.data.knots.load_knots`; SnapPy's census
regenerated here, not DeepMind's sample). Inputs: the numeric invariants and the symmetry group
one-hot (the columns that vary), standardised with the training rows' mean and spread; output:
the signature, one class per even value that occurs (cross-entropy). One seeded 80/20 split.

- **KAN** ``[F, 1, C]`` with ``G = 3``, ``k = 3`` (the paper's ``[17, 1, 14]``) and
  ``[F, 4, C]`` (the widest under 10³ parameters), trained by ``kanlab.fit`` (200 LBFGS steps, grid
  updates), for several seeds; and ``[1, 1, C]`` on ``μ_r`` alone
  and on ``μ_i`` alone (the paper: 65.0 % and 43.8 %), ``[3, 1, C]`` on ``(μ_r, μ_i, λ)``
  (78.2 %).
- **MLP** of DeepMind's shape, 4 hidden layers of 300 (about 3·10⁵ parameters), trained by the
  same ``fit`` on the same split (Adam, mini-batches of 256, 4000 steps), several seeds.
- **The human formula**: DeepMind's ``slope / 2``, rounded to the nearest even number.
- **Attribution**: the KAN's input scores (``kanlab.interpret.importance``) and, for the MLP,
  gradient saliency (DeepMind's method): mean ``|∂ log p(true class) / ∂x|`` on the test rows.
- **Class balance** and a **learning curve** (test accuracy against training rows).

Run ``python experiments/knot_signature.py [--quick] [--data data/knots]``; it writes
``experiments/results/knot_signature{,_quick}.{md,png}``. ``--quick`` trains tiny budgets on the
committed 48-knot sample when no ``--data`` is given (it keeps the script from rotting; its
numbers mean nothing).
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

import kanlab
from kanlab.data import Dataset
from kanlab.data.knots import NUMERIC, KnotTable
from kanlab.interpret.importance import importance
from kanlab.nn.mlp import MLP, n_parameters

sys.path.insert(0, str(Path(__file__).resolve().parent))
from knot_common import (  # noqa: E402, F401
    SAMPLE,
    SHORT,
    knot_parser,
    load_knots,
    run_script,
    slope,
)

MU_R, MU_I, LAMBDA = ("meridional_translation_real", "meridional_translation_imag",
                      "longitudinal_translation")
PAPER = {"kan": 81.6, "mlp": 78.0, MU_R: 65.0, MU_I: 43.8, "three": 78.2}


@dataclass
class Budget:
    kan_steps: int = 200
    mlp_steps: int = 4000
    mlp_batch: int = 256
    seeds: int = 10
    mlp_seeds: int = 10
    hidden: tuple[int, ...] = (1, 4)  # the paper's [F, 1, C], then the widest under 10³
    curve: tuple[float, ...] = (0.1, 0.25, 0.5, 1.0)


QUICK = Budget(kan_steps=3, mlp_steps=3, mlp_batch=16, seeds=2, mlp_seeds=1,
               curve=(0.5, 1.0))


@dataclass
class Split:
    """A standardised train/test split; ``names`` the input columns."""

    data: Dataset
    names: list[str]
    classes: np.ndarray


def split(table: KnotTable, columns: tuple[str, ...] = NUMERIC, symmetry: bool = True,
          seed: int = 0, train_fraction: float = 1.0) -> Split:
    """The seeded 80/20 split of ``columns`` (and the symmetry one-hot's columns), with
    ``train_fraction`` of the training rows kept; the columns that vary over the kept rows,
    standardised by them."""
    data = table.dataset(columns, symmetry, test_fraction=0.2, seed=seed)
    n = max(2, int(round(len(data.train_input) * train_fraction)))
    xtr, ytr = data.train_input[:n], data.train_label[:n]
    varying = (xtr.std(0) > 0).nonzero().flatten()
    names = [table.feature_names(columns, symmetry)[i] for i in varying]
    xtr, xte = xtr[:, varying], data.test_input[:, varying]
    mean, std = xtr.mean(0), xtr.std(0)
    return Split(Dataset((xtr - mean) / std, ytr, (xte - mean) / std, data.test_label), names,
                 table.classes())


def human_accuracy(table: KnotTable, seed: int = 0) -> float:
    """Test accuracy (%) of DeepMind's human formula, ``slope / 2`` rounded to the nearest even
    number, ``slope = λμ_r / (μ_r² + μ_i²)``, on the test rows of the split of ``seed``."""
    raw = table.dataset((MU_R, MU_I, LAMBDA), symmetry=False, test_fraction=0.2, seed=seed)
    pred = 2 * torch.round(slope(raw.test_input) / 4)
    truth = torch.as_tensor(table.classes(), dtype=pred.dtype)[raw.test_label]
    return float((pred == truth).double().mean()) * 100


def accuracy(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    with torch.no_grad():
        return float((model(x).argmax(1) == y).double().mean()) * 100


def train_kan(s: Split, hidden: int, steps: int, seed: int) -> kanlab.KAN:
    widths = [s.data.train_input.shape[1], hidden, len(s.classes)]
    model = kanlab.KAN(widths, grid_size=3, spline_order=3, seed=seed, dtype=torch.float64)
    kanlab.fit(model, s.data, steps=steps, loss_fn=F.cross_entropy, progress=False, seed=seed)
    return model


def train_mlp(s: Split, budget: Budget, seed: int) -> MLP:
    model = MLP([s.data.train_input.shape[1], 300, 300, 300, 300, len(s.classes)], seed=seed,
                dtype=torch.float64)
    kanlab.fit(model, s.data, opt="adam", lr=1e-3, steps=budget.mlp_steps,
               batch_size=budget.mlp_batch, loss_fn=F.cross_entropy, progress=False, seed=seed,
               log_every=budget.mlp_steps)
    return model


def kan_scores(model: kanlab.KAN, x: torch.Tensor) -> np.ndarray:
    """The KAN's input scores (attribution), normalised to sum 1."""
    scores = importance(model, x).nodes[0].numpy()
    return scores / scores.sum()


def saliency(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> np.ndarray:
    """Gradient saliency: mean ``|∂ log p(y) / ∂x|`` per input, normalised to sum 1."""
    x = x.clone().requires_grad_(True)
    logp = F.log_softmax(model(x), dim=1).gather(1, y[:, None]).sum()
    (grad,) = torch.autograd.grad(logp, x)
    scores = grad.abs().mean(0).numpy()
    return scores / scores.sum()


def run(table: KnotTable, budget: Budget, say=print) -> dict:
    """Every table of the report (see the module docstring), as a dict."""
    out: dict = {"knots": len(table), "budget": budget}
    full = split(table)
    out["names"], out["classes"] = full.names, full.classes
    out["balance"] = np.bincount(full.data.train_label.numpy(), minlength=len(full.classes))
    out["human"] = human_accuracy(table)
    out["kans"] = {}
    for hidden in budget.hidden:
        runs = _seeds(lambda seed: train_kan(full, hidden, budget.kan_steps, seed), full,
                      budget.seeds, f"KAN hidden {hidden}", say)
        out["kans"][hidden] = runs
    paper_shape = out["kans"][budget.hidden[0]]
    out["kan_scores"] = kan_scores(paper_shape["best"], full.data.test_input)
    out["mlp"] = _seeds(lambda seed: train_mlp(full, budget, seed), full, budget.mlp_seeds,
                        "MLP", say)
    out["mlp_scores"] = saliency(out["mlp"]["best"], full.data.test_input,
                                 full.data.test_label)
    out["alone"] = {}
    for columns, key in (((MU_R,), MU_R), ((MU_I,), MU_I), ((MU_R, MU_I, LAMBDA), "three")):
        s = split(table, columns, symmetry=False)
        out["alone"][key] = _seeds(lambda seed, s=s: train_kan(s, 1, budget.kan_steps, seed), s,
                                   budget.seeds, f"KAN on {', '.join(SHORT[c] for c in columns)}",
                                   say)["acc"]
    out["curve"] = []
    wide = budget.hidden[-1]
    for fraction in budget.curve:
        s = split(table, train_fraction=fraction)
        kan_acc = accuracy(train_kan(s, wide, budget.kan_steps, 0), s.data.test_input,
                           s.data.test_label)
        mlp_acc = accuracy(train_mlp(s, budget, 0), s.data.test_input, s.data.test_label)
        out["curve"].append((len(s.data.train_input), kan_acc, mlp_acc))
        say(f"learning curve: {len(s.data.train_input)} rows, KAN {kan_acc:.1f} %, "
            f"MLP {mlp_acc:.1f} %")
    return out


def _seeds(train, s: Split, seeds: int, label: str, say) -> dict:
    """``train(seed)`` for each seed: test accuracies, the parameter count, widths (a KAN's),
    seconds a model, and the best model by test accuracy."""
    models, accs, start = [], [], time.perf_counter()
    for seed in range(seeds):
        models.append(train(seed))
        accs.append(accuracy(models[-1], s.data.test_input, s.data.test_label))
    seconds = (time.perf_counter() - start) / seeds
    say(f"{label}: test accuracy {_stats(accs)} ({seconds:.0f} s a model)")
    return {"acc": accs, "params": n_parameters(models[0]), "seconds": seconds,
            "widths": list(getattr(models[0], "widths", [])),
            "best": models[int(np.argmax(accs))]}


def plot(out: dict, path: Path) -> None:
    """Left: each input's share of the KAN's attribution and of the MLP's saliency; right:
    the learning curve."""
    from matplotlib.figure import Figure

    names = [SHORT.get(n, n) for n in out["names"]]
    order = np.argsort(-out["kan_scores"])
    fig = Figure(figsize=(10, 3.6))
    ax, bx = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.6, 1]})
    at = np.arange(len(order))
    ax.bar(at - 0.2, out["kan_scores"][order], 0.4, label="KAN attribution")
    ax.bar(at + 0.2, out["mlp_scores"][order], 0.4, label="MLP gradient saliency")
    ax.set_xticks(at, [names[i] for i in order], rotation=40, ha="right", fontsize=8)
    ax.set_ylabel("share")
    ax.legend(fontsize=8)
    rows, kan, mlp = zip(*out["curve"])
    bx.plot(rows, kan, "o-", label="KAN")
    bx.plot(rows, mlp, "s-", label="MLP 4 × 300")
    bx.set_xscale("log")
    bx.minorticks_off()
    bx.set_xticks(rows, [str(r) for r in rows])
    bx.set_xlabel("training rows")
    bx.set_ylabel("test accuracy (%)")
    bx.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def _difference(kan: dict, mlp: dict) -> str:
    """The KAN's mean test accuracy less the MLP's, with the standard error of the
    difference (sample standard deviations of the seeds)."""
    a, b = np.asarray(kan["acc"]), np.asarray(mlp["acc"])
    if min(len(a), len(b)) < 2:
        return "(one seed: no standard error)"
    error = np.sqrt(a.var(ddof=1) / len(a) + b.var(ddof=1) / len(b))
    return (f"KAN {kan['widths']} less the MLP: {a.mean() - b.mean():+.2f} ± {error:.2f} "
            f"points (mean over seeds ± standard error of the difference; {len(a)} and "
            f"{len(b)} seeds).")


def _stats(acc: list[float]) -> str:
    return f"{np.mean(acc):.1f} ± {np.std(acc):.1f} (best {max(acc):.1f})"


def report(out: dict, command: str, seconds: float) -> str:
    names = [SHORT.get(n, n) for n in out["names"]]
    paper_shape = out["kans"][out["budget"].hidden[0]]["widths"]
    lines = [
        "# Knot signature from invariants (KAN paper §4.3, supervised)", "",
        f"`{command}` — {out['knots']} knots, {seconds:.0f} s. Test accuracy (%) on a seeded "
        f"20 % split; KAN seeds 0..{out['budget'].seeds - 1} (mean ± std, best).", "",
        "| model | parameters | test accuracy | paper (Table 4) |", "|---|---|---|---|",
        *[f"| KAN {k['widths']}, G=3, k=3 | {k['params']} | {_stats(k['acc'])} | "
          + ("81.6 (≈200 parameters)" if h == 1 else "") + " |"
          for h, k in out["kans"].items()],
        f"| MLP 4 × 300 (Adam), {len(out['mlp']['acc'])} seeds | {out['mlp']['params']} | "
        f"{_stats(out['mlp']['acc'])} | 78.0 (3·10⁵ parameters) |",
        f"| human formula: slope / 2 rounded to an even number | 0 | {out['human']:.1f} | "
        "83.1 (Table 5, A) |",
        f"| KAN on μ_r alone | | {_stats(out['alone'][MU_R])} | 65.0 |",
        f"| KAN on μ_i alone | | {_stats(out['alone'][MU_I])} | 43.8 |",
        f"| KAN on (μ_r, μ_i, λ) | | {_stats(out['alone']['three'])} | 78.2 |", "",
        _difference(out["kans"][out["budget"].hidden[-1]], out["mlp"]), "",
        "## Which inputs matter", "",
        f"Share of the input attribution of the best KAN {paper_shape} and of the best MLP's "
        "gradient saliency:", "",
        "| input | KAN attribution | MLP saliency |", "|---|---|---|",
    ]
    order = np.argsort(-out["kan_scores"])
    lines += [f"| {names[i]} | {out['kan_scores'][i]:.3f} | {out['mlp_scores'][i]:.3f} |"
              for i in order]
    lines += ["", "## Class balance (training rows)", "",
              "| signature | " + " | ".join(str(c) for c in out["classes"]) + " |",
              "|---|" + "---|" * len(out["classes"]),
              "| rows | " + " | ".join(str(n) for n in out["balance"]) + " |", "",
              f"Always guessing the commonest class: "
              f"{100 * out['balance'].max() / out['balance'].sum():.1f} %.", "",
              "## Learning curve", "",
              f"KAN with hidden width {out['budget'].hidden[-1]} and MLP, seed 0:", "",
              "| training rows | KAN | MLP |", "|---|---|---|"]
    lines += [f"| {n} | {k:.1f} | {m:.1f} |" for n, k, m in out["curve"]]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = knot_parser(__doc__).parse_args(argv)
    budget = QUICK if args.quick else Budget()

    return run_script("knot_signature", args, lambda table: run(table, budget), report,
                      figure=("left: the inputs' shares; right: the learning curve", plot))


if __name__ == "__main__":
    sys.exit(main())
