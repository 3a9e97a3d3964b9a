"""Choosing a KAN for a table: a few candidate models, scored on held-out rows.

A KAN sized for the paper's noiseless functions (``[n, 5, 1]``, grids up to 20, trained to
convergence) interpolates the noise of a table with a few hundred noisy rows: on
scikit-learn's diabetes data it scored test R² −2.55. :func:`choose` picks the model from the
data instead:

1. **score** each candidate (:func:`candidates`) on held-out rows (:func:`search_folds`):
   3-fold cross-validation up to :data:`CV_MAX_ROWS` rows, else :data:`VALIDATION_FRACTION`
   of the rows held out once -- the same rows for every candidate. Each is trained with
   :func:`~kanlab.training.loop.fit`'s validation: early stopping after :data:`PATIENCE`
   steps without improvement, the best state kept; its score is the loss of every held-out
   row (squared error, or cross-entropy for class labels).
2. **pick** the best candidate of the simplest family whose best loss is within one standard
   error of the lowest (:func:`pick`: the one-standard-error rule between families, on paired
   per-row differences): held-out rows that cannot tell an additive model from a network
   choose the additive one, which varies less, extrapolates straighter, prunes further and
   reads as a shorter formula.
3. **train it again** on every row for the steps (and grid sizes) its validation chose; or,
   when pruning or a formula follows, on the rows less :data:`VALIDATION_FRACTION` held out,
   which then judge the pruning and the formula.

The candidates, two families:

- **additive** ``[n_in, n_out]``: each output a sum of one function per input (a generalised
  additive model). Each edge is ``w·x + spline(x)`` (``base_fn="identity"``) with linear tails
  (a straight line beyond the training range, not a spline that falls to zero), on ``G = 5``
  intervals (3 below 100 rows), under a :class:`~kanlab.training.spline_penalty.SplinePenalty`
  whose weights are searched: curvature ``{1e-3, 1e-2, 1e-1}`` × ridge ``{1e-3, 1e-2, 1e-1}``. With
  a large curvature weight every spline is straight, and the model is ridge regression (or an
  L2-penalised logistic regression): the family holds the linear baselines, and the search
  moves away from them only as far as held-out rows reward it. Their LBFGS steps are short
  (:data:`ADDITIVE_LBFGS`) so that early stopping ends a converged fit soon.
- **network** ``[n_in, 5, n_out]``: the paper's KAN, SiLU base, linear tails, grid extension
  3 → 5 → 10 (as the rows allow), barely penalised (:data:`NETWORK_PENALTIES`), each stage
  trained to its end (:data:`NETWORK_STEPS_PER_GRID`) and early stopped: interactions and the
  clean formulas of the paper (no sum of one-input functions writes
  ``exp(sin(πx) + y²)``). They join with two inputs or more (a function of one input is
  additive already: on statsmodels' engel table a ``[1, 5, 1]`` network won the
  cross-validation and then predicted 4,323 for a household whose income lay 76% beyond the
  training range, where the truth was 1,827: test R² −1.06), from :data:`NETWORK_MIN_ROWS`
  rows, or from :data:`NETWORK_MIN_ROWS_CLASSES` with class labels: on wine's 142 training
  rows a network won the cross-validated cross-entropy (0.026 against 0.083) and then
  classified a test fold of 36 rows worse than the additive model (0.917 against 0.972).

``fast=True`` (``kanlab fit --fast``) skips the search: one additive model with the middle
weights (curvature 1e-2, ridge 1e-2), early stopped on :data:`VALIDATION_FRACTION` held-out rows
and kept as trained. Below :data:`MIN_ROWS_FOR_VALIDATION` rows nothing is held out: that model
is trained for its steps on every row.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from kanlab._modes import evaluating
from kanlab.apps.pipeline import PipelineOptions, PipelineResult, rmse_r2, run_pipeline
from kanlab.data import Dataset
from kanlab.grids.base import min_samples_for_grid
from kanlab.training.spline_penalty import SplinePenalty

__all__ = [
    "MIN_ROWS_FOR_VALIDATION",
    "PATIENCE",
    "VALIDATION_FRACTION",
    "Candidate",
    "Selection",
    "Trial",
    "candidates",
    "choose",
    "pick",
    "row_losses",
    "search_folds",
    "validation_score",
]

#: share of the rows each candidate holds out for its validation loss
VALIDATION_FRACTION = 0.2
#: steps without a better validation loss after which a candidate stops
PATIENCE = 5
#: the search cross-validates with this many folds up to CV_MAX_ROWS rows ...
CV_FOLDS = 3
#: ... and above, holds VALIDATION_FRACTION of the rows out once
CV_MAX_ROWS = 1000
#: below this many rows nothing is held out and no search runs
MIN_ROWS_FOR_VALIDATION = 20
#: the network family joins the search from this many rows (a regression) ...
NETWORK_MIN_ROWS = 50
#: ... or this many with class labels: on fewer, the held-out cross-entropy of a few dozen
#: rows rewards confident networks that then lose accuracy (see the module docstring)
NETWORK_MIN_ROWS_CLASSES = 1000
#: LBFGS steps per grid size of a network candidate, and its patience: a stage runs to its
#: end, and the refinement rule of fit's validation decides whether the next is tried
NETWORK_STEPS_PER_GRID = 30
#: hidden width of the network candidates
NETWORK_WIDTH = 5
#: the additive family's LBFGS: short steps (5 iterations, not fit's 20), so that early
#: stopping looks often and wastes little once the penalised fit has converged
ADDITIVE_LBFGS = {"max_iter": 5}
#: the additive family's splines start flat (their penalised fit needs no symmetry broken):
#: random coefficients refitted to a data-placed grid of a skewed column (digits' mostly-zero
#: pixels) reach |c| ~ 10⁴ and a curvature penalty of 10¹⁰ before the first step
ADDITIVE_INIT = {"init_noise": 0.0}
#: the weights (curvature, ridge) of the network family's penalty, one candidate each (a
#: second, at 1e-3, cost as much as the nine additive candidates together)
NETWORK_PENALTIES = ((1e-6, 1e-6),)
#: the search's weights of the additive family's penalty
CURVATURES = (1e-3, 1e-2, 1e-1)
RIDGES = (1e-3, 1e-2, 1e-1)


@dataclass(frozen=True)
class Candidate:
    """One model the search tries.

    Attributes:
        family: ``"additive"`` or ``"network"``.
        hidden: hidden widths (``()``: additive).
        grids: the grid-extension schedule.
        steps: the most LBFGS steps (early stopping usually ends sooner).
        base_fn, tails: of the KAN's edges.
        curvature, ridge: the weights of its :class:`SplinePenalty` (0, 0: none).
        patience: steps without a better validation loss before it stops.
    """

    family: str
    hidden: tuple[int, ...]
    grids: tuple[int, ...]
    steps: int
    base_fn: str = "silu"
    tails: str = "none"
    curvature: float = 0.0
    ridge: float = 0.0
    patience: int = PATIENCE

    @property
    def complexity(self) -> tuple[float, ...]:
        """Sorts simpler candidates first: additive before network, then a stronger penalty
        (curvature, then ridge) before a weaker one."""
        return (len(self.hidden), -self.curvature, -self.ridge)

    @property
    def label(self) -> str:
        """A short description, e.g. ``additive, G=5, curvature 0.01, ridge 0.001``."""
        grids = "→".join(str(g) for g in self.grids)
        shape = "additive" if not self.hidden else f"network hidden {list(self.hidden)}"
        penalty = (f", curvature {self.curvature:g}, ridge {self.ridge:g}"
                   if self.curvature or self.ridge else ", no penalty")
        return f"{shape}, G={grids}{penalty}"

    def options(self, base: PipelineOptions, *, steps: int | None = None,
                grids: tuple[int, ...] | None = None,
                validation: float | None = None) -> PipelineOptions:
        """``base`` with this candidate's shape, grids, edges and penalty (and, with
        ``validation``, fit's held-out fraction and early stopping)."""
        fit_options = dict(base.fit_options)
        if not self.hidden and fit_options.get("opt", "lbfgs") == "lbfgs":
            fit_options.setdefault("optimizer_options", ADDITIVE_LBFGS)
        if self.curvature or self.ridge:
            fit_options["penalty"] = SplinePenalty(self.curvature, self.ridge)
        n_in, n_out = base.widths[0], base.widths[-1]
        return dataclasses.replace(
            base, widths=(n_in, *self.hidden, n_out), grids=grids or self.grids,
            steps=steps or self.steps, fit_options=fit_options,
            validation_fraction=validation, patience=self.patience,
            model_options={**base.model_options, "base_fn": self.base_fn, "tails": self.tails,
                           **({} if self.hidden else ADDITIVE_INIT)},
        )


