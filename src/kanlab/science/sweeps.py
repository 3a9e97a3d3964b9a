"""Sweeps: train many KANs and MLPs on one dataset and fit the scaling law (paper §3.1).

A sweep is a list of runs -- :class:`KANRun` (a shape, a grid schedule and a seed) and
:class:`MLPRun` (widths, activation and a seed) -- trained on one
:class:`~kanlab.data.Dataset` by :func:`run_sweep`. Each run gives :class:`SweepPoint` rows:
a KAN one row per grid size of its schedule (its parameter count and RMSE at the end of that
stage: the curves of the paper's Figures 3.1 and D.1), an MLP one row.

Rows go to a JSON-lines file as each run finishes, so an interrupted sweep resumes where it
stopped: runs whose key is already in the file are not trained again.

With ``n_jobs > 1`` the runs train in worker processes started with ``spawn``, which import
the main script again; a script must therefore start the sweep under the guard (otherwise
:func:`run_sweep` raises an :class:`~kanlab.errors.InputError` that says so)::

    if __name__ == "__main__":
        points = run_sweep(data, runs, path="sweep.jsonl", n_jobs=2)

:func:`pareto_frontier` keeps the points no smaller model beats, and :func:`fit_scaling`
fits ``RMSE ≈ C · N^-α`` by least squares in log-log space.
"""

from __future__ import annotations

import ast
import json
import logging
import math
import os
import sys
import tokenize
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from kanlab._validation import check_positive_int
from kanlab.data import Dataset
from kanlab.errors import InputError
from kanlab.interpret.plot import figure_class
from kanlab.science.sweep_runs import KANRun, MLPRun, SweepPoint, groups_of, train_group

__all__ = [
    "KANRun",
    "MLPRun",
    "ScalingFit",
    "SweepPoint",
    "falling_part",
    "fit_scaling",
    "kan_runs",
    "load_points",
    "mlp_runs",
    "pareto_frontier",
    "plot_sweep",
    "run_sweep",
]

log = logging.getLogger(__name__)


def kan_runs(shapes: Iterable[Sequence[int]], *, grids: Sequence[int] = (3, 5, 10, 20, 50),
             steps_per_grid: int = 200, seeds: Iterable[int] = (0,),
             **model_options) -> list[KANRun]:
    """Every shape × seed as a :class:`KANRun` with one grid schedule."""
    seeds = list(seeds)
    options = tuple(sorted(model_options.items()))
    return [KANRun(tuple(int(w) for w in s), tuple(int(g) for g in grids), steps_per_grid, seed,
                   options) for s in shapes for seed in seeds]


def mlp_runs(n_in: int, n_out: int, *, depths: Iterable[int] = (2, 3, 4),
             widths: Iterable[int] = (10, 100), activation: str = "silu", steps: int = 1000,
             seeds: Iterable[int] = (0,)) -> list[MLPRun]:
    """Every depth × width × seed as an :class:`MLPRun`.

    ``depth`` counts linear layers (the paper's: depth 2 is one hidden layer), so depth ``d``
    and width ``w`` give widths ``(n_in, w, …, w, n_out)`` with ``d − 1`` hidden layers.
    """
    seeds, widths = list(seeds), list(widths)
    return [MLPRun((n_in, *([w] * (d - 1)), n_out), activation, steps, seed)
            for d in depths for w in widths for seed in seeds]


def load_points(path: str | os.PathLike) -> list[SweepPoint]:
    """Read the rows a sweep wrote to ``path`` (JSON lines); ``[]`` if there is no file."""
    path = Path(path)
    if not path.exists():
        return []
    points = []
    for line_no, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            points.append(SweepPoint(**json.loads(line)))
        except (json.JSONDecodeError, TypeError) as err:
            raise InputError(f"{path}, line {line_no}: not a sweep row ({err})") from None
    return points


def _append(path: Path | None, points: Sequence[SweepPoint]) -> None:
    if path is None:
        return
    text = "".join(json.dumps(asdict(p)) + "\n" for p in points)
    with path.open("a") as f:  # one write per run: a killed sweep leaves whole runs only
        f.write(text)


def _unguarded_main_line() -> tuple[str, int] | None:
    """The main script's path and the line where its module-level code, outside any
    ``if __name__ ...:``, made this call; None when guarded, not a script, or unknown.

    A worker started with ``spawn`` runs the main script again (as ``__mp_main__``): module-level
    code outside the guard would start the sweep again in every worker, and multiprocessing
    stops it there with a traceback while the parent sees only a broken pool.
    """
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    name = getattr(getattr(main, "__spec__", None), "name", None) or ""
    if path is None or name == "__main__" or name.endswith(".__main__"):
        return None  # an interactive session, ``-c`` or a package's __main__: not re-run
    frame = sys._getframe(1)
    while frame is not None and not (frame.f_globals is vars(main)
                                     and frame.f_code.co_name == "<module>"):
        frame = frame.f_back
    if frame is None:  # not called from the script's module-level code (a thread, ...)
        return None
    line = frame.f_lineno
    try:
        with tokenize.open(path) as f:
            tree = ast.parse(f.read())
    except (OSError, SyntaxError, ValueError):
        return None
    for node in ast.walk(tree):  # any `if` on __name__ around the line counts as a guard
        if (isinstance(node, ast.If) and node.lineno <= line <= (node.end_lineno or line)
                and any(isinstance(n, ast.Name) and n.id == "__name__"
                        for n in ast.walk(node.test))):
            return None
    return str(path), line


