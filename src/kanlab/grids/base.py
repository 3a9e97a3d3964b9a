"""The grid-strategy interface: new grid points ``(in, G + 1)`` from a batch of a layer's inputs.

A strategy maps a batch of a layer's inputs to new grid points; the layer then builds its knot
vector (extended or clamped) and refits its coefficients so that its function is kept
(:mod:`kanlab.splines.lstsq`). New strategies subclass :class:`GridStrategy` and are listed in
:data:`kanlab.grids.registry.GRID_STRATEGIES`.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

import torch

from kanlab.errors import GridWarning, InputError

if TYPE_CHECKING:  # pragma: no cover
    from torch import nn

__all__ = ["GridStrategy", "check_guard", "make_increasing", "min_samples_for_grid"]


def check_guard(guard: float | None) -> None:
    """A grid guard's tolerance is None or a non-negative number.

    Raises:
        InputError: otherwise.
    """
    if guard is not None and (isinstance(guard, bool) or not guard >= 0):
        raise InputError(f"guard must be None or a non-negative tolerance; got {guard!r}")


def min_samples_for_grid(grid_size: int) -> int:
    """Fewest samples a data-driven grid of ``grid_size`` intervals is placed from: ``G + 1``."""
    return grid_size + 1


def make_increasing(grid: torch.Tensor, rel_gap: float = 1e-4) -> torch.Tensor:
    """Push grid points apart so that every interval is at least ``rel_gap`` of the span.

    ``g'_j = max(g_j, g'_{j-1} + gap)``, computed as a cumulative maximum. Shape ``(in, G + 1)``.
    The gap is at least a few units in the last place of the points, or rounding would undo the
    push (float32 points far from 0 relative to their span).
    """
    n = grid.shape[1]
    span = (grid[:, -1:] - grid[:, :1]).clamp_min(0)  # (in, 1)
    gap = rel_gap * span / max(n - 1, 1)  # (in, 1)
    ulps = 4 * torch.finfo(grid.dtype).eps * grid.abs().amax(1, keepdim=True)  # (in, 1)
    gap = torch.maximum(gap, ulps)
    steps = torch.arange(n, device=grid.device, dtype=grid.dtype)  # (G + 1,)
    return torch.cummax(grid - steps * gap, dim=1).values + steps * gap


class GridStrategy:
    """Interface: new grid points from a batch of a layer's inputs.

    Subclasses implement :meth:`place`. :meth:`grid_points` validates the batch, calls
    :meth:`place` and guards the result: grid points strictly increasing, and the old grid kept
    (with a :class:`GridWarning`) for inputs that are constant over the batch.
    """

    name = "base"
    #: False for fixed grids (DKAN): ``fit`` then never calls ``update_grid``.
    adaptive = True
    #: Undo a grid update that makes the loss on the batch worse by more than this fraction
    #: (:mod:`kanlab.nn.grid_update`); None: keep every update. Strategies offer it as an option.
    guard: float | None = None

    def place(
        self,
        x: torch.Tensor,
        grid_size: int,
        *,
        layer: nn.Module | None = None,
        context: Any = None,
    ) -> torch.Tensor:  # pragma: no cover - interface
        """Grid points ``(in, grid_size + 1)`` from samples ``x`` ``(N, in)``.

        ``layer`` is the layer being adapted and ``context`` a
        :class:`~kanlab.grids.density.GridContext` (the network, its inputs and targets) for
        strategies that need more than the samples.
        """
        raise NotImplementedError

    def fallback_strategy(self, exact: bool = True) -> GridStrategy | None:
        """The strategy whose move an update undone by the guard makes instead, or None (the
        default): keep the old knots (:mod:`kanlab.nn.grid_update`). ``exact``: whether the
        guard's *can fit better* check is exact (least squares) rather than estimated."""
        return None

    def points(self, grid_size: int, dtype: torch.dtype | None = None) -> torch.Tensor:
        """A fixed grid's points ``(G + 1,)``, the same for every input (strategies with
        ``adaptive`` False implement it: ``refine`` asks for them at the new size).

        Raises:
            InputError: for a data-driven strategy, which has no points without samples.
        """
        raise InputError(f"the {self.name!r} grid strategy places its points from samples; "
                         "it has no fixed points")

    def grid_points(
        self,
        x: torch.Tensor,
        grid_size: int,
        old_grid: torch.Tensor,
        *,
        layer: nn.Module | None = None,
        context: Any = None,
    ) -> torch.Tensor:
        """Validated, strictly increasing grid points ``(in, grid_size + 1)``.

        Args:
            x: samples ``(N, in)``.
            grid_size: number of intervals ``G``.
            old_grid: current grid points ``(in, G_old + 1)``; kept for constant inputs.
            layer: the layer being adapted (strategies that need its function use it).
            context: network-level information for strategies that need it (see :meth:`place`).

        Raises:
            InputError: fewer than ``G + 1`` samples.
        """
        need = min_samples_for_grid(grid_size)
        if x.shape[0] < need:
            raise InputError(
                f"a grid of {grid_size} intervals needs at least {need} samples; got "
                f"{x.shape[0]}. Pass a larger batch or use a smaller grid_size."
            )
        grid = self.place(x, grid_size, layer=layer, context=context)
        span = x.amax(0) - x.amin(0)  # (in,)
        constant = span <= 1e-12 * x.abs().amax(0).clamp_min(1.0)
        if bool(constant.any()):
            idx = constant.nonzero().flatten().tolist()
            warnings.warn(
                f"input(s) {idx} are constant over the batch; their grid is left as it was",
                GridWarning,
                stacklevel=3,
            )
            if old_grid.shape[1] == grid_size + 1:
                keep = old_grid[constant]
            else:  # resample the old grid's range at the new size
                lo, hi = old_grid[constant, :1], old_grid[constant, -1:]
                t = torch.linspace(0, 1, grid_size + 1, dtype=x.dtype, device=x.device)
                keep = lo + (hi - lo) * t
            grid = grid.clone()
            grid[constant] = keep
        return make_increasing(grid)
