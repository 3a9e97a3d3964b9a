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
A degree-``k`` B-spline basis has only ``k + 1`` nonzero functions at any ``x``: those of the knot
interval ``[t_m, t_{m+1})`` holding ``x``. :func:`local_basis` finds ``m`` by binary search, looks
up everything interval ``m`` needs in one row of :func:`window_rows` (local knots, reciprocal
spans, which functions exist, their indices) and runs de Boor's triangle on those ``2k + 2``
knots only (iterative Cox--de Boor, never a recursion over all knots). On equally spaced knots
(every grid before its first data-driven update) cubic values and derivatives come in closed
form from ``u = (x - t_m)/h`` instead. Derivatives of order ``d`` come from the same triangle
stopped at degree ``k - d`` and lifted ``d`` times with
``B'_{i,q} = q (B_{i,q-1}/(t_{i+q}-t_i) - B_{i+1,q-1}/(t_{i+q+1}-t_{i+1}))``.
:func:`bspline_basis` scatters the local values into the dense ``(..., in, n_basis)`` tensor
that the layer's GEMM consumes; its autograd backward gathers the ``k + 1`` derivative values
instead of differentiating through the triangle, and is itself differentiable to any order (PDE
losses need second derivatives through autograd).
"""

from __future__ import annotations

import torch

__all__ = [
    "KNOT_CONVENTIONS",
    "bspline_basis",
    "clamped_knots",
    "extended_knots",
    "local_basis",
    "local_jet",
    "make_knots",
    "n_basis",
    "uniform_grid",
    "uniform_spacing",
    "window_rows",
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


def _knot_table(knots: torch.Tensor, k: int) -> torch.Tensor:
    """Knots and reciprocal knot spans, interleaved for one gather per point.

    Row ``i`` of the result holds, for each knot index ``j``, ``[t_j, 1/(t_{j+1}-t_j), ...,
    1/(t_{j+k}-t_j)]`` with ``1/0 := 0`` (and 0 past the end).

    Shape: ``(in, n_knots) -> (in, n_knots · (k + 1))``.
    """
    cols = [knots]
    for q in range(1, k + 1):
        span = knots[:, q:] - knots[:, :-q]  # (in, n_knots - q)
        inv = torch.where(span > 0, 1.0 / span, torch.zeros_like(span))
        cols.append(torch.nn.functional.pad(inv, (0, q)))
    return torch.stack(cols, dim=-1).reshape(knots.shape[0], -1)


_PATTERNS: dict[int, torch.Tensor] = {}


def _window_pattern(k: int) -> torch.Tensor:
    """Offsets into :func:`_knot_table`'s rows, relative to ``m·(k + 1)``.

    First ``2k + 2`` entries: ``t_{m+s}``, ``s = -k..k+1``. Then for ``q = 1..k`` the ``q``
    reciprocal spans ``1/(t_{i+q} - t_i)`` of ``i = m-q+1..m``.
    """
    if k not in _PATTERNS:
        c = k + 1
        offs = [s * c for s in range(-k, k + 2)]
        for q in range(1, k + 1):
            offs += [(1 - q + j) * c + q for j in range(q)]
        _PATTERNS[k] = torch.tensor(offs, dtype=torch.long)
    return _PATTERNS[k]


def _locate(x: torch.Tensor, knots: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Knot interval index ``m`` of each ``x`` and whether ``x`` lies within the knots at all.

    ``m`` is clamped to the first and last non-degenerate intervals, so the right end point of a
    clamped knot vector belongs to the last interval (closed right end).

    Shapes: x ``(B, in)``, knots ``(in, n_knots)`` -> m ``(B, in)`` int64, inside ``(B, in)`` bool.
    """
    # searchsorted wants the sorted dimension last and matching leading dims: work input-major.
    xt = x.transpose(0, 1).contiguous()  # (in, B)
    m = torch.searchsorted(knots, xt, right=True) - 1  # (in, B)
    first, last = knots[:, :1], knots[:, -1:]  # (in, 1)
    lo = (knots <= first).sum(1, keepdim=True) - 1  # (in, 1) first real interval
    hi = (knots < last).sum(1, keepdim=True) - 1  # (in, 1) last real interval
    m = torch.clamp(m, min=lo, max=hi)
    inside = (xt >= first) & (xt <= last)  # (in, B)
    return m.transpose(0, 1), inside.transpose(0, 1)