def _additive(grid: int, curvature: float, ridge: float) -> Candidate:
    return Candidate("additive", (), (grid,), 200, "identity", "linear", curvature, ridge)


def candidates(n_rows: int, n_features: int, *, fast: bool = False,
               classes: bool = False) -> list[Candidate]:
    """The candidates for a table of ``n_rows`` rows and ``n_features`` inputs (see the
    module docstring); ``fast``: the one quick model; ``classes``: class labels (the
    networks join from :data:`NETWORK_MIN_ROWS_CLASSES` rows)."""
    grid = 5 if n_rows >= 100 else 3
    if fast or n_rows < MIN_ROWS_FOR_VALIDATION:
        return [_additive(grid, 1e-2, 1e-2)]
    found = [_additive(grid, c, r) for c in CURVATURES for r in RIDGES]
    enough = NETWORK_MIN_ROWS_CLASSES if classes else NETWORK_MIN_ROWS
    if n_features >= 2 and n_rows >= enough:
        held = -(-n_rows // CV_FOLDS) if n_rows <= CV_MAX_ROWS else round(
            VALIDATION_FRACTION * n_rows)
        n_fit = n_rows - held  # the rows a trial trains on
        grids = tuple(g for g in (3, 5, 10) if min_samples_for_grid(g) <= n_fit)
        steps = NETWORK_STEPS_PER_GRID * len(grids)
        for curvature, ridge in NETWORK_PENALTIES:
            found.append(Candidate("network", (NETWORK_WIDTH,), grids, steps, "silu", "linear",
                                   curvature, ridge, patience=NETWORK_STEPS_PER_GRID))
    return found


