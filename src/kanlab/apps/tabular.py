"""What ``kanlab fit`` and ``kanlab predict`` compute: a KAN on the columns of a CSV file.

:func:`fit_csv` reads the file (:mod:`kanlab.data.csv`), splits the rows, and runs the one
pipeline (:func:`~kanlab.apps.pipeline.run_pipeline`): inputs and target standardised with the
training rows' mean and standard deviation (a constant column is only centred), a float64 KAN
trained with LBFGS and grid extension, optionally pruned and retrained, and optionally snapped
to symbolic functions whose affine parameters are trained; the formula is then rewritten in the
CSV's column names and original units. :mod:`kanlab.apps.report` writes the result.

A run directory (``kanlab fit --out``) holds what prediction needs (:class:`TabularModel`):

``model/``
    the KAN (:meth:`KAN.load <kanlab.nn.model.KAN.load>`); it maps standardised inputs to the
    standardised target.
``pipeline.json``
    feature and target names, and the standardisation: ``prediction = model((x - x_mean) /
    x_scale) * y_scale + y_mean`` with the model in evaluation mode.

Nothing here prints or writes but :meth:`TabularModel.save`.
"""

from __future__ import annotations

import json
import os
import pickle
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from kanlab._modes import evaluating
from kanlab._validation import check_sizes
from kanlab.apps import diagnostics
from kanlab.apps.auto import choose, validation_score
from kanlab.apps.fit_metrics import fit_metrics, rmses
from kanlab.apps.pipeline import (
    PipelineOptions,
    PipelineResult,
    Standardization,
    run_pipeline,
)
from kanlab.data import Dataset
from kanlab.data.csv import read_csv
from kanlab.errors import InputError
from kanlab.grids.base import min_samples_for_grid
from kanlab.nn.model import KAN
from kanlab.nn.product_nodes import check_hidden_spec
from kanlab.symbolic.formula import formula_in_units

__all__ = [
    "DEFAULT_WIDTHS",
    "FIT_GRIDS",
    "MIN_TEST_ROWS",
    "MODEL_DIR",
    "PIPELINE_FILE",
    "FitOptions",
    "FitResult",
    "TabularModel",
    "check_rows",
    "fit_csv",
]

PIPELINE_FILE = "pipeline.json"
MODEL_DIR = "model"
_PIPELINE_FORMAT = "kanlab-csv-pipeline"
_PIPELINE_VERSION = 1
_DTYPE = torch.float64
#: the label of each stage's training curve in the report's history (None: no marker)
_STAGE_LABELS = {"train": None, "retrain": "prune", "simplify": "simplify", "symbolic": "symbolic"}
#: a test set of fewer rows gives a warning: its RMSE and R² are unreliable
MIN_TEST_ROWS = 10
#: the grid schedule of an explicit model (``--width``) without ``--grids``
FIT_GRIDS = (3, 5, 10, 20)
#: the widths after the inputs when ``--grids`` is given without ``--width``
DEFAULT_WIDTHS = (5, 1)


