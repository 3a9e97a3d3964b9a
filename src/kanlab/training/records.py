"""What ``fit`` keeps of a run: the :class:`History` and the progress shown while it runs.

:class:`Records` takes every step's loss: it keeps them all (the grid schedules look at them),
writes a :class:`History` entry every ``log_every`` steps (RMSE on the whole train and test
sets, grid sizes, wall time), and shows a tqdm progress bar when stderr is a terminal (or in a
notebook) -- or, without tqdm, with ``progress=False`` or when stderr goes to a file or a pipe
(a log, CI), logs the loss ten times a run at INFO instead of drawing the bar into the log.
"""

from __future__ import annotations

import logging
import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from torch import nn

from kanlab._validation import check_positive_int
from kanlab.nn.model import KAN
from kanlab.training.batches import TrainingData
from kanlab.training.parallel import SingleProcess

__all__ = ["History", "Records", "default_log_every", "is_terminal", "progress_bar"]

# fit's progress log keeps the logger name it has always had
log = logging.getLogger("kanlab.training.loop")


@dataclass
class History:
    """What happened during :func:`~kanlab.training.loop.fit`, one entry per recorded step.

    Attributes:
        step: optimiser steps completed when the entry was recorded (1-based).
        loss: the prediction loss at the start of the step (on its batch).
        reg: the regularisation penalty at the start of the step (0 without ``lamb``).
        train_rmse, test_rmse: root mean squared error on the whole train / test set after the
            step (``nan`` where there is no such set or the loss is not a regression loss).
        grid_size: each layer's grid size during the step.
        wall_time: seconds since :func:`~kanlab.training.loop.fit` began.
        events: ``(step, text)`` for grid updates and refinements.
        grid_drift: ``(step, drift per layer)`` of every grid update: the relative change of
            each layer's outputs that the refit could not avoid (see ``KAN.update_grid``).
        grid_guard: ``(step, change, kept)`` of every grid update judged by its strategy's
            guard: the relative change of the loss on the batch, and False where the update
            was undone (:mod:`kanlab.nn.grid_update`).
        val_loss: the prediction loss on the validation rows after the step (``nan`` without
            validation; see :mod:`~kanlab.training.validation`).
        best_step: the step of the lowest ``val_loss``, whose state the model is given back at
            the end with ``restore_best``: 0 when no step beat the starting state; None without
            validation (or no finite loss).
        initial_val_loss: the validation loss of the model as ``fit`` got it (``nan``
            without validation).
        stopped_early: whether validation stopped the run before ``steps`` (patience, or a
            grid stage that did not improve it; an event says which).
    """

    step: list[int] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)
    train_rmse: list[float] = field(default_factory=list)
    test_rmse: list[float] = field(default_factory=list)
    grid_size: list[list[int]] = field(default_factory=list)
    wall_time: list[float] = field(default_factory=list)
    events: list[tuple[int, str]] = field(default_factory=list)
    grid_drift: list[tuple[int, list[float]]] = field(default_factory=list)
    grid_guard: list[tuple[int, float, bool]] = field(default_factory=list)
    reg: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    best_step: int | None = None
    stopped_early: bool = False
    initial_val_loss: float = math.nan

    def as_dict(self) -> dict[str, Any]:
        """Every field by name, lists copied (JSON-able: numbers, lists, None, booleans)."""
        return {name: list(value) if isinstance(value, list) else value
                for name, value in ((n, getattr(self, n)) for n in self.__dataclass_fields__)}

    @property
    def best_val_loss(self) -> float:
        """The validation loss at :attr:`best_step` (the state kept), ``nan`` without one."""
        if self.best_step == 0:
            return self.initial_val_loss
        if self.best_step is None or self.best_step not in self.step:
            return math.nan
        return self.val_loss[self.step.index(self.best_step)]

    def final_by_grid(self) -> dict[int, dict[str, float]]:
        """Last recorded train/test RMSE of each grid stage, keyed by the first layer's grid."""
        out: dict[int, dict[str, float]] = {}
        for g, tr, te in zip(self.grid_size, self.train_rmse, self.test_rmse):
            out[g[0]] = {"train_rmse": tr, "test_rmse": te}
        return out