def _check_main_guard(n_jobs: int) -> None:
    where = _unguarded_main_line()
    if where is not None:
        raise InputError(
            f"run_sweep(n_jobs={n_jobs}) starts worker processes with 'spawn', which run the "
            f"main script again; {where[0]}, line {where[1]}, starts the sweep outside an "
            "`if __name__ == \"__main__\":` guard, so every worker would start it again. Put "
            "the code that runs the sweep under that guard, or use n_jobs=1"
        )


def run_sweep(
    data: Dataset,
    runs: Sequence[KANRun | MLPRun],
    *,
    path: str | os.PathLike | None = None,
    dtype: torch.dtype = torch.float64,
    n_jobs: int = 1,
    fit_options: Mapping[str, Any] | None = None,
    on_result: Callable[[list[SweepPoint]], None] | None = None,
    ensembles: bool = True,
) -> list[SweepPoint]:
    """Train every run on ``data`` and return all points, those of earlier sessions included.

    Args:
        data: the dataset every run trains and is tested on.
        runs: :class:`KANRun` and :class:`MLPRun` objects (see :func:`kan_runs`,
            :func:`mlp_runs`).
        path: a JSON-lines file: rows already there are kept and their runs skipped; new
            rows are appended as each run finishes. None keeps results in memory only.
        dtype: the models' dtype (the paper's toy fits are float64).
        n_jobs: runs trained at once, each in its own process with one thread. The
            processes start with ``spawn`` and import the main script again, so a script
            must call ``run_sweep`` under ``if __name__ == "__main__":`` (see the module's
            docstring).
        fit_options: further :func:`~kanlab.training.loop.fit` arguments for every run (e.g.
            ``opt``, ``lr``, ``update_grid``).
        on_result: called with each finished run's points (e.g. to log progress).
        ensembles: train the KAN runs that differ only in their seed side by side, as one
            :class:`~kanlab.nn.ensemble.Ensemble` (:mod:`~kanlab.science.sweep_runs`: each
            member's points are its lone run's; a member's wall time is its group's).

    Returns:
        The points of every run in ``runs``, in the order of ``runs``.

    Raises:
        InputError: the same run twice, a bad ``n_jobs``, or ``n_jobs > 1`` called from a
            script's module-level code outside an ``if __name__ == "__main__":`` guard.
    """
    keys = [r.key for r in runs]
    if len(set(keys)) != len(keys):
        raise InputError("runs contains the same run twice")
    check_positive_int("n_jobs", n_jobs)
    if n_jobs > 1:
        _check_main_guard(n_jobs)
    path = Path(path) if path is not None else None
    done: dict[str, list[SweepPoint]] = {}
    for p in load_points(path) if path is not None else []:
        done.setdefault(p.run, []).append(p)
    todo = [r for r in runs if r.key not in done]
    if len(todo) < len(runs):
        log.info("resuming: %d of %d runs already in %s", len(runs) - len(todo), len(runs), path)
    fit_options = dict(fit_options or {})

    def finish(points: list[SweepPoint]) -> None:
        done[points[0].run] = points
        _append(path, points)
        if on_result is not None:
            on_result(points)

    groups = groups_of(todo) if ensembles else [[run] for run in todo]
    if n_jobs == 1 or len(groups) <= 1:
        for group in groups:
            for points in train_group(group, data, dtype, fit_options, None):
                finish(points)
    else:
        import concurrent.futures as cf
        import multiprocessing

        context = multiprocessing.get_context("spawn")  # no fork of a threaded parent
        with cf.ProcessPoolExecutor(n_jobs, mp_context=context) as pool:
            futures = [pool.submit(train_group, group, data, dtype, fit_options, 1)
                       for group in groups]
            for future in cf.as_completed(futures):
                for points in future.result():
                    finish(points)
    return [p for r in runs for p in done[r.key]]


def pareto_frontier(points: Iterable[SweepPoint], *, metric: str = "test_rmse"
                    ) -> list[SweepPoint]:
    """The points no model with as few or fewer parameters beats, by increasing size.

    A point is on the frontier when its ``metric`` is strictly below that of every point
    with fewer parameters (ties in size: the best one). Non-finite errors are ignored.
    """
    finite = [p for p in points if math.isfinite(getattr(p, metric))]
    finite.sort(key=lambda p: (p.n_params, getattr(p, metric)))
    frontier: list[SweepPoint] = []
    best = math.inf
    for p in finite:
        value = getattr(p, metric)
        if value < best:
            frontier.append(p)
            best = value
    return frontier


