"""Training: the fit loop and its parts.

- :mod:`~kanlab.training.loop`: :func:`fit` and its :class:`History`.
- :mod:`~kanlab.training.lbfgs`: the LBFGS optimiser with a strong-Wolfe line search.
- :mod:`~kanlab.training.regularization`: the sparsity penalties of the paper's §2.5.1.
- :mod:`~kanlab.training.distributed`: multi-process training (samples and statistics synced).

Imports: :mod:`kanlab.nn`, :mod:`kanlab.data`, :mod:`kanlab.grids` and below.
"""

from __future__ import annotations

from kanlab.training import (
    distributed,  # noqa: F401
    lbfgs,  # noqa: F401
    regularization,  # noqa: F401
)
from kanlab.training.loop import (  # noqa: F401
    History,
    TrainState,
    fit,
    grid_schedule_steps,
)

__all__ = [
    "History",
    "TrainState",
    "distributed",
    "fit",
    "grid_schedule_steps",
    "lbfgs",
    "regularization",
]
