"""A KAN layer's forward pass as one GEMM, with a hand-written backward.

The layer computes ``y = A(x) W^T + bias`` where ``A(x)`` stacks, for every input ``i``, its
``n_basis`` B-spline values, then any *extra* columns the layer adds (the base branch ``b(x_i)``,
linear tails): with a base branch, the same GEMM as a dense ``nn.Linear(in·(n_basis + 1), out)``.
Only ``k + 1`` spline values per input are nonzero, so ``A`` is built by scattering them, and the
backward needs only those ``k + 1`` derivative values:

    ∂L/∂x_i = Σ_r G_A[row(i, r)] · B'_r(x_i)     with ``G_A = G W`` the gradient of ``A``.

Layout: ``A`` is ``(B, cols)``, the GEMM's own layout, filled by one scatter (and read back in
the backward by one gather) along its rows. Elementwise work happens on contiguous ``(B, in)``
planes, one per ``r = 0..k``, never on the slow tiny last dimension ``(..., k + 1)``. A last
column of ``A``, the *trash*, receives the values of basis functions that do not exist (near
the ends of an extended knot vector) and of points outside the knots; its weight is zero, so its
gradient is zero and neither the values nor the gradients need masks.

Memory: the forward keeps ``A`` (for the weight gradient), each point's interval row (int32)
and, for the backward's derivatives, either ``u = (x − t_m)/h`` (uniform cubic: recomputed from
it) or the ``k + 1`` derivative planes. ``A`` is filled, and ``∂L/∂A = G W`` formed and read in
the backward, a block of rows at a time (:data:`CHUNK_VALUES`), so that no other
batch-sized temporary exists: one training step peaks at about the floor's memory plus ``A``.

Columns of ``A``: ``i·n_basis + j`` for spline ``j`` of input ``i``; then the ``E`` extra columns;
then the trash column (and zero columns up to a multiple of 16, which keeps the GEMMs fast).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch

from kanlab.splines import native
from kanlab.splines.basis import bspline_basis, cubic_planes, local_basis, n_basis, uniform_spacing

__all__ = [
    "KnotTables", "dense_basis", "knot_tables", "local_values", "scatter_table", "spline_linear",
]


def scatter_table(knots: torch.Tensor, k: int, n_extra: int = 0) -> torch.Tensor:
    """Column of ``A`` that basis function ``m − k + r`` of input ``i`` fills, per knot interval.

    Row ``i·(n_knots + 1) + m + 1`` is for ``x_i`` in knot interval ``m``; ``m = −1`` and
    ``m = n_knots − 1`` stand for "outside the knots". Entries whose function does not exist, or
    whose point is outside, name the trash column ``in·n_basis + n_extra`` (after the extra
    columns).

    Shape: ``(in, n_knots) -> (in · (n_knots + 1), k + 1)`` int64.
    """
    n_in, n_knots = knots.shape
    nb = n_basis(knots, k)
    m = torch.arange(-1, n_knots, device=knots.device)  # (n_knots + 1,)
    j = m[:, None] - k + torch.arange(k + 1, device=knots.device)  # (n_knots + 1, k + 1)
    real = (j >= 0) & (j < nb) & (m[:, None] >= 0) & (m[:, None] < n_knots - 1)
    i = torch.arange(n_in, device=knots.device)[:, None, None]  # (in, 1, 1)
    trash = n_in * nb + n_extra
    cols = torch.where(real, i * nb + j, torch.full_like(j, trash))  # (in, n_knots + 1, k + 1)
    return cols.reshape(-1, k + 1)


def taylor_table(knots: torch.Tensor, k: int) -> torch.Tensor:
    """Each knot interval's ``k + 1`` basis functions as polynomials in ``s = x − t_m``.

    Row ``i·(n_knots + 1) + m + 1`` (as in :func:`scatter_table`) holds ``t_m``, then the Taylor
    coefficients ``c_p[r] = B_{m−k+r}^{(p)}(t_m) / p!`` for ``p = 0..k`` (``k + 1`` each). Rows of
    the outside "intervals" and of empty intervals are never used for a value that is kept; they
    hold zeros.

    Shape: ``(in, n_knots) -> (in · (n_knots + 1), 1 + (k + 1)²)``.
    """
    n_in, n_knots = knots.shape
    left = knots[:, :-1]  # (in, n_knots - 1): t_m of every interval
    derivs, _ = local_basis(left.t(), knots, k, tuple(range(k + 1)))  # [(n_knots-1, in, k+1)]
    coef = [d / math.factorial(p) for p, d in enumerate(derivs)]
    row = torch.cat([left.t().unsqueeze(-1), *coef], dim=-1)  # (n_knots - 1, in, W)
    row = torch.where((knots[:, 1:] > left).t().unsqueeze(-1), row, 0.0)  # empty intervals: 0
    row = torch.nn.functional.pad(row.transpose(0, 1), (0, 0, 1, 1))  # (in, n_knots + 1, W)
    return row.reshape(n_in * (n_knots + 1), -1).contiguous()


class KnotTables(NamedTuple):
    """What the forward pass needs that depends on the knots only (a layer caches it).

    Attributes:
        scatter: :func:`scatter_table` ``(in·(n_knots + 1), k + 1)`` int64.
        taylor: :func:`taylor_table` ``(in·(n_knots + 1), W)``.
        edges: ``(in, n_knots)``: the knots with every copy of the last one moved up by one ulp,
            so that a binary search puts the right end point in the last interval (closed right
            end) and anything beyond it outside.
        row_offset: ``(in,)`` int64: the row of interval ``m = 0`` of each input.
        nan_rows: ``(in,)`` int64: a real interval's row, where NaN goes so that it reaches the
            output.
        search: :func:`interval_search_table` of ``edges`` (a faster binary search), or None.
        uniform: :func:`~kanlab.splines.uniform_spacing` for a cubic on equally spaced knots
            (closed form), else None.
    """

    scatter: torch.Tensor
    taylor: torch.Tensor
    edges: torch.Tensor
    row_offset: torch.Tensor
    nan_rows: torch.Tensor
    search: BucketTable | None
    uniform: torch.Tensor | None


def knot_tables(
    knots: torch.Tensor, k: int, n_extra: int = 0, closed_form: bool = True
) -> KnotTables:
    """Build :class:`KnotTables` for ``knots`` ``(in, n_knots)`` of degree ``k``.

    ``closed_form=False`` skips the data-dependent parts (the equal-spacing test and the bucket
    search table), as ``torch.compile`` needs.
    """
    n_in, n_knots = knots.shape
    last = knots[:, -1:]
    edges = torch.where(knots == last, torch.nextafter(last, last + 1), knots)
    first_real = (knots <= knots[:, :1]).sum(1) - 1  # (in,) first non-empty interval
    row_offset = torch.arange(n_in, device=knots.device) * (n_knots + 1) + 1
    uniform = uniform_spacing(knots) if k == 3 and closed_form else None
    return KnotTables(scatter_table(knots, k, n_extra), taylor_table(knots, k), edges,
                      row_offset, row_offset + first_real,
                      interval_search_table(edges) if closed_form else None, uniform)


#: below this many points a plain ``searchsorted`` is cheaper than the bucket table
BUCKET_SEARCH_MIN_POINTS = 16384


class BucketTable(NamedTuple):
    """See :func:`interval_search_table`. Flat views with per-input bases, for ``take``."""

    counts: torch.Tensor  # (in · (n_buckets + 2),) int64
    row_base: torch.Tensor  # (in,) int64: where input i's counts start
    start: torch.Tensor  # (in,) first edge
    scale: torch.Tensor  # (in,) buckets per unit length
    padded: torch.Tensor  # (in · (n_knots + 1),): the edges, then +inf, per input
    edge_base: torch.Tensor  # (in,) int64: where input i's edges start
    steps: int  # comparisons a point may need after its bucket's entry


def interval_search_table(edges: torch.Tensor, n_buckets: int = 256) -> BucketTable | None:
    """Bucket table that replaces a per-point binary search over ``edges`` (torch's CPU
    ``searchsorted`` costs ~70 ns a point on short rows).

    Equal-width buckets over ``[edges_0, edges_last]`` store ``#{edges ≤ bucket start − δ}``;
    a point then needs its bucket's entry and at most ``steps`` comparisons with the next edge.
    ``steps`` is the most edges any bucket (widened by δ, a few ulps) holds. None when that is
    more than 3 (strongly clustered or repeated knots, as a clamped vector's ends): then
    ``searchsorted`` is used. Entry 0 of a row is "left of the knots", the last "right of them".
    """
    n_in, n_knots = edges.shape
    if bool((edges[:, 1:] <= edges[:, :-1]).any()):  # repeated knots: a step per copy
        return None
    start, stop = edges[:, 0], edges[:, -1]
    width = (stop - start) / n_buckets  # (in,)
    delta = 8 * torch.finfo(edges.dtype).eps * edges.abs().amax(1).clamp_min(1.0)
    j = torch.arange(n_buckets + 1, dtype=edges.dtype, device=edges.device)
    bounds = start[:, None] + width[:, None] * j  # (in, n_buckets + 1)
    lo = torch.searchsorted(edges, bounds[:, :-1] - delta[:, None], right=True)
    hi = torch.searchsorted(edges, bounds[:, 1:] + delta[:, None], right=True)
    steps = int((hi - lo).amax())
    if steps > 3:
        return None
    # right of the knots (or rounded there): start from the last bucket and let the steps
    # count the rest; left of them is exact (the sign of x − start is)
    counts = torch.cat([torch.zeros_like(lo[:, :1]), lo, lo[:, -1:]], dim=1)
    scale = torch.where(width > 0, 1.0 / width, torch.zeros_like(width))
    padded = torch.cat([edges, torch.full_like(edges[:, :1], torch.inf)], dim=1)
    i = torch.arange(n_in, device=edges.device)
    return BucketTable(counts.reshape(-1), i * counts.shape[1], start, scale,
                       padded.reshape(-1), i * padded.shape[1], steps)


def _bucket_search(x: torch.Tensor, search: BucketTable | None) -> torch.Tensor | None:
    """``searchsorted(edges, x, right=True)`` per input via the bucket table (None without
    one). Shapes: x ``(B, in)`` -> ``(B, in)`` int64."""
    if search is None:
        return None
    n_buckets = search.counts.numel() // search.row_base.numel() - 2
    b = ((x - search.start) * search.scale).floor_().nan_to_num_(nan=0.0).clamp_(-1, n_buckets)
    found = search.counts.take(b.long() + (search.row_base + 1))  # (B, in)
    for _ in range(search.steps):
        found += x >= search.padded.take(found + search.edge_base)
    return found


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


def local_values(
    x: torch.Tensor, knots: torch.Tensor, k: int, with_derivative: bool, tables: KnotTables
) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]:
    """The ``k + 1`` nonzero basis values (and derivatives) per point, as planes.

    Args:
        x: inputs ``(B, in)``.
        knots: ``(in, n_knots)``.
        k: spline degree.
        with_derivative: also return first derivatives.
        tables: :func:`knot_tables` of ``knots``.

    Returns:
        values ``(k + 1, B, in)`` (value ``r`` is basis function ``m − k + r``), derivatives
        ``(k + 1, B, in)`` or None, and each point's row of :func:`scatter_table`
        ``(B, in)`` int64. Values of functions that go to the trash are finite (NaN for NaN
        input). On the closed-form path derivatives are taken in ``u = (x − t_m)/h``: multiply
        by ``1/h = uniform[:, 1]`` for derivatives in ``x``. Planes may be strided views.
    """
    n_knots = knots.shape[1]
    offset = tables.row_offset  # (in,) row of m = 0
    if tables.uniform is not None and k == 3:
        m, u = _interval_uniform(x, n_knots, tables.uniform)
        vals = cubic_planes(u)
        dvals = cubic_planes(u, 1) if with_derivative else None
        return vals, dvals, m.long() + offset
    # general knots: binary search, then Horner on the interval's Taylor coefficients
    m = None  # m + 1: how many edges lie at or below x
    if x.numel() >= BUCKET_SEARCH_MIN_POINTS:
        m = _bucket_search(x, tables.search)
    if m is None:
        m = torch.searchsorted(tables.edges, x.t().contiguous(), right=True).t()  # (B, in)
    row = torch.where(torch.isnan(x), tables.nan_rows, m + (offset - 1))
    coef = torch.nn.functional.embedding(row, tables.taylor)  # (B, in, W)
    s = torch.clamp(x, knots[:, 0], knots[:, -1]) - coef[..., 0]  # (B, in), finite
    s = s.unsqueeze(-1)
    c = k + 1
    coef_p = [coef[..., 1 + p * c : 1 + (p + 1) * c] for p in range(k + 1)]  # (B, in, k + 1)
    vals = coef_p[k]
    for p in range(k - 1, -1, -1):  # Horner: Σ_p c_p s^p
        vals = torch.addcmul(coef_p[p], vals, s)
    dvals = None
    if with_derivative:  # Σ_p p c_p s^(p-1) by Horner on the same coefficients:
        dvals = coef_p[k] if k > 0 else torch.zeros_like(vals)
        for p in range(k - 1, 0, -1):  # acc <- c_p + (p+1)/p · acc · s
            dvals = torch.addcmul(coef_p[p], dvals, s, value=(p + 1) / p)
        dvals = dvals.permute(2, 0, 1)
    vals = vals.permute(2, 0, 1)
    return vals, dvals, row


#: ``A`` is filled, and ``∂L/∂A`` formed in the backward, this many spline values at a time
#: (blocks of batch rows): temporaries stay small whatever the batch
CHUNK_VALUES = 1 << 18


def _row_blocks(batch: int, values_per_row: int) -> list[slice]:
    step = max(1, CHUNK_VALUES // max(1, values_per_row))
    return [slice(start, start + step) for start in range(0, batch, step)]


class _SplineLinear(torch.autograd.Function):
    """``y = A(x) W^T + bias``; see the module docstring."""

    @staticmethod
    def forward(ctx, x, extra, weight, bias, knots, k, *tables):  # type: ignore[override]
        tables = KnotTables(*tables)  # passed as loose tensors: torch.compile wants them so
        batch, n_in = x.shape
        nb = n_basis(knots, k)
        need_dx = ctx.needs_input_grad[0]
        closed = tables.uniform is not None and k == 3
        # the trash and padding to a multiple of 16 columns (odd widths slow the GEMMs down)
        n_cols = -(-(weight.shape[1] + 1) // 16) * 16
        ctx.k, ctx.nb, ctx.n_cols, ctx.closed = k, nb, n_cols, closed
        ctx.knots, ctx.uniform = knots, tables.uniform
        ctx.native = native.kernel_for(x, k)
        if ctx.native is not None:  # A in one pass; the backward recomputes B' from x
            a = ctx.native.fill(x, knots, k, x.new_empty(0) if extra is None else extra, n_cols,
                                closed)[:, : weight.shape[1]]  # rows padded, weight not copied
            ctx.save_for_backward(x, extra, weight, bias, a, None, None, None)
            return torch.addmm(bias, a, weight.t()) if bias is not None else a @ weight.t()
        padded = torch.nn.functional.pad(weight, (0, n_cols - weight.shape[1]))  # (out, cols)
        a = x.new_zeros((batch, n_cols))  # (B, cols)
        if extra is not None:
            a[:, n_in * nb : n_in * nb + extra.shape[1]] = extra
        # what the backward needs: each point's interval row (int32: index_select takes it)
        # and its derivatives (closed form: the u they are recomputed from, a quarter the size)
        rows = x.new_empty((batch, n_in), dtype=torch.int32) if need_dx else None
        if not need_dx:
            derivs = None
        elif closed:
            derivs = x.new_empty((batch, n_in))
        else:
            derivs = x.new_empty((k + 1, batch, n_in))
        per_row = n_in * (k + 1) if closed else n_in * (2 + (k + 1) ** 2)  # Taylor rows
        for block in _row_blocks(batch, per_row):
            xb = x[block]
            if closed:
                m, u = _interval_uniform(xb, knots.shape[1], tables.uniform)
                vals, row = cubic_planes(u), m.long() + tables.row_offset
                if need_dx:
                    derivs[block] = u
            else:
                vals, dvals, row = local_values(xb, knots, k, need_dx, tables)
                if need_dx:
                    derivs[:, block] = dvals
            if need_dx:
                rows[block] = row
            index = tables.scatter.index_select(0, row.view(-1)).view(xb.shape[0], -1)
            a[block].scatter_add_(1, index, vals.permute(1, 2, 0).reshape(xb.shape[0], -1))
            del vals, row, index  # free this block's temporaries before the next is formed
        y = torch.addmm(bias, a, padded.t()) if bias is not None else a @ padded.t()
        ctx.save_for_backward(x, extra, weight, bias, a, derivs, rows, tables.scatter)
        return y

    @staticmethod
    def backward(ctx, grad_y):  # type: ignore[override]
        x, extra, weight, bias, a, derivs, rows, scatter = ctx.saved_tensors
        if torch.is_grad_enabled():  # create_graph=True: differentiate a differentiable copy
            return _double_backward(ctx, grad_y, x, extra, weight, bias)
        n_in, nb = x.shape[1], ctx.nb
        grad_x = grad_extra = grad_w = grad_bias = None
        # the input's gradient first: its blocks of ∂L/∂A come and go before grad_w exists
        if ctx.needs_input_grad[0] and ctx.native is not None:
            grad_x = native.input_grad(ctx.native, grad_y, weight, x, ctx.knots, ctx.k,
                                       ctx.closed)
        elif ctx.needs_input_grad[0]:
            grad_x = _input_grad(ctx, grad_y, weight, derivs, rows, scatter)
        if ctx.needs_input_grad[1]:
            grad_extra = grad_y @ weight[:, n_in * nb : n_in * nb + extra.shape[1]]  # (B, E)
        if ctx.needs_input_grad[2]:
            grad_w = (grad_y.t() @ a)[:, : weight.shape[1]]  # (out, in·nb (+ in))
        if ctx.needs_input_grad[3]:
            grad_bias = grad_y.sum(0)
        return grad_x, grad_extra, grad_w, grad_bias, *([None] * (len(ctx.needs_input_grad) - 4))


def _input_grad(ctx, grad_y, weight, derivs, rows, scatter):
    """``∂L/∂x_i = Σ_r (G W)[col_r(i)] · B'_r(x_i)``, forming ``G W`` a block of rows at a time.

    ``derivs``: the derivative planes ``(k + 1, B, in)``, or on the closed-form path the ``u``
    ``(B, in)``: there ``Σ_r g_r B'_r(u)`` is a quadratic in ``u`` whose coefficients are one
    small matmul of the gathered ``g``.
    """
    batch, n_in = rows.shape
    padded = torch.nn.functional.pad(weight, (0, ctx.n_cols - weight.shape[1]))  # (out, cols)
    grad_x = grad_y.new_empty((batch, n_in))
    if ctx.closed:
        to_quadratic = _CUBIC_DERIVATIVE.to(grad_y)  # (4, 3)
    for block in _row_blocks(batch, ctx.n_cols + 3 * n_in * (ctx.k + 1)):
        grad_a = grad_y[block] @ padded  # (b, cols); the trash column is zero
        index = scatter.index_select(0, rows[block].view(-1)).view(grad_a.shape[0], -1)
        g = grad_a.gather(1, index).view(grad_a.shape[0], n_in, -1)  # (b, in, k + 1)
        out = grad_x[block]
        if ctx.closed:
            c = g @ to_quadratic  # (b, in, 3): Σ_r g_r B'_r(u) = c_0 + c_1 u + c_2 u²
            u = derivs[block]
            torch.addcmul(c[..., 1], c[..., 2], u, out=out)
            out.mul_(u).add_(c[..., 0])
        else:
            d = derivs[:, block]  # (k + 1, b, in)
            torch.mul(g[..., 0], d[0], out=out)
            for r in range(1, ctx.k + 1):
                out.addcmul_(g[..., r], d[r])
        del grad_a, index, g  # free this block's temporaries before the next is formed
    if ctx.closed:  # closed-form derivatives are in u = (x − t_m)/h
        grad_x *= ctx.uniform[:, 1]
    return grad_x


#: derivatives of the uniform cubic pieces (:func:`~kanlab.splines.cubic_planes`) as
#: quadratics in u: row r holds B'_r's coefficients of 1, u, u²
_CUBIC_DERIVATIVE = torch.tensor(
    [[-0.5, 1.0, -0.5], [0.0, -2.0, 1.5], [0.5, 1.0, -1.5], [0.0, 0.0, 0.5]], dtype=torch.float64
)


def _double_backward(ctx, grad_y, x, extra, weight, bias):
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
        if extra is not None:
            a = torch.cat([a, extra], dim=1)
        grads[2] = grad_y.t() @ a
    if ctx.needs_input_grad[3]:
        grads[3] = grad_y.sum(0)
    return (*grads, *([None] * (len(ctx.needs_input_grad) - 4)))


class _TableBasis(torch.autograd.Function):
    """The dense basis ``(B, in, n_basis)`` from :func:`local_values` (Taylor tables, or the
    closed form): the layer's fast machinery, for callers that need every edge's value."""

    @staticmethod
    def forward(ctx, x, knots, k, *tables):  # type: ignore[override]
        tables = KnotTables(*tables)
        batch, n_in = x.shape
        nb = n_basis(knots, k)
        vals, dvals, row = local_values(x, knots, k, ctx.needs_input_grad[0], tables)
        if dvals is not None and tables.uniform is not None and k == 3:
            dvals = dvals * tables.uniform[:, 1]  # closed-form derivatives are in u: to x
        width = int(tables.scatter.max()) + 1  # the trash column is the last one
        index = tables.scatter.index_select(0, row.reshape(-1)).view(batch, -1)  # (B, in·(k+1))
        dense = x.new_zeros((batch, width))
        dense.scatter_add_(1, index, vals.permute(1, 2, 0).reshape(batch, -1))
        ctx.save_for_backward(x, knots, dvals, index)
        ctx.k, ctx.width = k, width
        return dense[:, : n_in * nb].view(batch, n_in, nb)

    @staticmethod
    def backward(ctx, grad_dense):  # type: ignore[override]
        x, knots, dvals, index = ctx.saved_tensors
        if not ctx.needs_input_grad[0]:
            return (None,) * (3 + len(KnotTables._fields))
        if torch.is_grad_enabled():  # create_graph=True: differentiable pieces
            grad_x = (grad_dense * bspline_basis(x, knots, ctx.k, 1)).sum(-1)
        else:
            batch, n_in = x.shape
            flat = torch.nn.functional.pad(grad_dense.reshape(batch, -1),
                                           (0, ctx.width - grad_dense[0].numel()))
            g = flat.gather(1, index).view(batch, n_in, -1)  # (B, in, k + 1)
            grad_x = (g * dvals.permute(1, 2, 0)).sum(-1)
        return (grad_x,) + (None,) * (2 + len(KnotTables._fields))


def dense_basis(x: torch.Tensor, knots: torch.Tensor, k: int, tables: KnotTables) -> torch.Tensor:
    """B-spline basis ``(B, in) -> (B, in, n_basis)`` via the forward pass's tables;
    differentiable in ``x`` (to any order). Equals :func:`~kanlab.splines.bspline_basis`."""
    return _TableBasis.apply(x, knots, k, *tables)


def _reference_forward(x, extra, weight, bias, knots, k):
    """The same map from autograd-differentiable pieces (slow; for tests)."""
    a = bspline_basis(x, knots, k).reshape(x.shape[0], -1)  # (B, in·nb)
    if extra is not None:
        a = torch.cat([a, extra], dim=1)
    return torch.nn.functional.linear(a, weight, bias)


def spline_linear(
    x: torch.Tensor,
    extra: torch.Tensor | None,
    weight: torch.Tensor,
    bias: torch.Tensor | None,
    knots: torch.Tensor,
    k: int,
    *,
    tables: KnotTables | None = None,
) -> torch.Tensor:
    """``[basis(x) | extra] @ weight^T + bias`` with the basis never differentiated by autograd.

    Args:
        x: inputs ``(B, in)``.
        extra: columns appended to the basis ``(B, E)`` (e.g. the base branch ``b(x)``), or None.
        weight: ``(out, in·n_basis + E)``; columns ``i·n_basis + j`` for spline ``j`` of input
            ``i``, then one per extra column.
        bias: ``(out,)`` or None.
        knots: ``(in, n_knots)``; k: spline degree.
        tables: :func:`knot_tables` of ``knots`` (with ``n_extra=E``) when the caller caches
            them.

    Returns:
        ``(B, out)``. Differentiable in ``x``, ``extra``, ``weight`` and ``bias``, to any order.

    Under ``torch.autocast`` the whole product runs in the weight's dtype with autocast off
    (as autocast keeps norms in float32): knot search and basis values in bfloat16 would move
    points between intervals, and the fused kernels need one dtype. Inputs that arrive in a
    lower precision are widened; the output has the weight's dtype.
    """
    if torch.is_autocast_enabled(x.device.type):
        with torch.autocast(x.device.type, enabled=False):
            dt = weight.dtype
            return spline_linear(x.to(dt), None if extra is None else extra.to(dt), weight,
                                 None if bias is None else bias.to(dt), knots.to(dt), k,
                                 tables=tables)
    if tables is None:
        closed_form = not torch.compiler.is_compiling()
        n_extra = 0 if extra is None else extra.shape[1]
        tables = knot_tables(knots, k, n_extra=n_extra, closed_form=closed_form)
    return _SplineLinear.apply(x, extra, weight, bias, knots, k, *tables)
