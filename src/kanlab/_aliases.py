"""The import paths of kanlab's first, flat layout, kept working after the move to subpackages.

``import kanlab.layer`` (or ``from kanlab.train import fit``) gives the module that now lives
at ``kanlab.nn.layer`` (``kanlab.training.loop``) itself, not a copy: classes, functions and
``isinstance`` checks are the same objects. :data:`MOVED` is the whole table; new code uses the
new paths (``docs/architecture.md``).
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
from types import ModuleType

__all__ = ["MOVED", "install"]

#: old module name under ``kanlab.`` -> where it lives now
MOVED = {
    "spline_linear": "splines.kernel",
    "lstsq": "splines.lstsq",
    "formula": "symbolic.formula",
    "density": "grids.density",
    "schedules": "grids.schedules",
    "initialization": "nn.initialization",
    "standardize": "nn.standardize",
    "symbolic_edges": "nn.symbolic_edges",
    "layer": "nn.layer",
    "model": "nn.model",
    "mlp": "nn.mlp",
    "sparsity": "training.regularization",
    "optim": "training.lbfgs",
    "distributed": "training.distributed",
    "train": "training.loop",
    "importance": "interpret.importance",
    "prune": "interpret.prune",
    "plot": "interpret.plot",
    "symbolic_model": "interpret.symbolic_model",
    "pde": "science.pde",
    "sweeps": "science.sweeps",
    "unsupervised": "science.unsupervised",
    "datasets": "data.images",
    "science_data": "data.science",
    "feynman_catalog": "data.feynman_catalog",
    "report": "apps.report",
    "cli": "apps.cli",
    "demos": "apps.demos",
    "estimators": "apps.estimators",
}


class _Alias(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds ``kanlab.<old>`` and loads it as the module at its new path."""

    def find_spec(self, fullname, path=None, target=None):
        old = fullname.removeprefix("kanlab.")
        if old == fullname or old not in MOVED:
            return None
        return importlib.util.spec_from_loader(fullname, self)

    def create_module(self, spec) -> ModuleType:
        module = importlib.import_module(f"kanlab.{MOVED[spec.name.removeprefix('kanlab.')]}")
        self._own_spec = module.__spec__
        return module

    def exec_module(self, module: ModuleType) -> None:
        # the import system set __spec__ to the alias's; the module keeps its own
        module.__spec__ = self._own_spec


def install() -> None:
    """Put the alias finder on ``sys.meta_path`` (once)."""
    if not any(isinstance(f, _Alias) for f in sys.meta_path):
        sys.meta_path.append(_Alias())
