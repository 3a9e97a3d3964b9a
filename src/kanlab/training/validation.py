"""Validation inside ``fit``: a held-out set, its loss at every recorded step, early stopping,
the refinement rule, and the best state restored at the end.

:meth:`Validation.for_fit` turns ``fit``'s ``validation`` argument into the data to train on
and a :class:`Validation`:

- ``None``: no validation (``History.val_loss`` is ``nan`` at every entry, nothing stops or is
  restored);
- a fraction ``f`` in ``(0, 1)``: ``round(f·N)`` of the ``N`` training rows are held out, drawn
  by a local ``torch.Generator`` seeded with ``fit``'s ``seed`` (the global RNG is untouched);
  both parts keep the rows' order, and the rest train (not with a ``DataLoader``);
- a :class:`~kanlab.data.Dataset` or a pykan-style dict (its ``train_input``/``train_label``
  are the validation rows) or an ``(x, y)`` pair of tensors or NumPy arrays.

The validation rows are checked and cast like the training data. Their loss is the training
prediction loss (``loss_fn``, default MSE; never the regularisation penalty), a mean over the
rows, in evaluation mode without gradients, evaluated whenever the :class:`~kanlab.training.
records.History` records an entry (every ``log_every`` steps and at the last). Then:

- **best state**: a validation loss below every earlier one is the new best; the model's whole
  ``state_dict`` (parameters, knots, running statistics, every buffer) and grid sizes are
  copied;
- **patience**: a loss below ``r − RTOL·|r|`` (``RTOL = 1e-4``), where ``r`` is the loss of
  the last such improvement, is an improvement; training stops after the recorded step at which
  ``patience`` steps have passed without one (default :data:`DEFAULT_PATIENCE` recorded steps,
  i.e. ``10·log_every`` steps);
- **refinements**: when a refinement of ``grid_schedule`` is due and the best loss of the
  stage just finished is not an improvement (by ``RTOL``) on the best of the earlier stages,
  training stops before refining (an event ``(step, "stop: ...")`` says so);
- **restore**: at the end the model gets the best state back; a KAN first returns to the grid
  sizes it had then (``refine_``, its coarsening warning suppressed: the state loaded next
  replaces every value), so refinements made after the best step are undone.

Validation on several processes (``fit(distributed=True)``) is not supported yet.
"""

from __future__ import annotations

import copy
import math
import numbers
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from kanlab._modes import evaluating
from kanlab._validation import check_positive_int
from kanlab.data import Dataset
from kanlab.errors import GridWarning, InputError
from kanlab.nn.model import KAN
from kanlab.training.batches import as_dataset, check_pair
from kanlab.training.grid_events import GridEvent
from kanlab.training.model_loss import batch_loss, custom_loss
from kanlab.training.parallel import Distributed, SingleProcess
from kanlab.training.records import History

__all__ = ["DEFAULT_PATIENCE", "RTOL", "Validation", "hold_out", "improves", "split_rows",
           "validation_pair"]

#: relative decrease of the validation loss that counts as an improvement
RTOL = 1e-4
#: default patience, in recorded steps (``log_every`` steps each)
DEFAULT_PATIENCE = 10


def hold_out(data: Any, fraction: float, seed: int | None
             ) -> tuple[Dataset, torch.Tensor, torch.Tensor]:
    """Split ``round(fraction·N)`` validation rows off ``data``'s ``N`` training rows.

    The rows are the first of ``torch.randperm(N)`` drawn by a local generator seeded with
    ``seed`` (None means 0); both parts keep the rows' order. The test set stays.

    Returns:
        ``(training data, validation inputs (M, in), validation labels (M, ...))``.

    Raises:
        InputError: ``fraction`` not in ``(0, 1)``, ``data`` a ``DataLoader``, or a part empty.
    """
    if isinstance(fraction, bool) or not (0 < fraction < 1):
        raise InputError(f"validation as a fraction must be in (0, 1); got {fraction!r}")
    data = as_dataset(data)
    if not isinstance(data, Dataset):
        raise InputError(
            f"validation={fraction} holds out a fraction of the training rows, which a "
            f"{type(data).__name__} does not give; pass the validation data instead "
            "(an (x, y) pair or a Dataset)"
        )
    n = data.train_input.shape[0]
    n_val = round(fraction * n)
    if not 1 <= n_val <= n - 1:
        raise InputError(
            f"validation={fraction} holds out {n_val} of the {n} training rows; each part "
            "needs at least one row: use more data or another fraction"
        )
    gen = torch.Generator().manual_seed(0 if seed is None else seed)
    train, (x, y) = split_rows(data, torch.randperm(n, generator=gen)[:n_val])
    return train, x, y


