"""Training: the fit loop and its parts.

- :mod:`~kanlab.training.loop`: :func:`fit`, a short loop over the parts below.
- :mod:`~kanlab.training.batches`: ``fit``'s data checked, moved to the model, cut into batches.
- :mod:`~kanlab.training.grid_events`: the grid refinements and updates due before a step.
- :mod:`~kanlab.training.step`: the objective of a batch and the optimiser's step on it.
- :mod:`~kanlab.training.model_loss`: losses that see the model and the inputs (physics).
- :mod:`~kanlab.training.landscape`: the loss Hessian in the parameters.
- :mod:`~kanlab.training.records`: the :class:`History` and the progress of a run.
- :mod:`~kanlab.training.validation`: held-out data, early stopping, the best state restored.
- :mod:`~kanlab.training.parallel`: one process or every rank of a process group, one object.
- :mod:`~kanlab.training.lbfgs`: the LBFGS optimiser with a strong-Wolfe line search.
- :mod:`~kanlab.training.ensemble_fit`, :mod:`~kanlab.training.ensemble_lbfgs`,
  :mod:`~kanlab.training.ensemble_validation`: an ensemble's members trained side by side, each
  as a lone fit; LBFGS over every member at once; each member's early stop and best state.
- :mod:`~kanlab.training.regularization`: the sparsity penalties of the paper's §2.5.1.
- :mod:`~kanlab.training.spline_penalty`: the smoothness and ridge prior for noisy tables.
- :mod:`~kanlab.training.distributed`: multi-process training (samples and statistics synced).

Imports: :mod:`kanlab.nn`, :mod:`kanlab.data`, :mod:`kanlab.grids` and below.
"""

from __future__ import annotations

from kanlab.training import (
    batches,  # noqa: F401
    distributed,  # noqa: F401
    ensemble_fit,  # noqa: F401
    ensemble_lbfgs,  # noqa: F401
    ensemble_validation,  # noqa: F401
    grid_events,  # noqa: F401
    landscape,  # noqa: F401
    lbfgs,  # noqa: F401
    model_loss,  # noqa: F401
    parallel,  # noqa: F401
    records,  # noqa: F401
    regularization,  # noqa: F401
    spline_penalty,  # noqa: F401
    step,  # noqa: F401
    validation,  # noqa: F401
)
from kanlab.training.loop import (  # noqa: F401
    History,
    TrainState,
    fit,
    grid_schedule_steps,
)
from kanlab.training.model_loss import ModelLoss  # noqa: F401
from kanlab.training.parallel import Distributed, SingleProcess  # noqa: F401
from kanlab.training.spline_penalty import SplinePenalty  # noqa: F401

__all__ = [
    "Distributed",
    "History",
    "ModelLoss",
    "SingleProcess",
    "SplinePenalty",
    "TrainState",
    "batches",
    "distributed",
    "ensemble_fit",
    "ensemble_lbfgs",
    "ensemble_validation",
    "fit",
    "grid_events",
    "grid_schedule_steps",
    "landscape",
    "lbfgs",
    "model_loss",
    "parallel",
    "records",
    "regularization",
    "spline_penalty",
    "step",
    "validation",
]
