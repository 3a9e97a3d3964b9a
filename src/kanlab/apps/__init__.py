"""What people run: one pipeline and its three front ends.

- :mod:`~kanlab.apps.pipeline`: the one pipeline (standardise, build, train with a grid
  schedule, prune, retrain, simplify, snap to symbols), :func:`~kanlab.apps.pipeline.run_pipeline`;
  :mod:`~kanlab.apps.standardization`, its first stage.
- :mod:`~kanlab.apps.ensemble_runs`: the pipeline's training for several seeds at once (an
  ensemble, its members ranked on held-out rows: the estimators' ``n_members``).
- :mod:`~kanlab.apps.auto`: the model chosen from the data: a few candidates (penalised
  additive KANs, a small network) cross-validated, the network only when it beats every
  additive one by more than a standard error, the winner trained again (the defaults of
  ``kanlab fit`` and the estimators).
- :mod:`~kanlab.apps.tabular`: ``kanlab fit`` / ``kanlab predict`` on a CSV file's columns (the
  pipeline, the run directory's model and its metrics); :mod:`~kanlab.apps.report` writes the
  run directory (metrics, formula, plots, report.html); :mod:`~kanlab.apps.fit_metrics`
  measures the run for ``metrics.json``.
- :mod:`~kanlab.apps.cli`: the ``kanlab`` command (arguments and printing only).
- :mod:`~kanlab.apps.estimators`: scikit-learn's ``KANRegressor`` and ``KANClassifier``
  (imports scikit-learn; not imported by ``import kanlab``).
- :mod:`~kanlab.apps.demos`: ``make demo`` and ``make demo-symbolic``.
- :mod:`~kanlab.apps.diagnostics`: warnings for real data (a train/held-out gap, a negative
  R², too few rows, inputs on wild scales, a formula much worse than the model).

Imports: anything in kanlab below it. Within: ``diagnostics``, ``standardization`` <
``pipeline`` < ``auto``, ``ensemble_runs`` < ``fit_metrics`` < ``tabular``, ``estimators``,
``demos`` < ``report`` < ``cli``.
"""

from kanlab.apps import (  # noqa: F401
    auto,
    cli,
    demos,
    diagnostics,
    ensemble_runs,
    fit_metrics,
    pipeline,
    report,
    standardization,
    tabular,
)

# estimators imports scikit-learn: ``from kanlab.apps import estimators`` when it is installed
__all__ = ["auto", "cli", "demos", "diagnostics", "ensemble_runs", "fit_metrics", "pipeline",
           "report", "standardization", "tabular"]
