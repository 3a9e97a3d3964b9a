"""Data-driven grids: pykan's quantile rule and an equally spaced grid over the batch."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from kanlab.errors import InputError
from kanlab.grids.base import GridStrategy, check_guard

__all__ = ["QuantileGrid", "UniformGrid"]


@dataclass
class QuantileGrid(GridStrategy):
    """pykan's rule: ``eps·uniform + (1 − eps)·sample quantiles``.

    The quantile points are ``x_sorted[floor(N·j/G)]`` for ``j < G`` and the largest sample; the
    uniform points span ``[min − margin, max + margin]`` of the batch. ``eps = 1`` is a uniform
    grid over the data, ``eps = 0`` pure quantiles.

    Args:
        eps: weight of the uniform grid, in ``[0, 1]`` (pykan 0.2.8: 0.02).
        margin: absolute margin added to both ends of the uniform part.
        end_margin: moves the two end points out by this fraction of the batch's range (0:
            pykan's rule). Points a little beyond the samples -- test points from the same
            distribution -- then fall inside the grid, where each spline continues its edge
            polynomial, instead of in the extended knots, where the basis falls off and a
            large base/spline cancellation in a fine fit shows as a large error.
        guard: undo a grid update that makes the loss on the batch worse by more than this
            fraction (:mod:`kanlab.nn.grid_update`); None (pykan's behaviour): never.
    """

    eps: float = 0.02
    margin: float = 0.0
    end_margin: float = 0.0
    guard: float | None = None
    name = "quantile"

    def __post_init__(self) -> None:
        if not 0.0 <= self.eps <= 1.0:
            raise InputError(f"eps must lie in [0, 1]; got {self.eps!r}")
        if self.margin < 0:
            raise InputError(f"margin must be non-negative; got {self.margin!r}")
        if not 0.0 <= self.end_margin < 1.0:
            raise InputError(f"end_margin must lie in [0, 1); got {self.end_margin!r}")
        check_guard(self.guard)

    def place(self, x, grid_size, *, layer=None, context=None):
        n = x.shape[0]
        xs = torch.sort(x, dim=0).values  # (N, in)
        idx = [int(n / grid_size * j) for j in range(grid_size)] + [n - 1]
        adaptive = xs[idx].T  # (in, G + 1)
        lo, hi = xs[0] - self.margin, xs[-1] + self.margin  # (in,)
        t = torch.linspace(0, 1, grid_size + 1, dtype=x.dtype, device=x.device)
        uniform = lo[:, None] + (hi - lo)[:, None] * t  # (in, G + 1)
        grid = self.eps * uniform + (1 - self.eps) * adaptive
        if self.end_margin > 0:
            pad = self.end_margin * (xs[-1] - xs[0])  # (in,)
            grid = grid.clone()
            grid[:, 0] -= pad
            grid[:, -1] += pad
        return grid


@dataclass
class UniformGrid(GridStrategy):
    """Equally spaced points over the batch's range, widened by ``margin`` at each end
    (``guard`` as :class:`QuantileGrid`'s)."""

    margin: float = 0.0
    guard: float | None = None
    name = "uniform"

    def __post_init__(self) -> None:
        check_guard(self.guard)

    def place(self, x, grid_size, *, layer=None, context=None):
        return QuantileGrid(eps=1.0, margin=self.margin).place(x, grid_size)