def _held_out_predictions(run: PipelineResult
                          ) -> tuple[torch.Tensor, torch.Tensor] | None:
    """``run``'s model on its held-out rows, in evaluation mode: ``(predictions (M, n_out),
    labels)``; None when nothing was held out."""
    if run.validation is None:
        return None
    x, y = run.validation
    with evaluating(run.model), torch.no_grad():
        return run.model(x), y


def row_losses(run: PipelineResult) -> torch.Tensor | None:
    """The loss of each held-out row ``(M,)`` under ``run``'s model: the squared error (mean
    over outputs) for a regression, the cross-entropy for class labels; None when nothing was
    held out."""
    held = _held_out_predictions(run)
    if held is None:
        return None
    pred, y = held
    if not y.is_floating_point():
        return torch.nn.functional.cross_entropy(pred, y.reshape(-1), reduction="none")
    return (pred - y.reshape(pred.shape)).pow(2).mean(1)


def validation_score(run: PipelineResult) -> float | None:
    """The score of ``run``'s model on its held-out rows: R² (the mean over output columns)
    for a regression, accuracy for class labels; None when nothing was held out."""
    held = _held_out_predictions(run)
    if held is None:
        return None
    pred, y = held
    if not y.is_floating_point():
        return float((pred.argmax(1) == y.reshape(-1)).double().mean())
    y = y.reshape(pred.shape)
    return sum(rmse_r2(y[:, k], pred[:, k])[1] for k in range(y.shape[1])) / y.shape[1]


