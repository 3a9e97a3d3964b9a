"""When ``fit`` moves the grids: refinements at fixed steps, and adaptations at fixed intervals,
after a refinement, or on a loss plateau.

- :class:`RefineSchedule`: ``fit(grid_schedule=...)``, the grid sizes to refine to and when
  (paper §2.4); :func:`grid_schedule_steps` normalises what the user wrote.
- :class:`AdaptSchedule`: answers :meth:`AdaptSchedule.due` once per step, before the step, with
  what has happened so far (:class:`ScheduleState`). ``fit(update_grid=...)`` takes one schedule
  or a list (adapt when any is due); ``True`` means pykan's rule, ``EveryNSteps(5, until=50)``
  before the first refinement (:func:`adapt_schedules`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from kanlab._validation import check_positive_int
from kanlab.errors import InputError

__all__ = [
    "AdaptSchedule",
    "EveryNSteps",
    "OnPlateau",
    "OnRefine",
    "RefineSchedule",
    "ScheduleState",
    "adapt_schedules",
    "any_due",
    "grid_schedule_steps",
]


def grid_schedule_steps(
    schedule: Sequence[int] | Mapping[int, int] | None, steps: int
) -> list[tuple[int, int]]:
    """Normalise a grid schedule to sorted ``(step, grid_size)`` pairs.

    A mapping gives the steps explicitly; a list of sizes splits ``steps`` evenly, so
    ``[3, 5, 10]`` with ``steps=600`` refines to 3, 5 and 10 at steps 0, 200 and 400.

    Raises:
        InputError: a size that is not a positive integer, or a step outside ``[0, steps)``.
    """
    if schedule is None:
        return []
    if isinstance(schedule, Mapping):
        pairs = sorted((int(s), int(g)) for s, g in schedule.items())
    else:
        sizes = list(schedule)
        if not sizes:
            return []
        pairs = [(round(i * steps / len(sizes)), int(g)) for i, g in enumerate(sizes)]
    for s, g in pairs:
        check_positive_int("grid size in grid_schedule", g)
        if not 0 <= s < max(steps, 1):
            raise InputError(f"grid_schedule step {s} lies outside the run's steps [0, {steps})")
    return pairs


class RefineSchedule:
    """Refine the grids to ``size`` before ``step``, for every ``(step, size)`` pair.

    Args:
        pairs: ``(step, grid_size)`` pairs (:func:`grid_schedule_steps` makes them from
            ``fit``'s ``grid_schedule``); a later pair for the same step wins.

    Example::

        >>> schedule = RefineSchedule.from_grid_schedule([3, 5, 10], steps=600)
        >>> schedule.size_at(200), schedule.size_at(201)
        (5, None)
    """

    def __init__(self, pairs: Sequence[tuple[int, int]] = ()) -> None:
        self.pairs = [(int(s), int(g)) for s, g in pairs]
        self._size_at = dict(self.pairs)

    @classmethod
    def from_grid_schedule(
        cls, schedule: Sequence[int] | Mapping[int, int] | None, steps: int
    ) -> RefineSchedule:
        """The schedule of ``fit(grid_schedule=schedule, steps=steps)``."""
        return cls(grid_schedule_steps(schedule, steps))

    def size_at(self, step: int) -> int | None:
        """The grid size to refine to before ``step`` (0-based), or None."""
        return self._size_at.get(step)

    def __bool__(self) -> bool:
        return bool(self._size_at)

    def __repr__(self) -> str:
        return f"RefineSchedule({self.pairs!r})"


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


def adapt_schedules(
    update_grid: bool | AdaptSchedule | Sequence[AdaptSchedule] | None,
    every: int = 5,
    until: int | None = 50,
) -> list[AdaptSchedule]:
    """The schedules of ``fit(update_grid=...)``: ``True`` is ``EveryNSteps(every, until)``
    before the first refinement, ``False`` (or None) none, else the schedule or list given.

    Raises:
        InputError: an item that is not an :class:`AdaptSchedule`.
    """
    if update_grid is True:
        return [EveryNSteps(every=every, until=until, after_refine=False)]
    if update_grid is False or update_grid is None:
        return []
    items = [update_grid] if isinstance(update_grid, AdaptSchedule) else list(update_grid)
    for item in items:
        if not isinstance(item, AdaptSchedule):
            raise InputError(
                "update_grid must be True, False, a kanlab.grids.schedules schedule or a list of "
                f"them; got {type(item).__name__}"
            )
    return items
