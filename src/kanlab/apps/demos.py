"""The demos: grid extension on the KAN paper's toy function, and its §2.5.2 story end to end
(sparsify, prune, snap to symbols, read the formula).

Both are configurations of the one pipeline (:func:`~kanlab.apps.pipeline.run_pipeline`).
``kanlab demo`` runs :func:`grid_extension`; ``kanlab demo symbolic`` runs
:func:`symbolic_stories` (the story for several seeds, trained side by side as an ensemble).
Nothing here prints; the command line does.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from kanlab._modes import evaluating
from kanlab.apps.pipeline import (
    PipelineOptions,
    PipelineResult,
    build_model,
    finish_pipeline,
    run_pipeline,
    simplify,
    standardized,
    train_grid_updates,
)
from kanlab.data import Dataset, make_toy_dataset
from kanlab.nn.ensemble import Ensemble
from kanlab.nn.model import KAN
from kanlab.training.loop import fit

__all__ = ["STORY_LIBRARY", "StoryResult", "grid_extension", "simplify", "symbolic_stories",
           "symbolic_story"]

log = logging.getLogger(__name__)

#: the library of pykan's hellokan tutorial
STORY_LIBRARY = ("x", "x^2", "x^3", "x^4", "exp", "log", "sqrt", "tanh", "sin", "abs")
#: the KAN shapes of ``kanlab demo``
GRID_EXTENSION_WIDTHS = ([2, 1, 1], [2, 5, 1])


def toy_data() -> Dataset:
    """The demos' data: ``exp(sin(πx) + y²)``, 1000 train / 1000 test points (seed 0),
    float64."""
    return make_toy_dataset("exp_sin_sq", n_train=1000, n_test=1000, seed=0, dtype=torch.float64)


def grid_extension(grids: Sequence[int], steps_per_grid: int, *, seed: int = 0,
                   progress: bool = True) -> dict[str, tuple[dict[int, dict[str, float]], float]]:
    """The KAN paper's Figure 2.3: a [2, 1, 1] and a [2, 5, 1] KAN trained on :func:`toy_data`
    with LBFGS in float64, the grid refined through ``grids`` every ``steps_per_grid`` steps.

    Returns:
        By KAN shape (``"[2, 1, 1]"``), the final train and test RMSE at each grid size
        (:meth:`History.final_by_grid <kanlab.training.loop.History.final_by_grid>`) and the
        seconds it took.
    """
    data = toy_data()
    out = {}
    for widths in GRID_EXTENSION_WIDTHS:
        t0 = time.perf_counter()
        options = PipelineOptions(widths=widths, grids=tuple(grids),
                                  steps=steps_per_grid * len(grids), update_grid=True, seed=seed,
                                  fit_options={"opt": "lbfgs", "progress": progress})
        run = run_pipeline(data, options)
        out[str(widths)] = (run.histories["train"].final_by_grid(), time.perf_counter() - t0)
    return out


@dataclass
class StoryResult:
    """What one run of the story gave.

    Attributes:
        seed: the model seed.
        pruned_widths: the widths after pruning (before :func:`simplify`).
        widths: the final widths.
        suggestions: ``{(l, i, j): [(name, r2), ...]}`` before auto-symbolic.
        chosen: ``{(l, i, j): name}`` that auto-symbolic fixed.
        formula: the sympy expression of the output (None if some edge stayed numeric).
        formula_test_rmse: the formula's RMSE on the test set.
        seconds: wall time of the whole story.
        stage_rmse: test RMSE of the model after each stage.
    """

    seed: int
    pruned_widths: list[int]
    widths: list[int]
    suggestions: dict[tuple[int, int, int], list[tuple[str, float]]]
    chosen: dict[tuple[int, int, int], str]
    formula: Any
    formula_test_rmse: float
    seconds: float
    stage_rmse: dict[str, float] = field(default_factory=dict)

    @property
    def recovered(self) -> bool:
        """The formula matches the test labels to float64 round-off (RMSE below 1e-6)."""
        return self.formula_test_rmse < 1e-6


def _rmse(model: KAN, data: Dataset) -> float:
    with evaluating(model), torch.no_grad():
        return float((model(data.test_input) - data.test_label).pow(2).mean().sqrt())


def symbolic_story(
    seed: int = 0,
    *,
    data: Dataset | None = None,
    widths: Sequence[int] = (2, 5, 1),
    var_names: Sequence[str] | None = None,
    lamb: float = 0.03,
    steps: int = 50,
    lib: tuple[str, ...] = STORY_LIBRARY,
    max_iter: int = 10,
    plot_dir: str | Path | None = None,
    report: Callable[[str], None] | None = None,
) -> StoryResult:
    """Train a KAN (default [2, 5, 1] on ``exp(sin(πx) + y²)``) and recover the formula.

    1. ``steps`` LBFGS steps with sparsification ``lamb`` (paper eq. 2.20);
    2. prune (nodes, then edges), and ``steps`` more steps without it; then, while a hidden
       layer has more than one node, try without its weakest node (:func:`simplify`), and
       ``steps`` more steps if one went;
    3. suggest functions for every edge, then auto-symbolic on ``lib``;
    4. ``steps`` steps on the symbolic edges' affine parameters;
    5. the formula, and its RMSE on the test set.

    Args:
        seed: model seed (the data seed is 0).
        data: the dataset (default: 1000 train / 1000 test points in float64).
        widths: the KAN before pruning.
        var_names: the inputs' names in the formula (default ``x, y`` for two inputs, else
            ``x_1, x_2, ...``).
        lamb: sparsification weight.
        steps: LBFGS steps per training stage.
        max_iter: LBFGS iterations per step (pykan: 20; 10 recovers the formula as often, in
            half the time).
        lib: the function library for auto-symbolic.
        plot_dir: where to save the network before and after (needs matplotlib); None: none.
        report: called with lines of text to show (e.g. ``print``); None: logged at INFO.
    """
    say = report or log.info
    start = time.perf_counter()
    data = toy_data() if data is None else data
    options = _story_options(seed, widths, lamb, steps, lib, max_iter)
    watch = _StoryWatch(data, seed, lib, plot_dir, say)
    run = run_pipeline(data, options, on_stage=watch, say=say)
    return _story_result(run, watch, data, var_names, say, time.perf_counter() - start)


def symbolic_stories(
    seeds: Sequence[int],
    *,
    data: Dataset | None = None,
    widths: Sequence[int] = (2, 5, 1),
    var_names: Sequence[str] | None = None,
    lamb: float = 0.03,
    steps: int = 50,
    lib: tuple[str, ...] = STORY_LIBRARY,
    max_iter: int = 10,
    plot_dir: str | Path | None = None,
    report: Callable[[str], None] | None = None,
) -> list[StoryResult]:
    """:func:`symbolic_story` for every seed, the sparsified training (step 1, most of the
    story's time) of all seeds side by side as one :class:`~kanlab.nn.ensemble.Ensemble`;
    then each member goes on alone through pruning, retraining and snapping
    (:func:`~kanlab.apps.pipeline.finish_pipeline`). ``report``, ``plot_dir`` and the
    suggestions before auto-symbolic (``StoryResult.suggestions``; ``{}`` for the others) are
    for the first seed; a result's ``seconds`` is its own stages plus its share of the
    training.
    """
    say = report or log.info
    start = time.perf_counter()
    data = toy_data() if data is None else data
    options = [_story_options(seed, widths, lamb, steps, lib, max_iter) for seed in seeds]
    first = options[0]
    scaling, trained = standardized(data, first)
    ensemble = Ensemble.stack([build_model(o) for o in options])
    history = fit(ensemble, trained, steps=first.steps, grid_schedule=first.schedule(),
                  update_grid=train_grid_updates(trained, first), lamb=first.lamb,
                  **first.fit_options)
    runs, watches = [], []
    for e, seed in enumerate(seeds):  # prune each member; its own widths
        run = PipelineResult(ensemble.member(e), scaling, trained)
        run.model.record(trained.train_input)  # (as a lone fit records its inputs)
        run.histories["train"] = history[e]
        watch = _StoryWatch(data, seed, lib, plot_dir if e == 0 else None,
                            say if e == 0 else log.info, suggest=e == 0)
        run.widths_trained = list(run.model.widths)
        watch("train", run)
        run.model = run.model.prune()
        run.pruned_widths = list(run.model.widths)
        watch("prune", run)
        runs.append(run)
        watches.append(watch)
    _retrain_together(runs, first, watches)
    share = (time.perf_counter() - start) / len(options)
    results = []
    for run, o, watch in zip(runs, options, watches):  # simplify and snap, one by one
        own = time.perf_counter()
        finish_pipeline(run, o, on_stage=watch, say=watch.say, retrained=True)
        results.append(_story_result(run, watch, data, var_names, watch.say,
                                     share + time.perf_counter() - own))
    return results


def _retrain_together(runs: list[PipelineResult], options: PipelineOptions,
                      watches: list[_StoryWatch]) -> None:
    """The ``"retrain"`` stage of pruned members: those of the same widths side by side (an
    ensemble; without regularisation each member's steps are a lone retrain's to the bit)."""
    groups: dict[str, list[int]] = {}
    for e, run in enumerate(runs):
        groups.setdefault(repr(run.model.config), []).append(e)
    for members in groups.values():
        ensemble = Ensemble.stack([runs[e].model for e in members])
        histories = fit(ensemble, runs[0].data, steps=options.retrain_steps,
                        update_grid=options.retrain_update_grid, **options.fit_options)
        for i, e in enumerate(members):
            runs[e].model = ensemble.member(i)
            runs[e].model.record(runs[e].data.train_input)
            runs[e].histories["retrain"] = histories[i]
            watches[e]("retrain", runs[e])


def _story_options(seed: int, widths: Sequence[int], lamb: float, steps: int,
                   lib: Sequence[str], max_iter: int) -> PipelineOptions:
    return PipelineOptions(
        widths=tuple(widths), grids=5, steps=steps, lamb=lamb, update_grid=True, prune=True,
        retrain_steps=steps, retrain_update_grid=True, simplify=True, symbolic=True,
        symbolic_lib=tuple(lib), r2_threshold=0.0,
        polish_until_loss=1e-28,  # exact formulas converge in a few steps: stop at round-off
        seed=seed, dtype=torch.float64,
        fit_options={"optimizer_options": {"max_iter": max_iter}, "progress": False},
    )


def _story_result(run: PipelineResult, watch: _StoryWatch, data: Dataset,
                  var_names: Sequence[str] | None, say: Callable[[str], None],
                  seconds: float) -> StoryResult:
    formula, rmse = _formula(run.model, data, var_names, say)
    chosen = {edge: f.name for edge, f in run.symbolic_fits.items()}
    return StoryResult(watch.seed, run.pruned_widths, list(run.model.widths), watch.suggestions,
                       chosen, formula, rmse, seconds, watch.stage_rmse)


class _StoryWatch:
    """What the story does between the pipeline's stages: the test RMSE after each, the plots
    of the trained and the symbolic network, the lines it reports, the suggestions."""

    NAMES = {"train": "sparse", "prune": "pruned", "retrain": "retrained",
             "simplify": "simplified", "symbolic": "symbolic"}

    def __init__(self, data: Dataset, seed: int, lib: Sequence[str],
                 plot_dir: str | Path | None, say: Callable[[str], None],
                 suggest: bool = True) -> None:
        self.data, self.seed, self.lib, self.plot_dir, self.say = data, seed, lib, plot_dir, say
        self.suggest = suggest
        self.stage_rmse: dict[str, float] = {}
        self.suggestions: dict[tuple[int, int, int], list[tuple[str, float]]] = {}

    def __call__(self, stage: str, run: PipelineResult) -> None:
        model, rmse = run.model, self.stage_rmse
        rmse[self.NAMES[stage]] = _rmse(model, self.data)
        if stage in ("train", "symbolic") and self.plot_dir is not None:
            Path(self.plot_dir).mkdir(parents=True, exist_ok=True)
            name = "trained" if stage == "train" else "symbolic"
            model.plot(self.data.train_input,
                       path=Path(self.plot_dir) / f"seed{self.seed}_{name}.png")
        if stage == "retrain":
            self.say(f"seed {self.seed}: pruned to {run.pruned_widths}; test RMSE sparse "
                     f"{rmse['sparse']:.2e}, pruned {rmse['pruned']:.2e}, retrained "
                     f"{rmse['retrained']:.2e}")
        if stage == "simplify" and self.suggest:
            self._suggest(model)

    def _suggest(self, model: KAN) -> None:
        for l, layer in enumerate(model.layers):
            for j, i in (layer.mask > 0).nonzero().tolist():
                ranked = model.suggest_symbolic(l, i, j, lib=list(self.lib), topk=3)
                self.suggestions[(l, i, j)] = [(f.name, f.r2) for f in ranked]
                shown = ", ".join(f"{f.name} (r2 {f.r2:.6f})" for f in ranked)
                self.say(f"  edge {(l, i, j)}: {shown}")


def _formula(model: KAN, data: Dataset, var_names: Sequence[str] | None,
             say: Callable[[str], None]) -> tuple[Any, float]:
    """The model's formula and its test RMSE; ``(None, inf)`` if an edge stayed numeric."""
    try:
        from kanlab.symbolic.formula import formula_function

        if var_names is None:
            n = model.widths[0]
            var_names = ["x", "y"] if n == 2 else [f"x_{k + 1}" for k in range(n)]
        (formula,) = model.symbolic_formula(list(var_names))
        f = formula_function([formula], list(var_names), backend="torch")
        return formula, float((f(data.test_input) - data.test_label).pow(2).mean().sqrt())
    except ValueError as err:  # an edge stayed numeric
        say(f"  no formula: {err}")
        return None, float("inf")