@dataclass(frozen=True)
class Trial:
    """A candidate's result in the search: its best validation loss and score
    (:func:`validation_score`), the step and grid size where it was reached, the seconds it
    took."""

    candidate: Candidate
    val_loss: float
    val_score: float | None
    best_step: int
    grid_size: int
    seconds: float
    losses: torch.Tensor | None = None  #: :func:`row_losses` of the held-out rows (M,)


@dataclass
class Selection:
    """What :func:`choose` tried and chose.

    Attributes:
        trials: every candidate's :class:`Trial`, in the order tried (empty: no search).
        chosen: the candidate of the final model.
        steps: the steps the final model was trained (on every row, after a search).
        val_loss: the chosen candidate's validation loss (None: nothing was held out).
        val_score: its validation R² or accuracy (:func:`validation_score`), None likewise.
        reason: one sentence on the choice.
    """

    trials: list[Trial]
    chosen: Candidate
    steps: int
    val_loss: float | None
    val_score: float | None
    reason: str

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: the choice, its reason and every trial."""
        return {
            "chosen": self.chosen.label, "steps": self.steps, "val_loss": self.val_loss,
            "val_score": self.val_score, "reason": self.reason,
            "trials": [{"model": t.candidate.label, "val_loss": t.val_loss,
                        "val_score": t.val_score,
                        "best_step": t.best_step, "grid": t.grid_size,
                        "seconds": round(t.seconds, 3)} for t in self.trials],
        }


def _search_options(base: PipelineOptions) -> PipelineOptions:
    """``base`` for the search's trials: training only (no pruning, simplifying, symbols)."""
    return dataclasses.replace(base, prune=False, simplify=False, symbolic=False)


def search_folds(n_rows: int, seed: int) -> list[list[int]]:
    """The held-out rows of each of the search's folds: :data:`CV_FOLDS` disjoint folds of a
    seeded shuffle (a local generator) for up to :data:`CV_MAX_ROWS` rows, else one fold of
    :data:`VALIDATION_FRACTION` of the rows; each fold's indices sorted."""
    gen = torch.Generator().manual_seed(seed)
    perm = torch.randperm(n_rows, generator=gen)
    if n_rows <= CV_MAX_ROWS:
        return [sorted(perm[k::CV_FOLDS].tolist()) for k in range(CV_FOLDS)]
    return [sorted(perm[: round(VALIDATION_FRACTION * n_rows)].tolist())]