def default_log_every(n_train: int, batch_size: int | None) -> int:
    """Record once per epoch of ``n_train`` samples with mini-batches, else every step."""
    return -(-n_train // batch_size) if batch_size and n_train > batch_size else 1


def progress_bar(total: int, enabled: bool, file: Any = None) -> Any:
    """A tqdm bar over ``total`` steps written to ``file`` (None: ``sys.stderr``), or None:
    disabled, tqdm not installed, or ``file`` not a terminal (outside a notebook, whose bar is a
    widget), so that no bar is drawn into a log."""
    if not enabled:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:  # progress falls back to logging
        return None
    if not (is_terminal(sys.stderr if file is None else file) or _is_notebook_bar(tqdm)):
        return None
    return tqdm(total=total, desc="fit", leave=False, file=file)


def is_terminal(stream: Any) -> bool:
    """Whether ``stream`` is an open terminal (``isatty()``)."""
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):  # no isatty, or a closed stream
        return False


def _is_notebook_bar(tqdm_class: type) -> bool:
    """Whether ``tqdm.auto`` chose the notebook widget (its stderr is never a terminal)."""
    return any(c.__module__ == "tqdm.notebook" for c in tqdm_class.__mro__)


class Records:
    """The records of one run; a context manager that closes the progress bar.

    Args:
        model: the model trained (grid sizes are recorded for a KAN).
        data: the run's :class:`~kanlab.training.batches.TrainingData` (the whole sets).
        processes: evaluates the RMSEs (over all ranks when distributed) and says whether
            this process shows progress.
        steps: the run's steps (the last one is always recorded).
        log_every: record every this many steps; None: :func:`default_log_every` of the
            (mean, over processes) training set size and ``batch_size``.
        batch_size: the run's batch size (None: full batch).
        progress: show a progress bar (this process, if tqdm is installed and stderr is a
            terminal; see :func:`progress_bar`).
        custom_loss: the loss is not the mean squared error (no RMSE from it); ``"model"``:
            a :class:`~kanlab.training.model_loss.ModelLoss` (no RMSE at all).
        validate: the validation loss of the model, recorded as ``History.val_loss``
            (None: ``nan``).

    Raises:
        InputError: ``log_every`` not a positive integer.
    """

    def __init__(self, model: nn.Module, data: TrainingData, processes: SingleProcess,
                 steps: int, log_every: int | None = None, batch_size: int | None = None,
                 progress: bool = True, *, custom_loss: bool | str = False,
                 validate: Callable[[nn.Module], float] | None = None) -> None:
        if log_every is None:
            log_every = default_log_every(processes.mean_count(data.n_train), batch_size)
        check_positive_int("log_every", log_every)
        self.model, self.data, self.processes = model, data, processes
        self.steps, self.log_every, self.custom_loss = steps, log_every, custom_loss
        self.validate = validate
        self.is_kan = isinstance(model, KAN)
        self.losses: list[float] = []  # every step's, for the grid schedules
        self.history = History()
        self.log_interval = max(steps // 10, 1)
        self.bar = progress_bar(steps, progress and processes.shows_progress)
        self.start = time.perf_counter()

    def __enter__(self) -> Records:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.close()

    def after_step(self, done: int, loss: float, reg: float) -> bool:
        """Take step ``done``'s ``loss`` and penalty (at its start); record and show them.
        Returns whether a :class:`History` entry was recorded for the step.

        Raises:
            FloatingPointError: the loss is not finite.
        """
        self.losses.append(loss)
        if not math.isfinite(loss):
            raise FloatingPointError(
                f"the training loss became {loss} at step {done}; lower lr or check data"
            )
        recorded = done % self.log_every == 0 or done == self.steps
        if recorded:
            self.record(done, loss, reg)
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix(loss=f"{loss:.3e}")
        elif done % self.log_interval == 0:
            log.info("step %d/%d loss %.4e", done, self.steps, loss)
        return recorded

    def record(self, done: int, loss: float, reg: float) -> None:
        """One :class:`History` entry: evaluates the whole train, test and validation sets."""
        model, data, history = self.model, self.data, self.history
        if self.custom_loss == "model":  # a ModelLoss: the labels are not targets
            history.train_rmse.append(math.nan)
            history.test_rmse.append(math.nan)
        else:
            history.train_rmse.append(
                self.processes.rmse(model, data.train_x, data.train_y) if data.train_x is not None
                else math.sqrt(loss) if not self.custom_loss else math.nan)
            history.test_rmse.append(self.processes.rmse(model, data.test_x, data.test_y))
        history.step.append(done)
        history.loss.append(loss)
        history.reg.append(reg)
        history.grid_size.append(list(model.grid_size) if self.is_kan else [])
        history.val_loss.append(self.validate(model) if self.validate else math.nan)
        history.wall_time.append(time.perf_counter() - self.start)
