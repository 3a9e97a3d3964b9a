"""The one training pipeline behind ``kanlab fit``, the scikit-learn estimators and the demos.

Its stages, in order, each switched and tuned by :class:`PipelineOptions`:

1. **standardise** (``standardize_inputs``, ``standardize_target``): centre and scale the
   columns with the training rows' mean and standard deviation (:class:`Standardization`; a
   constant column is only centred).
2. **build**: a :class:`~kanlab.nn.model.KAN` of ``widths`` at the first grid size.
3. ``"train"``: ``steps`` steps of :func:`~kanlab.training.loop.fit` with the grid-extension
   schedule ``grids`` and the sparsity weight ``lamb``.
4. ``"prune"`` (``prune``): nodes, then edges (:meth:`KAN.prune <kanlab.nn.model.KAN.prune>`)
   -- or, with held-out rows (``validation_fraction``, ``validation_rows``), the weakest edges
   while the held-out loss allows
   (:func:`~kanlab.interpret.prune_validation.prune_to_validation`) -- then ``"retrain"``:
   ``retrain_steps`` more steps.
5. ``"simplify"`` (``simplify``): drop hidden nodes one at a time while the fit holds
   (:func:`simplify`); if one went, ``retrain_steps`` more steps, as in ``"retrain"``.
6. ``"symbolic"`` (``symbolic``): snap every edge to a symbolic function, train their affine
   parameters ``retrain_steps`` steps, canonicalise (:func:`snap_symbolic`).

:func:`run_pipeline` runs them on a :class:`~kanlab.data.Dataset` and returns a
:class:`PipelineResult`. A front end that measures, plots or prints between stages passes
``on_stage``, called after each stage with its name (:data:`STAGES`) and the run so far.
Nothing here prints.

Example::

    >>> options = PipelineOptions(widths=(2, 5, 1), grids=(3, 5, 10), steps=150,
    ...                           standardize_inputs=True, standardize_target=True,
    ...                           symbolic=True, fit_options={"progress": False})
    >>> result = run_pipeline(data, options)
    >>> result.model, result.scaling, result.histories["train"]
"""

from __future__ import annotations

import copy
import dataclasses
import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import torch

from kanlab._validation import check_positive_int, check_sizes
from kanlab.apps.standardization import Standardization, center_scale
from kanlab.data import Dataset
from kanlab.errors import InputError
from kanlab.grids import min_samples_for_grid
from kanlab.interpret.prune import keep_nodes
from kanlab.interpret.prune_validation import prune_to_validation
from kanlab.interpret.symbolic_model import canonicalize
from kanlab.nn.model import KAN
from kanlab.training.loop import History, fit
from kanlab.training.validation import hold_out, split_rows

__all__ = [
    "PipelineOptions",
    "PipelineResult",
    "STAGES",
    "Snapped",
    "Standardization",
    "center_scale",
    "finish_pipeline",
    "grid_updates_fit",
    "rmse_r2",
    "run_pipeline",
    "simplify",
    "snap_symbolic",
    "standardized",
    "train_grid_updates",
]

log = logging.getLogger(__name__)

#: the stages :func:`run_pipeline` may run, in order; ``on_stage`` is called after each
STAGES = ("train", "prune", "retrain", "simplify", "symbolic")

#: ``fit`` arguments that the stages set themselves (not allowed in ``fit_options``)
_STAGE_ARGUMENTS = frozenset({"steps", "grid_schedule", "update_grid", "lamb", "callbacks",
                              "validation", "patience"})


def rmse_r2(y: torch.Tensor, pred: torch.Tensor) -> tuple[float, float]:
    """RMSE and R² of predictions ``pred`` of ``y`` (both ``(N,)``)."""
    ss_res = float(torch.sum((y - pred) ** 2))
    ss_tot = float(torch.sum((y - y.mean()) ** 2))
    r2 = 1.0 - ss_res / ss_tot if ss_tot > 0 else (1.0 if ss_res == 0 else 0.0)
    return math.sqrt(ss_res / y.numel()), r2


