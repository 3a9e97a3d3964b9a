"""The paper's science workflows on top of models and training.

- :mod:`~kanlab.science.pde`: derivatives of a network's output for physics-informed losses.
- :mod:`~kanlab.science.sweeps`: shapes × grids × seeds, resumable, and scaling-law fits
  (:mod:`~kanlab.science.sweep_runs`: the runs, the seeds of one shape trained together).
- :mod:`~kanlab.science.unsupervised`: the §4.2 unsupervised discovery of relations.

Imports: :mod:`kanlab.training`, :mod:`kanlab.nn`, :mod:`kanlab.data` and below.
"""

from __future__ import annotations

from kanlab.science import pde, sweep_runs, sweeps, unsupervised  # noqa: F401

__all__ = ["pde", "sweep_runs", "sweeps", "unsupervised"]
