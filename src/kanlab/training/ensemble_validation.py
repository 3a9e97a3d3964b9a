"""Validation of an ensemble's run, member by member: each member's validation loss at every
recorded step, its early stop, and its best state restored at the end -- the rules of
:mod:`~kanlab.training.validation` (``RTOL``, the default patience, the refinement rule) applied
to every member on its own.

A member that stops is frozen: its state is written back after every step and grid event
while the others train on (a refinement, which every member takes, refines the frozen state
too). The run ends when every member has stopped. At the end each member gets its best state
back; when that state is on a coarser grid than the ensemble's (a grid schedule), it is refined
to the ensemble's grid sizes first (:meth:`KAN.refine_ <kanlab.nn.model.KAN.refine_>`, which
keeps the function up to the refinement's least-squares fit), since the members share one
shape.
"""

from __future__ import annotations

import math
import numbers
import warnings
from collections.abc import Callable
from typing import Any

import torch

from kanlab.errors import GridWarning, InputError
from kanlab.nn.ensemble import Ensemble
from kanlab.nn.model import KAN
from kanlab.training.batches import check_pair
from kanlab.training.records import History
from kanlab.training.validation import DEFAULT_PATIENCE, hold_out, improves, validation_pair

__all__ = ["EnsembleValidation"]


