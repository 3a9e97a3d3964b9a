"""Choosing a KAN for a table: a few candidate models, scored on held-out rows.

A KAN sized for the paper's noiseless functions (``[n, 5, 1]``, grids up to 20, trained to
convergence) interpolates the noise of a table with a few hundred noisy rows. :func:`choose`
picks the model from the data instead: it trains each of a few candidates
(:func:`candidates`) with :func:`~kanlab.training.loop.fit`'s validation -- the same
:data:`VALIDATION_FRACTION` of the rows held out for every candidate, early stopping, the best
state kept -- and takes the candidate with the lowest validation loss. The winner is trained
again on all the rows, for the steps (and grid sizes) that its validation chose.

The candidates, two families:

- **additive** ``[n_in, n_out]``: each output a sum of one function per input (a generalised
  additive model). Each edge is ``w·x + spline(x)`` (``base_fn="identity"``) with linear tails
  (a straight line beyond the training range, not a spline that falls to zero), on ``G = 5``
  intervals (3 below 100 rows), under a :class:`~kanlab.training.spline_penalty.SplinePenalty`
  whose weights are searched: curvature ``{0.1, 1, 10}`` × ridge ``{1e-3, 1e-2, 1e-1}``. With
  a large curvature weight every spline is straight, and the model is ridge regression (or an
  L2-penalised logistic regression): the family holds the linear baselines, and the search
  moves away from them only as far as held-out rows reward it.
- **network** ``[n_in, 5, n_out]`` (from 50 rows): the paper's KAN, SiLU base, grid extension
  3 → 5 → 10 (as the rows allow), once without penalty and once lightly penalised, early
  stopped: interactions and the clean formulas of the paper (the additive family cannot
  write ``exp(sin(πx) + y²)``).

``fast=True`` (``kanlab fit --fast``) skips the search: one additive model with the middle
weights (curvature 1, ridge 1e-2), early stopped on the held-out rows and kept as trained.
Below :data:`MIN_ROWS_FOR_VALIDATION` rows nothing is held out: that model is trained for its
steps on every row.
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
    "validation_score",
]

#: share of the rows each candidate holds out for its validation loss
VALIDATION_FRACTION = 0.2
#: steps without a better validation loss after which a candidate stops
PATIENCE = 10
#: below this many rows nothing is held out and no search runs
MIN_ROWS_FOR_VALIDATION = 20
#: hidden width of the network candidates
NETWORK_WIDTH = 5
#: the search's weights of the additive family's penalty
CURVATURES = (0.1, 1.0, 10.0)
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
    """

    family: str
    hidden: tuple[int, ...]
    grids: tuple[int, ...]
    steps: int
    base_fn: str = "silu"
    tails: str = "none"
    curvature: float = 0.0
    ridge: float = 0.0

    @property
    def complexity(self) -> tuple[float, ...]:
        """Sorts simpler candidates first: additive before network, then a stronger penalty
        (curvature, then ridge) before a weaker one."""
        return (len(self.hidden), -self.curvature, -self.ridge)

    @property
    def label(self) -> str:
        """A short description, e.g. ``additive G=5, curvature 1, ridge 0.01``."""
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
        if self.curvature or self.ridge:
            fit_options["penalty"] = SplinePenalty(self.curvature, self.ridge)
        n_in, n_out = base.widths[0], base.widths[-1]
        return dataclasses.replace(
            base, widths=(n_in, *self.hidden, n_out), grids=grids or self.grids,
            steps=steps or self.steps, fit_options=fit_options,
            validation_fraction=validation, patience=PATIENCE,
            model_options={**base.model_options, "base_fn": self.base_fn, "tails": self.tails},
        )


def _additive(grid: int, curvature: float, ridge: float) -> Candidate:
    return Candidate("additive", (), (grid,), 50, "identity", "linear", curvature, ridge)


def candidates(n_rows: int, n_features: int, *, fast: bool = False) -> list[Candidate]:
    """The candidates for a table of ``n_rows`` rows and ``n_features`` inputs (see the
    module docstring); ``fast``: the one quick model."""
    grid = 5 if n_rows >= 100 else 3
    if fast or n_rows < MIN_ROWS_FOR_VALIDATION:
        return [_additive(grid, 1.0, 1e-2)]
    found = [_additive(grid, c, r) for c in CURVATURES for r in RIDGES]
    if n_rows >= 50:
        n_fit = n_rows - round(VALIDATION_FRACTION * n_rows)
        grids = tuple(g for g in (3, 5, 10) if min_samples_for_grid(g) <= n_fit)
        steps = 40 * len(grids)
        for curvature, ridge in ((0.0, 0.0), (1e-2, 1e-4)):
            found.append(Candidate("network", (NETWORK_WIDTH,), grids, steps, "silu", "none",
                                   curvature, ridge))
    return found


def row_losses(run: PipelineResult) -> torch.Tensor | None:
    """The loss of each held-out row ``(M,)`` under ``run``'s model: the squared error (mean
    over outputs) for a regression, the cross-entropy for class labels; None when nothing was
    held out."""
    if run.validation is None:
        return None
    x, y = run.validation
    with evaluating(run.model), torch.no_grad():
        pred = run.model(x)  # (M, n_out)
    if not y.is_floating_point():
        return torch.nn.functional.cross_entropy(pred, y.reshape(-1), reduction="none")
    return (pred - y.reshape(pred.shape)).pow(2).mean(1)


def validation_score(run: PipelineResult) -> float | None:
    """The score of ``run``'s model on its held-out rows: R² (the mean over output columns)
    for a regression, accuracy for class labels; None when nothing was held out."""
    if run.validation is None:
        return None
    x, y = run.validation
    with evaluating(run.model), torch.no_grad():
        pred = run.model(x)  # (M, n_out)
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


def _trial(data: Dataset, base: PipelineOptions, candidate: Candidate) -> Trial:
    start = time.perf_counter()
    run = run_pipeline(data, candidate.options(_search_options(base),
                                               validation=VALIDATION_FRACTION))
    history = run.histories["train"]
    best = history.best_step if history.best_step is not None else history.step[-1]
    grid = history.grid_size[history.step.index(best)][0] if best else candidate.grids[0]
    return Trial(candidate, history.best_val_loss, validation_score(run), best, grid,
                 time.perf_counter() - start, row_losses(run))


def pick(trials: list[Trial]) -> Trial:
    """The simplest trial within one standard error of the best (the one-standard-error
    rule, paired).

    Every trial is scored on the same held-out rows, so two of them differ by the mean of
    their per-row loss differences ``d``, with standard error ``std(d) / √M``. The trial of
    lowest validation loss is the best; a simpler one (see :attr:`Candidate.complexity`) is
    taken instead when its loss exceeds the best's by at most that standard error: the
    held-out rows cannot tell them apart, and the simpler model varies less, prunes further
    and reads as a shorter formula.
    """
    scored = [t for t in trials if math.isfinite(t.val_loss) and t.losses is not None]
    if not scored:
        return min(trials, key=lambda t: t.val_loss)
    best = min(scored, key=lambda t: t.val_loss)
    for trial in sorted(scored, key=lambda t: t.candidate.complexity):
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
    found = candidates(n_rows, int(data.train_input.shape[1]), fast=fast)
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
    trials = [_trial(data, base, candidate) for candidate in found]
    best = pick(trials)
    grids = best.candidate.grids
    reached = grids[: grids.index(best.grid_size) + 1] if best.grid_size in grids else grids
    reason = (f"the simplest of {len(trials)} candidates within one standard error of the "
              f"lowest validation loss ({VALIDATION_FRACTION:.0%} of the rows held out)")
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
