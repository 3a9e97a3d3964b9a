"""Optional dependencies: imported on first use, with an error that says which extra to install.

The core needs torch and numpy only; sympy, matplotlib, scikit-learn, scipy and tqdm sit behind
the extras of ``pyproject.toml``. Every optional import in kanlab goes through
:func:`optional_import`, so a missing package always names the ``pip install`` that brings it.
"""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["EXTRAS", "optional_import"]

#: top-level package -> the kanlab extra that installs it
EXTRAS = {
    "sympy": "symbolic",
    "matplotlib": "plot",
    "sklearn": "sklearn",
    "scipy": "scipy",
    "tqdm": "progress",
}


def optional_import(module: str, purpose: str) -> ModuleType:
    """Import ``module`` (e.g. ``"matplotlib.figure"``), or raise an ``ImportError`` that says
    ``"<purpose>: install <package> with pip install 'kanlab[<extra>]'"``.

    An ``ImportError`` raised inside the package itself (a broken installation) is not hidden.
    """
    top = module.split(".")[0]
    try:
        return importlib.import_module(module)
    except ImportError as err:
        if (err.name or "").split(".")[0] != top:
            raise
        package = "scikit-learn" if top == "sklearn" else top
        raise ImportError(
            f"{purpose}: install {package} with pip install 'kanlab[{EXTRAS[top]}]'"
        ) from err
