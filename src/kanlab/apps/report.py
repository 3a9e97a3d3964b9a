"""What ``kanlab fit`` writes into its run directory, fed by the result of
:func:`~kanlab.apps.tabular.fit_csv`: the model, metrics, predictions, formula, plots and a
self-contained HTML report.

An output directory holds:

``model/``, ``pipeline.json``
    what ``kanlab predict`` needs (:class:`~kanlab.apps.tabular.TabularModel`).
``metrics.json``, ``predictions.csv``, ``formula.txt``/``formula.tex`` (symbolic fits),
``network.png``, ``training.png``, ``report.html``
    see :func:`write_outputs`.

Nothing here prints; the command line does. The names this module held before the pipeline
moved to :mod:`kanlab.apps.pipeline` and :mod:`kanlab.apps.tabular` (``fit_csv``,
``FitOptions``, ``FitResult``, ``Pipeline`` -- now ``TabularModel`` --, ``read_columns``,
``csv_header``, ``center_scale``, ``rmse_r2``) are still importable from it.
"""

from __future__ import annotations

import base64
import csv
import html
import json
import os
import secrets
import shutil
from pathlib import Path
from typing import Any

import torch

from kanlab.apps.pipeline import center_scale, rmse_r2
from kanlab.apps.tabular import MODEL_DIR, PIPELINE_FILE, FitOptions, FitResult, fit_csv
from kanlab.apps.tabular import TabularModel as Pipeline
from kanlab.data.csv import csv_header, read_columns
from kanlab.errors import InputError

