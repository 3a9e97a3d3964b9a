"""The grid search for the inner map ``(a, b)`` of a fit ``y ≈ c·f(a·x+b)+d`` (steps 1-3 of
:mod:`kanlab.symbolic.fitting`): the samples and their subsamples, ``r²`` on a grid of
candidates, and zoom rounds around a point.

``r²(a, b) = corr²(f(a·x+b), y)``: the fraction of the variance of ``y`` that the best ``c, d``
explain, so ``c, d`` never need to be searched.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from kanlab._validation import check_finite
from kanlab.errors import InputError

__all__ = [
    "COARSE_POINTS", "STARTS", "Samples", "Window", "ZOOM_GRID", "ZOOM_POINTS", "Zoom",
    "best_index", "call", "grid_r2", "zoom_rounds",
]

COARSE_POINTS = 128  # samples of the coarse float32 grid
ZOOM_POINTS = 512  # samples of the first zoom round; x4 per further round
ZOOM_GRID = 11  # grid points per axis of a zoom round (at most grid_number)
STARTS = 4  # coarse points refined before the search goes on from the best
_CHUNK_BYTES = 2**18  # bytes of one temporary of a grid chunk (cache-sized chunks are fast)


class Samples:
    """Validated samples of one fit in float64, with cached subsamples for the grid searches.

    Args:
        x, y: inputs and targets, 1-D (or squeezable to it), the same length ``N >= 2``, any
            real dtype, finite.

    Attributes:
        x, y: ``(N,)`` float64 on the CPU.
        n: ``N``.
        y_mean: mean of ``y`` (exactly ``y[0]`` for a constant ``y``).
        yc: ``y - y_mean`` ``(N,)``.
        sst: ``yc · yc``, the total sum of squares.
        order: the permutation that sorts ``x`` ``(N,)``.

    Raises:
        InputError: on non-numeric, complex, non-1-D, mismatched, too few or non-finite samples.
    """

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


def grid_r2(
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
    ends = torch.isfinite(call(fn, t_ends)).all(-1)
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
        z = call(fn, t)
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


def call(fn: Callable[[Tensor], Tensor], t: Tensor) -> Tensor:
    """``fn(t)`` as a tensor of the shape and dtype of ``t`` (not necessarily a new one)."""
    z = fn(t)
    if not isinstance(z, Tensor):
        z = torch.as_tensor(z, dtype=t.dtype)
    if z.dtype != t.dtype:
        z = z.to(t.dtype)
    if z.shape != t.shape:
        z = torch.broadcast_to(z, t.shape)
    return z


def best_index(r2: Tensor, allowed: Tensor) -> tuple[int, int] | None:
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


Window = tuple[float, float, float, float]  # a_lo, a_hi, b_lo, b_hi


@dataclass(frozen=True)
class Zoom:
    """A point of the search: its window, its best ``(a, b)``, the cell of its grid and r²."""

    window: Window
    center: tuple[float, float]
    cell: tuple[float, float]
    r2: float = -math.inf

    def grid(self, n: int) -> tuple[Window, Tensor, Tensor]:
        """Window and axes of the next round: ±1 cell around the centre, clipped to the window."""
        a_lo, a_hi, b_lo, b_hi = self.window
        (a0, b0), (da, db) = self.center, self.cell
        a_lo, a_hi = max(a_lo, a0 - da), min(a_hi, a0 + da)
        b_lo, b_hi = max(b_lo, b0 - db), min(b_hi, b0 + db)
        a_vals = torch.linspace(a_lo, a_hi, n, dtype=torch.float64)
        b_vals = torch.linspace(b_lo, b_hi, n, dtype=torch.float64)
        return (a_lo, a_hi, b_lo, b_hi), a_vals, b_vals

    def next(self, r2: Tensor, n: int) -> Zoom:
        """The zoom after a round whose ``r²`` on the grid of :meth:`grid` is ``r2``."""
        window, a_vals, b_vals = self.grid(n)
        best = best_index(r2, torch.ones((), dtype=torch.bool))
        if best is None:  # no finite candidate (on more samples): keep the point
            return self
        i, j = best
        a_lo, a_hi, b_lo, b_hi = window
        cell = ((a_hi - a_lo) / (n - 1), (b_hi - b_lo) / (n - 1))
        return Zoom(window, (float(a_vals[i]), float(b_vals[j])), cell, float(r2[i, j]))


def zoom_rounds(
    fn: Callable[[Tensor], Tensor], zooms: list[Zoom], xs: Tensor, y_dir: Tensor, n: int
) -> list[Zoom]:
    """One zoom round for each of ``zooms``, all evaluated in one batch."""
    grids = [z.grid(n) for z in zooms]
    a = torch.stack([g[1] for g in grids])[:, :, None].expand(-1, n, n).reshape(-1, n)
    b = torch.stack([g[2] for g in grids])[:, None, :].expand(-1, n, n).reshape(-1, n)
    r2 = grid_r2(fn, a, b, xs, y_dir).view(len(zooms), n, n)
    return [z.next(r, n) for z, r in zip(zooms, r2)]
