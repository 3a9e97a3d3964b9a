"""What people run: one pipeline and its three front ends.

- :mod:`~kanlab.apps.report`: the CSV pipeline (standardise, fit with a grid schedule, prune,
  snap to symbols) and its report.
- :mod:`~kanlab.apps.cli`: the ``kanlab`` command.
- :mod:`~kanlab.apps.estimators`: scikit-learn's ``KANRegressor`` and ``KANClassifier``
  (imports scikit-learn; not imported by ``import kanlab``).
- :mod:`~kanlab.apps.demos`: ``make demo`` and ``make demo-symbolic``.

Imports: anything in kanlab below it.
"""
