"""Symbolic regression of one edge: fit ``y ≈ c·f(a·x+b)+d`` for library functions ``f``.

This is the numerical half of the KAN paper's ``fix_symbolic`` / ``suggest_symbolic``: given the
samples ``(x, y)`` of one learned activation, find for each library function ``f`` the affine
maps ``a, b`` (inside) and ``c, d`` (outside) that fit ``y`` best, and rank the functions by a
mix of fit quality and simplicity.

Fitting (:func:`fit_affine`), pykan's algorithm made fast
    1. Coarse search: ``r²(a, b) = corr²(f(a·x+b), y)`` on a ``grid_number × grid_number`` grid
       over ``a_range × b_range``, evaluated in float32 on at most 128 of the samples (evenly
       spaced in sorted ``x``, the smallest and largest ``x`` always included). A candidate
       with a non-finite value has ``r² = -inf``, a constant one ``r² = 0``. Ties (plateaus,
       e.g. of ``sgn``) are broken towards their middle.
    2. Screening: the 4 best coarse points at least 3 cells apart each get one zoom round on
       the same samples (a grid's spacing can favour a basin whose optimum lies between grid
       points, or outside the ranges, over an equivalent or better one); the best goes on.
    3. ``iterations`` zoom rounds, each on a grid of ``min(grid_number, 11)`` points per axis
       spanning ±1 cell of the previous grid around its best point (clipped to the previous
       window), in float64, on progressively more samples (512, 2048, 8192, ..., at most all).
    4. Polish on all samples: Levenberg–Marquardt steps on ``(a, b)`` with ``c, d`` eliminated
       by closed-form least squares (variable projection); a step is taken only if it lowers
       the sum of squared errors, and ``a, b`` stay inside their ranges. The slope of ``f``
       comes from autograd (central differences if ``f`` is not differentiable by autograd).
       A fit that ends on a bound without being exact is tried again from the next screened
       start (at most 4 in all); the lowest error wins.
    5. ``c, d`` by least squares on ``z = f(a·x+b)`` (``c = 0, d = mean(y)`` if ``z`` is
       constant); the reported ``r² = 1 - SSE/SST`` (``1`` for constant ``y`` fitted exactly).
    A fit of ``y = c·f(a·x+b)+d`` with ``(a, b)`` inside the ranges is then exact to rounding
    for smooth ``f``; a step function (``sgn``) gets its jump placed to the resolution of the
    last zoom grid and of its samples only (at most 8192 of them). One edge of 1000 samples
    against the whole default library takes about 0.2 s on one CPU core (pykan takes about a
    second per function).

Ranking (:func:`suggest`)
    ``score = w·complexity + (1 - w)·log2(1 + 1e-5 - r²)`` with ``w = weight_simple`` (pykan's
    score; lower is better). Scores within ``1e-6`` of each other count as ties, which go to
    the lower complexity, then to the earlier function in the library.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor

from kanlab._optional import optional_import
from kanlab._validation import check_finite, check_positive_int, check_range
from kanlab.errors import InputError
from kanlab.symbolic.library import SymbolicFunction, get_function, resolve_library, zero

__all__ = ["AffineFit", "fit_affine", "fit_library", "suggest"]


@dataclass(frozen=True)
class AffineFit:
    """The fit ``y ≈ c·f(a·x+b)+d`` of one function ``f``.

    Attributes:
        name: the function's name.
        a, b: the inner affine map.
        c, d: the outer affine map.
        r2: coefficient of determination ``1 - SSE/SST`` on the fitted samples; ``-inf`` when
            no ``(a, b)`` in the ranges gives finite values at all samples.
        complexity: the function's complexity.
        function: the fitted :class:`SymbolicFunction` (not part of equality or repr).
    """

    name: str
    a: float
    b: float
    c: float
    d: float
    r2: float
    complexity: int
    function: SymbolicFunction | None = field(default=None, repr=False, compare=False)

    def _fn(self) -> SymbolicFunction:
        return self.function if self.function is not None else get_function(self.name)

    def evaluate(self, x: Tensor) -> Tensor:
        """``c·f(a·x+b)+d`` with the exact torch function.

        Args:
            x: inputs of any shape, floating point.

        Shape:
            Same as ``x``; the dtype of ``x`` is kept.

        Returns:
            The fitted function's values (NaN where ``f`` is undefined, as everywhere off the
            domain of a failed fit, whose ``r2`` is ``-inf``).
        """
        return self.c * self._fn().torch_fn(self.a * x + self.b) + self.d

    def sympy(self, x_symbol: Any = None) -> Any:
        """The sympy expression ``c*f(a*x+b)+d`` (needs sympy).

        Args:
            x_symbol: a sympy symbol or expression for ``x``; ``None`` means ``Symbol('x')``.

        Returns:
            A sympy expression with float coefficients.
        """
        sp = optional_import("sympy", "sympy forms")
        x = sp.Symbol("x") if x_symbol is None else x_symbol
        inner = sp.Float(self.a) * x + sp.Float(self.b)
        return sp.Float(self.c) * self._fn().sympy_fn(inner) + sp.Float(self.d)


_COARSE_POINTS = 128  # samples of the coarse float32 grid
_ZOOM_POINTS = 512  # samples of the first zoom round; x4 per further round
_ZOOM_GRID = 11  # grid points per axis of a zoom round (at most grid_number)
_CHUNK_BYTES = 2**18  # bytes of one temporary of a grid chunk (cache-sized chunks are fast)
_LM_MAX_EVALUATIONS = 30  # trial steps of one polish
_STARTS = 4  # coarse points refined before the search goes on from the best
_F64_EPS = float(torch.finfo(torch.float64).eps)


class _Samples:
    """Validated samples in float64 with cached subsamples for the grid searches."""

    def __init__(self, x: Any, y: Any) -> None:
        self.x = _as_samples("x", x)
        self.y = _as_samples("y", y)
        n = self.x.numel()
        if self.y.numel() != n:
            raise InputError(f"x and y must have the same length; got {n} and {self.y.numel()}")
        if n < 2:
            raise InputError(f"a symbolic fit needs at least 2 samples; got {n}")
        self.n = n
        if bool(self.y.max() == self.y.min()):  # exact constant: mean without rounding
            self.y_mean = float(self.y[0])
        else:
            self.y_mean = float(self.y.mean())
        self.yc = self.y - self.y_mean
        self.sst = float(self.yc @ self.yc)
        self.order = torch.argsort(self.x)
        self._levels: dict[tuple[int, torch.dtype], tuple[Tensor, Tensor]] = {}

    def level(self, m: int, dtype: torch.dtype) -> tuple[Tensor, Tensor]:
        """``m`` samples evenly spaced in sorted ``x`` (ends included) and normalised ``y``.

        Returns ``(x_sub, y_dir)`` in ``dtype``, where ``y_dir`` is the centred ``y`` of the
        subsample scaled to unit norm (zero if it is constant).
        """
        m = min(m, self.n)
        key = (m, dtype)
        if key not in self._levels:
            if m == self.n:
                idx = self.order
            else:
                pos = torch.linspace(0, self.n - 1, m, dtype=torch.float64).round().long()
                idx = self.order[pos]
            xs, ys = self.x[idx], self.y[idx]
            yc = ys - ys.mean()
            norm = float(torch.linalg.vector_norm(yc))
            usable = self.sst > 0 and norm > 0 and math.isfinite(norm)
            y_dir = yc / norm if usable else torch.zeros_like(yc)
            self._levels[key] = (xs.to(dtype), y_dir.to(dtype))
        return self._levels[key]


def _as_samples(name: str, v: Any) -> Tensor:
    if not isinstance(v, Tensor):
        try:
            v = torch.as_tensor(np.asarray(v))
        except (TypeError, ValueError, RuntimeError) as err:
            raise InputError(
                f"{name} must be a 1-D tensor of samples; got {type(v).__name__}"
            ) from err
    if v.is_complex() or v.dtype == torch.bool:
        raise InputError(f"{name} must be a real tensor; got dtype {v.dtype}")
    if sum(s != 1 for s in v.shape) > 1:
        raise InputError(f"{name} must be 1-D (N,) or squeezable to it; got shape {tuple(v.shape)}")
    v = v.detach().reshape(-1).to(device="cpu", dtype=torch.float64)
    check_finite(name, v)
    return v


def _grid_r2(
    fn: Callable[[Tensor], Tensor], a_vals: Tensor, b_vals: Tensor, xs: Tensor, y_dir: Tensor
) -> Tensor:
    """``corr²(f(a·x+b), y)`` for candidates ``a_vals``, ``b_vals`` broadcast to ``(R, C)``.

    Computed in the dtype of ``xs`` (sorted samples) against ``y_dir`` (centred ``y`` of unit
    norm).

    ``xs`` is sorted, so ``a·x+b`` spans ``[a·xs[0]+b, a·xs[-1]+b]``: a candidate whose ``f`` is
    not finite at an end is invalid (``-inf``) without being evaluated (it is replaced by a
    constant row: out-of-domain values are slow to compute). Other candidates with a non-finite
    value also get ``-inf``, constant ones ``0``. Returned in float64.
    """
    dtype = xs.dtype
    a_vals, b_vals = torch.broadcast_tensors(a_vals, b_vals)
    (n_a, n_b), m = a_vals.shape, xs.numel()
    a = a_vals.to(dtype).unsqueeze(-1)
    b = b_vals.to(dtype).unsqueeze(-1)
    t_ends = (a * xs[[0, -1]].view(1, 1, 2)).add_(b)
    ends = torch.isfinite(_call(fn, t_ends)).all(-1)
    first = int(torch.argmax(ends.view(-1).to(torch.uint8)))
    if not bool(ends.view(-1)[first]):
        return torch.full((n_a, n_b), -math.inf, dtype=torch.float64)
    t_ok = float(t_ends.view(-1, 2)[first, 0])  # an argument where f is finite
    a = torch.where(ends[..., None], a, 0.0)
    b = torch.where(ends[..., None], b, t_ok)
    x = xs.view(1, 1, m)
    rows = max(1, _CHUNK_BYTES // (n_b * m * xs.element_size()))
    mean = torch.empty(n_a, n_b, dtype=dtype)
    szz = torch.empty(n_a, n_b, dtype=dtype)
    szy = torch.empty(n_a, n_b, dtype=dtype)
    for start in range(0, n_a, rows):
        rs = slice(start, start + rows)
        t = (a[rs] * x).add_(b[rs])  # faster than addcmul
        z = _call(fn, t)
        mu = torch.mean(z, -1, keepdim=True)
        mean[rs] = mu.squeeze(-1)
        z = z.sub_(mu) if z.is_contiguous() else z - mu
        torch.linalg.vector_norm(z, dim=-1, out=szz[rs])
        torch.matmul(z, y_dir, out=szy[rs])
    szz, szy, mean = szz.double() ** 2, szy.double(), mean.double()
    total = szz + m * mean**2  # uncentred sum of squares
    valid = ends & torch.isfinite(szz) & torch.isfinite(szy) & torch.isfinite(total)
    r2 = szy**2 / szz
    # constant: no variation above rounding, or too small to resolve in dtype (squares of
    # values below ~sqrt(tiny) underflow); then also r2 > 1 would be a sign of lost precision
    info = torch.finfo(dtype)
    const = (szz <= (16 * info.eps) ** 2 * total) | (szz <= m * info.tiny / info.eps**2)
    r2 = torch.where(const | (r2 > 1 + 1e-3), 0.0, r2.clamp_(max=1))
    return torch.where(valid, r2, -math.inf)


def _call(fn: Callable[[Tensor], Tensor], t: Tensor) -> Tensor:
    """``fn(t)`` as a tensor of the shape and dtype of ``t`` (not necessarily a new one)."""
    z = fn(t)
    if not isinstance(z, Tensor):
        z = torch.as_tensor(z, dtype=t.dtype)
    if z.dtype != t.dtype:
        z = z.to(t.dtype)
    if z.shape != t.shape:
        z = torch.broadcast_to(z, t.shape)
    return z


def _best_index(r2: Tensor, allowed: Tensor) -> tuple[int, int] | None:
    """Grid index of the best allowed finite ``r²``: the middle one of ties; ``None`` if none.

    Taking the middle of tied points makes a plateau (e.g. of a step function, whose jump can
    move between two samples) be zoomed into at its centre, not at its edge.
    """
    r2 = torch.where(allowed, r2, -math.inf)
    top = r2.max()
    if top == -math.inf:
        return None
    ties = (r2.view(-1) == top).nonzero()
    i, j = divmod(int(ties[len(ties) // 2]), r2.shape[1])
    return i, j


_Window = tuple[float, float, float, float]  # a_lo, a_hi, b_lo, b_hi


@dataclass(frozen=True)
class _Zoom:
    """A point of the search: its window, its best ``(a, b)``, the cell of its grid and r²."""

    window: _Window
    center: tuple[float, float]
    cell: tuple[float, float]
    r2: float = -math.inf

    def grid(self, n: int) -> tuple[_Window, Tensor, Tensor]:
        """Window and axes of the next round: ±1 cell around the centre, clipped to the window."""
        a_lo, a_hi, b_lo, b_hi = self.window
        (a0, b0), (da, db) = self.center, self.cell
        a_lo, a_hi = max(a_lo, a0 - da), min(a_hi, a0 + da)
        b_lo, b_hi = max(b_lo, b0 - db), min(b_hi, b0 + db)
        a_vals = torch.linspace(a_lo, a_hi, n, dtype=torch.float64)
        b_vals = torch.linspace(b_lo, b_hi, n, dtype=torch.float64)
        return (a_lo, a_hi, b_lo, b_hi), a_vals, b_vals

    def next(self, r2: Tensor, n: int) -> _Zoom:
        """The zoom after a round whose ``r²`` on the grid of :meth:`grid` is ``r2``."""
        window, a_vals, b_vals = self.grid(n)
        best = _best_index(r2, torch.ones((), dtype=torch.bool))
        if best is None:  # no finite candidate (on more samples): keep the point
            return self
        i, j = best
        a_lo, a_hi, b_lo, b_hi = window
        cell = ((a_hi - a_lo) / (n - 1), (b_hi - b_lo) / (n - 1))
        return _Zoom(window, (float(a_vals[i]), float(b_vals[j])), cell, float(r2[i, j]))


def _zoom_rounds(
    fn: Callable[[Tensor], Tensor], zooms: list[_Zoom], xs: Tensor, y_dir: Tensor, n: int
) -> list[_Zoom]:
    """One zoom round for each of ``zooms``, all evaluated in one batch."""
    grids = [z.grid(n) for z in zooms]
    a = torch.stack([g[1] for g in grids])[:, :, None].expand(-1, n, n).reshape(-1, n)
    b = torch.stack([g[2] for g in grids])[:, None, :].expand(-1, n, n).reshape(-1, n)
    r2 = _grid_r2(fn, a, b, xs, y_dir).view(len(zooms), n, n)
    return [z.next(r, n) for z, r in zip(zooms, r2)]


@dataclass
class _State:
    """Values of the fit at one ``(a, b)``, with ``c, d`` by least squares."""

    a: float
    b: float
    c: float
    d: float
    sse: float
    z: Tensor  # f(a·x+b)
    residual: Tensor  # y - (c·z + d)


def _slope(fn: Callable[[Tensor], Tensor], t: Tensor) -> Tensor:
    """``f'(t)`` elementwise: autograd, else central differences; non-finite slopes are 0."""
    g = None
    try:
        with torch.enable_grad():
            tt = t.detach().requires_grad_(True)
            z = fn(tt)
            if isinstance(z, Tensor) and z.requires_grad:
                (g,) = torch.autograd.grad(z.sum(), tt, allow_unused=True)
    except RuntimeError:  # e.g. inside torch.inference_mode, or f not differentiable
        g = None
    if g is None:
        h = 1e-6 * (1 + t.abs())
        g = (_call(fn, t + h) - _call(fn, t - h)) / (2 * h)
    return torch.nan_to_num(g.to(t.dtype), nan=0.0, posinf=0.0, neginf=0.0)


