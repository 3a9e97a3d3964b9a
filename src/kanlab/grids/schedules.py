"""When ``fit`` adapts the grids: at fixed intervals, after a refinement, or on a loss plateau.

A schedule answers :meth:`AdaptSchedule.due` once per step, before the step, with what has
happened so far (:class:`ScheduleState`). ``fit(update_grid=...)`` takes one schedule or a list
(adapt when any is due); ``True`` means pykan's rule, ``EveryNSteps(5, until=50)`` before the
first refinement.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from kanlab._validation import check_positive_int
from kanlab.errors import InputError

__all__ = ["AdaptSchedule", "EveryNSteps", "OnPlateau", "OnRefine", "ScheduleState", "any_due"]


@dataclass
class ScheduleState:
    """What a schedule may look at before step ``step`` (0-based).

    Attributes:
        step: the step about to run.
        losses: training loss of every step run so far.
        refinements: how many grid refinements have happened so far.
        just_refined: a refinement happened right before this step.
    """

    step: int
    losses: Sequence[float]
    refinements: int = 0
    just_refined: bool = False


class AdaptSchedule:
    """Interface: :meth:`due` says whether to adapt the grids before this step."""

    def due(self, state: ScheduleState) -> bool:  # pragma: no cover - interface
        raise NotImplementedError

    def reset(self) -> None:
        """Forget any internal state (``fit`` calls it at the start of a run)."""


@dataclass
class EveryNSteps(AdaptSchedule):
    """Adapt at steps ``start, start + every, ...`` below ``until`` (the paper's way).

    Args:
        every: interval in steps.
        until: first step at which adaptation stops (None: never stops).
        start: first step.
        after_refine: keep adapting once the grid has been refined (pykan does not: an update
            on a refined grid undoes part of what the refinement gained).
    """

    every: int = 5
    until: int | None = 50
    start: int = 0
    after_refine: bool = False

    def __post_init__(self) -> None:
        check_positive_int("every", self.every)
        if self.until is not None and self.until < 0 or self.start < 0:
            raise InputError("until and start must be non-negative steps")

    def due(self, state: ScheduleState) -> bool:
        if self.until is not None and state.step >= self.until:
            return False
        if state.refinements and not self.after_refine:
            return False
        return state.step >= self.start and (state.step - self.start) % self.every == 0


@dataclass
class OnRefine(AdaptSchedule):
    """Adapt right after every grid refinement (and at step 0 if ``at_start``)."""

    at_start: bool = True

    def due(self, state: ScheduleState) -> bool:
        return state.just_refined or (self.at_start and state.step == 0)


@dataclass
class OnPlateau(AdaptSchedule):
    """Adapt when the training loss has stopped improving (the IDF paper's open question).

    The loss plateaus when ``patience`` steps pass without a loss below
    ``(1 − rel_tol)·best``. After an adaptation the best loss is forgotten and nothing happens
    for ``cooldown`` steps (default: ``patience``).

    Args:
        patience: steps without improvement.
        rel_tol: relative improvement that counts.
        cooldown: quiet steps after an adaptation.
        max_updates: stop after this many adaptations (None: no limit).
    """

    patience: int = 20
    rel_tol: float = 1e-3
    cooldown: int | None = None
    max_updates: int | None = None
    _best: float = field(default=math.inf, init=False, repr=False, compare=False)
    _since: int = field(default=0, init=False, repr=False, compare=False)
    _quiet_until: int = field(default=0, init=False, repr=False, compare=False)
    _count: int = field(default=0, init=False, repr=False, compare=False)
    _seen: int = field(default=0, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        check_positive_int("patience", self.patience)
        if not 0.0 <= self.rel_tol < 1.0:
            raise InputError(f"rel_tol must lie in [0, 1); got {self.rel_tol!r}")

    def reset(self) -> None:
        self._best, self._since, self._quiet_until, self._count, self._seen = math.inf, 0, 0, 0, 0

    def due(self, state: ScheduleState) -> bool:
        for loss in state.losses[self._seen :]:  # the steps run since the last call
            if loss < (1 - self.rel_tol) * self._best:
                self._best, self._since = loss, 0
            else:
                self._since += 1
        self._seen = len(state.losses)
        if state.just_refined:  # a new grid: judge it afresh
            self._best, self._since = math.inf, 0
        if self.max_updates is not None and self._count >= self.max_updates:
            return False
        if state.step < self._quiet_until or self._since < self.patience:
            return False
        self._count += 1
        self._best, self._since = math.inf, 0
        self._quiet_until = state.step + (self.patience if self.cooldown is None else self.cooldown)
        return True


def any_due(schedules: Sequence[AdaptSchedule], state: ScheduleState) -> bool:
    """True when any schedule is due (each is asked, so that all keep their state current)."""
    answers = [s.due(state) for s in schedules]
    return any(answers)
