"""When fit adapts the grids: interval, refinement and plateau schedules."""

import pytest
import torch

import kanlab
from kanlab import InputError
from kanlab.grids.schedules import (
    EveryNSteps,
    OnPlateau,
    OnRefine,
    RefineSchedule,
    ScheduleState,
    adapt_schedules,
    grid_schedule_steps,
)


def _due_steps(schedule, losses, refine_steps=()):
    schedule.reset()
    due, refinements = [], 0
    for step in range(len(losses)):
        just = step in refine_steps
        refinements += just
        if schedule.due(ScheduleState(step, losses[:step], refinements, just)):
            due.append(step)
    return due


def test_every_n_steps():
    flat = [1.0] * 30
    assert _due_steps(EveryNSteps(5, until=20), flat) == [0, 5, 10, 15]
    assert _due_steps(EveryNSteps(4, until=None, start=2), flat)[:3] == [2, 6, 10]
    # pykan's rule stops at the first refinement; after_refine keeps going
    assert _due_steps(EveryNSteps(5, until=None), flat, refine_steps={12}) == [0, 5, 10]
    assert _due_steps(EveryNSteps(5, until=None, after_refine=True), flat, {12})[-1] == 25


def test_on_refine():
    assert _due_steps(OnRefine(), [1.0] * 10, refine_steps={3, 7}) == [0, 3, 7]
    assert _due_steps(OnRefine(at_start=False), [1.0] * 10, refine_steps={3}) == [3]


def test_on_plateau_fires_after_patience_then_waits_for_the_cooldown():
    losses = [1.0 / (s + 1) for s in range(10)] + [0.1] * 30  # improving, then flat
    due = _due_steps(OnPlateau(patience=5, rel_tol=1e-3, cooldown=8), losses)
    assert due[0] == 15  # 5 flat steps after step 9's 0.1 (and the first flat one)
    assert all(b - a >= 8 for a, b in zip(due, due[1:]))
    assert _due_steps(OnPlateau(patience=5, max_updates=1), losses) == [due[0]]
    # a steadily improving loss never plateaus
    assert _due_steps(OnPlateau(patience=3), [0.9**s for s in range(40)]) == []


def test_bad_schedule_settings():
    with pytest.raises(InputError):
        EveryNSteps(0)
    with pytest.raises(InputError, match="rel_tol"):
        OnPlateau(rel_tol=1.5)


def test_refine_schedule():
    schedule = RefineSchedule.from_grid_schedule([3, 5, 10], steps=600)
    assert schedule.pairs == grid_schedule_steps([3, 5, 10], 600) == [(0, 3), (200, 5), (400, 10)]
    assert [schedule.size_at(s) for s in (0, 1, 199, 200, 400, 599)] == [3, None, None, 5, 10,
                                                                          None]
    assert schedule and not RefineSchedule() and not RefineSchedule.from_grid_schedule(None, 5)
    # more sizes than steps: a later size for the same step wins
    crowded = RefineSchedule.from_grid_schedule([3, 5, 10], steps=2)
    assert crowded.pairs == [(0, 3), (1, 5), (1, 10)] and crowded.size_at(1) == 10
    with pytest.raises(InputError, match="grid size"):
        RefineSchedule.from_grid_schedule({0: 0}, 10)


def test_adapt_schedules_normalises_fits_update_grid():
    assert adapt_schedules(True, 3, 30) == [EveryNSteps(3, until=30, after_refine=False)]
    assert adapt_schedules(False) == [] and adapt_schedules(None) == []
    on_refine = OnRefine()
    assert adapt_schedules(on_refine)[0] is on_refine
    assert adapt_schedules([on_refine, EveryNSteps(2)]) == [on_refine, EveryNSteps(2)]
    with pytest.raises(InputError, match="got int"):
        adapt_schedules([on_refine, 5])


def _data():
    return kanlab.data.make_dataset(lambda x: torch.sin(3 * x[:, :1]) * x[:, 1:], n_var=2,
                                    n_train=200, n_test=50, dtype=torch.float64)


def _update_steps(history):  # updates tried, kept or undone by the strategy's guard
    return [s for s, e in history.events if e in ("update grid", "grid update undone by the guard")]


def test_fit_adapts_when_its_schedules_say():
    model = kanlab.KAN([2, 3, 1], grid_size=3, seed=0, dtype=torch.float64, grid="curvature")
    hist = kanlab.fit(model, _data(), opt="adam", steps=9, grid_schedule={0: 3, 4: 6},
                      update_grid=OnRefine(), progress=False)
    assert _update_steps(hist) == [0, 4]
    model = kanlab.KAN([2, 3, 1], grid_size=3, seed=0, dtype=torch.float64)
    every = EveryNSteps(3, until=None, after_refine=True)
    hist = kanlab.fit(model, _data(), opt="adam", steps=9, grid_schedule={0: 3, 4: 6},
                      update_grid=[every, OnRefine(at_start=False)], progress=False)
    assert _update_steps(hist) == [0, 3, 4, 6]
    with pytest.raises(InputError, match="update_grid"):
        kanlab.fit(model, _data(), steps=1, update_grid="often", progress=False)