@dataclass(frozen=True)
class PipelineOptions:
    """What :func:`run_pipeline` does: the stages and their settings.

    Attributes:
        widths: the KAN's widths, inputs first (``[n_in, hidden..., n_out]``).
        grids: the grid-extension schedule (sizes, spread evenly over ``steps``; the KAN
            starts at the first), or one size (an int): a fixed grid, no schedule.
        steps: steps of the ``"train"`` stage.
        lamb: sparsity weight ``λ`` of the ``"train"`` stage (paper eq. 2.20).
        update_grid: adapt the grids to the data during ``"train"``; None: when every batch
            has at least the samples the largest grid needs (``max(grids) + 1``), else keep
            the initial uniform grids.
        prune: run ``"prune"`` and ``"retrain"``.
        retrain_steps: steps of ``"retrain"``, of the training after ``"simplify"`` removed
            nodes, and of the symbolic polish.
        retrain_update_grid: adapt the grids during ``"retrain"`` and after ``"simplify"``.
        simplify: run ``"simplify"`` (:func:`simplify`).
        symbolic: run ``"symbolic"`` (:func:`snap_symbolic`).
        symbolic_lib: the function names ``"symbolic"`` chooses from (None: the library's
            default set).
        r2_threshold: an edge whose best fit has a lower R² stays numeric (``-inf``: every
            edge symbolic, so the formula is the model).
        polish_until_loss: stop the polish once the training loss is below this (None: run
            all ``retrain_steps``).
        standardize_inputs, standardize_target: the ``standardise`` stage, per side.
        grid, spline_order, seed, dtype: of the KAN (:class:`~kanlab.nn.model.KAN`).
        model_options: more arguments of the KAN (``base_fn``, ``tails``, ...).
        validation_fraction: hold this share of the (standardised) rows out (drawn with
            ``seed``): every training stage stops early on their loss and keeps its best state
            (``fit``'s ``validation`` and ``patience``), and ``"prune"`` removes edges while
            their loss allows (:func:`~kanlab.interpret.prune_validation.prune_to_validation`)
            instead of by fixed thresholds. None: train on every row.
        validation_rows: instead of a fraction, the indices of the rows to hold out (a fold of
            a cross-validation), with the same effect.
        patience: steps without a better validation loss before a stage stops.
        prune_tolerance: with held-out rows, how far ``"prune"`` may raise their loss (a
            share of it; ``tolerance`` of
            :func:`~kanlab.interpret.prune_validation.prune_to_validation`).
        fit_options: passed to every :func:`~kanlab.training.loop.fit` call (``opt``, ``lr``,
            ``batch_size``, ``loss_fn``, ``progress``, ``seed``, ``optimizer_options``, ...);
            not the arguments the stages set (``steps``, ``grid_schedule``, ``update_grid``,
            ``lamb``, ``callbacks``).
    """

    widths: Sequence[int]
    grids: int | Sequence[int] = (3, 5, 10)
    steps: int = 200
    lamb: float = 0.0
    update_grid: bool | None = None
    prune: bool = False
    retrain_steps: int = 50
    retrain_update_grid: bool = False
    simplify: bool = False
    symbolic: bool = False
    symbolic_lib: Sequence[str] | None = None
    r2_threshold: float = -math.inf
    polish_until_loss: float | None = None
    standardize_inputs: bool = False
    standardize_target: bool = False
    grid: str = "quantile"
    spline_order: int = 3
    seed: int = 0
    dtype: torch.dtype = torch.float64
    model_options: Mapping[str, Any] = field(default_factory=dict)
    validation_fraction: float | None = None
    validation_rows: Sequence[int] | None = None
    patience: int = 10
    prune_tolerance: float = 0.01
    fit_options: Mapping[str, Any] = field(default_factory=dict)

    def schedule(self) -> list[int] | None:
        """The grid sizes of the ``"train"`` stage's schedule (None: a fixed grid), checked."""
        if isinstance(self.grids, int) and not isinstance(self.grids, bool):
            check_positive_int("grids", self.grids)
            return None
        return list(check_sizes("grids", self.grids))

    def check(self) -> None:
        """Raise an InputError for steps or a patience that are not positive integers, two
        ways of holding rows out, or ``fit_options`` that a stage sets itself."""
        check_positive_int("steps", self.steps)
        check_positive_int("retrain_steps", self.retrain_steps)
        check_positive_int("patience", self.patience)
        if self.validation_fraction is not None and self.validation_rows is not None:
            raise InputError("validation_fraction and validation_rows both hold rows out; pass "
                             "one of them")
        clash = sorted(_STAGE_ARGUMENTS & set(self.fit_options))
        if clash:
            raise InputError(f"fit_options must not set {clash}: the pipeline's stages set them "
                             "(use the PipelineOptions fields)")


