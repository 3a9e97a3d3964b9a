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
from kanlab.nn.model import KAN
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

    def apply(self, model: KAN, x: torch.Tensor, y: torch.Tensor, history: History,
              gather: Callable[[torch.Tensor], torch.Tensor] = lambda t: t) -> None:
        """Move ``model``'s grids and write the event into ``history``.

        Args:
            model: the KAN.
            x, y: the step's batch, inputs ``(B, in)`` and labels ``(B, ...)``.
            history: gets ``events`` (and ``grid_drift`` for an update).
            gather: the samples a grid update or refinement sees (all ranks' batches when
                distributed, so that every rank places the same knots).
        """
        if self.update:
            drift = model.update_grid(gather(x), grid_size=self.refine_to, y=gather(y))
            history.events.append((self.step, "update grid"))
            history.grid_drift.append((self.step, drift))
        elif self.refine_to is not None:
            model.refine_(self.refine_to, gather(x))
        if self.refine_to is not None:
            history.events.append((self.step, f"refine to G={self.refine_to}"))


class GridEvents:
    """The refinement and adaptation schedules of a run, asked once per step.

    Args:
        refine: when to refine the grids, and to which size.
        adapt: when to adapt them to the data (adapt when any is due); each is reset.
    """

    def __init__(self, refine: RefineSchedule | None = None,
                 adapt: Sequence[AdaptSchedule] = ()) -> None:
        self.refine = refine if refine is not None else RefineSchedule()
        self.adapt = list(adapt)
        self.refinements = 0
        for schedule in self.adapt:
            schedule.reset()

    @classmethod
    def for_fit(
        cls, model: nn.Module, steps: int,
        update_grid: bool | AdaptSchedule | Sequence[AdaptSchedule] = True,
        every: int = 5, until: int | None = 50,
        grid_schedule: Sequence[int] | Mapping[int, int] | None = None,
    ) -> GridEvents:
        """The events of ``fit(model, ..., steps, update_grid, grid_update_every=every,
        grid_update_until=until, grid_schedule=grid_schedule)``. Grids that do not adapt
        (DKAN's, or a model that is not a KAN) are never updated.

        Raises:
            InputError: a bad schedule, or a ``grid_schedule`` for a model that is not a KAN.
        """
        is_kan = isinstance(model, KAN)
        refine = RefineSchedule.from_grid_schedule(grid_schedule, steps)
        if refine and not is_kan:
            raise InputError("grid_schedule needs a kanlab.KAN model")
        adapt = adapt_schedules(update_grid, every, until)
        if not (is_kan and model.grid_strategy.adaptive):
            adapt = []
        return cls(refine, adapt)

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
