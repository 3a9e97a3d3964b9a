"""kanlab: Kolmogorov-Arnold Networks on PyTorch."""

from importlib.metadata import PackageNotFoundError, version

from . import (
    data,
    datasets,
    density,
    formula,
    grids,
    importance,
    lstsq,
    mlp,
    pde,
    plot,
    prune,
    schedules,
    science_data,
    sparsity,
    splines,
    symbolic,
    symbolic_model,
    unsupervised,
)
from .errors import GridWarning, InputError, KanlabError
from .layer import KANLinear
from .model import KAN, LayerTrace
from .train import History, TrainState, fit

try:
    __version__ = version("kanlab")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

__all__ = [
    "KAN",
    "GridWarning",
    "History",
    "LayerTrace",
    "TrainState",
    "data",
    "datasets",
    "density",
    "fit",
    "formula",
    "importance",
    "plot",
    "prune",
    "sparsity",
    "symbolic",
    "symbolic_model",
    "unsupervised",
    "lstsq",
    "mlp",
    "pde",
    "InputError",
    "KANLinear",
    "KanlabError",
    "__version__",
    "grids",
    "schedules",
    "science_data",
    "splines",
]
