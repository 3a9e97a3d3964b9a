"""B-spline knot vectors and bases as pure tensor functions.

Conventions
-----------
A *grid* is the ``G + 1`` points ``g_0 < ... < g_G`` of one input. A *knot vector* adds ``k``
knots on each side so that there are ``G + k`` basis functions of degree ``k``:

* **extended** (pykan): the extra knots continue the grid outward, spaced by the grid's average
  interval ``(g_G - g_0) / G``. The basis is a partition of unity on ``[g_0, g_G]`` and decays to
  zero over the extra knots.
* **clamped** (DKAN): the boundary points are repeated ``k`` more times. The basis is a partition
  of unity on ``[g_0, g_G]`` (right end included) and is zero outside. ``0/0`` is taken as 0.

Knot vectors are per input: ``knots`` has shape ``(in, n_knots)`` and there are
``n_basis = n_knots - k - 1`` basis functions per input.

Evaluation
----------
A degree-``k`` B-spline basis has only ``k + 1`` nonzero functions at any ``x``: those of the
knot interval ``[t_m, t_{m+1})`` holding ``x``. :func:`local_basis` finds ``m`` by binary search
and runs de Boor's triangle on the ``2k + 2`` local knots only (iterative Cox--de Boor, never a
recursion over all knots). Derivatives of order ``d`` come from the same triangle stopped at
degree ``k - d`` and lifted ``d`` times with ``B'_{i,q} = q (B_{i,q-1}/(t_{i+q}-t_i)
- B_{i+1,q-1}/(t_{i+q+1}-t_{i+1}))``. :func:`bspline_basis` scatters the local values into the
dense ``(..., in, n_basis)`` tensor that the layer's GEMM consumes; its autograd backward
gathers the ``k + 1`` derivative values instead of differentiating through the triangle, and is
itself differentiable to any order (PDE losses need second derivatives through autograd).
"""

from __future__ import annotations

import torch

__all__ = [
    "KNOT_CONVENTIONS",
    "bspline_basis",
    "clamped_knots",
    "extended_knots",
    "local_basis",
    "make_knots",
    "n_basis",
    "uniform_grid",
]

KNOT_CONVENTIONS = ("extended", "clamped")


def uniform_grid(
    in_features: int,
    grid_size: int,
    grid_range: tuple[float, float] = (-1.0, 1.0),
    *,
    device: torch.device | str | None = None,
    dtype: torch.dtype | None = None,
) -> torch.Tensor:
    """``grid_size + 1`` equally spaced grid points per input.

    Shape: ``(in_features, grid_size + 1)``.
    """
    lo, hi = grid_range
    g = torch.linspace(lo, hi, grid_size + 1, device=device, dtype=dtype)
    return g.expand(in_features, grid_size + 1).contiguous()


def extended_knots(grid: torch.Tensor, k: int) -> torch.Tensor:
    """Add ``k`` knots beyond each end of ``grid``, spaced by its average interval (pykan).

    Shape: ``(in, G + 1) -> (in, G + 1 + 2k)``.
    """
    if k == 0:
        return grid.clone()
    h = (grid[:, -1:] - grid[:, :1]) / (grid.shape[1] - 1)  # (in, 1)
    steps = torch.arange(1, k + 1, device=grid.device, dtype=grid.dtype)  # (k,)
    left = grid[:, :1] - h * steps.flip(0)  # (in, k)
    right = grid[:, -1:] + h * steps  # (in, k)
    return torch.cat([left, grid, right], dim=1)


def clamped_knots(grid: torch.Tensor, k: int) -> torch.Tensor:
    """Repeat each end point of ``grid`` ``k`` more times (DKAN).

    Shape: ``(in, G + 1) -> (in, G + 1 + 2k)``.
    """
    left = grid[:, :1].expand(-1, k)
    right = grid[:, -1:].expand(-1, k)
    return torch.cat([left, grid, right], dim=1)


def make_knots(grid: torch.Tensor, k: int, convention: str = "extended") -> torch.Tensor:
    """Knot vector of the given convention (``"extended"`` or ``"clamped"``) from grid points."""
    if convention == "extended":
        return extended_knots(grid, k)
    if convention == "clamped":
        return clamped_knots(grid, k)
    raise ValueError(f"unknown knot convention {convention!r}; expected one of {KNOT_CONVENTIONS}")