@dataclass
class PipelineResult:
    """A pipeline's run: what :func:`run_pipeline` returns, and what ``on_stage`` sees.

    Attributes:
        model: the KAN (in evaluation mode once the run is over); on standardised units.
        scaling: the standardisation of inputs (and target).
        data: the (standardised) data the model was trained on.
        histories: by stage, the :class:`~kanlab.training.loop.History` of its training:
            ``"train"``, ``"retrain"``, ``"simplify"`` (the training after :func:`simplify`
            removed nodes), ``"symbolic"`` (the polish; None when it diverged and the snapped
            model before it was kept).
        widths_trained: the widths after ``"train"``, before pruning.
        pruned_widths: the widths after ``"prune"`` (None: not pruned).
        symbolic_fits: ``{(l, i, j): fit}`` of the edges that ``"symbolic"`` snapped.
        seconds: wall time from the start of ``"train"`` to the end of the last stage.
        validation: the held-out rows ``(x, y)``, standardised (None: nothing held out).
    """

    model: KAN
    scaling: Standardization
    data: Dataset
    histories: dict[str, History | None] = field(default_factory=dict)
    widths_trained: list[int] = field(default_factory=list)
    pruned_widths: list[int] | None = None
    symbolic_fits: dict[tuple[int, int, int], Any] = field(default_factory=dict)
    seconds: float = 0.0
    validation: tuple[torch.Tensor, torch.Tensor] | None = None


def grid_updates_fit(n: int, batch_size: int | None, largest_grid: int) -> bool:
    """Whether every batch of ``n`` samples (``batch_size``; None: one full batch) has the
    samples a data-driven grid of ``largest_grid`` intervals is placed from.

    With fewer (tiny data sets, small batches), the grids keep their initial uniform placement
    on ``[-1, 1]`` (where standardised inputs mostly lie) instead of failing.
    """
    smallest = n if batch_size is None or batch_size >= n else min(
        batch_size, n % batch_size or batch_size)
    return smallest >= min_samples_for_grid(largest_grid)


def build_model(options: PipelineOptions) -> KAN:
    """The ``build`` stage: a KAN of ``options.widths`` at the first grid size."""
    schedule = options.schedule()
    return KAN(list(options.widths), grid_size=options.grids if schedule is None else schedule[0],
               spline_order=options.spline_order, grid=options.grid, seed=options.seed,
               dtype=options.dtype, **options.model_options)


class Snapped(NamedTuple):
    """What :func:`snap_symbolic` returns."""

    model: KAN  #: the symbolic model
    history: History | None  #: the polish's; None when it diverged and was undone
    fits: dict  #: ``{(l, i, j): fit}`` of the edges snapped


def snap_symbolic(model: KAN, data: Dataset, steps: int, *,
                  lib: Sequence[str] | None = None, r2_threshold: float = -math.inf,
                  until_loss: float | None = None, **fit_options: Any) -> Snapped:
    """Every edge of ``model`` to its best symbolic fit, then ``steps`` steps on the symbolic
    edges' affine parameters, then :func:`~kanlab.interpret.symbolic_model.canonicalize`.

    Args:
        model: a trained KAN (changed in place).
        data: its training data.
        steps: steps of the polish (grids fixed).
        lib: the function names to choose from (None: the library's default set).
        r2_threshold: an edge whose best fit has a lower R² stays numeric; ``-inf`` (the
            default) snaps every edge, so the formula equals the model.
        until_loss: stop the polish once the training loss is below this.
        **fit_options: passed to :func:`~kanlab.training.loop.fit`.

    Returns:
        :class:`Snapped`; if the polish diverged (``FloatingPointError``), the snapped model
        before it and no history.
    """
    fits = model.auto_symbolic(lib=None if lib is None else list(lib), r2_threshold=r2_threshold)
    before = copy.deepcopy(model)
    if until_loss is not None:
        fit_options["callbacks"] = [lambda state: state.loss < until_loss]
    try:  # the affine parameters of the symbolic edges
        history = fit(model, data, steps=steps, update_grid=False, **fit_options)
    except FloatingPointError:  # the polish diverged: keep the snapped model
        model, history = before, None
    canonicalize(model)  # exact; undoes the trade-offs the polish left (readability)
    return Snapped(model, history, fits)


