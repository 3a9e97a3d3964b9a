"""The runs of a sweep (:mod:`~kanlab.science.sweeps`) and their training: a KAN through its grid
schedule, an MLP, and the KAN runs that differ only in their seed trained side by side as one
:class:`~kanlab.nn.ensemble.Ensemble` (each member as its lone run, to the bit where the
compiled kernel runs; only the wall times differ: a member's is the group's).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from kanlab.data import Dataset
from kanlab.errors import InputError
from kanlab.nn.ensemble import Ensemble
from kanlab.nn.mlp import MLP, n_parameters
from kanlab.nn.model import KAN
from kanlab.training.loop import History, fit

__all__ = ["KANRun", "MLPRun", "SweepPoint", "groups_of", "train_group"]

log = logging.getLogger("kanlab.science.sweeps")


def _shape(widths: Sequence[int]) -> str:
    return "[" + ",".join(str(int(w)) for w in widths) + "]"


@dataclass(frozen=True)
class KANRun:
    """One KAN of the sweep, trained through a grid schedule (paper §2.4 grid extension).

    Attributes:
        widths: the shape, e.g. ``(2, 1, 1)``.
        grids: grid sizes in order; each gets ``steps_per_grid`` optimiser steps.
        steps_per_grid: steps per grid size (the paper: 200 LBFGS steps).
        seed: the model's initialisation seed.
        model_options: further :class:`~kanlab.nn.model.KAN` keyword arguments, as pairs.
    """

    widths: tuple[int, ...]
    grids: tuple[int, ...] = (3, 5, 10, 20, 50)
    steps_per_grid: int = 200
    seed: int = 0
    model_options: tuple[tuple[str, Any], ...] = ()

    @property
    def key(self) -> str:
        """A string naming the run uniquely within a sweep (the resume key)."""
        grids = "-".join(map(str, self.grids))
        extra = "".join(f",{k}={v}" for k, v in self.model_options)
        return f"kan{_shape(self.widths)}g{grids}x{self.steps_per_grid}s{self.seed}{extra}"


@dataclass(frozen=True)
class MLPRun:
    """One MLP of the sweep.

    Attributes:
        widths: node counts from inputs to outputs, e.g. ``(2, 20, 20, 1)``.
        activation: see :class:`~kanlab.nn.mlp.MLP`.
        steps: optimiser steps.
        seed: the model's initialisation seed.
    """

    widths: tuple[int, ...]
    activation: str = "silu"
    steps: int = 1000
    seed: int = 0

    @property
    def key(self) -> str:
        return f"mlp{_shape(self.widths)}{self.activation}x{self.steps}s{self.seed}"


@dataclass
class SweepPoint:
    """One point of a sweep: a model's size and errors.

    Attributes:
        run: the run's key.
        family: ``"kan"`` or ``"mlp"``.
        shape: the widths, e.g. ``"[2,5,1]"``.
        seed: the run's seed.
        grid_size: the KAN's grid size for this point (None for an MLP).
        n_params: trainable parameters (:func:`~kanlab.nn.mlp.n_parameters`).
        train_rmse, test_rmse: RMSE on the whole train and test sets at the end of the stage.
        steps: optimiser steps taken up to this point.
        wall_time: seconds of training up to this point.
    """

    run: str
    family: str
    shape: str
    seed: int
    grid_size: int | None
    n_params: int
    train_rmse: float
    test_rmse: float
    steps: int
    wall_time: float


def _kan(run: KANRun, dtype: torch.dtype, grid_size: int | None = None) -> KAN:
    return KAN(list(run.widths), grid_size=grid_size or run.grids[0], seed=run.seed,
               dtype=dtype, **dict(run.model_options))


def _train_kan(run: KANRun, data: Dataset, dtype: torch.dtype,
               fit_options: Mapping[str, Any]) -> list[SweepPoint]:
    model = _kan(run, dtype)
    steps = run.steps_per_grid * len(run.grids)
    history = fit(model, data, steps=steps, grid_schedule=list(run.grids),
                  **{"progress": False, **fit_options})
    return _kan_points(run, history, dtype)


def _kan_points(run: KANRun, history: History, dtype: torch.dtype) -> list[SweepPoint]:
    """A KAN run's points: the last record of each grid stage."""
    size_of = {g: n_parameters(_kan(run, dtype, g)) for g in run.grids}
    points, last = [], {}
    for step, grid, train, test, wall in zip(history.step, history.grid_size,
                                             history.train_rmse, history.test_rmse,
                                             history.wall_time):
        last[grid[0]] = (step, train, test, wall)
    for grid, (step, train, test, wall) in last.items():
        points.append(SweepPoint(run.key, "kan", _shape(run.widths), run.seed, grid,
                                 size_of[grid], train, test, step, wall))
    return points


