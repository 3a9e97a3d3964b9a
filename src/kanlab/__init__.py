"""kanlab: Kolmogorov-Arnold Networks on PyTorch.

The package is layered; each subpackage imports only those listed before it
(``docs/architecture.md``):

- :mod:`kanlab.splines`: B-spline bases, the layer's GEMM kernel, least squares.
- :mod:`kanlab.symbolic`: the library of symbolic functions, edge fitting, formulas.
- :mod:`kanlab.data`: datasets and their generators and readers.
- :mod:`kanlab.grids`: where knots go (strategies, their registry) and when (schedules).
- :mod:`kanlab.nn`: :class:`KANLinear`, :class:`KAN`, the MLP baseline, the LAN.
- :mod:`kanlab.training`: :func:`fit`, LBFGS, regularisation, distributed training.
- :mod:`kanlab.interpret`: importance, pruning, symbolic formulas of a model, plots.
- :mod:`kanlab.science`: PDEs, sweeps and scaling laws, unsupervised discovery.
- :mod:`kanlab.apps`: the pipeline behind the CLI, the estimators and the demos.

The first layout's flat module paths (``kanlab.layer``, ``kanlab.train``, ...) still import
(:mod:`kanlab._aliases`).
"""

from kanlab import _aliases, data, grids, interpret, nn, science, splines, symbolic, training
from kanlab._version import __version__
from kanlab.errors import DataWarning, GridWarning, InputError, KanlabError
from kanlab.nn.compile import compile_formula
from kanlab.nn.ensemble import Ensemble
from kanlab.nn.lan import LAN
from kanlab.nn.layer import KANLinear
from kanlab.nn.model import KAN, LayerTrace
from kanlab.training.loop import History, TrainState, fit

_aliases.install()


_ESTIMATORS = ("KANClassifier", "KANRegressor")


def __getattr__(name: str):
    """Names imported on first access: ``KANRegressor`` and ``KANClassifier`` (from
    :mod:`kanlab.apps.estimators`, so ``import kanlab`` never imports scikit-learn), ``apps``,
    and the first layout's module names (``kanlab.sweeps``, ``kanlab.feynman_catalog``, ...)."""
    import importlib

    if name in _aliases.MOVED or name == "apps":
        return importlib.import_module(f"kanlab.{name}")
    if name in _ESTIMATORS:
        try:
            from kanlab.apps import estimators
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
    "KANLinear",
    "KANRegressor",
    "DataWarning",
    "Ensemble",
    "GridWarning",
    "History",
    "InputError",
    "KanlabError",
    "LAN",
    "LayerTrace",
    "TrainState",
    "__version__",
    "compile_formula",
    "data",
    "fit",
    "grids",
    "interpret",
    "nn",
    "science",
    "splines",
    "symbolic",
    "training",
]
