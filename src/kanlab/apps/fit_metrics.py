"""``metrics.json`` of ``kanlab fit``: the fit's numbers, its settings and its warnings.

:func:`fit_metrics` measures a trained :class:`~kanlab.apps.tabular.TabularModel` on the
training and test rows, adds the held-out (validation) scores of the model and of its formula,
what the model search tried (:class:`~kanlab.apps.auto.Selection`), and the warnings of
:mod:`kanlab.apps.diagnostics`: a train/validation gap, a negative R², too few rows for the
model, inputs on wild scales, a formula much worse than the model.
"""

from __future__ import annotations

from typing import Any

from kanlab.apps import diagnostics
from kanlab.apps.auto import Selection, validation_score
from kanlab.apps.pipeline import PipelineResult, rmse_r2
from kanlab.data import Dataset
from kanlab.interpret.prune import n_edges
from kanlab.nn.mlp import n_parameters

# the tabular module's FitOptions and TabularModel are passed in (it imports this module)
FitOptions = TabularModel = Any

__all__ = ["fit_metrics", "rmses"]


def rmses(pipeline: TabularModel, data: Dataset) -> dict[str, float]:
    """Train (and test) RMSE of ``pipeline`` in the target's units."""
    out = {"train_rmse": rmse_r2(data.train_label[:, 0], pipeline.predict(data.train_input))[0]}
    if data.test_input is not None:
        out["test_rmse"] = rmse_r2(data.test_label[:, 0], pipeline.predict(data.test_input))[0]
    return out


def fit_metrics(run: PipelineResult, pipeline: TabularModel, data: Dataset, opts: FitOptions,
                formula: Any, spline: dict[str, Any],
                selection: Selection | None) -> dict[str, Any]:
    """``metrics.json``: the fit's numbers and settings (see
    :func:`~kanlab.apps.report.write_outputs`), and its warnings.

    ``validation_r2`` is the R² of the (spline) model on the held-out rows: those of the final
    training run where rows were held out, else those of the chosen candidate's trial in the
    search (trained on the other rows); ``formula_validation_r2`` is the formula's on the
    final run's held-out rows.
    """
    model = run.model
    train_rmse, train_r2 = rmse_r2(data.train_label[:, 0], pipeline.predict(data.train_input))
    test_rmse = test_r2 = None
    if data.test_input is not None:
        test_rmse, test_r2 = rmse_r2(data.test_label[:, 0], pipeline.predict(data.test_input))
        if data.test_input.shape[0] < 2:
            test_r2 = None  # one row: R² is undefined
    held_out = validation_score(run)
    formula_r2 = held_out if opts.symbolic else None
    model_r2 = spline.get("validation_r2") if opts.symbolic else held_out
    if model_r2 is None and selection is not None:
        model_r2 = selection.val_score
    metrics: dict[str, Any] = {
        "target": pipeline.target, "features": pipeline.features,
        "n_train": int(data.train_input.shape[0]),
        "n_test": 0 if data.test_input is None else int(data.test_input.shape[0]),
        "n_validation": 0 if run.validation is None else int(run.validation[0].shape[0]),
        "train_rmse": train_rmse, "test_rmse": test_rmse,
        "train_r2": train_r2, "test_r2": test_r2, "validation_r2": model_r2,
        "n_params": n_parameters(model), "n_edges": n_edges(model),
        "widths": list(model.widths),
        "widths_before_pruning": run.widths_trained if opts.prune else None,
        "grid": model.grid_size,
        "grid_schedule": None if opts.auto else opts.schedule(),
        "grid_strategy": opts.grid,
        "steps_per_grid": None if opts.auto else opts.steps_per_grid, "lamb": opts.lamb,
        "prune": opts.prune, "symbolic": opts.symbolic, "seed": opts.seed,
        "test_fraction": opts.test_fraction, "seconds": run.seconds,
        "model_choice": None if selection is None else selection.as_dict(),
        "formula": None if formula is None else str(formula),
        "formula_validation_r2": formula_r2,
        "formula_ok": None,
        "spline_train_rmse": spline.get("train_rmse"),
        "spline_test_rmse": spline.get("test_rmse"),
        "warnings": _warnings(run, data, pipeline, train_r2, test_r2, model_r2),
    }
    if opts.symbolic:
        _judge_formula(metrics, opts, spline, pipeline.y_scale)
    return metrics


def _warnings(run: PipelineResult, data: Dataset, pipeline: TabularModel, train_r2: float,
              test_r2: float | None, val_r2: float | None) -> list[str]:
    """The diagnostics of the data, the model and its scores."""
    model = run.model
    found = diagnostics.input_scales(data.train_input, pipeline.features)
    found += diagnostics.rows_for_grid(int(data.train_input.shape[0]), len(pipeline.features),
                                       model.grid_size, n_parameters(model))
    found += diagnostics.fit_gap(train_r2, val_r2)
    found += diagnostics.negative_r2("validation", val_r2)
    found += diagnostics.negative_r2("test", test_r2)
    return found


def _judge_formula(metrics: dict[str, Any], opts: FitOptions, spline: dict[str, Any],
                   y_scale: float) -> None:
    """``formula_ok`` and the warnings of a symbolic fit: on the held-out rows where there are
    some (:func:`~kanlab.apps.diagnostics.formula_vs_model`), else on the training rows."""
    formula_r2, model_r2 = metrics["formula_validation_r2"], spline.get("validation_r2")
    if formula_r2 is not None and model_r2 is not None:
        found = diagnostics.formula_vs_model(formula_r2, model_r2)
        metrics["formula_ok"] = not found
        metrics["warnings"] += found
        return
    train_rmse = metrics["train_rmse"]
    worse = train_rmse > 2 * spline["train_rmse"] + 1e-12 * y_scale
    metrics["formula_ok"] = not worse
    if worse:
        advice = ("train longer (--steps-per-grid) or sparsify more (a larger --lamb)"
                  if opts.prune and opts.lamb > 0 else
                  "sparsify and prune first (e.g. --lamb 1e-3 --prune), or train longer")
        metrics["warnings"].append(
            f"the symbolic formula fits worse than the spline model it replaced (train RMSE "
            f"{train_rmse:.3g} against {spline['train_rmse']:.3g}); {advice}"
        )
