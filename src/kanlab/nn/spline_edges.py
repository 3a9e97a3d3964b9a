"""The numeric spline edges of a layer: knot tables cached per knot vector, the basis, the jets.

A layer's splines are its ``knots`` buffer ``(in, G + 2k + 1)`` and ``coef`` ``(out, in, G + k)``
(see :class:`~kanlab.nn.layer.KANLinear`). What depends on the knots only -- the kernel's
:class:`~kanlab.splines.kernel.KnotTables`, the window rows of
:func:`~kanlab.splines.basis.window_rows`, the uniform-spacing test -- is built once per knot
vector by a :class:`KnotTableCache` and reused by every forward pass until the knots change.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from kanlab.splines.basis import bspline_basis, local_jet, window_rows
from kanlab.splines.kernel import KnotTables, dense_basis, knot_tables

__all__ = ["KnotTableCache", "gemm_extra_columns", "spline_basis", "spline_gemm_weight",
           "spline_jet_rows"]

Lookup = tuple[torch.Tensor | None, torch.Tensor | None, KnotTables | None]


class KnotTableCache:
    """``(rows, uniform, tables)`` of one knot vector, rebuilt when the knots change.

    "Changed" means another tensor (a grid move, ``.to()``, ``.double()``) or an in-place edit
    (its version counter moved), or other edge branches (other extra GEMM columns). The cache
    holds the knot tensor it was built from, so that tensor's memory cannot be reused by a new
    knot vector while the cache names it. Under ``torch.compile`` nothing is cached (the
    kernel then builds what it needs).

    ``rows``: :func:`~kanlab.splines.basis.window_rows` (only the flags and indices the closed
    form needs when the knots are equally spaced); ``uniform``:
    :func:`~kanlab.splines.basis.uniform_spacing`; ``tables``:
    :func:`~kanlab.splines.kernel.knot_tables` with the branches' columns beyond the bases.
    """

    def __init__(self) -> None:
        self._knots: torch.Tensor | None = None
        self._branches: Sequence[Any] | None = None
        self._key: tuple[int, int] = (-1, -1)
        self._value: Lookup = (None, None, None)

    def lookup(self, knots: torch.Tensor, k: int, branches: Sequence[Any]) -> Lookup:
        """``(rows, uniform, tables)`` of ``knots`` ``(in, n_knots)`` of degree ``k`` for a
        layer with the edge ``branches``."""
        if torch.compiler.is_compiling():
            return None, None, None
        key = (knots._version, k)
        if knots is not self._knots or branches is not self._branches or key != self._key:
            n_extra = gemm_extra_columns(branches, knots.shape[0])
            tables = knot_tables(knots, k, n_extra=n_extra)
            rows = window_rows(knots, k)
            if tables.uniform is not None:  # the closed form needs only flags and indices
                rows = rows[:, -2 * (k + 1) :].contiguous()
            self._knots, self._branches, self._key = knots, branches, key
            self._value = (rows, tables.uniform, tables)
        return self._value


def gemm_extra_columns(branches: Sequence[Any], in_features: int) -> int:
    """The GEMM's columns beyond the spline bases: those of the layer's edge branches."""
    return sum(branch.n_columns(in_features) for branch in branches)


def spline_gemm_weight(coef: torch.Tensor, spline_scale: torch.Tensor,
                       mask: torch.Tensor) -> torch.Tensor:
    """The splines' GEMM weight ``W = w_s · c · mask`` flattened: coef ``(..., out, in, nb)``,
    spline_scale and mask ``(..., out, in)`` -> ``(..., out, in · nb)`` (leading axes: an
    ensemble's members)."""
    return (coef * (spline_scale * mask).unsqueeze(-1)).flatten(-2)


def spline_basis(x: torch.Tensor, knots: torch.Tensor, k: int, lookup: Lookup,
                 derivative: int = 0) -> torch.Tensor:
    """Spline basis (or a derivative) at ``x``: ``(..., in) -> (..., in, G + k)``, through the
    forward pass's tables when they exist (faster)."""
    rows, uniform, tables = lookup
    if derivative == 0 and tables is not None:
        x2 = x.reshape(-1, knots.shape[0])
        dense = dense_basis(x2, knots, k, tables)
        return dense.reshape(*x.shape, dense.shape[-1])
    return bspline_basis(x, knots, k, derivative, rows=rows, uniform=uniform)


def spline_jet_rows(h: torch.Tensor, dh: torch.Tensor, d2h: torch.Tensor, knots: torch.Tensor,
                    k: int, lookup: Lookup) -> list[torch.Tensor]:
    """The spline columns of the forward-derivative GEMMs: the basis ``B(h)``, then
    ``B'(h) ∂h`` and ``B''(h) (∂h)² + B'(h) ∂²h`` per network input.

    Built from the ``k + 1`` nonzero values per input (:func:`~kanlab.splines.local_jet`)
    and scattered into place, so that the products cost ``k + 1`` instead of ``G + k`` per
    input. Shapes: h ``(B, in)``, dh and d2h ``(B, D, in)`` -> ``(B, in·nb)``,
    ``(B·D, in·nb)``, ``(B·D, in·nb)``.
    """
    batch, n_dim, n_in = dh.shape
    nb = knots.shape[1] - k - 1
    rows_table, uniform, _ = lookup
    jet, index = local_jet(h, knots, k, rows=rows_table,
                           uniform=uniform)  # (3, B, in, k + 1), (B, in, k + 1)
    cols = (index + torch.arange(n_in, device=h.device).unsqueeze(-1) * nb).reshape(batch, -1)
    g1, g2 = dh.unsqueeze(-1), d2h.unsqueeze(-1)  # (B, D, in, 1)
    first = jet[1].unsqueeze(1) * g1  # (B, D, in, k + 1)
    second = jet[2].unsqueeze(1) * g1 * g1 + jet[1].unsqueeze(1) * g2
    cols_d = cols.unsqueeze(1).expand(-1, n_dim, -1)  # (B, D, in·(k + 1)), not copied
    out = []
    for values, where in ((jet[0].reshape(batch, -1), cols),
                          (first.reshape(batch, n_dim, -1), cols_d),
                          (second.reshape(batch, n_dim, -1), cols_d)):
        dense = values.new_zeros(*values.shape[:-1], n_in * nb)  # in place: no second copy
        out.append(dense.scatter_add_(-1, where, values).reshape(-1, n_in * nb))
    return out
