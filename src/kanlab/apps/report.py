"""What ``kanlab fit`` and ``kanlab predict`` do: train a KAN on a CSV file, save it with what
prediction needs, and write the metrics, plots, formula and a self-contained HTML report.

The pipeline is the one of :class:`~kanlab.apps.estimators.KANRegressor` (without scikit-learn):
inputs and target are standardised with the training rows' mean and standard deviation (a
constant column is only centred), a float64 KAN is trained with LBFGS and grid extension
(:func:`~kanlab.training.loop.fit`), optionally pruned and retrained, and optionally snapped to
symbolic functions whose affine parameters are trained; the formula is then rewritten in the
CSV's column names and original units.

An output directory holds:

``model/``
    the KAN (:meth:`KAN.load <kanlab.nn.model.KAN.load>`); it maps standardised inputs to the
    standardised target.
``pipeline.json``
    feature and target names, and the standardisation: ``prediction = model((x - x_mean) /
    x_scale) * y_scale + y_mean`` with the model in evaluation mode.
``metrics.json``, ``predictions.csv``, ``formula.txt``/``formula.tex`` (symbolic fits),
``network.png``, ``training.png``, ``report.html``
    see :func:`write_outputs`.

Nothing here prints; the command line does.
"""

from __future__ import annotations

import base64
import copy
import csv
import html
import json
import math
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from kanlab.data import Dataset
from kanlab.data.csv import parse_float
from kanlab.data.science import load_csv
from kanlab.errors import InputError
from kanlab.grids import min_samples_for_grid
from kanlab.interpret.symbolic_model import canonicalize
from kanlab.nn.mlp import n_parameters
from kanlab.nn.model import KAN
from kanlab.symbolic.formula import formula_in_units
from kanlab.training.loop import History, fit

__all__ = [
    "FitOptions",
    "FitResult",
    "Pipeline",
    "center_scale",
    "csv_header",
    "fit_csv",
    "read_columns",
    "render_html",
    "rmse_r2",
    "snap_symbolic",
    "write_outputs",
    "write_predictions",
]

PIPELINE_FILE = "pipeline.json"
MODEL_DIR = "model"
_PIPELINE_FORMAT = "kanlab-csv-pipeline"
_PIPELINE_VERSION = 1
_DTYPE = torch.float64


@dataclass
class Pipeline:
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
    def load(cls, directory: str | os.PathLike) -> Pipeline:
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
            model = KAN.load(directory / doc["model"])
            pipeline = cls(model, list(doc["features"]), doc["target"], list(doc["x_mean"]),
                           list(doc["x_scale"]), float(doc["y_mean"]), float(doc["y_scale"]))
        except (KeyError, TypeError) as err:
            raise InputError(f"{path}: incomplete or damaged ({type(err).__name__}: {err})"
                             ) from None
        model.eval()
        return pipeline


@dataclass
class FitOptions:
    """The choices of ``kanlab fit`` (see its ``--help``).

    Attributes:
        widths: the widths after the inputs (hidden layers, then the output, which is 1).
        grids: the grid-extension schedule; ``steps_per_grid`` LBFGS steps at each size.
        steps_per_grid: LBFGS steps per grid size, and of each retraining stage.
        lamb: sparsity regularisation ``λ``.
        prune: prune (nodes, then edges) after training, then retrain.
        symbolic: snap every edge to a symbolic function, then train their affine parameters.
        grid: the grid strategy (a name of :data:`kanlab.grids.GRID_STRATEGIES`).
        test_fraction: share of the rows held out for testing.
        seed: seeds the split and the KAN's initialisation.
        progress: show a progress bar while training.
    """

    widths: Sequence[int] = (5, 1)
    grids: Sequence[int] = (3, 5, 10, 20)
    steps_per_grid: int = 50
    lamb: float = 0.0
    prune: bool = False
    symbolic: bool = False
    grid: str = "quantile"
    test_fraction: float = 0.2
    seed: int = 0
    progress: bool = True