def _triangle(
    x: torch.Tensor, window: torch.Tensor, k: int, derivatives: tuple[int, ...]
) -> list[torch.Tensor]:
    """de Boor's triangle on local knots: the ``k + 1`` nonzero values of each derivative order.

    ``window`` is the gathered :func:`_window_pattern`. Returns, for each order ``d`` asked,
    values of ``d``-th derivatives of ``B_{m-k+r}``, ``r = 0..k``: ``(B, in, k + 1)``.

    Shapes: x ``(B, in)``, window ``(B, in, 2k + 2 + k(k+1)/2)``.
    """
    xe = x.unsqueeze(-1)  # (B, in, 1)
    dist = xe - window[..., : 2 * k + 2]  # (B, in, 2k + 2): x - t_{m+s}, s = -k..k+1
    inv_start = [2 * k + 2 + q * (q - 1) // 2 for q in range(k + 2)]
    pad = torch.nn.functional.pad
    vals = torch.ones_like(xe)  # degree 0: B_{m,0} = 1
    out: dict[int, torch.Tensor] = {}
    for q in range(1, k + 1):
        # previous level: functions i = m-q+1..m of degree q-1 (q values); A = P_i / (t_{i+q}-t_i)
        a = window[..., inv_start[q] : inv_start[q] + q] * vals  # (B, in, q)
        for d in derivatives:  # derivative lifts from this level up to degree k
            if q == k - d + 1 and d > 0:
                der = a
                for qq in range(q, k + 1):
                    if qq > q:
                        der = window[..., inv_start[qq] : inv_start[qq] + qq] * der
                    der = qq * (pad(der, (1, 0)) - pad(der, (0, 1)))
                out[d] = der
        # de Boor: B_{i,q} = (x - t_i) A_i + (t_{i+q+1} - x) A_{i+1}, i = m-q..m
        vals = pad(a * dist[..., k - q + 1 : k + 1], (1, 0)) - pad(
            a * dist[..., k + 1 : k + q + 1], (0, 1)
        )
    out[0] = vals
    return [out.get(d, torch.zeros_like(vals)) for d in derivatives]


def local_basis(
    x: torch.Tensor,
    knots: torch.Tensor,
    k: int,
    derivatives: tuple[int, ...] = (0,),
    rows: torch.Tensor | None = None,
    uniform: torch.Tensor | None = None,
) -> tuple[list[torch.Tensor], torch.Tensor]:
    """Nonzero basis values (and derivatives) at each ``x`` and where they go.

    Args:
        x: inputs, shape ``(B, in)``.
        knots: nondecreasing knot vectors, shape ``(in, n_knots)``.
        k: spline degree (order), ``k >= 0``.
        derivatives: derivative orders wanted (0 for values).
        rows: ``window_rows(knots, k)`` if the caller keeps it (it depends on the knots only).
        uniform: ``uniform_spacing(knots)`` ``(in, 2)`` when every knot vector is equally
            spaced: then a cubic basis (``k = 3``, derivatives up to 2) is evaluated in closed
            form (derivatives up to 3), and ``rows`` may be just the last ``2k + 2`` columns
            of ``window_rows``.

    Returns:
        ``(values, index)``: for each order asked, ``(B, in, k + 1)`` values of basis functions
        ``index`` ``(B, in, k + 1)`` (clamped into ``[0, n_basis)``). Values of functions that
        do not exist (index outside the basis) or of ``x`` outside the knots are zero.
    """
    n_knots = knots.shape[1]
    if uniform is not None and k == 3 and max(derivatives) <= 3:
        return _uniform_cubic(x, n_knots, derivatives, rows, uniform, knots)
    m, inside = _locate(x, knots)  # (B, in), m in [0, n_knots - 2]
    full_width = len(_window_pattern(k)) + 2 * (k + 1)
    if rows is None or rows.shape[1] != full_width:  # none, or only the closed form's columns
        rows = window_rows(knots, k)  # (in (n_knots - 1), P + 2k + 2)
    window, mask, index = _lookup(rows, m, inside, k)
    vals = _triangle(x, window, k, derivatives)  # [(B, in, k + 1)]
    return [v * mask for v in vals], index


def _lookup(
    rows: torch.Tensor, m: torch.Tensor, inside: torch.Tensor, k: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Each point's row of :func:`window_rows`, split into its parts.

    Shapes: rows ``(in (n_knots - 1), W)``, m and inside ``(B, in)`` -> the window
    ``(B, in, W - 2k - 2)``, mask ``(B, in, k + 1)`` (1 where the function exists and x lies
    within the knots) and basis indices ``(B, in, k + 1)``.
    """
    n_intervals = rows.shape[0] // m.shape[1]
    offset = torch.arange(m.shape[1], device=m.device) * n_intervals  # (in,)
    row = torch.nn.functional.embedding(m + offset, rows)  # (B, in, W): a row each
    n_window = rows.shape[1] - 2 * (k + 1)
    mask = row[..., n_window : n_window + k + 1] * inside.unsqueeze(-1)
    return row[..., :n_window], mask, row[..., n_window + k + 1 :].long()


def uniform_spacing(knots: torch.Tensor) -> torch.Tensor | None:
    """``[[t_0, 1/h], ...]`` ``(in, 2)`` if every knot vector is equally spaced, else None.

    "Equally" up to rounding: every interval within ``1000·eps`` of the knots' magnitude of
    their mean (a float32 ``linspace`` is not exactly uniform).
    """
    span = knots[:, 1:] - knots[:, :-1]  # (in, n_knots - 1)
    h = span.mean(1)  # (in,)
    tol = 1000 * torch.finfo(knots.dtype).eps * knots.abs().amax(1).clamp_min(1.0)  # (in,)
    if not bool((h > 0).all()) or not bool(((span - h[:, None]).abs() <= tol[:, None]).all()):
        return None
    return torch.stack([knots[:, 0], 1.0 / h], dim=1)


def cubic_planes(u: torch.Tensor, derivative: int = 0) -> torch.Tensor:
    """The four nonzero uniform cubic B-splines (or a derivative in ``u``) at ``u`` in [0, 1].

    ``(1−u)³/6``, ``(3u³ − 6u² + 4)/6``, ``(−3u³ + 3u² + 3u + 1)/6``, ``u³/6``: one contiguous
    plane per function, so that every step is a plain elementwise op.

    Shape: ``(...) -> (4, ...)``; ``derivative`` 0, 1, 2 or 3.
    """
    out = u.new_empty((4,) + u.shape)
    if derivative == 3:  # constant on each piece
        for r, c in enumerate((-1.0, 3.0, -3.0, 1.0)):
            out[r].fill_(c)
        return out
    if derivative == 2:
        torch.sub(1, u, out=out[0])
        torch.sub(3 * u, 2, out=out[1])
        torch.sub(1, 3 * u, out=out[2])
        out[3] = u
        return out
    u2 = u * u
    if derivative == 0:
        u3 = u2 * u
        torch.mul((1 - u).pow_(3), 1 / 6, out=out[0])
        torch.mul(u3, 1 / 6, out=out[3])
        torch.add(0.5 * u3 - u2, 2 / 3, out=out[1])
        torch.sub(1 - out[0], out[1] + out[3], out=out[2])
    elif derivative == 1:
        torch.mul((1 - u).pow_(2), -0.5, out=out[0])
        torch.mul(u2, 0.5, out=out[3])
        torch.sub(u2 * 1.5, u * 2, out=out[1])
        torch.add(out[0] + out[1], out[3], out=out[2]).neg_()
    else:
        raise ValueError(f"cubic_planes has derivatives 0 to 3; got {derivative}")
    return out


def _uniform_cubic(x, n_knots, derivatives, rows, uniform, knots):
    """Closed-form cubic B-spline values on equally spaced knots (see :func:`local_basis`).

    With ``u = (x − t_m)/h`` the four nonzero functions are ``(1−u)³/6``, ``(3u³ − 6u² + 4)/6``,
    ``(−3u³ + 3u² + 3u + 1)/6`` and ``u³/6``; derivatives follow by differentiating in ``u``
    and dividing by ``h`` per order.
    """
    k = 3
    if rows is None:
        rows = window_rows(knots, k)[:, -2 * (k + 1) :].contiguous()
    t0, inv_h = uniform[:, 0], uniform[:, 1]  # (in,)
    pos = (x - t0) * inv_h  # (B, in): position in units of h from the first knot
    inside = (pos >= 0) & (pos <= n_knots - 1)
    m = pos.floor().clamp_(0, n_knots - 2)
    u = pos - m  # (B, in) in [0, 1]
    _, mask, index = _lookup(rows, m.long(), inside, k)  # (B, in, 4) each
    out = []
    for d in derivatives:
        vals = cubic_planes(u, d).permute(1, 2, 0)  # (B, in, 4), derivatives in u
        if d:
            vals = vals * (inv_h**d).unsqueeze(-1)
        out.append(vals * mask)
    return out, index


def window_rows(knots: torch.Tensor, k: int) -> torch.Tensor:
    """Everything the triangle needs for a point in interval ``m`` of input ``i``, as one row.

    Row ``i·(n_knots − 1) + m`` holds the :func:`_window_pattern` entries of that interval, then
    ``k + 1`` flags (1.0 where basis function ``m − k + r`` exists), then the ``k + 1`` basis
    indices ``m − k + r`` (clamped, as floats). A point then needs a single row lookup instead of
    one gather per entry.

    Shape: ``(in, n_knots) -> (in · (n_knots − 1), P + 2k + 2)``.
    """
    n_in, n_knots = knots.shape
    table = _knot_table(knots, k)  # (in, n_knots (k + 1))
    m = torch.arange(n_knots - 1, device=knots.device)  # (n_knots - 1,)
    idx = (m[:, None] * (k + 1) + _window_pattern(k).to(knots.device)).clamp(0, table.shape[1] - 1)
    window = table[:, idx]  # (in, n_knots - 1, P)
    function = m[:, None] + torch.arange(-k, 1, device=knots.device)  # (n_knots - 1, k + 1)
    nb = n_knots - k - 1
    exists = ((function >= 0) & (function < nb)).to(knots.dtype)
    index = function.clamp(0, nb - 1).to(knots.dtype)  # small integers: exact in any float
    extra = torch.cat([exists, index], dim=-1).expand(n_in, -1, -1)  # (in, n_knots - 1, 2k + 2)
    return torch.cat([window, extra], dim=-1).reshape(n_in * (n_knots - 1), -1)


class _LocalJet(torch.autograd.Function):
    """Local values of ``count`` consecutive derivative orders from ``first``, stacked, and their
    basis indices; differentiable in ``x`` to any order (backward uses the next orders)."""

    @staticmethod
    def forward(ctx, x, knots, k, first, count, rows, uniform):  # type: ignore[override]
        need = ctx.needs_input_grad[0]
        orders = tuple(range(first, first + count + need))
        values, index = local_basis(x, knots, k, orders, rows, uniform)
        ctx.mark_non_differentiable(index)
        ctx.save_for_backward(x, knots, rows, uniform,
                              torch.stack(values[1:]) if need else None)
        ctx.k, ctx.first, ctx.count = k, first, count
        return torch.stack(values[:count]), index

    @staticmethod
    def backward(ctx, grad_vals, grad_index):  # type: ignore[override]
        x, knots, rows, uniform, following = ctx.saved_tensors
        if torch.is_grad_enabled():  # create_graph=True: the next orders, differentiably
            following, _ = _LocalJet.apply(x, knots, ctx.k, ctx.first + 1, ctx.count, rows,
                                           uniform)
        return (grad_vals * following).sum((0, -1)), None, None, None, None, None, None


def local_jet(
    x: torch.Tensor,
    knots: torch.Tensor,
    k: int,
    count: int = 3,
    *,
    rows: torch.Tensor | None = None,
    uniform: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``k + 1`` nonzero basis values and their first ``count − 1`` derivatives at ``x``.

    Like :func:`local_basis` (same ``rows`` and ``uniform``) for the orders ``0..count − 1`` in
    one interval search, but differentiable in ``x`` to any order.

    Shapes: x ``(B, in)`` -> values ``(count, B, in, k + 1)`` (zero for functions that do not
    exist and outside the knots) and basis indices ``(B, in, k + 1)`` int64.
    """
    return _LocalJet.apply(x, knots, k, 0, count, rows, uniform)


class _DenseBasis(torch.autograd.Function):
    """Dense basis ``(B, in, n_basis)`` from the local values.

    Saves the ``k + 1`` local derivative values and their positions (less memory than the
    dense basis) so that backward is one gather. Under ``create_graph=True`` backward is built
    from differentiable pieces instead, so that higher derivatives work.
    """

    @staticmethod
    def forward(ctx, x, knots, k, derivative, rows, uniform):  # type: ignore[override]
        orders = (derivative, derivative + 1) if ctx.needs_input_grad[0] else (derivative,)
        values, index = local_basis(x, knots, k, orders, rows, uniform)
        vals = values[0]
        dvals = values[1] if len(values) > 1 else None  # None: nothing flows back to x
        nb = n_basis(knots, k)
        dense = x.new_zeros(x.shape + (nb,)).scatter_add_(-1, index, vals)
        ctx.save_for_backward(x, knots, dvals, index, rows, uniform)
        ctx.k, ctx.derivative = k, derivative
        return dense

    @staticmethod
    def backward(ctx, grad_dense):  # type: ignore[override]
        x, knots, dvals, index, rows, uniform = ctx.saved_tensors
        if not ctx.needs_input_grad[0]:
            return None, None, None, None, None, None
        if torch.is_grad_enabled():  # create_graph=True: keep the graph differentiable in x
            (dvals,), _ = _LocalJet.apply(x, knots, ctx.k, ctx.derivative + 1, 1, rows,
                                          uniform)
        g = grad_dense.gather(-1, index)  # (B, in, k + 1)
        return (g * dvals).sum(-1), None, None, None, None, None


def bspline_basis(
    x: torch.Tensor,
    knots: torch.Tensor,
    k: int,
    derivative: int = 0,
    *,
    rows: torch.Tensor | None = None,
    uniform: torch.Tensor | None = None,
) -> torch.Tensor:
    """Dense B-spline basis (or its ``derivative``-th derivative) at ``x``.

    Differentiable in ``x`` to any order; knots are treated as constants.

    Args:
        x: inputs, shape ``(..., in)``.
        knots: knot vectors, shape ``(in, n_knots)``, nondecreasing along the last dimension.
        k: spline degree, ``k >= 0``.
        derivative: 0 for values, 1 for first derivatives, 2 for second, ...
        rows: :func:`window_rows` of ``knots`` when the caller caches it (a layer does).
        uniform: :func:`uniform_spacing` of ``knots`` when they are equally spaced (enables the
            closed-form cubic path; then ``rows`` may hold only the last ``2k + 2`` columns).

    Returns:
        Tensor of shape ``(..., in, n_knots - k - 1)``.
    """
    batch_shape = x.shape[:-1]
    x2 = x.reshape(-1, x.shape[-1])  # (B, in)
    dense = _DenseBasis.apply(x2, knots, k, derivative, rows, uniform)  # (B, in, n_basis)
    return dense.reshape(*batch_shape, *dense.shape[-2:])
