"""The grid events of a run: which refinements and grid updates are due before a step, applied
through the model's public methods.

:class:`GridEvents` holds ``fit``'s two kinds of schedule -- a
:class:`~kanlab.grids.schedules.RefineSchedule` (``grid_schedule``) and the
:class:`~kanlab.grids.schedules.AdaptSchedule` s of ``update_grid`` -- and answers
:meth:`GridEvents.due` once per step with a :class:`GridEvent` or None. An event is applied by
:meth:`GridEvent.apply`:

- an update (with or without a refinement): ``model.update_grid(x, y=y, grid_size=G)`` on the
  step's batch -- extending and adapting at once is one least-squares fit, which keeps the
  function better than a refinement followed by an update;
- a refinement alone: ``model.refine_(G, x)`` with the step's batch, which keeps the usual,
  equally spaced knots beyond the side of a grid that the batch never leaves.

A refinement replaces the coefficient parameters, so the optimiser restarts on them
(:attr:`GridEvent.replaces_parameters`). After a plain update it keeps its state (as pykan's
does): the refit keeps the function, and restarting LBFGS every few steps would throw its
curvature history away.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from kanlab.errors import InputError
from kanlab.grids.schedules import (
    AdaptSchedule,
    RefineSchedule,
    ScheduleState,
    adapt_schedules,
    any_due,
)
from kanlab.nn.grid_update import update_network_grid
from kanlab.nn.lan import LAN
from kanlab.nn.model import KAN
from kanlab.training.model_loss import batch_loss
from kanlab.training.records import History

__all__ = ["GridEvent", "GridEvents"]


@dataclass(frozen=True)
class GridEvent:
    """What happens to the grids before step ``step`` (0-based).

    Attributes:
        step: the step about to run.
        refine_to: the new grid size, or None.
        update: adapt the grids to the step's batch (extending them to ``refine_to`` if set).
    """

    step: int
    refine_to: int | None = None
    update: bool = False

    @property
    def replaces_parameters(self) -> bool:
        """A refinement: the model's coefficients are new ``nn.Parameter`` objects."""
        return self.refine_to is not None

    def apply(self, model: KAN | LAN, x: torch.Tensor, y: torch.Tensor, history: History,
              gather: Callable[[torch.Tensor], torch.Tensor] = lambda t: t,
              loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
              ) -> None:
        """Move ``model``'s grids and write the event into ``history``.

        Args:
            model: the KAN.
            x, y: the samples of the grid moves, inputs ``(B, in)`` and labels ``(B, ...)``.
            history: gets ``events`` (and ``grid_drift``, ``grid_guard`` for an update).
            gather: the samples a grid update or refinement sees (all ranks' batches when
                distributed, so that every rank places the same knots).
            loss_fn: ``fit``'s loss ``(pred, y) -> scalar``, which the strategy's guard judges
                an update by (default: squared error, cross entropy for class labels).
        """
        if self.update and isinstance(model, LAN):  # no guard: a LAN's update is plain
            model.update_grid(gather(x), grid_size=self.refine_to)
            history.events.append((self.step, "update grid"))
        elif self.update:
            x, y = gather(x), gather(y)
            objective = None if loss_fn is None else (lambda m: batch_loss(loss_fn, m, x, y))
            move = update_network_grid(model, x, grid_size=self.refine_to, y=y,
                                       objective=objective)
            history.events.append((self.step, "update grid" if move.kept else
                                   "grid update undone by the guard"))
            history.grid_drift.append((self.step, move.drift))
            if move.change is not None:
                history.grid_guard.append((self.step, move.change, move.kept))
        elif self.refine_to is not None:
            model.refine_(self.refine_to, gather(x))
        if self.refine_to is not None:
            history.events.append((self.step, f"refine to G={self.refine_to}"))


#: ``grid_samples="auto"`` uses the whole training set when it has at most this many numbers
#: (rows × inputs; 32 MiB in float64), else a reservoir of recent batches of that size.
GRID_SAMPLE_VALUES = 2**22