def simplify(model: KAN, data: Dataset, rmse: float, *, steps: int = 20,
             tolerance: float = 4.0, say: Callable[[str], None] = log.info,
             **fit_options: Any) -> KAN:
    """Remove hidden nodes one at a time, weakest first, while the network still fits.

    Each try prunes the weakest node of the widest hidden layer (not yet tried at these
    widths) and retrains ``steps`` LBFGS steps; it is kept when the training RMSE stays within
    ``tolerance`` times the current one. It ends when every hidden layer has failed a try.
    This automates the paper's reading of the plot ("this node does little: prune it"): a
    sparsified network sometimes splits one feature over two nodes, a local minimum that
    retraining without one of them leaves.

    Args:
        model: a pruned, retrained :class:`~kanlab.nn.model.KAN`.
        data: its training data.
        rmse: its training RMSE.
        say: called with one line per try.
        **fit_options: passed to :func:`~kanlab.training.loop.fit` for the retraining.
    """
    tried: set[tuple[tuple[int, ...], int]] = set()  # (widths, layer) that failed
    while True:
        layers = sorted(range(1, len(model.widths) - 1), key=lambda k: -model.widths[k])
        layers = [k for k in layers if model.widths[k] > 1
                  and (tuple(model.widths), k) not in tried]
        if not layers:
            return model
        hidden = layers[0]
        scores = model.importance().nodes[hidden]
        keep = [[*range(w)] for w in model.widths]
        keep[hidden].remove(int(scores.argmin()))
        candidate = keep_nodes(model, keep)
        history = fit(candidate, data, steps=steps, **{"progress": False, **fit_options})
        new = history.train_rmse[-1]
        ok = new <= tolerance * rmse
        say(f"  without the weakest node: {model.widths} -> {candidate.widths}, train RMSE "
            f"{rmse:.2e} -> {new:.2e}: {'kept' if ok else 'undone'}")
        if ok:
            model, rmse = candidate, new
        else:
            tried.add((tuple(model.widths), hidden))


def run_pipeline(
    data: Dataset,
    options: PipelineOptions,
    *,
    on_stage: Callable[[str, PipelineResult], None] | None = None,
    say: Callable[[str], None] = log.info,
) -> PipelineResult:
    """Standardise ``data``, build a KAN and run the stages that ``options`` switch on.

    Args:
        data: training inputs ``(N, widths[0])`` and labels (``(N, widths[-1])``, or class
            indices ``(N,)`` with a cross-entropy ``loss_fn``); a test set is optional.
        options: the stages and their settings.
        on_stage: called after each stage with its name (:data:`STAGES`) and the run so far
            (``result.model`` is the current model). It may evaluate or plot the model; it
            must leave its parameters as they are.
        say: called with the lines of ``"simplify"``.

    Returns:
        A :class:`PipelineResult`, its model in evaluation mode.

    Raises:
        InputError: bad options (and what :class:`~kanlab.nn.model.KAN` and
            :func:`~kanlab.training.loop.fit` raise).
    """
    options.check()
    schedule = options.schedule()
    scaling, data = standardized(data, options)
    validation = None
    if options.validation_rows is not None:
        data, validation = split_rows(data, options.validation_rows)
    elif options.validation_fraction is not None:
        data, *validation = hold_out(data, options.validation_fraction, options.seed)
        validation = tuple(validation)
    if validation is not None:
        options = dataclasses.replace(options, fit_options={
            **options.fit_options, "validation": validation, "patience": options.patience})
    run = PipelineResult(build_model(options), scaling, data, validation=validation)
    start = time.perf_counter()
    run.model.train()
    run.histories["train"] = fit(run.model, data, steps=options.steps, grid_schedule=schedule,
                                 update_grid=train_grid_updates(data, options),
                                 lamb=options.lamb, **options.fit_options)
    return finish_pipeline(run, options, on_stage=on_stage, say=say, start=start)