def _state(fn: Callable[[Tensor], Tensor], s: _Samples, a: float, b: float) -> _State | None:
    """Closed-form ``c, d`` at ``(a, b)``; ``None`` if ``f`` is not finite at every sample."""
    z = _call(fn, s.x * a + b)
    z_mean = z.mean()
    zc = z - z_mean
    szz, szy = (torch.stack([zc, s.yc]) @ zc).tolist()
    z_mean = float(z_mean)
    if not (math.isfinite(szz) and math.isfinite(szy) and math.isfinite(z_mean)):
        return None
    if szz <= (16 * _F64_EPS) ** 2 * (szz + s.n * z_mean**2):  # constant f(a·x+b)
        c = 0.0
        residual = s.yc
    else:
        c = szy / szz
        residual = s.yc - c * zc
    sse = float(residual @ residual)
    if not math.isfinite(sse):
        return None
    return _State(a, b, c, s.y_mean - c * z_mean, sse, z, residual)


def _polish(
    fn: Callable[[Tensor], Tensor],
    s: _Samples,
    st: _State,
    a_range: tuple[float, float],
    b_range: tuple[float, float],
) -> _State:
    """Levenberg–Marquardt on ``(a, b)`` with ``c, d`` projected out; SSE never increases.

    The step solves the Kaufman variable-projection normal equations (Jacobian columns of
    ``a`` and ``b`` projected orthogonal to ``span(1, z)``), Jacobi-scaled and damped, with
    Nielsen's damping update. A parameter at a bound of its range whose step points outwards
    is held there (active set). Stops when a step lowers the SSE by less than a relative
    ``1e-10``, or a nearly undamped one by less than ``1e-6`` (a flat valley), when no step
    lowers it, or after ``_LM_MAX_EVALUATIONS`` trial steps.
    """
    lo, hi = (a_range[0], b_range[0]), (a_range[1], b_range[1])
    lam, nu = 1e-3, 2.0
    evaluations = 0
    while evaluations < _LM_MAX_EVALUATIONS:
        if st.sse <= 1e-28 * s.sst or st.c == 0.0:
            break
        g = _slope(fn, s.x * st.a + st.b)
        cols = torch.stack([g * s.x, g, st.z, st.residual])
        cols = cols - cols.mean(1, keepdim=True)
        (uu, uv, uz, ur), (_, vv, vz, vr), (_, _, zz, zr), _ = (cols @ cols.T).tolist()
        if not (all(map(math.isfinite, (uu, uv, uz, ur, vv, vz, vr, zz, zr))) and zz > 0):
            break
        # projected normal equations; the model's Jacobian is c times these columns
        jtj = (uu - uz * uz / zz, uv - uz * vz / zz, vv - vz * vz / zz)  # (00, 01, 11)
        jtr = ((ur - uz * zr / zz) / st.c, (vr - vz * zr / zz) / st.c)
        diag = (jtj[0], jtj[2])
        # a direction is identifiable if projecting out span(1, z) leaves some of its norm
        identifiable = (diag[0] > 1e-12 * uu, diag[1] > 1e-12 * vv)
        p = (st.a, st.b)
        improved = False
        while lam < 1e12 and evaluations < _LM_MAX_EVALUATIONS:
            # free: identifiable, and not at a bound with the descent direction outwards
            free = [
                identifiable[k]
                and not (p[k] <= lo[k] and jtr[k] < 0)
                and not (p[k] >= hi[k] and jtr[k] > 0)
                for k in range(2)
            ]
            if not any(free):
                break
            scale = [1 / math.sqrt(diag[k]) if free[k] else 0.0 for k in range(2)]
            rhs = [jtr[k] * scale[k] for k in range(2)]
            off = jtj[1] * scale[0] * scale[1] if all(free) else 0.0
            det = (1 + lam) ** 2 - off * off  # > 0: |off| <= 1 by Cauchy-Schwarz
            step = (
                ((1 + lam) * rhs[0] - off * rhs[1]) / det * scale[0],
                ((1 + lam) * rhs[1] - off * rhs[0]) / det * scale[1],
            )
            new_p = tuple(min(max(p[k] + step[k], lo[k]), hi[k]) for k in range(2))
            if new_p == p:
                break
            new = _state(fn, s, *new_p)
            evaluations += 1
            if new is not None and new.sse < st.sse:
                da, db = new_p[0] - p[0], new_p[1] - p[1]
                predicted = st.c**2 * (
                    2 * (da * jtr[0] + db * jtr[1])
                    - (da * da * jtj[0] + 2 * da * db * jtj[1] + db * db * jtj[2])
                )
                rho = (st.sse - new.sse) / predicted if predicted > 0 else 0.0
                gain = (st.sse - new.sse) / st.sse
                improved = gain > 1e-10 and (lam > 1e-2 or gain > 1e-6)
                lam = max(lam * max(1 / 3, 1 - (2 * rho - 1) ** 3), 1e-12)
                nu = 2.0
                st = new
                break
            lam *= nu
            nu *= 2
        if not improved:
            break
    return st