@dataclass
class TabularModel:
    """A trained KAN and the standardisation around it: predictions in original units.

    Attributes:
        model: the KAN on standardised units.
        features: the input column names, in the model's input order.
        target: the target column name.
        x_mean, x_scale: per feature, ``z = (x - x_mean) / x_scale``.
        y_mean, y_scale: ``y = model(z) * y_scale + y_mean``.
    """

    model: KAN
    features: list[str]
    target: str
    x_mean: list[float]
    x_scale: list[float]
    y_mean: float
    y_scale: float

    @classmethod
    def from_scaling(cls, model: KAN, features: list[str], target: str,
                     scaling: Standardization) -> TabularModel:
        """The model with a pipeline's :class:`~kanlab.apps.pipeline.Standardization` (one
        target column)."""
        (y_mean,), (y_scale,) = scaling.y_mean.tolist(), scaling.y_scale.tolist()
        return cls(model, features, target, scaling.x_mean.tolist(), scaling.x_scale.tolist(),
                   y_mean, y_scale)

    @property
    def prediction_name(self) -> str:
        """The column name of the predictions: ``<target>_pred``."""
        return f"{self.target}_pred"

    def standardize(self, x: torch.Tensor) -> torch.Tensor:
        """``(x - x_mean) / x_scale`` of raw inputs ``(N, n_features)``, float64."""
        mean = torch.tensor(self.x_mean, dtype=_DTYPE)
        scale = torch.tensor(self.x_scale, dtype=_DTYPE)
        return (x.to(_DTYPE) - mean) / scale

    @torch.no_grad()
    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """Predictions ``(N,)`` in the target's units for raw inputs ``(N, n_features)``."""
        if x.dim() != 2 or x.shape[1] != len(self.features):
            raise InputError(
                f"inputs have shape {tuple(x.shape)}; expected (N, {len(self.features)})"
            )
        self.model.eval()
        return self.model(self.standardize(x))[:, 0] * self.y_scale + self.y_mean

    def save(self, directory: str | os.PathLike) -> Path:
        """Write ``model/`` and ``pipeline.json`` into ``directory`` (created)."""
        directory = Path(directory)
        self.model.save(directory / MODEL_DIR)
        doc = {
            "format": _PIPELINE_FORMAT, "version": _PIPELINE_VERSION, "model": MODEL_DIR,
            "features": self.features, "target": self.target,
            "x_mean": self.x_mean, "x_scale": self.x_scale,
            "y_mean": self.y_mean, "y_scale": self.y_scale,
            "prediction": "model((x - x_mean) / x_scale) * y_scale + y_mean, model in eval mode",
        }
        path = directory / PIPELINE_FILE
        path.write_text(json.dumps(doc, indent=2))  # floats round-trip exactly (repr)
        return path

    @classmethod
    def load(cls, directory: str | os.PathLike) -> TabularModel:
        """Read what :meth:`save` (``kanlab fit --out directory``) wrote."""
        directory = Path(directory)
        path = directory / PIPELINE_FILE
        if not path.is_file():
            raise InputError(
                f"{directory}: no {PIPELINE_FILE}; pass the --out directory of `kanlab fit`"
            )
        try:
            doc = json.loads(path.read_text())
        except json.JSONDecodeError as err:
            raise InputError(f"{path}: not valid JSON ({err})") from None
        if not isinstance(doc, dict) or doc.get("format") != _PIPELINE_FORMAT:
            raise InputError(f"{path} is not a kanlab fit pipeline")
        if doc.get("version", 0) > _PIPELINE_VERSION:
            raise InputError(f"{path} was written by a newer kanlab (version {doc['version']})")
        try:
            model_dir = directory / doc["model"]
            features, target = list(doc["features"]), doc["target"]
            scaling = (list(doc["x_mean"]), list(doc["x_scale"]), float(doc["y_mean"]),
                       float(doc["y_scale"]))
        except (KeyError, TypeError, ValueError) as err:
            raise InputError(f"{path}: incomplete or damaged ({type(err).__name__}: {err})"
                             ) from None
        model = _load_kan(model_dir)
        model.eval()
        return cls(model, features, target, *scaling)


def _load_kan(directory: Path) -> KAN:
    """:meth:`KAN.load` of ``directory``; a damaged ``config.json`` or ``state_dict.pt`` is an
    InputError naming the file and what is wrong, not torch's or json's traceback."""
    config, state = directory / "config.json", directory / "state_dict.pt"
    redo = "run `kanlab fit` again, or copy the directory again"
    try:
        return KAN.load(directory)
    except InputError:
        raise
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise InputError(f"{config}: not valid JSON, truncated or damaged ({err}); {redo}"
                         ) from None
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        raise InputError(f"{config}: incomplete or damaged model configuration "
                         f"({type(err).__name__}: {err}); {redo}") from None
    except OSError as err:
        if err.filename is not None:  # a missing or unreadable file: the CLI names it
            raise
        damaged = err  # torch.load on a cut zip archive: "[Errno 22] Invalid argument"
    except (RuntimeError, EOFError, pickle.UnpicklingError) as err:
        damaged = err
    text = str(damaged)  # torch's text is long and suggests weights_only=False: not shown
    if "size mismatch" in text or "key(s) in state_dict" in text:
        what = f"does not hold the state of the model that {config.name} describes"
    elif isinstance(damaged, EOFError) or not text.strip():
        what = "is empty or ends too early (truncated)"
    else:
        what = "cannot be read as a saved model state (truncated or damaged)"
    raise InputError(f"{state}: {what}; {redo}") from None


