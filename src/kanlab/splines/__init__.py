"""Spline mathematics on tensors, with no modules and no state.

- :mod:`~kanlab.splines.basis`: knot vectors (extended, clamped), B-spline bases and their
  derivatives (Cox-de Boor), the ``k + 1`` local values and jets per input.
- :mod:`~kanlab.splines.kernel`: the forward GEMM of a KAN layer with its hand-written backward
  (:func:`spline_linear`), and the knot tables it looks up.
- :mod:`~kanlab.splines.lstsq`: least squares for coefficients: fits to samples and the transfer
  of a spline onto new knots (grid update, refinement).

Imports: torch only (and :mod:`kanlab.errors`).
"""

from __future__ import annotations

from kanlab.splines.basis import (  # noqa: F401
    KNOT_CONVENTIONS,
    bspline_basis,
    clamped_knots,
    extended_knots,
    local_basis,
    local_jet,
    make_knots,
    n_basis,
    uniform_grid,
    uniform_spacing,
    window_rows,
)
from kanlab.splines.kernel import (  # noqa: F401
    KnotTables,
    dense_basis,
    knot_tables,
    local_values,
    scatter_table,
    spline_linear,
)
from kanlab.splines.lstsq import (  # noqa: F401
    DEFAULT_RIDGE,
    fit_coefficients,
    ridge_solve,
    transfer_coefficients,
    transfer_design,
)

__all__ = [
    "DEFAULT_RIDGE",
    "KNOT_CONVENTIONS",
    "KnotTables",
    "bspline_basis",
    "clamped_knots",
    "dense_basis",
    "extended_knots",
    "fit_coefficients",
    "knot_tables",
    "local_basis",
    "local_jet",
    "local_values",
    "make_knots",
    "n_basis",
    "ridge_solve",
    "scatter_table",
    "spline_linear",
    "transfer_coefficients",
    "transfer_design",
    "uniform_grid",
    "uniform_spacing",
    "window_rows",
]
