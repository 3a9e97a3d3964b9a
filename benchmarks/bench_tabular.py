"""Real tables: cross-validated kanlab defaults against scikit-learn's linear model, GBM and MLP.

Issue 16's benchmark. On every regression and classification set bundled with scikit-learn and
four real tables shipped with statsmodels (``_tabular_data.py`` documents each: target, features,
rows, transformations), 5-fold cross-validation (``KFold`` for regression,
``StratifiedKFold`` for classification; both shuffled with ``random_state=0``) of:

* ``kan``: ``KANRegressor(random_state=fold)`` / ``KANClassifier(random_state=fold)``, every
  other argument at its default;
* ``cli``: what ``kanlab fit`` computes with its defaults (regression only): the fold's training
  rows are written to a temporary CSV (header: feature names, then the target) and passed to
  ``kanlab.apps.tabular.fit_csv(path, target, options=FitOptions(progress=False, seed=fold))``,
  which holds out its own test fraction of those rows, as the command does; the fold's test rows
  are scored with ``result.pipeline.predict``;
* ``linear``: ``make_pipeline(StandardScaler(), RidgeCV())`` /
  ``make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000))``;
* ``gbm``: ``GradientBoostingRegressor`` / ``GradientBoostingClassifier`` (random_state=fold);
* ``mlp``: ``make_pipeline(StandardScaler(), MLPRegressor / MLPClassifier(max_iter=2000,
  early_stopping=False, random_state=fold))``, the regressor inside
  ``TransformedTargetRegressor(transformer=StandardScaler())`` so the target is scaled too.

Scores: R² (regression) or accuracy (classification) on each fold's test rows; fit seconds are
``time.perf_counter`` around ``fit`` (for ``cli``, around ``fit_csv``: reading the CSV, training
and its metrics) only. Warnings raised while fitting and predicting are counted by category, not
shown; for ``cli``, the warnings ``fit_csv`` reports in its metrics (``metrics.json``) are
counted too. The summary judges ``kan`` against issue 16's targets (see :func:`judge`).

torch's thread count is left as the caller set it: run with ``OMP_NUM_THREADS=1`` (the
environment line reports the count). ``--quick`` is a smoke test, not a result: 2 folds, at most
200 rows per table, and the KAN models with a few optimiser steps (the only non-default
argument anywhere, named in the output).

Usage: ``OMP_NUM_THREADS=1 python benchmarks/bench_tabular.py [--quick] [--datasets a,b]
[--folds 5] [--models kan,cli,linear,gbm,mlp] [--out benchmarks/results/tabular.md]``; writes
the markdown to ``--out`` and the per-fold numbers next to it (``.json``).
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import math
import os
import shlex
import statistics
import sys
import tempfile
import time
import warnings
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from _common import RESULTS_DIR, LoadWatch, env_line, fmt, markdown_table
from _tabular_data import CLASSIFICATION, LOADERS, REGRESSION, Table

MODELS = ("kan", "cli", "linear", "gbm", "mlp")
#: issue 16's targets: the KAN's mean score at most this far below the better of linear / GBM
MARGIN = {REGRESSION: 0.02, CLASSIFICATION: 0.01}
#: ... and every fit under TIME_LIMIT_S seconds for tables of at most TIMED_ROWS rows
TIME_LIMIT_S, TIMED_ROWS = 30.0, 1000
QUICK_FOLDS, QUICK_ROWS, QUICK_STEPS_PER_GRID = 2, 200, 5
SPLIT_SEED = 0


@dataclass
class FoldResult:
    """One model on one fold: its test score, fit seconds and the warnings counted by category
    (a failed fit: score and seconds NaN, the error counted as ``error: <type>``)."""

    score: float
    seconds: float
    warnings: dict[str, int] = field(default_factory=dict)


def judge(task: str, kan_scores: list[float], reference_mean: float,
          kan_max_seconds: float, n_rows: int) -> list[str]:
    """Issue 16's targets that the KAN misses on one data set; an empty list is a pass.

    Args:
        task: ``"regression"`` or ``"classification"``.
        kan_scores: the KAN's score per fold (R² or accuracy); NaN for a failed fold.
        reference_mean: the better of the linear model's and gradient boosting's mean scores.
        kan_max_seconds: the KAN's longest fit.
        n_rows: the rows of the table as benchmarked; fit times are judged for at most
            ``TIMED_ROWS`` rows only.

    Returns:
        One sentence per missed target: a mean score more than ``MARGIN[task]`` below
        ``reference_mean``; (regression) a fold with negative R²; a fit of ``TIME_LIMIT_S``
        seconds or more; a failed fold.
    """
    failures = []
    if any(math.isnan(s) for s in kan_scores):
        failures.append(f"{sum(math.isnan(s) for s in kan_scores)} fold(s) failed")
        return failures
    gap = statistics.fmean(kan_scores) - reference_mean
    if gap < -MARGIN[task] - 1e-12:  # a gap of exactly the margin, rounded, passes
        failures.append(f"{gap:+.3f} against the better baseline (allowed -{MARGIN[task]})")
    if task == REGRESSION and min(kan_scores) < 0:
        failures.append(f"a fold with R² {min(kan_scores):.3f} < 0")
    if n_rows <= TIMED_ROWS and not kan_max_seconds < TIME_LIMIT_S:
        failures.append(f"a fit took {kan_max_seconds:.1f} s (limit {TIME_LIMIT_S:.0f} s)")
    return failures


def kan_arguments(estimator_class: type, quick: bool) -> dict[str, int]:
    """The KAN estimator's arguments besides ``random_state``: none, or in quick mode
    ``steps`` = ``QUICK_STEPS_PER_GRID`` per grid size of its default schedule."""
    if not quick:
        return {}
    grids = estimator_class().get_params().get("grids")
    n_grids = len(grids) if isinstance(grids, (list, tuple)) else 4
    return {"steps": QUICK_STEPS_PER_GRID * n_grids}


def make_estimator(model: str, task: str, seed: int, quick: bool):
    """A fresh, unfitted estimator for ``model`` (not ``"cli"``) on ``task``."""
    from sklearn.compose import TransformedTargetRegressor
    from sklearn.ensemble import GradientBoostingClassifier, GradientBoostingRegressor
    from sklearn.linear_model import LogisticRegression, RidgeCV
    from sklearn.neural_network import MLPClassifier, MLPRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    regression = task == REGRESSION
    if model == "kan":
        from kanlab import KANClassifier, KANRegressor

        cls = KANRegressor if regression else KANClassifier
        return cls(random_state=seed, **kan_arguments(cls, quick))
    if model == "linear":
        last = RidgeCV() if regression else LogisticRegression(max_iter=5000)
        return make_pipeline(StandardScaler(), last)
    if model == "gbm":
        cls = GradientBoostingRegressor if regression else GradientBoostingClassifier
        return cls(random_state=seed)
    if model == "mlp":
        mlp_args = {"max_iter": 2000, "early_stopping": False, "random_state": seed}
        if not regression:
            return make_pipeline(StandardScaler(), MLPClassifier(**mlp_args))
        return TransformedTargetRegressor(
            regressor=make_pipeline(StandardScaler(), MLPRegressor(**mlp_args)),
            transformer=StandardScaler())
    raise ValueError(f"unknown model {model!r}; expected one of {MODELS}")


def model_label(model: str, task: str, quick: bool) -> str:
    """How ``model`` is named in the tables."""
    regression = task == REGRESSION
    if model == "kan":
        from kanlab import KANClassifier, KANRegressor

        cls = KANRegressor if regression else KANClassifier
        args = ", ".join(f"{k}={v}" for k, v in kan_arguments(cls, quick).items())
        return f"{cls.__name__}({args})"
    return {
        "cli": f"kanlab fit (steps per grid {QUICK_STEPS_PER_GRID})" if quick else
               "kanlab fit (defaults)",
        "linear": "RidgeCV" if regression else "LogisticRegression",
        "gbm": "GradientBoosting" + ("Regressor" if regression else "Classifier"),
        "mlp": "MLP" + ("Regressor" if regression else "Classifier"),
    }[model]


def fit_cli(table: Table, train: np.ndarray, test: np.ndarray, seed: int,
            quick: bool) -> tuple[np.ndarray, float, int]:
    """``kanlab fit``'s computation on the training rows: predictions ``(len(test),)`` of the
    test rows, the seconds of ``fit_csv`` and the number of warnings in its metrics (what
    ``metrics.json`` and the command's output would list)."""
    import torch

    from kanlab.apps.tabular import FitOptions, fit_csv

    options = FitOptions(progress=False, seed=seed)
    if quick:
        options = dataclasses.replace(options, steps_per_grid=QUICK_STEPS_PER_GRID)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{table.name}.csv"
        with path.open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow([*table.features, table.target])
            for x, y in zip(table.X[train], table.y[train]):
                writer.writerow([repr(float(v)) for v in (*x, y)])
        start = time.perf_counter()
        result = fit_csv(path, table.target, options=options)
        seconds = time.perf_counter() - start
    x_test = torch.tensor(table.X[test], dtype=torch.float64)
    return (result.pipeline.predict(x_test).numpy(), seconds,
            len(result.metrics.get("warnings", [])))


def run_fold(table: Table, model: str, train: np.ndarray, test: np.ndarray, seed: int,
             quick: bool) -> FoldResult:
    """Fit ``model`` on the ``train`` rows of ``table`` and score it on the ``test`` rows."""
    from sklearn.metrics import accuracy_score, r2_score

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        reported = 0
        try:
            if model == "cli":
                pred, seconds, reported = fit_cli(table, train, test, seed, quick)
            else:
                estimator = make_estimator(model, table.task, seed, quick)
                start = time.perf_counter()
                estimator.fit(table.X[train], table.y[train])
                seconds = time.perf_counter() - start
                pred = estimator.predict(table.X[test])
        except Exception as err:  # noqa: BLE001 - one failed fit must not end a long run
            print(f"    {table.name} {model} fold {seed}: {type(err).__name__}: {err}",
                  file=sys.stderr)
            return FoldResult(math.nan, math.nan, {f"error: {type(err).__name__}": 1})
    metric = r2_score if table.task == REGRESSION else accuracy_score
    counts = Counter(w.category.__name__ for w in caught)
    if reported:
        counts["metrics.json warning"] = reported
    return FoldResult(float(metric(table.y[test], pred)), seconds, dict(counts))


def cross_validate(table: Table, models: list[str], folds: int,
                   quick: bool) -> dict[str, list[FoldResult]]:
    """Every model of ``models`` that applies to ``table``'s task on every fold (``"cli"``:
    regression only)."""
    from sklearn.model_selection import KFold, StratifiedKFold

    kind = KFold if table.task == REGRESSION else StratifiedKFold
    splits = list(kind(n_splits=folds, shuffle=True, random_state=SPLIT_SEED)
                  .split(table.X, table.y))
    results: dict[str, list[FoldResult]] = {}
    for model in models:
        if model == "cli" and table.task != REGRESSION:
            continue
        results[model] = []
        for seed, (train, test) in enumerate(splits):
            fold = run_fold(table, model, train, test, seed, quick)
            results[model].append(fold)
            print(f"  {table.name} {model} fold {seed}: score {fold.score:.3f}, "
                  f"{fold.seconds:.2f} s", file=sys.stderr)
    return results


def _json_fold(fold: FoldResult) -> dict:
    """``fold`` as JSON-ready numbers (NaN, a failed fit: null)."""
    doc = asdict(fold)
    for key in ("score", "seconds"):
        doc[key] = None if math.isnan(doc[key]) else doc[key]
    return doc


def _mean(values: list[float]) -> float:
    return statistics.fmean(values) if values else math.nan


def _summarise(folds: list[FoldResult]) -> dict[str, float]:
    """Mean, sample standard deviation and minimum of the scores; mean and max fit seconds."""
    scores = [f.score for f in folds]
    seconds = [f.seconds for f in folds]
    return {"mean": _mean(scores), "min": min(scores),
            "std": statistics.stdev(scores) if len(scores) > 1 else 0.0,
            "mean_s": _mean(seconds), "max_s": max(seconds)}


def _warning_text(folds: list[FoldResult]) -> str:
    total: Counter[str] = Counter()
    for fold in folds:
        total.update(fold.warnings)
    return ", ".join(f"{name} ×{n}" for name, n in sorted(total.items())) or "–"


def dataset_section(table: Table, results: dict[str, list[FoldResult]], models: list[str],
                    quick: bool) -> str:
    """One data set's heading, source and table (one row per model)."""
    metric = "R²" if table.task == REGRESSION else "accuracy"
    head = ["model", f"{metric} mean ± std", "min fold", "fit s mean", "fit s max", "warnings"]
    rows = []
    for model in models:
        label = model_label(model, table.task, quick)
        if model not in results:
            rows.append([label, "–", "–", "–", "–", "–"])
            continue
        s = _summarise(results[model])
        rows.append([label, f"{s['mean']:.3f} ± {s['std']:.3f}", f"{s['min']:.3f}",
                     fmt(s["mean_s"]), fmt(s["max_s"]), _warning_text(results[model])])
    n_features = len(table.features)
    title = (f"## {table.name} ({table.task}, {metric}; {len(table.y)} rows, "
             f"{n_features} feature{'s' if n_features > 1 else ''})")
    return "\n".join([title, "", f"{table.source}.", "", markdown_table(head, rows), ""])


def summary_row(table: Table, results: dict[str, list[FoldResult]]) -> list[object]:
    """The summary table's row for one data set, with the verdict of :func:`judge`."""
    means = {m: _summarise(f)["mean"] for m, f in results.items()}
    cli = f"{means['cli']:.3f}" if "cli" in means else "–"
    base = [m for m in ("linear", "gbm") if m in means and not math.isnan(means[m])]
    if "kan" not in results:
        return [table.name, table.task, len(table.y), "–", cli, "–", "–", "–", "–", "n/a"]
    kan = _summarise(results["kan"])
    timed = "" if len(table.y) <= TIMED_ROWS else " (not judged)"
    if not base:
        return [table.name, table.task, len(table.y), f"{kan['mean']:.3f}", cli, "–", "–",
                f"{kan['min']:.3f}", fmt(kan["max_s"]) + timed, "n/a (no linear/gbm run)"]
    best = max(base, key=means.__getitem__)
    failures = judge(table.task, [f.score for f in results["kan"]], means[best],
                     kan["max_s"], len(table.y))
    verdict = "PASS" if not failures else "FAIL: " + "; ".join(failures)
    return [table.name, table.task, len(table.y), f"{kan['mean']:.3f}", cli,
            f"{means[best]:.3f} ({best})", f"{kan['mean'] - means[best]:+.3f}",
            f"{kan['min']:.3f}", fmt(kan["max_s"]) + timed, verdict]


def command_line(argv: list[str]) -> str:
    """The command as typed, with the ``OMP_NUM_THREADS`` it ran under."""
    threads = os.environ.get("OMP_NUM_THREADS")
    prefix = f"OMP_NUM_THREADS={threads} " if threads is not None else ""
    return prefix + shlex.join(["python", "benchmarks/bench_tabular.py", *argv])


def environment() -> str:
    """:func:`_common.env_line` (thread count included) plus the versions of kanlab,
    scikit-learn, statsmodels, numpy."""
    from importlib.metadata import PackageNotFoundError, version

    def ver(name: str) -> str:
        try:
            return version(name)
        except PackageNotFoundError:
            return "not installed"

    import platform

    libs = ", ".join(f"{n} {ver(n)}" for n in ("kanlab", "scikit-learn", "statsmodels",
                                                "numpy"))
    return f"{env_line()}; {libs}; {platform.platform()}"


def report(sections: list[str], summary: list[list[object]], folds: int, quick: bool,
           command: str, env: str) -> str:
    """The markdown file: command, environment, protocol, summary, one section per table."""
    mode = "quick smoke run, not a result" if quick else "full"
    head = ["data set", "task", "rows", "KAN mean", "CLI mean", "better of linear/GBM",
            "KAN − better", "KAN min fold", "KAN max fit s", "issue 16 target"]
    protocol = (
        f"{folds}-fold cross-validation (KFold for regression, StratifiedKFold for "
        f"classification, shuffled, random_state={SPLIT_SEED}); each model's random_state is "
        "the fold's index. Scores: R² (regression) or accuracy (classification) of each "
        "fold's test rows; std is the sample standard deviation over folds; fit seconds time "
        "`fit` only (the CLI: `fit_csv`, which also holds out its own test rows of the fold's "
        "training rows, as `kanlab fit` does). Protocol and data sets: the docstrings of "
        "`benchmarks/bench_tabular.py` and `benchmarks/_tabular_data.py`.")
    quick_note = (
        f"**Quick mode**: {QUICK_FOLDS} folds unless --folds says otherwise, at most "
        f"{QUICK_ROWS} rows per table (subsampled, seed 0), and the KAN models with "
        f"{QUICK_STEPS_PER_GRID} optimiser steps per grid size instead of their defaults. "
        "The verdicts below mean nothing.\n\n" if quick else "")
    targets = (
        f"Issue 16's targets for the KAN defaults: mean R² within {MARGIN[REGRESSION]} of the "
        "better of the linear model and gradient boosting (or ahead) and no fold with negative "
        f"R²; mean accuracy within {MARGIN[CLASSIFICATION]}; each fit under "
        f"{TIME_LIMIT_S:.0f} s for tables of at most {TIMED_ROWS:,} rows (larger tables: "
        "reported, not judged).")
    return "\n".join([
        f"# Real tables ({mode}): kanlab's defaults against scikit-learn baselines", "",
        f"Command: `{command}`", "", f"Environment: {env}", "", protocol, "",
        quick_note + "## Summary", "", markdown_table(head, summary), "", targets, "",
        *sections])


def run_datasets(names: list[str], models: list[str], folds: int,
                 quick: bool) -> tuple[list[str], list[list[object]], dict]:
    """Cross-validate every model on every named data set: the report's sections, the summary
    rows and the raw per-fold numbers (for the JSON)."""
    sections, summary, raw = [], [], {}
    for name in names:
        table = LOADERS[name]()
        if quick:
            table = table.subsample(QUICK_ROWS, seed=0)
        print(f"{name}: {len(table.y)} rows, {len(table.features)} feature(s)", file=sys.stderr)
        results = cross_validate(table, models, folds, quick)
        sections.append(dataset_section(table, results, models, quick))
        summary.append(summary_row(table, results))
        raw[name] = {"task": table.task, "rows": len(table.y), "features": table.features,
                     "target": table.target, "source": table.source, "verdict": summary[-1][-1],
                     "models": {m: [_json_fold(f) for f in fs] for m, fs in results.items()}}
    return sections, summary, raw


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default=",".join(LOADERS),
                        help=f"comma-separated data sets ({','.join(LOADERS)})")
    parser.add_argument("--folds", type=int, default=None, help="CV folds (5; quick: 2)")
    parser.add_argument("--models", default=",".join(MODELS),
                        help=f"comma-separated models ({','.join(MODELS)})")
    parser.add_argument("--quick", action="store_true",
                        help=f"smoke test: {QUICK_FOLDS} folds, {QUICK_ROWS} rows, few KAN steps")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / "tabular.md",
                        help="the markdown file (default benchmarks/results/tabular.md); the "
                             "per-fold JSON goes next to it")
    args = parser.parse_args(argv)
    names = [n for n in args.datasets.split(",") if n]
    models = [m for m in args.models.split(",") if m]
    for bad, known, what in ((set(names) - set(LOADERS), LOADERS, "data set"),
                             (set(models) - set(MODELS), MODELS, "model")):
        if bad:
            parser.error(f"unknown {what}(s) {sorted(bad)}; expected some of {list(known)}")
    folds = args.folds or (QUICK_FOLDS if args.quick else 5)
    env, command = environment(), command_line(argv)
    with LoadWatch() as load:
        sections, summary, raw = run_datasets(names, models, folds, args.quick)
    env = f"{env}; load: {load.line()}"
    text = report(sections, summary, folds, args.quick, command, env)
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    doc = {"command": command, "environment": env, "quick": args.quick, "folds": folds,
           "split_seed": SPLIT_SEED, "datasets": raw}
    json_path = args.out.with_suffix(".json")
    json_path.write_text(json.dumps(doc, indent=1) + "\n")
    print(f"wrote {args.out} and {json_path}", file=sys.stderr)


if __name__ == "__main__":
    main()