def split_rows(data: Dataset, rows: Sequence[int] | torch.Tensor
               ) -> tuple[Dataset, tuple[torch.Tensor, torch.Tensor]]:
    """``data`` without its training rows ``rows``, and those rows ``(x (M, in), y (M, ...))``;
    both parts keep the rows' order, the test set stays.

    Raises:
        InputError: a row out of range, or a part left empty.
    """
    n = data.train_input.shape[0]
    index = torch.as_tensor(rows, dtype=torch.long).reshape(-1)
    if not 1 <= index.numel() < n or bool((index < 0).any() | (index >= n).any()):
        raise InputError(f"validation_rows must name 1 to {n - 1} of the {n} training rows "
                         f"(indices 0 to {n - 1}); got {index.numel()} indices")
    held = torch.zeros(n, dtype=torch.bool)
    held[index] = True
    keep, out = (~held).nonzero()[:, 0], held.nonzero()[:, 0]

    def part(t: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        return t[idx.to(t.device)]

    train = Dataset(part(data.train_input, keep), part(data.train_label, keep), data.test_input,
                    data.test_label)
    return train, (part(data.train_input, out), part(data.train_label, out))


def validation_pair(validation: Any) -> tuple[Any, Any]:
    """``fit``'s explicit validation data (a Dataset, a dict, an ``(x, y)`` pair of tensors or
    NumPy arrays) as ``(inputs, labels)`` tensors.

    Raises:
        InputError: anything else.
    """
    if isinstance(validation, (Dataset, Mapping)):
        d = as_dataset(validation)
        return d.train_input, d.train_label
    if isinstance(validation, (tuple, list)) and len(validation) == 2:
        x, y = validation
        return _tensor("validation x", x), _tensor("validation y", y)
    raise InputError(
        "validation must be None, a fraction in (0, 1), a Dataset, a dict with "
        f"train_input/train_label or an (x, y) pair; got {type(validation).__name__}"
    )


def _tensor(name: str, value: Any) -> torch.Tensor:
    if isinstance(value, np.ndarray):
        return torch.as_tensor(value)
    if not isinstance(value, torch.Tensor):
        raise InputError(f"{name} must be a torch.Tensor or a NumPy array; got "
                         f"{type(value).__name__}")
    return value


class Validation:
    """The validation of one run: its loss, early stopping and the best state.

    Args:
        x, y: validation inputs ``(M, in)`` and labels ``(M, ...)`` on the model's device and
            dtype; ``None`` for a run without validation (then every answer is "go on").
        loss_fn: ``loss_fn(pred, label) -> scalar``; default MSE.
        patience: steps without an improvement before stopping; None: :data:`DEFAULT_PATIENCE`
            recorded steps (set by :meth:`start`).
        restore_best: load the best state at :meth:`finish`.

    Attributes:
        best_loss, best_step: the lowest validation loss and the step it was recorded at
            (``inf`` and None before any finite loss).
    """

    def __init__(self, x: torch.Tensor | None = None, y: torch.Tensor | None = None,
                 loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
                 patience: int | None = None, restore_best: bool = True) -> None:
        self.x, self.y = x, y
        self.loss_fn = loss_fn or nn.functional.mse_loss
        self.patience, self.restore_best = patience, restore_best
        self.best_loss, self.best_step = math.inf, None
        self.best_state: dict[str, Any] | None = None
        self.best_sizes: list[int] | None = None
        self.reference, self.improved_step = math.inf, 0  # the patience clock
        self.stage_reference = math.inf  # the best loss before the current grid stage

    @classmethod
    def for_fit(
        cls, model: nn.Module, data: Any, validation: Any, patience: int | None = None,
        restore_best: bool = True, seed: int | None = 0,
        loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
        processes: SingleProcess | None = None,
    ) -> tuple[Any, Validation]:
        """``fit``'s ``data`` to train on and the validation of its ``validation`` argument.

        Raises:
            InputError: ``patience`` without validation or not a positive integer, validation
                with ``distributed``, a bad fraction (see :func:`hold_out`), or validation
                data that does not fit ``model`` (shapes, NaN/inf).
        """
        if validation is None:
            if patience is not None:
                raise InputError(f"patience={patience!r} needs validation data: pass "
                                 "validation=(x, y), a Dataset or a fraction such as 0.2")
            return data, cls()
        if patience is not None:
            check_positive_int("patience", patience)
        if isinstance(processes, Distributed):
            raise InputError("validation is not supported with distributed=True yet; validate "
                             "after training, on one process")
        name = "validation"
        if isinstance(validation, numbers.Real):
            data, x, y = hold_out(data, validation, seed)
            name = "train"  # the held-out rows are training rows: their checks say so
        else:
            x, y = validation_pair(validation)
        params0 = next(model.parameters())
        x = x.to(device=params0.device, dtype=params0.dtype)
        y = y.to(device=params0.device, dtype=params0.dtype if y.is_floating_point() else None)
        if x.dim() >= 1 and x.shape[0] == 0:
            raise InputError(f"validation has no rows (inputs of shape {tuple(x.shape)})")
        check_pair(name, x, y, model, custom_loss=custom_loss(loss_fn))
        return data, cls(x, y, loss_fn, patience, restore_best)

    @property
    def active(self) -> bool:
        """Whether the run has validation data."""
        return self.x is not None

    def start(self, log_every: int, model: nn.Module | None = None,
              history: History | None = None) -> None:
        """Before the first step. The run records every ``log_every`` steps: the default
        patience is that many :data:`DEFAULT_PATIENCE` times. With ``model``, its starting
        state is the first best state (step 0, its loss ``history.initial_val_loss``): a run
        that never improves on it ends where it began, and the first grid stage must improve
        on it to be refined."""
        if self.patience is None:
            self.patience = DEFAULT_PATIENCE * log_every
        if model is None or not self.active:
            return
        loss = self.loss(model)
        if history is not None:
            history.initial_val_loss = loss
        if math.isfinite(loss):
            self._keep(loss, 0, model)
            self.reference = self.stage_reference = loss

    def _keep(self, loss: float, step: int, model: nn.Module) -> None:
        """``model``'s state is the best so far (copied with ``restore_best``)."""
        self.best_loss, self.best_step = loss, step
        if self.restore_best:
            self.best_state = copy.deepcopy(model.state_dict())
            self.best_sizes = list(model.grid_size) if isinstance(model, KAN) else None

    @torch.no_grad()
    def loss(self, model: nn.Module) -> float:
        """The prediction loss of ``model`` on the validation rows in evaluation mode (the
        training flags restored); ``nan`` without validation."""
        if self.x is None:
            return math.nan
        with evaluating(model):
            return float(batch_loss(self.loss_fn, model, self.x, self.y))

    def after_record(self, done: int, model: nn.Module, history: History) -> bool:
        """Take the validation loss just recorded for step ``done`` (``history.val_loss[-1]``):
        copy the state if it is the best, and say whether to stop (patience run out)."""
        if not self.active:
            return False
        loss = history.val_loss[-1]
        if loss < self.best_loss:  # False for nan
            self._keep(loss, done, model)
        if improves(loss, self.reference):
            self.reference, self.improved_step = loss, done
        if self.patience is not None and done - self.improved_step >= self.patience:
            history.events.append(
                (done, f"stop: validation did not improve for {done - self.improved_step} steps"))
            history.stopped_early = True
            return True
        return False

    def stops_before(self, event: GridEvent, model: nn.Module, history: History) -> bool:
        """Whether training stops instead of the refinement in ``event``: the stage just
        finished did not improve on the best validation loss of the earlier stages."""
        if not self.active or event.refine_to is None:
            return False
        if improves(self.best_loss, self.stage_reference):
            self.stage_reference = self.best_loss
            return False
        history.events.append(
            (event.step, f"stop: validation did not improve at G={model.grid_size[0]}; "
                         f"G={event.refine_to} not tried"))
        history.stopped_early = True
        return True

    def finish(self, model: nn.Module, history: History) -> None:
        """Write ``history.best_step`` and, with ``restore_best``, give ``model`` its best state
        back (a KAN first returns to the grid sizes it had then)."""
        history.best_step = self.best_step
        if not self.restore_best or self.best_state is None:
            return
        if isinstance(model, KAN) and self.best_sizes != list(model.grid_size):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", GridWarning)  # its values are replaced next
                model.refine_(self.best_sizes)
        model.load_state_dict(self.best_state)


def improves(loss: float, reference: float) -> bool:
    """Whether ``loss`` improves on ``reference`` by more than ``RTOL`` relative (any finite
    loss improves on ``inf``)."""
    if math.isinf(reference):
        return math.isfinite(loss)
    return loss < reference - RTOL * abs(reference)