def standardized(data: Dataset, options: PipelineOptions) -> tuple[Standardization, Dataset]:
    """The standardisation ``options`` ask for, fitted on ``data``, and ``data`` through it."""
    scaling = Standardization.fit(data, inputs=options.standardize_inputs,
                                  target=options.standardize_target)
    if options.standardize_inputs or options.standardize_target:
        data = scaling.dataset(data)
    return scaling, data


def train_grid_updates(data: Dataset, options: PipelineOptions) -> Any:
    """``fit``'s ``update_grid`` of the ``"train"`` stage: the options', or (None) whether
    every batch has the samples the largest grid needs (:func:`grid_updates_fit`)."""
    if options.update_grid is not None:
        return options.update_grid
    schedule = options.schedule()
    largest = options.grids if schedule is None else max(schedule)
    return grid_updates_fit(data.train_input.shape[0], options.fit_options.get("batch_size"),
                            largest)


def finish_pipeline(run: PipelineResult, options: PipelineOptions, *,
                    on_stage: Callable[[str, PipelineResult], None] | None = None,
                    say: Callable[[str], None] = log.info, start: float | None = None,
                    retrained: bool = False) -> PipelineResult:
    """The stages after ``"train"`` (as ``options`` say) on a run whose model was trained (by
    :func:`run_pipeline`, or in an ensemble); ``start``: when its training began.
    ``retrained``: ``"prune"`` and ``"retrain"`` were done (and reported): go on from there."""
    start = time.perf_counter() if start is None else start
    stage = on_stage or (lambda name, result: None)
    if not retrained:
        run.widths_trained = list(run.model.widths)
        stage("train", run)
        _prune_and_retrain(run, options, stage)
    _simplify(run, options, stage, say)
    if options.symbolic:
        run.model.train()
        run.model, run.histories["symbolic"], run.symbolic_fits = snap_symbolic(
            run.model, run.data, options.retrain_steps, lib=options.symbolic_lib,
            r2_threshold=options.r2_threshold, until_loss=options.polish_until_loss,
            **options.fit_options)
        stage("symbolic", run)
    run.model.eval()
    run.seconds = time.perf_counter() - start
    return run


def _prune_and_retrain(run: PipelineResult, options: PipelineOptions,
                       stage: Callable[[str, PipelineResult], None]) -> None:
    """The ``"prune"`` and ``"retrain"`` stages, when ``options`` switch them on."""
    if options.prune:
        if run.validation is None:
            run.model = run.model.prune()
        else:
            run.model, _ = prune_to_validation(
                run.model, (run.data.train_input, run.data.train_label), run.validation,
                tolerance=options.prune_tolerance, loss_fn=options.fit_options.get("loss_fn"))
        run.pruned_widths = list(run.model.widths)
        stage("prune", run)
        run.model.train()
        history = fit(run.model, run.data, steps=options.retrain_steps,
                      update_grid=options.retrain_update_grid, **options.fit_options)
        run.histories["retrain"] = history
        stage("retrain", run)


def _simplify(run: PipelineResult, options: PipelineOptions,
              stage: Callable[[str, PipelineResult], None], say: Callable[[str], None]) -> None:
    """The ``"simplify"`` stage, when ``options`` switch it on."""
    if options.simplify:
        rmse = run.histories["retrain" if options.prune else "train"].train_rmse[-1]
        run.model.train()
        widths = list(run.model.widths)
        run.model = simplify(run.model, run.data, rmse, say=say, **options.fit_options)
        if list(run.model.widths) != widths:  # simplify's tries are short: finish the training
            run.histories["simplify"] = fit(
                run.model, run.data, steps=options.retrain_steps,
                update_grid=options.retrain_update_grid, **options.fit_options)
        stage("simplify", run)