@torch.no_grad()
def _fit(
    function: SymbolicFunction,
    s: _Samples,
    a_range: tuple[float, float],
    b_range: tuple[float, float],
    grid_number: int,
    iterations: int,
) -> AffineFit:
    fn = function.torch_fn
    if fn is zero:  # the zero function: nothing to search
        st = _state(fn, s, 1.0, 0.0)
    else:
        st = _search(fn, s, a_range, b_range, grid_number, iterations)
    if st is None:
        a, b, complexity = a_range[0], b_range[0], function.complexity
        return AffineFit(function.name, a, b, 0.0, s.y_mean, -math.inf, complexity, function)
    if s.sst > 0:
        r2 = 1.0 - st.sse / s.sst
    else:
        r2 = 1.0 if st.sse <= 1e-28 * max(float(s.y @ s.y), 1e-300) else 0.0
    return AffineFit(function.name, st.a, st.b, st.c, st.d, r2, function.complexity, function)


def _search(
    fn: Callable[[Tensor], Tensor],
    s: _Samples,
    a_range: tuple[float, float],
    b_range: tuple[float, float],
    grid_number: int,
    iterations: int,
) -> _State | None:
    """Coarse grid, zoom rounds and polish; ``None`` if no ``(a, b)`` gives finite values.

    The coarse grid's spacing can favour a basin whose optimum lies off the grid, or outside
    the ranges, over a better one (e.g. ``cos`` with ``b`` and an equivalent ``b ± π``). So
    the best coarse points at least 3 cells apart (``_STARTS`` of them) are each refined by
    one zoom round on the coarse samples, and the search goes on from the best refined one.
    A fit that ends on a bound of ``a_range`` or ``b_range`` without being exact is tried
    again from the next refined start; the fit with the lowest error is kept.
    """
    n = grid_number
    n_zoom = min(grid_number, _ZOOM_GRID)
    a_vals = torch.linspace(*a_range, n, dtype=torch.float64)
    b_vals = torch.linspace(*b_range, n, dtype=torch.float64)
    coarse = s.level(_COARSE_POINTS, torch.float32)
    r2 = _grid_r2(fn, a_vals[:, None], b_vals[None, :], *coarse)
    full: _Window = (*a_range, *b_range)
    cell = ((a_range[1] - a_range[0]) / (n - 1), (b_range[1] - b_range[0]) / (n - 1))
    allowed = torch.ones(n, n, dtype=torch.bool)
    starts = []
    for _ in range(_STARTS):
        ij = _best_index(r2, allowed)
        if ij is None:
            break
        i, j = ij
        allowed[max(i - 2, 0) : i + 3, max(j - 2, 0) : j + 3] = False
        starts.append(_Zoom(full, (float(a_vals[i]), float(b_vals[j])), cell, float(r2[i, j])))
    if not starts:
        return None
    starts = _zoom_rounds(fn, starts, *coarse, n_zoom)
    starts.sort(key=lambda z: -z.r2)  # stable: ties keep the coarse order
    best: _State | None = None
    for zoom in starts:
        for round_ in range(iterations):
            level = s.level(_ZOOM_POINTS * 4**round_, torch.float64)
            (zoom,) = _zoom_rounds(fn, [zoom], *level, n_zoom)
        st = _state(fn, s, *zoom.center)
        if st is None:  # not finite at some sample outside the subsamples
            continue
        st = _polish(fn, s, st, a_range, b_range)
        if best is None or st.sse < best.sse:
            best = st
        at_bound = best.a in a_range or best.b in b_range
        if not at_bound or best.sse <= 1e-20 * s.sst:
            break
    return best


