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

    Steps 1-3 use the pieces of :mod:`kanlab.symbolic.search` (samples, ``r²`` grids, zoom
    rounds), step 4 is :mod:`kanlab.symbolic.polish`; this module runs them in order.

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

import torch
from torch import Tensor

from kanlab._validation import check_nonnegative_int, check_positive_int, check_range
from kanlab.errors import InputError
from kanlab.symbolic.library import (
    SymbolicFunction,
    get_function,
    resolve_library,
    sympy_module,
    zero,
)
from kanlab.symbolic.polish import State, polish, state_at
from kanlab.symbolic.search import (
    COARSE_POINTS,
    STARTS,
    ZOOM_GRID,
    ZOOM_POINTS,
    Samples,
    Window,
    Zoom,
    best_index,
    grid_r2,
    zoom_rounds,
)

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
        sp = sympy_module()
        x = sp.Symbol("x") if x_symbol is None else x_symbol
        inner = sp.Float(self.a) * x + sp.Float(self.b)
        return sp.Float(self.c) * self._fn().sympy_fn(inner) + sp.Float(self.d)


@torch.no_grad()
def _fit(
    function: SymbolicFunction,
    s: Samples,
    a_range: tuple[float, float],
    b_range: tuple[float, float],
    grid_number: int,
    iterations: int,
) -> AffineFit:
    fn = function.torch_fn
    if fn is zero:  # the zero function: nothing to search
        st = state_at(fn, s, 1.0, 0.0)
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
    s: Samples,
    a_range: tuple[float, float],
    b_range: tuple[float, float],
    grid_number: int,
    iterations: int,
) -> State | None:
    """Coarse grid, zoom rounds and polish; ``None`` if no ``(a, b)`` gives finite values.

    The coarse grid's spacing can favour a basin whose optimum lies off the grid, or outside
    the ranges, over a better one (e.g. ``cos`` with ``b`` and an equivalent ``b ± π``). So
    the best coarse points at least 3 cells apart (``STARTS`` of them) are each refined by
    one zoom round on the coarse samples, and the search goes on from the best refined one.
    A fit that ends on a bound of ``a_range`` or ``b_range`` without being exact is tried
    again from the next refined start; the fit with the lowest error is kept.
    """
    n = grid_number
    n_zoom = min(grid_number, ZOOM_GRID)
    a_vals = torch.linspace(*a_range, n, dtype=torch.float64)
    b_vals = torch.linspace(*b_range, n, dtype=torch.float64)
    coarse = s.level(COARSE_POINTS, torch.float32)
    r2 = grid_r2(fn, a_vals[:, None], b_vals[None, :], *coarse)
    full: Window = (*a_range, *b_range)
    cell = ((a_range[1] - a_range[0]) / (n - 1), (b_range[1] - b_range[0]) / (n - 1))
    allowed = torch.ones(n, n, dtype=torch.bool)
    starts = []
    for _ in range(STARTS):
        ij = best_index(r2, allowed)
        if ij is None:
            break
        i, j = ij
        allowed[max(i - 2, 0) : i + 3, max(j - 2, 0) : j + 3] = False
        starts.append(Zoom(full, (float(a_vals[i]), float(b_vals[j])), cell, float(r2[i, j])))
    if not starts:
        return None
    starts = zoom_rounds(fn, starts, *coarse, n_zoom)
    starts.sort(key=lambda z: -z.r2)  # stable: ties keep the coarse order
    best: State | None = None
    for zoom in starts:
        for round_ in range(iterations):
            level = s.level(ZOOM_POINTS * 4**round_, torch.float64)
            (zoom,) = zoom_rounds(fn, [zoom], *level, n_zoom)
        st = state_at(fn, s, *zoom.center)
        if st is None:  # not finite at some sample outside the subsamples
            continue
        st = polish(fn, s, st, a_range, b_range)
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
    check_nonnegative_int("iterations", iterations)
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
    return _fit(function, Samples(x, y), *args)


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
        lib: names and/or functions; ``None`` means
            :func:`~kanlab.symbolic.library.default_library`.
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
    s = Samples(x, y)
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
        lib: names and/or functions; ``None`` means
            :func:`~kanlab.symbolic.library.default_library`.
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