class EnsembleValidation:
    """Every member's validation (module docstring).

    Args:
        x, y: validation inputs ``(M, in)`` (or ``(E, M, in)``) and labels; None: none.
        loss: ``loss(pred, y)``, a lone model's prediction loss (``fit``'s ``loss_fn``).
        patience: recorded steps without an improvement before a member stops (None: the
            default, set by :meth:`start`).
        restore_best: give each member its best state back at :meth:`finish`.
    """

    def __init__(self, x: torch.Tensor | None, y: torch.Tensor | None,
                 loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
                 patience: int | None, restore_best: bool) -> None:
        self.x, self.y, self.loss_of = x, y, loss
        self.patience, self.restore_best = patience, restore_best
        self.best: list[KAN | None] = []
        self.frozen: dict[int, KAN] = {}

    @classmethod
    def for_fit(cls, model: Ensemble, data: Any, validation: Any, patience: int | None,
                restore_best: bool, seed: int | None, shared: bool,
                loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
                ) -> tuple[Any, EnsembleValidation]:
        """``fit``'s data to train on and the validation of its ``validation`` argument (a
        fraction of shared training rows, or ``(x, y)`` / a Dataset: shared or per member).

        Raises:
            InputError: ``patience`` without validation, a fraction with per-member data.
        """
        if validation is None:
            if patience is not None:
                raise InputError(f"patience={patience!r} needs validation data: pass "
                                 "validation=(x, y), a Dataset or a fraction such as 0.2")
            return data, cls(None, None, loss, None, restore_best)
        if isinstance(validation, numbers.Real) and not isinstance(validation, bool):
            if not shared:
                raise InputError("a validation fraction holds out shared rows; with one set "
                                 "per member pass validation=(x, y) of shape (E, M, ...)")
            data, x, y = hold_out(data, validation, seed)
        else:
            x, y = validation_pair(validation)
            shell = model.member(0)
            if x.dim() == 3:
                if x.shape[0] != model.members or y.shape[0] != model.members:
                    raise InputError(f"per-member validation data need a first axis of "
                                     f"{model.members}; got {tuple(x.shape)}, {tuple(y.shape)}")
                for e in range(model.members):
                    check_pair("validation", x[e], y[e], shell, custom_loss=True)
            else:
                check_pair("validation", x, y, shell, custom_loss=True)
        param = next(model.parameters())
        x = x.to(device=param.device, dtype=param.dtype)
        y = y.to(device=param.device, dtype=param.dtype if y.is_floating_point() else None)
        return data, cls(x, y, loss, patience, restore_best)

    @property
    def active(self) -> bool:
        return self.x is not None

    @torch.no_grad()
    def losses(self, model: Ensemble) -> list[float]:
        """Each member's validation loss (``nan`` without validation)."""
        if not self.active:
            return [math.nan] * model.members
        pred = model(self.x)
        own = self.x.dim() == 3  # one set per member
        return [float(self.loss_of(pred[e], self.y[e] if own else self.y))
                for e in range(model.members)]

    def start(self, log_every: int, model: Ensemble, histories: list[History]) -> None:
        """Before the first step: the default patience, every member's starting loss and state
        (step 0)."""
        members = model.members
        self.best = [None] * members
        self.best_loss, self.best_step = [math.inf] * members, [None] * members
        self.reference, self.improved = [math.inf] * members, [0] * members
        self.stage_reference = [math.inf] * members
        if self.patience is None:
            self.patience = DEFAULT_PATIENCE * log_every
        if not self.active:
            return
        for e, loss in enumerate(self.losses(model)):
            histories[e].initial_val_loss = loss
            if math.isfinite(loss):
                self._keep(e, loss, 0, model)
                self.reference[e] = self.stage_reference[e] = loss

    def _keep(self, e: int, loss: float, step: int, model: Ensemble) -> None:
        self.best_loss[e], self.best_step[e] = loss, step
        if self.restore_best:
            self.best[e] = model.member(e)

    def after_record(self, done: int, model: Ensemble, histories: list[History],
                     losses: list[float]) -> bool:
        """Take every member's validation loss of step ``done``; freeze the members whose
        patience ran out. Returns whether every member has stopped."""
        if not self.active:
            return False
        for e, loss in enumerate(losses):
            if e in self.frozen:
                continue
            if loss < self.best_loss[e]:
                self._keep(e, loss, done, model)
            if improves(loss, self.reference[e]):
                self.reference[e], self.improved[e] = loss, done
            if done - self.improved[e] >= self.patience:
                histories[e].events.append((done, "stop: validation did not improve for "
                                                  f"{done - self.improved[e]} steps"))
                self._freeze(e, model, histories[e])
        return len(self.frozen) == model.members

    def before_refinement(self, step: int, refine_to: int, model: Ensemble,
                          histories: list[History]) -> bool:
        """The refinement rule before a refinement at ``step``: freeze each member whose
        stage did not improve on its earlier best. Returns whether every member has
        stopped."""
        if not self.active:
            return False
        for e in range(model.members):
            if e in self.frozen:
                continue
            if improves(self.best_loss[e], self.stage_reference[e]):
                self.stage_reference[e] = self.best_loss[e]
                continue
            histories[e].events.append(
                (step, f"stop: validation did not improve at G={model.grid_size[0]}; "
                       f"G={refine_to} not tried"))
            self._freeze(e, model, histories[e])
        return len(self.frozen) == model.members

    def _freeze(self, e: int, model: Ensemble, history: History) -> None:
        history.stopped_early = True
        self.frozen[e] = model.member(e)

    def hold_frozen(self, model: Ensemble, refined: bool = False) -> None:
        """Write the frozen members' states back (after a step or a grid update); after a
        refinement, take them again from the refined ensemble (their function refined)."""
        for e in self.frozen:
            if refined:
                self.frozen[e] = model.member(e)
            else:
                model.load_member(e, self.frozen[e])

    def finish(self, model: Ensemble, histories: list[History]) -> None:
        """Every member's ``best_step``; with ``restore_best``, its best state back (refined
        to the ensemble's grid sizes where it is coarser)."""
        for e, history in enumerate(histories):
            history.best_step = self.best_step[e] if self.active else None
            best = self.best[e] if self.active and self.restore_best else None
            if best is None:
                continue
            if list(best.grid_size) != list(model.grid_size):
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", GridWarning)
                    best.refine_(list(model.grid_size))
            model.load_member(e, best)