_FIT_DEFAULTS: dict[str, Any] = {
    "a_range": (-10.0, 10.0),
    "b_range": (-10.0, 10.0),
    "grid_number": 101,
    "iterations": 3,
}


def _check_fit_args(
    a_range: Any, b_range: Any, grid_number: Any, iterations: Any
) -> tuple[tuple[float, float], tuple[float, float], int, int]:
    a_range = check_range("a_range", a_range)
    b_range = check_range("b_range", b_range)
    if not all(math.isfinite(v) for v in (*a_range, *b_range)):
        raise InputError(f"a_range and b_range must be finite; got {a_range} and {b_range}")
    check_positive_int("grid_number", grid_number)
    if grid_number < 2:
        raise InputError(f"grid_number must be at least 2; got {grid_number}")
    if isinstance(iterations, bool) or not isinstance(iterations, int) or iterations < 0:
        raise InputError(f"iterations must be a non-negative integer; got {iterations!r}")
    return a_range, b_range, grid_number, iterations


def fit_affine(
    x: Tensor,
    y: Tensor,
    function: str | SymbolicFunction,
    *,
    a_range: tuple[float, float] = (-10.0, 10.0),
    b_range: tuple[float, float] = (-10.0, 10.0),
    grid_number: int = 101,
    iterations: int = 3,
) -> AffineFit:
    """Fit ``y ≈ c·f(a·x+b)+d`` for one function ``f`` (see the module docstring).

    Args:
        x: inputs, 1-D or squeezable to it; any real dtype (computed in float64).
        y: targets, same length as ``x``.
        function: a registered name or a :class:`SymbolicFunction`.
        a_range: search range of ``a``; the result stays inside it.
        b_range: search range of ``b``; the result stays inside it.
        grid_number: points per axis of the coarse ``(a, b)`` grid (at least 2).
        iterations: zoom rounds after the coarse grid.

    Shape:
        ``x``, ``y``: ``(N,)`` with ``N >= 2``.

    Returns:
        The :class:`AffineFit`, with Python floats; ``r2 = -inf`` if no ``(a, b)`` gives finite
        values at all samples.

    Raises:
        InputError: on non-finite, mismatched, too few or non-1-D samples, an unknown function
            name or invalid search settings.
    """
    args = _check_fit_args(a_range, b_range, grid_number, iterations)
    (function,) = resolve_library([function])
    return _fit(function, _Samples(x, y), *args)