@dataclass
class FitResult:
    """What :func:`fit_csv` returns.

    Attributes:
        pipeline: the trained model with its standardisation.
        metrics: JSON-ready numbers and settings (see :func:`write_outputs`).
        history: the training curves in the target's units: ``step``, ``train_rmse``,
            ``test_rmse`` and ``events`` (grid refinements, pruning, snapping; not the grid
            updates), over every stage.
        train_x: the training inputs (raw units, shuffled as split).
        formula: the sympy expression of the prediction in the CSV's names and units
            (symbolic fits), else None.
        predictions: the predictions of every data row of the CSV, in file order.
    """

    pipeline: Pipeline
    metrics: dict[str, Any]
    history: dict[str, list]
    train_x: torch.Tensor
    formula: Any = None
    predictions: torch.Tensor | None = None


def center_scale(a: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Column means and standard deviations ``(n_cols,)`` of ``a`` ``(N, n_cols)``; a (nearly)
    constant column gets scale 1."""
    mean = a.mean(0)
    scale = a.std(0, unbiased=False)
    eps = torch.finfo(a.dtype).eps
    constant = ~(scale > 10 * eps * mean.abs().clamp_min(1.0))
    return mean, torch.where(constant, torch.ones_like(scale), scale)


def rmse_r2(y: torch.Tensor, pred: torch.Tensor) -> tuple[float, float]:
    """RMSE and R² of predictions ``pred`` of ``y`` (both ``(N,)``)."""
    ss_res = float(torch.sum((y - pred) ** 2))
    ss_tot = float(torch.sum((y - y.mean()) ** 2))
    r2 = 1.0 - ss_res / ss_tot if ss_tot > 0 else (1.0 if ss_res == 0 else 0.0)
    return math.sqrt(ss_res / y.numel()), r2


def _append_history(curves: dict[str, list], history, scale: float, label: str | None) -> None:
    offset = curves["step"][-1] if curves["step"] else 0
    if label is not None:
        curves["events"].append((offset, label))
    curves["step"] += [offset + s for s in history.step]
    curves["train_rmse"] += [v * scale for v in history.train_rmse]
    curves["test_rmse"] += [v * scale for v in history.test_rmse]
    curves["events"] += [(offset + s, text) for s, text in history.events
                         if text != "update grid"]  # refinements only: a readable plot


def snap_symbolic(model: KAN, data: Dataset, steps: int, **fit_options: Any
                  ) -> tuple[KAN, History | None]:
    """Every edge of ``model`` to its best symbolic fit (so the formula equals the model), then
    ``steps`` steps on the symbolic edges' affine parameters, then :func:`canonicalize`.

    Returns:
        The model and the polish's history; if the polish diverged, the snapped model before
        it and None.
    """
    model.auto_symbolic(r2_threshold=-math.inf)  # every edge symbolic: formula == model
    before = copy.deepcopy(model)
    try:  # the affine parameters of the symbolic edges
        history = fit(model, data, steps=steps, update_grid=False, **fit_options)
    except FloatingPointError:  # the polish diverged: keep the snapped model
        model, history = before, None
    canonicalize(model)
    return model, history


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
        A :class:`FitResult`; write it with :func:`write_outputs`.

    Raises:
        InputError: a missing column, a non-numeric, empty or non-finite cell (named by line
            and column), too few rows, bad options, or an output width other than 1.
        OSError: the file cannot be read.
    """
    opts = options or FitOptions()
    widths = [int(w) for w in opts.widths]
    if not widths or widths[-1] != 1:
        raise InputError(
            f"the last width is the output and must be 1 (one target column); got {widths}"
        )
    grids = [int(g) for g in opts.grids]
    data = load_csv(path, target, features, test_fraction=opts.test_fraction, seed=opts.seed,
                    dtype=_DTYPE)
    names = list(features) if features is not None else _header_without(path, target)
    x_mean, x_scale = (v.tolist() for v in center_scale(data.train_input))
    (y_mean,), (y_scale,) = (v.tolist() for v in center_scale(data.train_label))
    model = KAN([len(names), *widths], grid_size=grids[0], grid=opts.grid, seed=opts.seed,
                dtype=_DTYPE)
    pipeline = Pipeline(model, names, target, x_mean, x_scale, y_mean, y_scale)

    def standard(d: Dataset) -> Dataset:
        def ys(y):
            return None if y is None else (y - y_mean) / y_scale

        def xs(x):
            return None if x is None else pipeline.standardize(x)

        return Dataset(xs(d.train_input), ys(d.train_label), xs(d.test_input), ys(d.test_label))

    z = standard(data)
    # a grid update places G + 1 knots from the samples: with fewer rows, keep uniform grids
    update_grid = z.train_input.shape[0] >= min_samples_for_grid(max(grids))
    common = {"opt": "lbfgs", "progress": opts.progress, "seed": opts.seed}
    curves: dict[str, list] = {"step": [], "train_rmse": [], "test_rmse": [], "events": []}
    start = time.perf_counter()
    model.train()
    history = fit(model, z, steps=opts.steps_per_grid * len(grids), grid_schedule=grids,
                  update_grid=update_grid, lamb=opts.lamb, **common)
    _append_history(curves, history, y_scale, None)
    widths_trained = list(model.widths)
    if opts.prune:
        model = model.prune()
        pipeline.model = model
        history = fit(model, z, steps=opts.steps_per_grid, update_grid=False, **common)
        _append_history(curves, history, y_scale, "prune")
    formula = None
    spline: dict[str, Any] = {}
    if opts.symbolic:
        model.eval()
        spline["train_rmse"], _ = rmse_r2(data.train_label[:, 0],
                                          pipeline.predict(data.train_input))
        if data.test_input is not None:
            spline["test_rmse"], _ = rmse_r2(data.test_label[:, 0],
                                             pipeline.predict(data.test_input))
        model.train()
        model, history = snap_symbolic(model, z, opts.steps_per_grid, **common)
        pipeline.model = model
        if history is not None:
            _append_history(curves, history, y_scale, "symbolic")
    model.eval()
    seconds = time.perf_counter() - start
    if opts.symbolic:
        (formula,) = formula_in_units(model, names, x_mean, x_scale, [y_mean], [y_scale])

    train_rmse, train_r2 = rmse_r2(data.train_label[:, 0], pipeline.predict(data.train_input))
    test_rmse = test_r2 = None
    if data.test_input is not None:
        test_rmse, test_r2 = rmse_r2(data.test_label[:, 0], pipeline.predict(data.test_input))
    metrics: dict[str, Any] = {
        "target": target,
        "features": names,
        "n_train": int(data.train_input.shape[0]),
        "n_test": 0 if data.test_input is None else int(data.test_input.shape[0]),
        "train_rmse": train_rmse,
        "test_rmse": test_rmse,
        "train_r2": train_r2,
        "test_r2": test_r2,
        "n_params": n_parameters(model),
        "widths": list(model.widths),
        "widths_before_pruning": widths_trained if opts.prune else None,
        "grid": model.grid_size,
        "grid_schedule": grids,
        "grid_strategy": opts.grid,
        "steps_per_grid": opts.steps_per_grid,
        "lamb": opts.lamb,
        "prune": opts.prune,
        "symbolic": opts.symbolic,
        "seed": opts.seed,
        "test_fraction": opts.test_fraction,
        "seconds": seconds,
        "formula": None if formula is None else str(formula),
        "spline_train_rmse": spline.get("train_rmse"),
        "spline_test_rmse": spline.get("test_rmse"),
        "warnings": [],
    }
    if opts.symbolic and train_rmse > 2 * spline["train_rmse"] + 1e-12 * y_scale:
        advice = ("train longer (--steps-per-grid) or sparsify more (a larger --lamb)"
                  if opts.prune and opts.lamb > 0 else
                  "sparsify and prune first (e.g. --lamb 1e-3 --prune), or train longer")
        metrics["warnings"].append(
            f"the symbolic formula fits worse than the spline model it replaced (train RMSE "
            f"{train_rmse:.3g} against {spline['train_rmse']:.3g}); {advice}"
        )
    all_x = read_columns(path, names)
    return FitResult(pipeline, metrics, curves, data.train_input, formula,
                     pipeline.predict(all_x))


def _header_without(path: str | os.PathLike, target: str) -> list[str]:
    return [c for c in csv_header(path) if c != target]


def csv_header(path: str | os.PathLike) -> list[str]:
    """The column names of a CSV file (its first non-blank row)."""
    return _read_table(path)[0]


def _read_table(path: str | os.PathLike) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """The header and the non-blank rows with their line numbers (header = line 1)."""
    with open(path, newline="") as fh:
        rows = [(i, row) for i, row in enumerate(csv.reader(fh), start=1)
                if any(cell.strip() for cell in row)]
    if not rows:
        raise InputError(f"{path}: empty file; a header row naming the columns is required")
    return [cell.strip() for cell in rows[0][1]], rows[1:]


def read_columns(path: str | os.PathLike, names: Sequence[str]) -> torch.Tensor:
    """The columns ``names`` of a CSV file as float64 ``(N, len(names))``, rows in file order.

    Other columns (a target, identifiers) are ignored. Messages use :func:`load_csv`'s form.

    Raises:
        InputError: a missing column, a short row, a non-numeric, empty or non-finite cell
            (named by line and column), or no data rows.
    """
    header, rows = _read_table(path)
    missing = [c for c in names if c not in header]
    if missing:
        raise InputError(f"{path}: no column {missing[0]!r}; the header has {header}")
    index = [header.index(c) for c in names]
    values = []
    for line, row in rows:
        if len(row) != len(header):
            raise InputError(
                f"{path}: line {line} has {len(row)} cells; the header has {len(header)}"
            )
        values.append([parse_float(row[k], path, line, c) for k, c in zip(index, names)])
    if not values:
        raise InputError(f"{path}: no data rows below the header")
    return torch.tensor(values, dtype=_DTYPE)


def write_predictions(stream, name: str, values: torch.Tensor) -> None:
    """Write a one-column CSV (header ``name``) to a text stream; floats round-trip exactly."""
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow([name])
    writer.writerows([repr(v)] for v in values.tolist())


def _png(fig, path: Path) -> None:
    fig.savefig(path, dpi=110, bbox_inches="tight")


def _matplotlib_label(name: str) -> str:
    return name.replace("$", r"\$")


def write_outputs(result: FitResult, out: str | os.PathLike, command: str) -> list[Path]:
    """Write everything ``kanlab fit`` leaves in ``out`` (created) and return the paths.

    ``model/`` and ``pipeline.json`` (see :class:`Pipeline`); ``metrics.json`` (train/test RMSE
    and R² in the target's units, n_params, widths, grid sizes, seconds, features, target, the
    settings); ``predictions.csv`` (the predictions of every CSV row, in file order);
    ``formula.txt`` and ``formula.tex`` (symbolic fits; numbers rounded to 6 significant digits,
    the full-precision formula is in ``metrics.json``); ``network.png`` (the KAN on
    standardised units); ``training.png`` (RMSE per step, in the target's units);
    ``report.html`` (all of it in one self-contained file; ``command`` is shown in it).
    """
    from kanlab.interpret.plot import plot_history, plot_network
    from kanlab.symbolic.formula import tidy

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    pipe = result.pipeline
    files = [out / MODEL_DIR, pipe.save(out)]

    path = out / "metrics.json"
    path.write_text(json.dumps(result.metrics, indent=2) + "\n")
    files.append(path)

    path = out / "predictions.csv"
    with open(path, "w", newline="") as fh:
        write_predictions(fh, pipe.prediction_name, result.predictions)
    files.append(path)

    text = tex = None
    if result.formula is not None:
        import sympy as sp

        readable = tidy(result.formula, digits=6)
        text = f"{pipe.target} = {sp.sstr(readable)}"
        tex = f"{sp.latex(sp.Symbol(pipe.target))} = {sp.latex(readable)}"
        for name, content in (("formula.txt", text), ("formula.tex", tex)):
            path = out / name
            path.write_text(content + "\n")
            files.append(path)

    z = pipe.standardize(result.train_x)
    fig = plot_network(pipe.model, z, in_vars=[_matplotlib_label(f) for f in pipe.features],
                       out_vars=[_matplotlib_label(pipe.target)], samples=200,
                       title="inputs and output standardised (zero mean, unit variance)")
    _png(fig, out / "network.png")
    files.append(out / "network.png")
    fig = plot_history(result.history, metrics=("train_rmse", "test_rmse"))
    fig.axes[0].set_ylabel(f"RMSE of {_matplotlib_label(pipe.target)}")
    _png(fig, out / "training.png")
    files.append(out / "training.png")

    images = {name: (out / name).read_bytes() for name in ("network.png", "training.png")}
    path = out / "report.html"
    path.write_text(render_html(result.metrics, images, command, formula=text, formula_tex=tex),
                    encoding="utf-8")
    files.append(path)
    return files


_CSS = """
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em;
       color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.15em; margin-top: 1.6em; }
table { border-collapse: collapse; } td, th { padding: .25em .8em; border-bottom: 1px solid #ddd;
       text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
pre { background: #f5f5f5; padding: .7em; overflow-x: auto; white-space: pre-wrap; }
img { max-width: 100%; height: auto; border: 1px solid #eee; }
.warning { background: #fff3cd; padding: .5em .8em; border-left: 4px solid #e0a800; }
.figs { display: flex; flex-wrap: wrap; gap: 1em; align-items: flex-start; }
"""

def _fmt(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (list, tuple)):
        return ", ".join(_fmt(v) for v in value)
    return str(value)


def render_html(metrics: dict[str, Any], images: dict[str, bytes], command: str, *,
                formula: str | None = None, formula_tex: str | None = None) -> str:
    """A self-contained HTML5 page: metrics table, formula, images as base64 data URIs and the
    command line."""
    esc = html.escape
    rows = [
        ("target", metrics.get("target")), ("features", metrics.get("features")),
        ("rows (train / test)", f"{metrics.get('n_train')} / {metrics.get('n_test')}"),
        ("train RMSE", metrics.get("train_rmse")), ("test RMSE", metrics.get("test_rmse")),
        ("train R²", metrics.get("train_r2")), ("test R²", metrics.get("test_r2")),
        ("spline model's train RMSE (before snapping)", metrics.get("spline_train_rmse")),
        ("spline model's test RMSE (before snapping)", metrics.get("spline_test_rmse")),
        ("widths", metrics.get("widths")),
        ("widths before pruning", metrics.get("widths_before_pruning")),
        ("grid sizes", metrics.get("grid")), ("grid schedule", metrics.get("grid_schedule")),
        ("grid strategy", metrics.get("grid_strategy")),
        ("steps per grid", metrics.get("steps_per_grid")), ("λ", metrics.get("lamb")),
        ("pruned", metrics.get("prune")), ("symbolic", metrics.get("symbolic")),
        ("parameters", metrics.get("n_params")), ("seed", metrics.get("seed")),
        ("training seconds", metrics.get("seconds")),
    ]
    table = "\n".join(
        f"<tr><th scope=\"row\">{esc(k)}</th><td class=\"num\">{esc(_fmt(v))}</td></tr>"
        for k, v in rows if v is not None or k in ("test RMSE", "test R²")
    )
    figures = []
    captions = {"network.png": "The network (edge opacity: importance; red: symbolic edges)",
                "training.png": "RMSE during training (dotted: grid refinements and stages)"}
    for name, data in images.items():
        uri = "data:image/png;base64," + base64.b64encode(data).decode("ascii")
        caption = captions.get(name, name)
        figures.append(
            f"<figure><img src=\"{uri}\" alt=\"{esc(caption)}\">"
            f"<figcaption>{esc(caption)} ({esc(name)})</figcaption></figure>"
        )
    formula_html = ""
    if formula is not None:
        formula_html = (
            "<h2>Formula</h2>\n<p>In the CSV's column names and original units (numbers rounded "
            "to 6 significant digits; full precision in metrics.json).</p>\n"
            f"<pre><code>{esc(formula)}</code></pre>\n"
        )
        if formula_tex is not None:
            formula_html += f"<p>LaTeX:</p>\n<pre><code>{esc(formula_tex)}</code></pre>\n"
    warnings = "".join(f"<p class=\"warning\">Warning: {esc(w)}</p>\n"
                       for w in metrics.get("warnings") or [])
    title = f"kanlab fit: {metrics.get('target')}"
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        f"<title>{esc(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
        f"<h1>{esc(title)}</h1>\n{warnings}"
        f"<h2>Command</h2>\n<pre><code>{esc(command)}</code></pre>\n"
        f"<h2>Metrics</h2>\n<table>\n{table}\n</table>\n"
        f"{formula_html}"
        f"<h2>Plots</h2>\n<div class=\"figs\">\n{''.join(figures)}\n</div>\n"
        "</body>\n</html>\n"
    )