@dataclass
class FitOptions:
    """The choices of ``kanlab fit`` (see its ``--help``).

    Attributes:
        widths: the widths after the inputs (hidden layers, then the output, which is 1); a
            hidden row ``[n_sum, n_product]`` adds product nodes (``--width 3:2,1``); None (the
            default): the model is chosen from the data (:func:`~kanlab.apps.auto.choose`).
        grids: the grid-extension schedule of an explicit model (None: :data:`FIT_GRIDS`);
            ``steps_per_grid`` LBFGS steps at each size. Given without ``widths``, the model
            is ``[n_features, 5, 1]`` (:data:`DEFAULT_WIDTHS`), as before the search existed.
        steps_per_grid: with ``widths``, LBFGS steps per grid size, and of each retraining.
        fast: without ``widths``: one quick model, no search.
        validation_fraction: with ``widths``, the share of the training rows held out to stop
            early, keep the best state and judge pruning (None: none).
        lamb: sparsity regularisation ``λ``.
        prune: prune after training (by the held-out rows' loss where rows are held out,
            else by fixed thresholds), then retrain.
        symbolic: snap every edge to a symbolic function, then train their affine parameters.
        grid: the grid strategy (a name of :data:`kanlab.grids.GRID_STRATEGIES`).
        test_fraction: share of the rows held out for testing.
        seed: seeds the split and the KAN's initialisation.
        progress: show a progress bar while training.
    """

    widths: Sequence[Any] | None = None
    grids: Sequence[int] | None = None
    steps_per_grid: int = 50
    fast: bool = False
    validation_fraction: float | None = 0.2
    lamb: float = 0.0
    prune: bool = False
    symbolic: bool = False
    grid: str = "quantile"
    test_fraction: float = 0.2
    seed: int = 0
    progress: bool = True

    def __post_init__(self) -> None:
        if self.widths is None and self.grids is not None:  # the paper's workflow, as before
            self.widths = DEFAULT_WIDTHS

    @property
    def auto(self) -> bool:
        """Whether the model is chosen from the data (no ``widths``)."""
        return self.widths is None

    def schedule(self) -> list[int]:
        """The grid schedule of an explicit model (:data:`FIT_GRIDS` by default)."""
        return [int(g) for g in (FIT_GRIDS if self.grids is None else self.grids)]

    def checked_widths(self) -> list[Any] | None:
        """``widths`` checked (ints, or ``[n_sum, n_product]`` pairs for rows with product
        nodes): the last (the output) must be 1; None: chosen.

        Raises:
            InputError: a last width other than 1, or ``fast`` with an explicit width.
        """
        if self.widths is None:
            return None
        if self.fast:
            raise InputError("fast (--fast) chooses one quick model itself; it does not go "
                             f"with an explicit width ({list(self.widths)})")
        widths = list(check_hidden_spec("widths", self.widths))  # ints, [n_sum, n_product]
        if not widths or widths[-1] != 1:
            raise InputError(
                f"the last width is the output and must be 1 (one target column); got {widths}"
            )
        return widths

    def pipeline(self, n_features: int) -> PipelineOptions:
        """These choices as the pipeline's options, for ``n_features`` input columns (for a
        chosen model, the base that :func:`~kanlab.apps.auto.choose` completes)."""
        widths = self.checked_widths()
        common = dict(lamb=self.lamb, prune=self.prune, symbolic=self.symbolic,
                      standardize_inputs=True, standardize_target=True, grid=self.grid,
                      seed=self.seed, dtype=_DTYPE,
                      fit_options={"opt": "lbfgs", "progress": self.progress, "seed": self.seed})
        if widths is None:
            return PipelineOptions(widths=(n_features, 1), retrain_steps=25, **common)
        grids = self.schedule()
        return PipelineOptions(
            widths=(n_features, *widths), grids=tuple(grids),
            steps=self.steps_per_grid * len(grids), retrain_steps=self.steps_per_grid,
            validation_fraction=self.validation_fraction, **common)


@dataclass
class FitResult:
    """What :func:`fit_csv` returns.

    Attributes:
        pipeline: the trained model with its standardisation.
        metrics: JSON-ready numbers and settings (see
            :func:`~kanlab.apps.report.write_outputs`).
        history: the training curves in the target's units: ``step``, ``train_rmse``,
            ``test_rmse`` and ``events`` (grid refinements, pruning, snapping; not the grid
            updates), over every stage.
        train_x: the training inputs (raw units, shuffled as split).
        formula: the sympy expression of the prediction in the CSV's names and units
            (symbolic fits), else None.
        predictions: the predictions of every data row of the CSV, in file order.
    """

    pipeline: TabularModel
    metrics: dict[str, Any]
    history: dict[str, list]
    train_x: torch.Tensor
    formula: Any = None
    predictions: torch.Tensor | None = None