def fit_library(
    x: Tensor,
    y: Tensor,
    lib: Sequence[str | SymbolicFunction] | None = None,
    **kw: Any,
) -> list[AffineFit]:
    """:func:`fit_affine` for each function of a library.

    Args:
        x: inputs ``(N,)``.
        y: targets ``(N,)``.
        lib: names and/or functions; ``None`` means :data:`DEFAULT_LIBRARY`.
        **kw: ``a_range``, ``b_range``, ``grid_number``, ``iterations`` of :func:`fit_affine`.

    Returns:
        One :class:`AffineFit` per function, in library order.

    Raises:
        InputError: as :func:`fit_affine`, or on an unknown keyword.
    """
    unknown = set(kw) - set(_FIT_DEFAULTS)
    if unknown:
        raise InputError(
            f"unknown fit option(s) {sorted(unknown)}; expected some of {sorted(_FIT_DEFAULTS)}"
        )
    opts = {**_FIT_DEFAULTS, **kw}
    args = _check_fit_args(
        opts["a_range"], opts["b_range"], opts["grid_number"], opts["iterations"]
    )
    functions = resolve_library(lib)
    s = _Samples(x, y)
    return [_fit(f, s, *args) for f in functions]


def suggest(
    x: Tensor,
    y: Tensor,
    lib: Sequence[str | SymbolicFunction] | None = None,
    *,
    topk: int = 5,
    weight_simple: float = 0.8,
    r2_tolerance: float = 1e-5,
    **kw: Any,
) -> list[AffineFit]:
    """Fit every library function and rank the fits, best first (pykan's ``suggest_symbolic``).

    The score of a fit is pykan's ``weight_simple·complexity + (1 - weight_simple)·log2(1 +
    1e-5 - r²)``; lower is better. With the default weight 0.8, one more unit of complexity
    must be paid for by a 16 times smaller ``1 + 1e-5 - r²``: an exact fit of complexity 2
    (score ``1.6 - 3.3``) beats an exact fit of complexity 3, and the zero function
    (complexity 0, ``r² = 0``, score ``≈ 0``) beats a fit of complexity ``k`` unless
    ``1 - r² < 2^(-4k) - 1e-5`` (never for ``k >= 5``). Scores within ``1e-6`` of each other
    count as ties, which go to the lower complexity, then to the earlier library entry; so do
    failed fits (``r² = -inf``, score ``+inf``), which come last.

    Unlike pykan, fits with ``1 - r² < r2_tolerance`` all count as exact (their ``r²`` enters
    the score as ``1 - r2_tolerance``), so the simplest of them wins, then the earliest in
    ``lib``. Without this, a 4-parameter family that holds a simpler function as a limit beats
    it by a hair: ``c·sin(a·x + b) + d`` with a tiny ``a`` and a huge ``c`` fits a numeric
    ``x²`` edge a little better than ``x²`` does, and the formula fills with ``1e87``-sized
    constants. For the same reason, among tied fits of equal complexity the one with the
    smaller ``|c|`` (to a factor of 2) wins: it uses its function's shape, not a sliver of it.

    Args:
        x: inputs ``(N,)``.
        y: targets ``(N,)``.
        lib: names and/or functions; ``None`` means :data:`DEFAULT_LIBRARY`.
        topk: how many fits to return.
        weight_simple: weight of complexity against fit quality, in ``[0, 1]``.
        r2_tolerance: ``1 - r²`` below which fits count as exact (0: pykan's ranking).
        **kw: options of :func:`fit_affine`.

    Returns:
        The ``topk`` best :class:`AffineFit`\\ s, best first.

    Raises:
        InputError: as :func:`fit_library`, or on a bad ``topk`` / ``weight_simple``.
    """
    check_positive_int("topk", topk)
    try:
        w = float(weight_simple)
    except (TypeError, ValueError):
        raise InputError(
            f"weight_simple must be a number in [0, 1]; got {weight_simple!r}"
        ) from None
    if not 0.0 <= w <= 1.0:
        raise InputError(f"weight_simple must be in [0, 1]; got {weight_simple!r}")
    if not 0.0 <= r2_tolerance < 1.0:
        raise InputError(f"r2_tolerance must be in [0, 1); got {r2_tolerance!r}")
    fits = fit_library(x, y, lib, **kw)
    scores = [_score(f, w, r2_tolerance) for f in fits]
    by_score = sorted(range(len(fits)), key=lambda i: scores[i])
    ranked: list[int] = []
    group: list[int] = []
    for i in by_score:  # group near-equal scores, anchored at the group's best
        if group and not (scores[i] == scores[group[0]] or scores[i] - scores[group[0]] <= 1e-6):
            ranked += sorted(group, key=lambda k: (fits[k].complexity, _sliver(fits[k]), k))
            group = []
        group.append(i)
    ranked += sorted(group, key=lambda k: (fits[k].complexity, _sliver(fits[k]), k))
    return [fits[i] for i in ranked[:topk]]


def _sliver(fit: AffineFit) -> int:
    """How thin a sliver of ``f`` a fit uses: ``round(log2 |c|)`` (``|c|·std f(a·x + b)`` is
    the same for every fit of the same samples, so a large ``|c|`` means ``f`` barely varies on
    them). Tied fits prefer the function whose own shape fits."""
    return round(math.log2(abs(fit.c))) if fit.c != 0 and math.isfinite(fit.c) else -1075


def _score(fit: AffineFit, weight_simple: float, r2_tolerance: float = 0.0) -> float:
    if fit.r2 == -math.inf:
        return math.inf
    r2 = min(fit.r2, 1.0 - r2_tolerance)
    return weight_simple * fit.complexity + (1 - weight_simple) * math.log2(1 + 1e-5 - r2)
