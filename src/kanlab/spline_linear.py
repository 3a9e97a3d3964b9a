"""A KAN layer's forward pass as one GEMM, with a hand-written backward.

The layer computes ``y = A(x) W^T + bias`` where ``A(x)`` stacks, for every input ``i``, its
``n_basis`` B-spline values and (optionally) the base branch ``b(x_i)``: the same GEMM as a dense
``nn.Linear(in·(n_basis + 1), out)``. Only ``k + 1`` spline values per input are nonzero, so
``A`` is built by scattering them, and the backward needs only those ``k + 1`` derivative values:

    ∂L/∂x_i = Σ_r G_A[row(i, r)] · B'_r(x_i)     with ``G_A = G W`` the gradient of ``A``.

Layout: ``A`` is ``(B, cols)``, the GEMM's own layout, filled by one scatter (and read back in
the backward by one gather) along its rows. Elementwise work happens on contiguous ``(B, in)``
planes, one per ``r = 0..k``, never on the slow tiny last dimension ``(..., k + 1)``. A last
column of ``A``, the *trash*, receives the values of basis functions that do not exist (near
the ends of an extended knot vector) and of points outside the knots; its weight is zero, so its
gradient is zero and neither the values nor the gradients need masks.

Columns of ``A``: ``i·n_basis + j`` for spline ``j`` of input ``i``; then ``in·n_basis + i`` for
the base branch of input ``i`` (when there is one); then the trash column (and zero columns up
to a multiple of 16, which keeps the GEMMs fast).
"""

from __future__ import annotations

import torch

from .splines import (
    _locate,
    _lookup,
    _triangle,
    _window_pattern,
    bspline_basis,
    n_basis,
    window_rows,
)

__all__ = ["local_values", "scatter_table", "spline_linear"]


def scatter_table(knots: torch.Tensor, k: int, base: bool = True) -> torch.Tensor:
    """Column of ``A`` that basis function ``m − k + r`` of input ``i`` fills, per knot interval.

    Row ``i·(n_knots + 1) + m + 1`` is for ``x_i`` in knot interval ``m``; ``m = −1`` and
    ``m = n_knots − 1`` stand for "outside the knots". Entries whose function does not exist, or
    whose point is outside, name the trash column: ``in·n_basis + in`` with a base branch,
    ``in·n_basis`` without.

    Shape: ``(in, n_knots) -> (in · (n_knots + 1), k + 1)`` int64.
    """
    n_in, n_knots = knots.shape
    nb = n_basis(knots, k)
    m = torch.arange(-1, n_knots, device=knots.device)  # (n_knots + 1,)
    j = m[:, None] - k + torch.arange(k + 1, device=knots.device)  # (n_knots + 1, k + 1)
    real = (j >= 0) & (j < nb) & (m[:, None] >= 0) & (m[:, None] < n_knots - 1)
    i = torch.arange(n_in, device=knots.device)[:, None, None]  # (in, 1, 1)
    trash = n_in * nb + (n_in if base else 0)
    cols = torch.where(real, i * nb + j, torch.full_like(j, trash))  # (in, n_knots + 1, k + 1)
    return cols.reshape(-1, k + 1)


