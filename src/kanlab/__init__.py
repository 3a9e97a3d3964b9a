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
    sweeps,
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

_ESTIMATORS = ("KANClassifier", "KANRegressor")
# large data tables, imported on first access (``kanlab.feynman_catalog``)
_LAZY_MODULES = ("feynman_catalog",)


def __getattr__(name: str):
    """Names imported on first access: ``KANRegressor`` and ``KANClassifier`` (from
    :mod:`kanlab.estimators`, so ``import kanlab`` never imports scikit-learn) and the large
    data tables of :data:`_LAZY_MODULES`."""
    if name in _LAZY_MODULES:
        import importlib

        return importlib.import_module(f".{name}", __name__)
    if name in _ESTIMATORS:
        try:
            from . import estimators
        except ModuleNotFoundError as err:
            if (err.name or "").split(".")[0] != "sklearn":
                raise
            raise ImportError(
                f"kanlab.{name} needs scikit-learn: pip install 'kanlab[sklearn]'"
            ) from err
        return getattr(estimators, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "KAN",
    "KANClassifier",
    "KANRegressor",
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
    "feynman_catalog",
    "sweeps",
]