def fit_csv(
    path: str | os.PathLike,
    target: str,
    features: Sequence[str] | None = None,
    options: FitOptions | None = None,
) -> FitResult:
    """Train a KAN on the CSV file ``path`` (header row, numeric cells).

    Args:
        path: the CSV file.
        target: the column to predict.
        features: the input columns in order; default every other column.
        options: the training choices.

    Returns:
        A :class:`FitResult`; write it with :func:`~kanlab.apps.report.write_outputs`.

    Raises:
        InputError: a missing column, a non-numeric, empty or non-finite cell (named by line
            and column), too few rows, bad options, or an output width other than 1.
        OSError: the file cannot be read.
    """
    opts = options or FitOptions()
    opts.checked_widths()  # before the file is read
    table = read_csv(Path(path))
    data = table.dataset(target, features, test_fraction=opts.test_fraction, seed=opts.seed,
                         dtype=_DTYPE)
    names = table.features([target], features)
    warnings = check_rows(data, opts, path)  # before training
    spline: dict[str, Any] = {}

    def measure_spline(stage: str, run: PipelineResult) -> None:
        if stage == _last_numeric_stage(run) and opts.symbolic:
            with evaluating(run.model):  # the spline model's scores, before snapping to symbols
                spline.update(rmses(TabularModel.from_scaling(run.model, names, target,
                                                              run.scaling), data))
                spline["validation_r2"] = validation_score(run)

    base = opts.pipeline(len(names))
    if opts.auto:
        run, selection = choose(data, base, fast=opts.fast, on_stage=measure_spline)
    else:
        run, selection = run_pipeline(data, base, on_stage=measure_spline), None
    pipeline = TabularModel.from_scaling(run.model, names, target, run.scaling)
    formula = None
    if opts.symbolic:
        (formula,) = formula_in_units(run.model, names, pipeline.x_mean, pipeline.x_scale,
                                      [pipeline.y_mean], [pipeline.y_scale])
    metrics = fit_metrics(run, pipeline, data, opts, formula, spline, selection)
    # the same warning after training (the trained grids) as before it (the schedule): once
    metrics["warnings"] = list(dict.fromkeys(warnings + metrics["warnings"]))
    curves: dict[str, list] = {"step": [], "train_rmse": [], "test_rmse": [], "events": []}
    for stage, history in run.histories.items():
        if history is not None:
            _append_history(curves, history, pipeline.y_scale, _STAGE_LABELS[stage])
    return FitResult(pipeline, metrics, curves, data.train_input, formula,
                     pipeline.predict(table.columns(names)))


def _last_numeric_stage(run: PipelineResult) -> str:
    """The stage after which the spline model is complete (before ``"symbolic"``)."""
    for stage in ("simplify", "retrain"):
        if stage in run.histories:
            return stage
    return "train"


def check_rows(data: Dataset, opts: FitOptions, path: str | os.PathLike = "data") -> list[str]:
    """Check, before training, that ``data``'s split has rows enough; return the warnings.

    The training rows must be at least the ``G + 1`` a grid of the schedule's first size ``G``
    (3 for a chosen model) is placed from (:func:`~kanlab.grids.base.min_samples_for_grid`);
    fewer is an error. Fewer than a grid of the largest size needs are a warning
    (:func:`~kanlab.apps.diagnostics.rows_for_largest_grid`): the grids then keep their uniform
    placement (:func:`~kanlab.apps.pipeline.grid_updates_fit`). A test set of fewer than
    :data:`MIN_TEST_ROWS` rows is a warning (one row: its R² is undefined, and reported as
    None).

    Raises:
        InputError: too few training rows, naming the counts and the fixes.
    """
    grids = [3] if opts.auto else [int(g) for g in check_sizes("grids", opts.schedule())]
    n_train = int(data.train_input.shape[0])
    n_test = 0 if data.test_input is None else int(data.test_input.shape[0])
    split = f"{n_train + n_test} data rows give {n_train} training and {n_test} test rows"
    need = min_samples_for_grid(grids[0])
    if n_train < need:
        raise InputError(
            f"{path}: {split} (test fraction {opts.test_fraction}); at least {need} training "
            f"rows are needed to place a grid of {grids[0]} intervals (the first of the grid "
            f"schedule {grids}); add rows, or pass smaller grid sizes (--grids) or a smaller "
            "test fraction (--test-fraction)"
        )
    warnings = diagnostics.rows_for_largest_grid(n_train, grids)
    if 0 < n_test < MIN_TEST_ROWS:
        what = ("its R² is undefined (not reported) and its RMSE is one residual"
                if n_test == 1 else "its RMSE and R² are unreliable")
        warnings.append(
            f"the test set has {n_test} row{'s' if n_test > 1 else ''} ({split}): {what}; "
            f"add rows or raise the test fraction (at least {MIN_TEST_ROWS} test rows)"
        )
    return warnings


def _append_history(curves: dict[str, list], history, scale: float, label: str | None) -> None:
    offset = curves["step"][-1] if curves["step"] else 0
    if label is not None:
        curves["events"].append((offset, label))
    curves["step"] += [offset + s for s in history.step]
    curves["train_rmse"] += [v * scale for v in history.train_rmse]
    curves["test_rmse"] += [v * scale for v in history.test_rmse]
    curves["events"] += [(offset + s, text) for s, text in history.events
                         if text != "update grid"]  # refinements only: a readable plot