def _interval_uniform(
    x: torch.Tensor, n_knots: int, uniform: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Knot interval ``m`` (−1 or ``n_knots − 1`` outside) and ``u = (x − t_m)/h`` in [0, 1].

    NaN lands in interval 0 so that it reaches the output. Shapes: x ``(B, in)``, uniform
    ``(in, 2)`` -> ``(B, in)`` each.
    """
    pos = (x - uniform[:, 0]) * uniform[:, 1]  # position in units of h from the first knot
    m = pos.floor().nan_to_num_(nan=0.0).clamp_(-1, n_knots - 1)
    u = (pos - m).clamp_(0, 1)  # NaN stays NaN
    return m, u


def _cubic_planes(u: torch.Tensor, derivative: bool) -> torch.Tensor:
    """Closed-form uniform cubic B-spline values (``derivative``: first derivatives in ``u``).

    ``(B, in) -> (4, B, in)``: ``(1−u)³/6, (3u³ − 6u² + 4)/6, (−3u³ + 3u² + 3u + 1)/6, u³/6``.
    """
    out = u.new_empty((4,) + u.shape)
    u2 = u * u
    if not derivative:
        torch.mul(u2 * u, 1 / 6, out=out[3])
        torch.mul((1 - u).pow_(3), 1 / 6, out=out[0])
        torch.add(out[3] * 3 - u2, 2 / 3, out=out[1])  # u³/2 − u² + 2/3
        torch.sub(1 - out[0], out[1] + out[3], out=out[2])
    else:
        torch.mul(u2, 0.5, out=out[3])
        torch.mul((1 - u).pow_(2), -0.5, out=out[0])
        torch.sub(u2 * 1.5, u * 2, out=out[1])
        torch.add(out[0] + out[1], out[3], out=out[2]).neg_()
    return out


def local_values(
    x: torch.Tensor,
    knots: torch.Tensor,
    k: int,
    with_derivative: bool,
    *,
    rows: torch.Tensor | None = None,
    uniform: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]:
    """The ``k + 1`` nonzero basis values (and derivatives) per point, as planes.

    Args:
        x: inputs ``(B, in)``.
        knots: ``(in, n_knots)``.
        k: spline degree.
        with_derivative: also return first derivatives.
        rows: :func:`~kanlab.splines.window_rows` of ``knots`` (built if None).
        uniform: :func:`~kanlab.splines.uniform_spacing` when the knots are equally spaced and
            ``k = 3`` (closed form); None otherwise.

    Returns:
        values ``(k + 1, B, in)`` (value ``r`` is basis function ``m − k + r``), derivatives
        ``(k + 1, B, in)`` or None, and each point's row of :func:`scatter_table`
        ``(B, in)`` int64. Values of functions that go to the trash are finite (NaN for NaN
        input). On the closed-form path derivatives are taken in ``u = (x − t_m)/h``: multiply
        by ``1/h = uniform[:, 1]`` for derivatives in ``x``. Planes may be strided views.
    """
    n_in, n_knots = knots.shape
    if uniform is not None and k == 3:
        m, u = _interval_uniform(x, n_knots, uniform)
        vals = _cubic_planes(u, derivative=False)
        dvals = _cubic_planes(u, derivative=True) if with_derivative else None
    else:
        if rows is None or rows.shape[1] != len(_window_pattern(k)) + 2 * (k + 1):
            rows = window_rows(knots, k)  # none, or only the closed form's columns
        first, last = knots[:, 0], knots[:, -1]  # (in,)
        xc = torch.minimum(torch.maximum(x, first), last)  # finite values outside
        m_in, _ = _locate(xc, knots)  # (B, in), clamped to real intervals
        inside = ~((x < first) | (x > last))  # NaN counts as inside
        window, _, _ = _lookup(rows, m_in, inside, k)
        orders = (0, 1) if with_derivative else (0,)
        values = _triangle(xc, window, k, orders)  # [(B, in, k + 1)]
        vals = values[0].permute(2, 0, 1)
        dvals = values[1].permute(2, 0, 1) if with_derivative else None
        m = torch.where(inside, m_in, -1)
    row = m.long() + (torch.arange(n_in, device=x.device) * (n_knots + 1) + 1)  # (B, in)
    return vals, dvals, row


class _SplineLinear(torch.autograd.Function):
    """``y = A(x) W^T + bias``; see the module docstring."""

    @staticmethod
    def forward(ctx, x, base, weight, bias, knots, k, table, rows, uniform):  # type: ignore[override]
        batch, n_in = x.shape
        nb = n_basis(knots, k)
        vals, dvals, row = local_values(
            x, knots, k, ctx.needs_input_grad[0], rows=rows, uniform=uniform
        )
        # the trash and padding to a multiple of 16 columns (odd widths slow the GEMMs down)
        n_cols = -(-(weight.shape[1] + 1) // 16) * 16
        n_used = weight.shape[1]
        padded = torch.nn.functional.pad(weight, (0, n_cols - n_used))  # (out, cols), pad = 0
        a = x.new_zeros((batch, n_cols))  # (B, cols)
        if base is not None:
            a[:, n_in * nb : n_in * nb + n_in] = base
        index = table.index_select(0, row.view(-1)).view(batch, -1)  # (B, in·(k + 1))
        a.scatter_add_(1, index, vals.permute(1, 2, 0).reshape(batch, -1))
        y = torch.addmm(bias, a, padded.t()) if bias is not None else a @ padded.t()
        ctx.save_for_backward(x, base, weight, bias, a, dvals, index)
        ctx.k, ctx.nb, ctx.n_cols = k, nb, n_cols
        ctx.knots, ctx.uniform = knots, uniform
        ctx.uniform_k3 = uniform is not None and k == 3
        return y

    @staticmethod
    def backward(ctx, grad_y):  # type: ignore[override]
        x, base, weight, bias, a, dvals, index = ctx.saved_tensors
        if torch.is_grad_enabled():  # create_graph=True: differentiate a differentiable copy
            return _double_backward(ctx, grad_y, x, base, weight, bias)
        n_in = x.shape[1]
        grad_x = grad_base = grad_w = grad_bias = None
        if ctx.needs_input_grad[2]:
            grad_w = (grad_y.t() @ a)[:, : weight.shape[1]]  # (out, in·nb (+ in))
        if ctx.needs_input_grad[3]:
            grad_bias = grad_y.sum(0)
        if ctx.needs_input_grad[0] or ctx.needs_input_grad[1]:
            padded = torch.nn.functional.pad(weight, (0, ctx.n_cols - weight.shape[1]))
            grad_a = grad_y @ padded  # (B, cols); the trash column is zero
            if ctx.needs_input_grad[0]:
                g = grad_a.gather(1, index).view(x.shape[0], n_in, -1)  # (B, in, k + 1)
                grad_x = g[..., 0] * dvals[0]
                for r in range(1, ctx.k + 1):  # Σ_r ∂L/∂A[col_r] · B'_r(x)
                    grad_x.addcmul_(g[..., r], dvals[r])
                if ctx.uniform_k3:  # closed-form derivatives are in u = (x − t_m)/h
                    grad_x *= ctx.uniform[:, 1]
            if ctx.needs_input_grad[1]:
                start = n_in * ctx.nb
                grad_base = grad_a[:, start : start + n_in].contiguous()
        return grad_x, grad_base, grad_w, grad_bias, None, None, None, None, None


def _double_backward(ctx, grad_y, x, base, weight, bias):
    """The same gradients from differentiable operations, so that they can be differentiated."""
    n_in, k, nb = x.shape[1], ctx.k, ctx.nb
    w_spline = weight[:, : n_in * nb]  # (out, in·nb)
    grad_a = (grad_y @ w_spline).view(-1, n_in, nb)  # (B, in, nb)
    grads = [None, None, None, None]
    if ctx.needs_input_grad[0]:
        d_basis = bspline_basis(x, ctx.knots, k, 1)  # (B, in, nb), differentiable in x
        grads[0] = (grad_a * d_basis).sum(-1)
    if ctx.needs_input_grad[1]:
        grads[1] = grad_y @ weight[:, n_in * nb :]
    if ctx.needs_input_grad[2]:
        a = bspline_basis(x, ctx.knots, k).reshape(x.shape[0], -1)
        if base is not None:
            a = torch.cat([a, base], dim=1)
        grads[2] = grad_y.t() @ a
    if ctx.needs_input_grad[3]:
        grads[3] = grad_y.sum(0)
    return (*grads, None, None, None, None, None)


def _reference_forward(x, base, weight, bias, knots, k):
    """The same map from autograd-differentiable pieces (slow; for tests)."""
    a = bspline_basis(x, knots, k).reshape(x.shape[0], -1)  # (B, in·nb)
    if base is not None:
        a = torch.cat([a, base], dim=1)
    return torch.nn.functional.linear(a, weight, bias)


def spline_linear(
    x: torch.Tensor,
    base: torch.Tensor | None,
    weight: torch.Tensor,
    bias: torch.Tensor | None,
    knots: torch.Tensor,
    k: int,
    *,
    table: torch.Tensor | None = None,
    rows: torch.Tensor | None = None,
    uniform: torch.Tensor | None = None,
) -> torch.Tensor:
    """``[basis(x) | base] @ weight^T + bias`` with the basis never differentiated by autograd.

    Args:
        x: inputs ``(B, in)``.
        base: the base branch ``b(x)`` ``(B, in)``, or None for none.
        weight: ``(out, in·n_basis)``, or ``(out, in·n_basis + in)`` with a base branch; columns
            ``i·n_basis + j`` for spline ``j`` of input ``i``, then one per input for the base.
        bias: ``(out,)`` or None.
        knots: ``(in, n_knots)``; k: spline degree.
        table, rows, uniform: :func:`scatter_table`, :func:`~kanlab.splines.window_rows` and
            :func:`~kanlab.splines.uniform_spacing` of ``knots`` when the caller caches them.

    Returns:
        ``(B, out)``. Differentiable in ``x``, ``base``, ``weight`` and ``bias``, to any order.
    """
    if table is None:
        table = scatter_table(knots, k, base=base is not None)
    return _SplineLinear.apply(x, base, weight, bias, knots, k, table, rows, uniform)