def _train_mlp(run: MLPRun, data: Dataset, dtype: torch.dtype,
               fit_options: Mapping[str, Any]) -> list[SweepPoint]:
    model = MLP(list(run.widths), activation=run.activation, seed=run.seed, dtype=dtype)
    history = fit(model, data, steps=run.steps, **{"progress": False, **fit_options})
    return [SweepPoint(run.key, "mlp", _shape(run.widths), run.seed, None, n_parameters(model),
                       history.train_rmse[-1], history.test_rmse[-1], history.step[-1],
                       history.wall_time[-1])]


def groups_of(runs: Sequence[KANRun | MLPRun]) -> list[list[KANRun | MLPRun]]:
    """The runs in groups trained together: KAN runs that differ only in their seed (in the
    order of their first run), every other run alone."""
    groups: dict[Any, list[KANRun | MLPRun]] = {}
    for run in runs:
        key = (run.widths, run.grids, run.steps_per_grid, run.model_options) \
            if isinstance(run, KANRun) else run.key
        groups.setdefault(key, []).append(run)
    return list(groups.values())


def train_group(runs: Sequence[KANRun | MLPRun], data: Dataset, dtype: torch.dtype,
                fit_options: Mapping[str, Any], threads: int | None) -> list[list[SweepPoint]]:
    """Every run's points: a group of KAN runs (:func:`groups_of`) as one ensemble, or each
    run alone (one run, an MLP, a KAN the ensemble cannot stack, or a diverged ensemble)."""
    if threads is not None:  # a worker process of our own pool
        torch.set_num_threads(threads)
    if len(runs) > 1:
        start = time.perf_counter()
        try:
            ensemble = Ensemble.stack([_kan(run, dtype) for run in runs])
            first = runs[0]
            histories = fit(ensemble, data, steps=first.steps_per_grid * len(first.grids),
                            grid_schedule=list(first.grids),
                            **{"progress": False, **fit_options})
            return [_kan_points(run, histories[e], dtype) for e, run in enumerate(runs)]
        except (InputError, FloatingPointError) as err:  # alone, as before
            log.info("runs %s apart (%s; %.1f s)", runs[0].key, err, time.perf_counter() - start)
    return [_train(run, data, dtype, fit_options, None) for run in runs]


def _train(run: KANRun | MLPRun, data: Dataset, dtype: torch.dtype,
           fit_options: Mapping[str, Any], threads: int | None) -> list[SweepPoint]:
    if threads is not None:  # a worker process of our own pool
        torch.set_num_threads(threads)
    start = time.perf_counter()
    train = _train_kan if isinstance(run, KANRun) else _train_mlp
    try:
        points = train(run, data, dtype, fit_options)
    except FloatingPointError as err:  # a diverged run is a result, not a crash
        log.warning("run %s diverged: %s", run.key, err)
        family = "kan" if isinstance(run, KANRun) else "mlp"
        points = [SweepPoint(run.key, family, _shape(run.widths), run.seed, None, 0,
                             math.nan, math.nan, 0, time.perf_counter() - start)]
    return points


