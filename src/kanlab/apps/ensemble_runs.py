"""The pipeline's training for several seeds at once: ``E`` KANs of the pipeline's model trained
side by side as one :class:`~kanlab.nn.ensemble.Ensemble`, each member scored on the held-out
rows, for an ensemble mean and spread (the estimators' ``n_members``); and every member's
formula (pruned, snapped to symbols, polished: :func:`member_formulas`), with the formulas
the members agree on (:func:`formula_agreement`).

What a lone pipeline run does (standardising, holding rows out, the grid schedule, stopping
early and keeping the best state) each member does; the held-out rows then also rank the
members (``best_member``). Pruning and symbolic snapping act on one model: take a member out
for them (:func:`member_formulas`).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from kanlab.apps.pipeline import (
    PipelineOptions,
    Standardization,
    build_model,
    snap_symbolic,
    standardized,
    train_grid_updates,
)
from kanlab.data import Dataset
from kanlab.errors import InputError
from kanlab.nn.ensemble import Ensemble
from kanlab.training.ensemble_fit import EnsembleHistory
from kanlab.training.loop import fit
from kanlab.training.validation import hold_out

__all__ = ["EnsembleRun", "MemberFormula", "formula_agreement", "member_formulas",
           "run_ensemble"]


@dataclass
class EnsembleRun:
    """What :func:`run_ensemble` returns.

    Attributes:
        ensemble: the trained members (on standardised units).
        scaling: the standardisation of the data.
        history: every member's training history.
        val_losses: each member's loss on the held-out rows (``nan`` without them).
        best_member: the member of the lowest validation loss (of the lowest final training
            loss without held-out rows).
    """

    ensemble: Ensemble
    scaling: Standardization
    history: EnsembleHistory
    val_losses: list[float]
    best_member: int


def run_ensemble(data: Dataset, options: PipelineOptions, members: int) -> EnsembleRun:
    """Standardise ``data``, hold out ``options.validation_fraction`` of its rows, train
    ``members`` KANs of ``options`` (seeds ``options.seed + e``) together for up to
    ``options.steps`` steps with its grid schedule (each member stopping early on the held-out
    rows, as a lone run), and score them there.

    Raises:
        InputError: ``members < 1``, or options that act on one model (pruning, symbolic
            snapping, fixed validation rows).
    """
    if isinstance(members, bool) or not isinstance(members, int) or members < 1:
        raise InputError(f"members must be an integer >= 1; got {members!r}")
    unsupported = [name for name, on in (("prune", options.prune), ("symbolic",
                   options.symbolic), ("validation_rows", options.validation_rows is not None))
                   if on]
    if unsupported:
        raise InputError(f"{', '.join(unsupported)} act on one model; with several members "
                         "train them one by one (n_members=1)")
    options.check()
    scaling, data = standardized(data, options)
    val = None
    if options.validation_fraction is not None:
        data, *val = hold_out(data, options.validation_fraction, options.seed)
    models = [build_model(dataclasses.replace(options, seed=options.seed + e))
              for e in range(members)]
    ensemble = Ensemble.stack(models)
    fit_options = dict(options.fit_options)
    if val is not None:  # each member stops early and keeps its best state, as a lone run
        fit_options.update(validation=tuple(val), patience=options.patience)
    history = fit(ensemble, data, steps=options.steps, grid_schedule=options.schedule(),
                  update_grid=train_grid_updates(data, options), lamb=options.lamb,
                  **fit_options)
    val_losses = [math.nan] * members if val is None else _losses(ensemble, *val, options)
    scores = val_losses if val is not None else history.final("loss")
    best = min(range(members), key=lambda e: (not math.isfinite(scores[e]), scores[e]))
    return EnsembleRun(ensemble, scaling, history, val_losses, best)


@torch.no_grad()
def _losses(ensemble: Ensemble, x: torch.Tensor, y: torch.Tensor,
            options: PipelineOptions) -> list[float]:
    """Each member's loss on ``x``, ``y`` (``fit``'s loss: MSE unless the options name
    another)."""
    pred = ensemble(x)
    loss_fn = options.fit_options.get("loss_fn") or torch.nn.functional.mse_loss
    return [float(loss_fn(pred[e], y)) for e in range(ensemble.members)]


@dataclass
class MemberFormula:
    """One member's formula (:func:`member_formulas`).

    Attributes:
        member: the member's index.
        widths: its widths after pruning.
        formula: the sympy expression of its (first) output; None where an edge stayed
            numeric.
        text: ``formula`` tidied for reading (:func:`~kanlab.symbolic.formula.tidy`), or
            ``"(numeric)"``.
        rmse: the formula's RMSE on the data's test set (its training set without one).
    """

    member: int
    widths: list[Any]
    formula: Any
    text: str
    rmse: float


def member_formulas(ensemble: Ensemble, data: Dataset, *, prune: bool = True,
                    lib: Sequence[str] | None = None, steps: int = 50,
                    var_names: Sequence[str] | None = None, digits: int = 3,
                    **fit_options: Any) -> list[MemberFormula]:
    """Every member taken out, pruned (``prune``), snapped to symbols on ``lib`` and
    polished ``steps`` steps (:func:`~kanlab.apps.pipeline.snap_symbolic`), and its formula.

    Pruning and snapping act on one model (a member's edges and widths become its own), so
    this runs member by member.

    Args:
        ensemble: the trained members.
        data: their (shared) training data; the formulas are scored on its test set.
        var_names: the inputs' names (default ``x_1, x_2, ...``).
        digits: significant digits of :attr:`MemberFormula.text`.
        **fit_options: for the polish's :func:`~kanlab.training.loop.fit`.
    """
    from kanlab.symbolic.formula import formula_function, tidy

    n_in = ensemble.widths[0]
    names = list(var_names) if var_names is not None else [f"x_{k + 1}" for k in range(n_in)]
    x, y = ((data.test_input, data.test_label) if data.test_input is not None
            else (data.train_input, data.train_label))
    out = []
    for e in range(ensemble.members):
        model = ensemble.member(e)
        model.record(data.train_input)  # (as a lone fit records its inputs)
        if prune:
            model = model.prune(data.train_input)
        snapped = snap_symbolic(model, data, steps, lib=lib,
                                **{"progress": False, **fit_options})
        try:
            formula = snapped.model.symbolic_formula(names)[0]
        except ValueError:  # an edge stayed numeric
            out.append(MemberFormula(e, list(snapped.model.widths), None, "(numeric)",
                                     math.inf))
            continue
        pred = formula_function([formula], names, backend="torch")(x)
        rmse = float((pred.reshape(y.shape) - y).pow(2).mean().sqrt())
        out.append(MemberFormula(e, list(snapped.model.widths), formula,
                                 str(tidy(formula, digits=digits)), rmse))
    return out


def formula_agreement(formulas: Sequence[MemberFormula]) -> list[tuple[str, list[int], float]]:
    """The formulas the members agree on: ``(text, members, best rmse)`` for each distinct
    tidied formula, the most common first (ties: the more accurate first)."""
    groups: dict[str, list[MemberFormula]] = {}
    for f in formulas:
        groups.setdefault(f.text, []).append(f)
    rows = [(text, [f.member for f in fs], min(f.rmse for f in fs)) for text, fs in groups.items()]
    return sorted(rows, key=lambda r: (-len(r[1]), r[2]))