@dataclass(frozen=True)
class ScalingFit:
    """``rmse ≈ scale · n_params^-alpha``, fitted by least squares on the logs.

    Attributes:
        alpha: the scaling exponent (positive: the error falls with size).
        scale: the constant ``C``.
        r2: coefficient of determination of the log-log fit.
        n_points: points used.
        n_range: smallest and largest parameter count used.
    """

    alpha: float
    scale: float
    r2: float
    n_points: int
    n_range: tuple[int, int] = field(default=(0, 0))

    def predict(self, n_params: float) -> float:
        return self.scale * n_params ** -self.alpha


def fit_scaling(n_params: Sequence[float], rmse: Sequence[float]) -> ScalingFit:
    """Fit ``rmse ≈ C · N^-α`` by ordinary least squares of ``log rmse`` on ``log N``.

    Args:
        n_params: parameter counts ``N`` (positive).
        rmse: errors (positive, finite), one per count.

    Raises:
        InputError: fewer than two points, counts all equal, or a non-positive value.
    """
    n = [float(v) for v in n_params]
    e = [float(v) for v in rmse]
    if len(n) != len(e):
        raise InputError(f"n_params has {len(n)} entries but rmse has {len(e)}")
    if len(n) < 2:
        raise InputError(f"fit_scaling needs at least 2 points; got {len(n)}")
    if any(not (v > 0 and math.isfinite(v)) for v in n + e):
        raise InputError("fit_scaling needs positive finite parameter counts and errors")
    x = torch.tensor(n, dtype=torch.float64).log()
    y = torch.tensor(e, dtype=torch.float64).log()
    xc, yc = x - x.mean(), y - y.mean()
    sxx = float(xc @ xc)
    if sxx == 0:
        raise InputError("fit_scaling needs at least two different parameter counts")
    slope = float(xc @ yc) / sxx
    intercept = float(y.mean()) - slope * float(x.mean())
    residual = yc - slope * xc
    syy = float(yc @ yc)
    r2 = 1.0 - float(residual @ residual) / syy if syy > 0 else 1.0
    return ScalingFit(-slope, math.exp(intercept), r2, len(n), (int(min(n)), int(max(n))))


def falling_part(points: Sequence[SweepPoint]) -> list[SweepPoint]:
    """A KAN run's points up to its best test RMSE (the part before the error plateaus).

    The scaling law describes how the error falls with the grid until it meets a floor
    (too few samples for the grid, or float64 round-off); fitting past the best point
    would mix the floor into the exponent.
    """
    ordered = sorted((p for p in points if math.isfinite(p.test_rmse)), key=lambda p: p.n_params)
    if not ordered:
        return []
    best = min(range(len(ordered)), key=lambda i: ordered[i].test_rmse)
    return ordered[: best + 1]


def plot_sweep(points: Sequence[SweepPoint], *, title: str | None = None,
               fits: Mapping[str, ScalingFit] | None = None, ax=None):
    """Test RMSE against parameter count: one line per KAN run, MLPs as points, frontiers.

    Args:
        points: sweep points (KAN and MLP).
        title: the axes' title.
        fits: labelled scaling fits drawn as dashed lines over their ranges.
        ax: matplotlib axes to draw on; None makes a new figure.

    Returns:
        The matplotlib ``Figure``.
    """
    Figure = figure_class()
    if ax is None:
        fig = Figure(figsize=(5.0, 4.0), layout="constrained")
        ax = fig.add_subplot()
    else:
        fig = ax.figure
    by_run: dict[str, list[SweepPoint]] = {}
    for p in points:
        if math.isfinite(p.test_rmse):
            by_run.setdefault(p.run, []).append(p)
    shapes_seen: set[str] = set()
    for run_points in by_run.values():
        p0 = run_points[0]
        if p0.family != "kan":
            continue
        ordered = sorted(run_points, key=lambda p: p.n_params)
        label = f"KAN {p0.shape}" if p0.shape not in shapes_seen else None
        shapes_seen.add(p0.shape)
        ax.plot([p.n_params for p in ordered], [p.test_rmse for p in ordered], "o-",
                ms=3, lw=1, label=label)
    mlp = [p for p in points if p.family == "mlp" and math.isfinite(p.test_rmse)]
    if mlp:
        ax.plot([p.n_params for p in mlp], [p.test_rmse for p in mlp], "s", color="0.5",
                ms=3, label="MLP")
        front = pareto_frontier(mlp)
        ax.plot([p.n_params for p in front], [p.test_rmse for p in front], "-", color="0.5",
                lw=1)
    for label, f in (fits or {}).items():
        lo, hi = f.n_range
        ax.plot([lo, hi], [f.predict(lo), f.predict(hi)], "--", lw=1,
                label=f"{label}: α = {f.alpha:.2f}")
    ax.set(xscale="log", yscale="log", xlabel="parameters", ylabel="test RMSE", title=title)
    ax.legend(fontsize=7)
    return fig