def n_basis(knots: torch.Tensor, k: int) -> int:
    """Number of degree-``k`` basis functions per input of a knot vector ``(in, n_knots)``."""
    return knots.shape[-1] - k - 1


def _safe_div(num: torch.Tensor, den: torch.Tensor) -> torch.Tensor:
    """``num / den`` with ``x / 0 := 0`` (only ever met where ``num`` is multiplied by zero)."""
    zero = den == 0
    return torch.where(zero, torch.zeros_like(num), num / torch.where(zero, torch.ones_like(den), den))


def _locate(x: torch.Tensor, knots: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Knot interval index ``m`` of each ``x`` and whether ``x`` lies within the knots at all.

    ``m`` is clamped to the first and last non-degenerate intervals, so the right end point of a
    clamped knot vector belongs to the last interval (closed right end).

    Shapes: x ``(B, in)``, knots ``(in, n_knots)`` -> m ``(B, in)`` int64, inside ``(B, in)`` bool.
    """
    n_knots = knots.shape[1]
    # searchsorted wants the sorted dimension last and matching leading dims: work input-major.
    xt = x.transpose(0, 1).contiguous()  # (in, B)
    m = torch.searchsorted(knots, xt, right=True) - 1  # (in, B)
    lo = torch.searchsorted(knots, knots[:, :1].contiguous(), right=True) - 1  # (in, 1) first real interval
    hi = torch.searchsorted(knots, knots[:, -1:].contiguous(), right=False) - 1  # (in, 1) last real interval
    inside = (xt >= knots[:, :1]) & (xt <= knots[:, -1:])  # (in, B)
    m = torch.maximum(torch.minimum(m, hi), lo)
    del n_knots
    return m.transpose(0, 1), inside.transpose(0, 1)


def _local_triangle(
    x: torch.Tensor, window: torch.Tensor, k: int, derivative: int
) -> torch.Tensor:
    """The ``k + 1`` nonzero values of the ``derivative``-th derivative of the degree-``k`` basis.

    ``window[..., s + k]`` holds knot ``t_{m+s}`` for ``s = -k, ..., k + 1``. Returns values of
    ``B_{m-k+r}`` for ``r = 0..k``.

    Shapes: x ``(B, in)``, window ``(B, in, 2k + 2)`` -> ``(B, in, k + 1)``.
    """
    if derivative > k:
        return x.new_zeros(x.shape + (k + 1,))
    xe = x.unsqueeze(-1)  # (B, in, 1)
    vals = torch.ones_like(xe)  # degree 0: B_m = 1 on its interval
    base_degree = k - derivative
    for q in range(1, k + 1):
        # functions i = m - q + r, r = 0..q; padded lower-degree values P[r] = B_{i, q-1}
        zero = torch.zeros_like(xe)
        padded = torch.cat([zero, vals, zero], dim=-1)  # (B, in, q + 2)
        t_i = window[..., k - q : k + 1]  # (B, in, q + 1)
        t_iq = window[..., k : k + q + 1]
        t_i1 = window[..., k - q + 1 : k + 2]
        t_iq1 = window[..., k + 1 : k + q + 2]
        left, right = padded[..., :-1], padded[..., 1:]
        if q <= base_degree:  # de Boor: values one degree up
            vals = _safe_div((xe - t_i) * left, t_iq - t_i) + _safe_div(
                (t_iq1 - xe) * right, t_iq1 - t_i1
            )
        else:  # derivative lift
            vals = q * (_safe_div(left, t_iq - t_i) - _safe_div(right, t_iq1 - t_i1))
    return vals


def local_basis(
    x: torch.Tensor, knots: torch.Tensor, k: int, derivative: int = 0
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Nonzero basis values at each ``x`` and where they go.

    Args:
        x: inputs, shape ``(B, in)``.
        knots: nondecreasing knot vectors, shape ``(in, n_knots)``.
        k: spline degree (order), ``k >= 0``.
        derivative: order of the derivative (0 for values).

    Returns:
        ``(values, index, valid)``: ``values`` ``(B, in, k + 1)`` are the values of basis
        functions ``index`` ``(B, in, k + 1)`` (clamped into ``[0, n_basis)``); ``valid``
        ``(B, in, k + 1)`` is False where the function index falls outside the basis or ``x``
        lies outside the knots (those values are zero).
    """
    n_knots = knots.shape[1]
    nb = n_knots - k - 1
    m, inside = _locate(x, knots, k)  # (B, in)
    offsets = torch.arange(-k, k + 2, device=x.device)  # (2k + 2,)
    win_idx = (m.unsqueeze(-1) + offsets).clamp(0, n_knots - 1)  # (B, in, 2k + 2)
    # gather local knots: knots (in, n_knots) -> window (B, in, 2k + 2)
    window = torch.gather(knots.unsqueeze(0).expand(x.shape[0], -1, -1), 2, win_idx)
    vals = _local_triangle(x, window, k, derivative)  # (B, in, k + 1)
    index = m.unsqueeze(-1) - k + torch.arange(k + 1, device=x.device)  # (B, in, k + 1)
    valid = (index >= 0) & (index < nb) & inside.unsqueeze(-1)
    vals = torch.where(valid, vals, torch.zeros_like(vals))
    return vals, index.clamp(0, nb - 1), valid


class _LocalValues(torch.autograd.Function):
    """Local basis values whose backward is the next derivative's values (any order)."""

    @staticmethod
    def forward(ctx, x, knots, k, derivative):  # type: ignore[override]
        vals, _, _ = local_basis(x, knots, k, derivative)
        ctx.save_for_backward(x, knots)
        ctx.k, ctx.derivative = k, derivative
        return vals

    @staticmethod
    def backward(ctx, grad_vals):  # type: ignore[override]
        x, knots = ctx.saved_tensors
        dvals = _LocalValues.apply(x, knots, ctx.k, ctx.derivative + 1)  # (B, in, k + 1)
        return (grad_vals * dvals).sum(-1), None, None, None


class _DenseBasis(torch.autograd.Function):
    """Dense basis ``(B, in, n_basis)``; saves only ``x`` for backward (memory near the floor)."""

    @staticmethod
    def forward(ctx, x, knots, k, derivative):  # type: ignore[override]
        vals, index, _ = local_basis(x, knots, k, derivative)
        nb = n_basis(knots, k)
        dense = x.new_zeros(x.shape + (nb,)).scatter_add_(-1, index, vals)
        ctx.save_for_backward(x, knots)
        ctx.k, ctx.derivative = k, derivative
        return dense

    @staticmethod
    def backward(ctx, grad_dense):  # type: ignore[override]
        x, knots = ctx.saved_tensors
        if not ctx.needs_input_grad[0]:
            return None, None, None, None
        with torch.no_grad():
            _, index, valid = local_basis(x, knots, ctx.k, ctx.derivative)
        dvals = _LocalValues.apply(x, knots, ctx.k, ctx.derivative + 1)  # (B, in, k + 1)
        g = grad_dense.gather(-1, index) * valid  # (B, in, k + 1)
        return (g * dvals).sum(-1), None, None, None


def bspline_basis(
    x: torch.Tensor, knots: torch.Tensor, k: int, derivative: int = 0
) -> torch.Tensor:
    """Dense B-spline basis (or its ``derivative``-th derivative) at ``x``.

    Differentiable in ``x`` to any order; knots are treated as constants.

    Args:
        x: inputs, shape ``(..., in)``.
        knots: knot vectors, shape ``(in, n_knots)``, nondecreasing along the last dimension.
        k: spline degree, ``k >= 0``.
        derivative: 0 for values, 1 for first derivatives, 2 for second, ...

    Returns:
        Tensor of shape ``(..., in, n_knots - k - 1)``.
    """
    batch_shape = x.shape[:-1]
    x2 = x.reshape(-1, x.shape[-1])  # (B, in)
    dense = _DenseBasis.apply(x2, knots, k, derivative)  # (B, in, n_basis)
    return dense.reshape(*batch_shape, *dense.shape[-2:])