def _trial(data: Dataset, base: PipelineOptions, candidate: Candidate,
           folds: list[list[int]]) -> Trial:
    """``candidate`` trained once per fold, scored on the fold's held-out rows: the losses of
    every held-out row (in the order of the folds), their mean, the mean score, and the
    median fold's best step and grid size."""
    start = time.perf_counter()
    losses, scores, stops = [], [], []
    for rows in folds:
        options = dataclasses.replace(candidate.options(_search_options(base)),
                                      validation_rows=rows)
        run = run_pipeline(data, options)
        history = run.histories["train"]
        best = history.best_step if history.best_step is not None else history.step[-1]
        grid = history.grid_size[history.step.index(best)][0] if best else candidate.grids[0]
        losses.append(row_losses(run))
        scores.append(validation_score(run))
        stops.append((best, grid))
    every = torch.cat(losses)  # (N,) with folds, (M,) with one held-out part
    best, grid = sorted(stops)[len(stops) // 2]
    return Trial(candidate, float(every.mean()), sum(scores) / len(scores), best, grid,
                 time.perf_counter() - start, every)


def pick(trials: list[Trial]) -> Trial:
    """The best trial of the simplest family within one standard error of the best (the
    one-standard-error rule between families, paired).

    Every trial is scored on the same held-out rows, so two of them differ by the mean of
    their per-row loss differences ``d``, with standard error ``std(d) / √M``. The trial of
    lowest validation loss is the best. A simpler family's best trial (additive before network,
    :attr:`Candidate.complexity`) is taken instead when its loss exceeds the best's by at most
    that standard error: the held-out rows cannot tell them apart, and the simpler model varies
    less, extrapolates straighter, prunes further and reads as a shorter formula. Within a
    family the lowest loss wins: a stronger penalty within one standard error is not simpler in
    that sense, and choosing it cost accuracy (statsmodels' fair: ridge 0.1 where 1e-3 was
    best, 0.655 against logistic regression's 0.70 on a fold).
    """
    scored = [t for t in trials if math.isfinite(t.val_loss) and t.losses is not None]
    if not scored:
        return min(trials, key=lambda t: t.val_loss)
    best = min(scored, key=lambda t: t.val_loss)
    for family in sorted({t.candidate.family for t in scored},
                         key=lambda f: min(t.candidate.complexity for t in scored
                                           if t.candidate.family == f)):
        trial = min((t for t in scored if t.candidate.family == family),
                    key=lambda t: t.val_loss)
        d = trial.losses - best.losses  # (M,)
        se = float(d.std()) / math.sqrt(d.numel()) if d.numel() > 1 else 0.0
        if float(d.mean()) <= se:
            return trial
    return best


def choose(data: Dataset, base: PipelineOptions, *, fast: bool = False,
           on_stage: Callable[[str, PipelineResult], None] | None = None,
           ) -> tuple[PipelineResult, Selection]:
    """Choose and train a KAN for ``data`` (see the module docstring).

    Args:
        data: the training rows (inputs ``(N, n_in)``, labels ``(N, n_out)`` or class
            indices ``(N,)`` with a cross-entropy ``loss_fn``); a test set is only reported.
        base: the pipeline's options: ``widths[0]`` and ``widths[-1]`` give the inputs and
            outputs; the standardisation, seed, dtype, sparsity, pruning and symbolic stages
            and ``fit_options`` apply to the final model (the trials only train).
        fast: one quick model, no search.
        on_stage: passed to the final model's :func:`~kanlab.apps.pipeline.run_pipeline`.

    Returns:
        The final model's :class:`~kanlab.apps.pipeline.PipelineResult` and the
        :class:`Selection`.
    """
    n_rows = int(data.train_input.shape[0])
    classes = not data.train_label.is_floating_point()
    found = candidates(n_rows, int(data.train_input.shape[1]), fast=fast, classes=classes)
    if len(found) == 1:
        (only,) = found
        held_out = n_rows >= MIN_ROWS_FOR_VALIDATION
        run = run_pipeline(data, only.options(
            base, validation=VALIDATION_FRACTION if held_out else None), on_stage=on_stage)
        history = run.histories["train"]
        val = history.best_val_loss if held_out else None
        reason = ("fast: one additive model, no search" if fast else
                  f"{n_rows} rows: too few to hold rows out; one additive model")
        return run, Selection([], only, history.step[-1], val, validation_score(run), reason)
    start = time.perf_counter()
    folds = search_folds(n_rows, base.seed)
    trials = [_trial(data, base, candidate, folds) for candidate in found]
    best = pick(trials)
    grids = best.candidate.grids
    reached = grids[: grids.index(best.grid_size) + 1] if best.grid_size in grids else grids
    held = (f"{len(folds)}-fold cross-validation" if len(folds) > 1 else
            f"{VALIDATION_FRACTION:.0%} of the rows held out")
    reason = (f"the best of the simplest family within one standard error of the lowest "
              f"validation loss, of {len(trials)} candidates ({held})")
    if base.prune or base.symbolic:  # pruning and the formula's score need held-out rows
        run = run_pipeline(data, best.candidate.options(base, validation=VALIDATION_FRACTION),
                           on_stage=on_stage)
        steps = run.histories["train"].step[-1]
        reason += "; trained again on the same rows, which pruning and the formula are judged on"
    else:
        steps = max(best.best_step, len(reached))
        run = run_pipeline(data, best.candidate.options(base, steps=steps, grids=reached),
                           on_stage=on_stage)
        reason += f"; trained again on every row for its {steps} steps"
    run.seconds = time.perf_counter() - start  # the search's trials included
    return run, Selection(trials, best.candidate, steps, best.val_loss, best.val_score, reason)