__all__ = [
    "FitOptions",
    "FitResult",
    "MODEL_DIR",
    "PIPELINE_FILE",
    "Pipeline",
    "center_scale",
    "csv_header",
    "fit_csv",
    "read_columns",
    "render_html",
    "rmse_r2",
    "write_outputs",
    "write_predictions",
]


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

    ``model/`` and ``pipeline.json`` (see :class:`~kanlab.apps.tabular.TabularModel`);
    ``metrics.json`` (train/test RMSE and R² in the target's units, n_params, widths, grid
    sizes, seconds, features, target, the settings, warnings); ``predictions.csv`` (the
    predictions of every CSV row, in file order); ``formula.txt`` and ``formula.tex``
    (symbolic fits; numbers rounded to 6 significant digits, the full-precision formula is in
    ``metrics.json``); ``network.png`` (the KAN on standardised units); ``training.png`` (RMSE
    per step, in the target's units); ``report.html`` (all of it in one self-contained file;
    ``command`` is shown in it).

    The files are written into a temporary directory beside ``out`` and moved into place once
    all are written: on a failure, ``out`` (and any parent directory created for it) is left
    as it was. Into an existing ``out``, the new files replace those of the same names, and
    the files of an earlier run that this one does not write (a formula) are removed; other
    files stay.
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InputError(f"{out}: exists and is not a directory; name a directory for the run")
    created = _first_missing(out.parent)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = out.parent / f".{out.name}.{os.getpid()}.{secrets.token_hex(4)}.partial"
    staging.mkdir()
    try:
        names = _write_all(result, staging, command)
        _move_into(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        if created is not None:
            shutil.rmtree(created, ignore_errors=True)
        raise
    return [out / name for name in names]


#: every file and directory :func:`write_outputs` may write
_OUTPUT_NAMES = (MODEL_DIR, PIPELINE_FILE, "metrics.json", "predictions.csv", "formula.txt",
                "formula.tex", "network.png", "training.png", "report.html")


def _first_missing(directory: Path) -> Path | None:
    """The outermost of ``directory`` and its parents that does not exist (None: it exists)."""
    missing = None
    for path in (directory, *directory.parents):
        if path.exists():
            break
        missing = path
    return missing


def _move_into(staging: Path, out: Path) -> None:
    """Move what ``staging`` holds to ``out``: a rename when ``out`` does not exist, else
    entry by entry, replacing (and removing the stale outputs of an earlier run)."""
    if not out.exists():
        staging.rename(out)
        return
    for name in _OUTPUT_NAMES:
        target = out / name
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        elif target.exists() or target.is_symlink():
            target.unlink()
        if (staging / name).exists():
            (staging / name).rename(target)
    staging.rmdir()


def _write_all(result: FitResult, out: Path, command: str) -> list[str]:
    """Write the outputs into the existing directory ``out``; the names written, in order."""
    pipe = result.pipeline
    names = [MODEL_DIR, pipe.save(out).name]

    (out / "metrics.json").write_text(json.dumps(result.metrics, indent=2) + "\n")
    with open(out / "predictions.csv", "w", newline="") as fh:
        write_predictions(fh, pipe.prediction_name, result.predictions)
    names += ["metrics.json", "predictions.csv"]

    text, tex = _formula_texts(result)
    if text is not None:
        for name, content in (("formula.txt", text), ("formula.tex", tex)):
            (out / name).write_text(content + "\n")
            names.append(name)

    images = _write_plots(result, out)
    names += list(images)
    (out / "report.html").write_text(
        render_html(result.metrics, images, command, formula=text, formula_tex=tex),
        encoding="utf-8")
    return [*names, "report.html"]


def _formula_texts(result: FitResult) -> tuple[str | None, str | None]:
    """``target = formula`` as text and as LaTeX, 6 significant digits (None, None: no
    formula)."""
    if result.formula is None:
        return None, None
    import sympy as sp

    from kanlab.symbolic.formula import tidy

    target = result.pipeline.target
    readable = tidy(result.formula, digits=6)
    return (f"{target} = {sp.sstr(readable)}",
            f"{sp.latex(sp.Symbol(target))} = {sp.latex(readable)}")


def _write_plots(result: FitResult, out: Path) -> dict[str, bytes]:
    """Write ``network.png`` and ``training.png`` into ``out``; returns their bytes by name."""
    from kanlab.interpret.plot import plot_history, plot_network

    pipe = result.pipeline
    z = pipe.standardize(result.train_x)
    fig = plot_network(pipe.model, z, in_vars=[_matplotlib_label(f) for f in pipe.features],
                       out_vars=[_matplotlib_label(pipe.target)], samples=200,
                       title="inputs and output standardised (zero mean, unit variance)")
    _png(fig, out / "network.png")
    fig = plot_history(result.history, metrics=("train_rmse", "test_rmse"))
    fig.axes[0].set_ylabel(f"RMSE of {_matplotlib_label(pipe.target)}")
    _png(fig, out / "training.png")
    return {name: (out / name).read_bytes() for name in ("network.png", "training.png")}


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


def _choice_html(choice: dict[str, Any] | None) -> str:
    """The model search's section: what was chosen and why, and every candidate's score."""
    if choice is None:
        return ""
    esc = html.escape
    rows = "\n".join(
        f"<tr><td>{esc(t['model'])}</td><td class=\"num\">{esc(_fmt(t['val_loss']))}</td>"
        f"<td class=\"num\">{esc(_fmt(t['val_score']))}</td>"
        f"<td class=\"num\">{esc(_fmt(t['best_step']))}</td></tr>"
        for t in choice["trials"]
    )
    table = ("" if not rows else
             "<table>\n<tr><th>candidate</th><th>validation loss</th><th>validation R²</th>"
             f"<th>best step</th></tr>\n{rows}\n</table>\n")
    return (f"<h2>Model choice</h2>\n<p>{esc(choice['chosen'])}: {esc(choice['reason'])}.</p>\n"
            f"{table}")


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
        ("validation R² (held-out training rows)", metrics.get("validation_r2")),
        ("formula's validation R²", metrics.get("formula_validation_r2")),
        ("spline model's train RMSE (before snapping)", metrics.get("spline_train_rmse")),
        ("spline model's test RMSE (before snapping)", metrics.get("spline_test_rmse")),
        ("widths", metrics.get("widths")),
        ("widths before pruning", metrics.get("widths_before_pruning")),
        ("grid sizes", metrics.get("grid")), ("grid schedule", metrics.get("grid_schedule")),
        ("grid strategy", metrics.get("grid_strategy")),
        ("steps per grid", metrics.get("steps_per_grid")), ("λ", metrics.get("lamb")),
        ("pruned", metrics.get("prune")), ("symbolic", metrics.get("symbolic")),
        ("edges", metrics.get("n_edges")),
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
        if metrics.get("formula_ok") is False:
            formula_html = formula_html.replace(
                "<h2>Formula</h2>\n", "<h2>Formula</h2>\n<p class=\"warning\">No short formula "
                "fits as well as the model (see the warnings): the best one found is shown for "
                "reading, not for use.</p>\n", 1)
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
        f"{_choice_html(metrics.get('model_choice'))}{formula_html}"
        f"<h2>Plots</h2>\n<div class=\"figs\">\n{''.join(figures)}\n</div>\n"
        "</body>\n</html>\n"
    )
