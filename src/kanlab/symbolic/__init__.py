"""Symbolic functions and formulas, independent of any network.

- :mod:`~kanlab.symbolic.library`: the registry of 1-D functions (``sin``, ``x^2``, ...) with
  their torch, safe-for-training and sympy forms; :func:`register_function` adds your own.
- :mod:`~kanlab.symbolic.fitting`: the fit ``y ≈ c·f(a·x+b)+d`` of one edge's samples, and the
  ranking of library functions (:func:`suggest`); its grid search of ``(a, b)`` is in
  :mod:`~kanlab.symbolic.search`, its Levenberg–Marquardt polish in
  :mod:`~kanlab.symbolic.polish`.
- :mod:`~kanlab.symbolic.formula`: sympy formulas to LaTeX and numpy/torch callables.

Imports: torch, numpy, :mod:`kanlab.errors`; sympy lazily.
"""

from __future__ import annotations

from kanlab.symbolic import formula  # noqa: F401
from kanlab.symbolic.fitting import (  # noqa: F401
    AffineFit,
    fit_affine,
    fit_library,
    suggest,
)
from kanlab.symbolic.library import (  # noqa: F401
    DEFAULT_LIBRARY,
    SymbolicFunction,
    default_library,
    function_names,
    get_function,
    register_function,
    resolve_library,
)

__all__ = [
    "AffineFit",
    "DEFAULT_LIBRARY",
    "SymbolicFunction",
    "default_library",
    "fit_affine",
    "fit_library",
    "formula",
    "function_names",
    "get_function",
    "register_function",
    "resolve_library",
    "suggest",
]
