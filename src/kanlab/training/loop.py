"""``fit``: train a KAN with LBFGS or Adam, grid updates and a grid-extension schedule.

``fit`` is a short loop over the pieces of :mod:`kanlab.training`: each step takes a batch
(:mod:`~kanlab.training.batches`), applies the grid events due
(:mod:`~kanlab.training.grid_events`), takes one optimiser step on the objective
(:mod:`~kanlab.training.step`, with :mod:`~kanlab.training.regularization`) and records it
(:mod:`~kanlab.training.records`), and validation may stop it and restore the best state
(:mod:`~kanlab.training.validation`). What differs on several processes is one object
(:mod:`~kanlab.training.parallel`), chosen once.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from kanlab._validation import check_choice, check_positive_int
from kanlab.data import Dataset
from kanlab.grids.schedules import AdaptSchedule, grid_schedule_steps
from kanlab.nn.ensemble import Ensemble
from kanlab.nn.model import KAN
from kanlab.training.batches import check_samples, training_data
from kanlab.training.ensemble_fit import EnsembleHistory, fit_ensemble
from kanlab.training.grid_events import GridEvents, GridSamples
from kanlab.training.model_loss import custom_loss
from kanlab.training.parallel import SingleProcess, as_processes
from kanlab.training.records import History, Records
from kanlab.training.regularization import Regulariser
from kanlab.training.step import OPTIMIZERS, Objective, OptimizerStep
from kanlab.training.validation import Validation

__all__ = ["History", "TrainState", "fit", "grid_schedule_steps"]


@dataclass
class TrainState:
    """Passed to callbacks after every step; a callback returning ``True`` stops training.

    ``loss`` is the prediction loss at the start of the step (on its batch); ``val_loss`` the
    validation loss after it, where the step was recorded (else ``nan``).
    """

    step: int
    model: nn.Module
    loss: float
    history: History
    val_loss: float = math.nan  # after the step; nan without validation or an entry recorded


def fit(
    model: nn.Module,
    data: Dataset | Mapping[str, torch.Tensor] | torch.utils.data.DataLoader,
    *,
    opt: str = "lbfgs", steps: int = 100, lr: float | None = None, batch_size: int | None = None,
    update_grid: bool | AdaptSchedule | Sequence[AdaptSchedule] = True,
    grid_update_every: int = 5, grid_update_until: int | None = 50,
    grid_schedule: Sequence[int] | Mapping[int, int] | None = None, grid_samples: Any = "auto",
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
    callbacks: Sequence[Callable[[TrainState], bool | None]] | None = None,
    progress: bool = True, seed: int | None = 0, log_every: int | None = None,
    optimizer_options: Mapping[str, Any] | None = None,
    lamb: float = 0.0, lamb_l1: float = 1.0, lamb_entropy: float = 2.0,
    lamb_coef: float = 0.0, lamb_coefdiff: float = 0.0, reg_metric: str = "edge_l1",
    distributed: bool | SingleProcess = False, validation: Any = None,
    patience: int | None = None, restore_best: bool = True, penalty: Callable | None = None,
) -> History | EnsembleHistory:
    """Train ``model`` in place; return its :class:`History` (an ensemble's: ``EnsembleHistory``).

    Args:
        model: a ``KAN``, an ``Ensemble`` (its members side by side) or any module (no grids).
        data: a :class:`~kanlab.data.Dataset`, a pykan-style dict or a ``DataLoader`` of
            ``(input, label)`` pairs; tensors or NumPy arrays. Inputs and floating labels are
            cast to the model's dtype and device, integer labels (classes) keep their dtype.
        opt, lr, optimizer_options: ``"lbfgs"`` (the paper's: strong-Wolfe line search, history
            10, 20 iterations a step, lr 1; :mod:`~kanlab.training.lbfgs`) or ``"adam"`` (1e-2).
        steps, batch_size: optimiser steps; ``None`` for full batch, else shuffled epochs.
        update_grid, grid_update_every, grid_update_until, grid_samples: adapt the grids at
            steps ``0, every, ...`` below ``until`` (pykan's 5 and 50; ``None``: no limit) until
            the first refinement, never (``False``), or by :mod:`kanlab.grids.schedules`, on the
            samples :class:`~kanlab.training.grid_events.GridSamples` says (DKAN: never).
        grid_schedule: grid extension (paper §2.4): sizes spread evenly over ``steps``
            (``[3, 5, 10]``), or ``{step: size}``; the optimiser restarts on the refined model.
        loss_fn: ``loss_fn(pred, label)``, a mean over samples (default MSE), or a ``ModelLoss``.
        callbacks: called with a :class:`TrainState` after every step; ``True`` stops.
        progress: a tqdm bar when stderr is a terminal (or in a notebook), else INFO logs.
        seed: of the local generators of batches and of a held-out fraction (not global RNG).
        log_every: record the history every this many steps and at the last (each record
            evaluates the whole sets); default every step, or once an epoch with batches.
        lamb, lamb_l1, lamb_entropy, lamb_coef, lamb_coefdiff, reg_metric: sparsity
            regularisation (paper eq. 2.20; ``lamb=0``: off; needs a KAN; ``Regulariser``).
        penalty: ``penalty(model) -> scalar`` added to each batch's loss (one process), e.g.
            :class:`~kanlab.training.spline_penalty.SplinePenalty`.
        distributed: ``True`` or a :class:`~kanlab.training.parallel.Distributed`: each rank
            passes its shard as ``data``; together they train as one process on all the data.
        validation, patience, restore_best: a fraction in (0, 1) of the training rows to hold
            out, or validation data (``(x, y)``, a ``Dataset`` or dict: its train part), whose
            loss is ``History.val_loss``; stop after ``patience`` steps without a 1e-4 relative
            improvement (default 10 recorded steps) or before a refinement after a stage that
            did not improve it; end in the best state (:mod:`kanlab.training.validation`).

    Raises:
        InputError: bad shapes, no rows, NaN/inf in the data, labels ``(N,)`` against outputs
            ``(N, 1)``, unknown optimiser, too few samples for a grid update, bad validation.
    """
    _check_counts(opt, steps, grid_update_every, batch_size)
    if isinstance(model, Ensemble):  # its members side by side (training.ensemble_fit)
        return fit_ensemble(**locals())
    processes = as_processes(distributed)
    regulariser = Regulariser(lamb, lamb_l1, lamb_entropy, lamb_coef, lamb_coefdiff, reg_metric,
                              processes.edge_scales).for_model(model)
    data, held_out = Validation.for_fit(model, data, validation, patience, restore_best, seed,
                                        loss_fn, processes)
    processes.start(model)
    data = training_data(data, model, batch_size, seed, custom_loss=custom_loss(loss_fn))
    grid = GridEvents.for_fit(model, steps, update_grid, grid_update_every, grid_update_until,
                              grid_schedule, GridSamples.of(grid_samples, data, batch_size))
    processes.check(dict(opt=opt, steps=steps, lr=lr, batch_size=batch_size,
                         schedule=grid.refine.pairs, lamb=lamb, log_every=log_every), data)
    check_samples(data)
    step = OptimizerStep(model, Objective(model, loss_fn or nn.functional.mse_loss, regulariser,
                                          processes, penalty), opt, lr, optimizer_options)
    records = Records(model, data, processes, steps, log_every, batch_size, progress,
                      custom_loss=custom_loss(loss_fn), validate=held_out.loss)
    with records, processes.synced(model):
        _run(model, data.batches, steps, grid, step, records, processes.gather, callbacks, held_out)
    held_out.finish(model, records.history)
    if isinstance(model, KAN) and data.train_x is not None:
        model.record(processes.gather(data.train_x))
    return records.history


def _check_counts(opt: str, steps: int, grid_update_every: int, batch_size: int | None) -> None:
    check_choice("optimizer", opt, OPTIMIZERS)
    check_positive_int("steps", steps)
    check_positive_int("grid_update_every", grid_update_every)
    if batch_size is not None:
        check_positive_int("batch_size", batch_size)


def _run(model: nn.Module, batches: Iterator[tuple[torch.Tensor, torch.Tensor]], steps: int,
         grid: GridEvents, step: OptimizerStep, records: Records,
         gather: Callable[[torch.Tensor], torch.Tensor],
         callbacks: Sequence[Callable[[TrainState], bool | None]] | None,
         validation: Validation | None = None) -> None:
    """The loop of :func:`fit`: per step a batch, the grid events due, one optimiser step, the
    records, the callbacks (any returning ``True`` stops); ``validation`` may stop it before a
    refinement or after a recorded step."""
    validation = validation if validation is not None else Validation()
    validation.start(records.log_every, model, records.history)
    for i in range(steps):
        xb, yb = next(batches)  # (B, in), (B, out)
        grid.observe(xb, yb)
        event = grid.due(i, model, records.losses)
        if event is not None:
            if validation.stops_before(event, model, records.history):
                break
            custom = step.objective.loss_fn  # the guard's loss, unless least squares
            event.apply(model, *grid.samples(xb, yb), records.history, gather,
                        None if custom is nn.functional.mse_loss else custom)
            if event.replaces_parameters:  # a refinement: restart on the new parameters
                step.restart()
        loss, reg = step(xb, yb)
        recorded = records.after_step(i + 1, loss, reg)
        stop = recorded and validation.after_record(i + 1, model, records.history)
        val_loss = records.history.val_loss[-1] if recorded else math.nan
        state = TrainState(i + 1, model, loss, records.history, val_loss)
        if any(cb(state) for cb in (callbacks or ())) or stop:
            break