class GridSamples:
    """The samples that ``fit``'s grid moves see.

    Args:
        rows: ``None``: the step's batch; ``"all"``: the whole training set; a number: the
            most recent ``rows`` rows of the batches seen (a reservoir, at least the batch).
        train_x, train_y: the training set (for ``"all"``).

    :meth:`of` reads ``fit``'s ``grid_samples``: ``"batch"``, ``"all"``, a number of rows, or
    ``"auto"`` -- the step's batch in full-batch training, else the whole training set when it
    has at most :data:`GRID_SAMPLE_VALUES` numbers, else a reservoir of that many. Knots from
    one batch of 256 follow that batch's noise; from the whole set they follow the data.
    """

    def __init__(self, rows: int | str | None = None, train_x: torch.Tensor | None = None,
                 train_y: torch.Tensor | None = None) -> None:
        self.rows, self.train_x, self.train_y = rows, train_x, train_y
        self.recent: list[tuple[torch.Tensor, torch.Tensor]] = []

    @classmethod
    def of(cls, spec: Any, data: Any, batch_size: int | None) -> GridSamples:
        """From ``fit``'s ``grid_samples`` and its training data (a
        :class:`~kanlab.training.batches.TrainingData`).

        Raises:
            InputError: an unknown ``spec``, or ``"all"`` without a training set (a
                ``DataLoader``).
        """
        if spec == "batch" or (spec == "auto" and batch_size is None):
            return cls()
        if spec == "all" or spec == "auto":
            x = data.train_x
            if x is not None and (spec == "all" or x.numel() <= GRID_SAMPLE_VALUES):
                return cls("all", x, data.train_y)
            if spec == "all":
                raise InputError('grid_samples="all" needs the training set as tensors (a '
                                 'Dataset or dict), not a DataLoader; pass a number of rows')
            width = x.shape[1] if x is not None else 1
            return cls(max(GRID_SAMPLE_VALUES // width, 1))
        if isinstance(spec, bool) or not isinstance(spec, int) or spec < 1:
            raise InputError('grid_samples must be "auto", "batch", "all" or a positive number '
                             f"of rows; got {spec!r}")
        return cls(spec)

    def observe(self, x: torch.Tensor, y: torch.Tensor) -> None:
        """Keep the batch ``(B, in)``, ``(B, ...)`` in the reservoir (when there is one)."""
        if not isinstance(self.rows, int):
            return
        self.recent.append((x, y))
        while len(self.recent) > 1 and sum(b.shape[0] for b, _ in self.recent[1:]) >= self.rows:
            self.recent.pop(0)

    def __call__(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The samples for a grid move at a step whose batch is ``x``, ``y``."""
        if self.rows == "all":
            return self.train_x, self.train_y
        if isinstance(self.rows, int) and self.recent:
            xs = torch.cat([b for b, _ in self.recent])[-self.rows:]
            return xs, torch.cat([t for _, t in self.recent])[-self.rows:]
        return x, y


class GridEvents:
    """The refinement and adaptation schedules of a run, asked once per step.

    Args:
        refine: when to refine the grids, and to which size.
        adapt: when to adapt them to the data (adapt when any is due); each is reset.
        samples: what the grid moves see (default: the step's batch).
    """

    def __init__(self, refine: RefineSchedule | None = None,
                 adapt: Sequence[AdaptSchedule] = (), samples: GridSamples | None = None) -> None:
        self.refine = refine if refine is not None else RefineSchedule()
        self.adapt = list(adapt)
        self.refinements = 0
        self.samples = samples if samples is not None else GridSamples()
        self.observe = self.samples.observe
        for schedule in self.adapt:
            schedule.reset()

    @classmethod
    def for_fit(
        cls, model: nn.Module, steps: int,
        update_grid: bool | AdaptSchedule | Sequence[AdaptSchedule] = True,
        every: int = 5, until: int | None = 50,
        grid_schedule: Sequence[int] | Mapping[int, int] | None = None,
        samples: GridSamples | None = None,
    ) -> GridEvents:
        """The events of ``fit(model, ..., steps, update_grid, grid_update_every=every,
        grid_update_until=until, grid_schedule=grid_schedule)``, their moves on ``samples``.
        Grids that do not adapt (DKAN's, or a model that is neither a KAN nor a LAN) are never
        updated; a LAN's updates have no guard.

        Raises:
            InputError: a bad schedule, or a ``grid_schedule`` for a model without grids (neither
                a KAN nor a LAN).
        """
        has_grids = isinstance(model, (KAN, LAN))
        refine = RefineSchedule.from_grid_schedule(grid_schedule, steps)
        if refine and not has_grids:
            raise InputError("grid_schedule needs a kanlab.KAN or kanlab.LAN model")
        adapt = adapt_schedules(update_grid, every, until)
        if not (has_grids and model.grid_strategy.adaptive):
            adapt = []
        return cls(refine, adapt, samples)

    def due(self, step: int, model: nn.Module, losses: Sequence[float]) -> GridEvent | None:
        """The event before ``step`` (0-based), or None; ``losses``: every step's so far.

        A scheduled size the grid already has is no refinement.
        """
        refine_to = self.refine.size_at(step)
        if refine_to is not None and refine_to == model.grid_size[0]:
            refine_to = None
        self.refinements += refine_to is not None
        update = bool(self.adapt) and any_due(
            self.adapt, ScheduleState(step, losses, self.refinements, refine_to is not None)
        )
        if refine_to is None and not update:
            return None
        return GridEvent(step, refine_to, update)
