"""Where the knots go: grid strategies behind one small interface.

A strategy maps a batch of a layer's inputs to new grid points ``(in, G + 1)``; the layer then
builds its knot vector (extended or clamped) and refits its coefficients so that its function is
kept (:mod:`kanlab.lstsq`). Strategies are looked up by name in :data:`GRID_STRATEGIES`, or passed
as instances; new ones subclass :class:`GridStrategy`.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch

from ._validation import check_choice
from .errors import GridWarning, InputError

if TYPE_CHECKING:  # pragma: no cover
    from torch import nn

__all__ = [
    "DKAN_VARIANTS",
    "GRID_STRATEGIES",
    "DKANGrid",
    "GridStrategy",
    "QuantileGrid",
    "UniformGrid",
    "get_grid_strategy",
    "make_increasing",
    "min_samples_for_grid",
]


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
        :class:`~kanlab.density.GridContext` (the network, its inputs and targets) for
        strategies that need more than the samples.
        """
        raise NotImplementedError

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
    """

    eps: float = 0.02
    margin: float = 0.0
    end_margin: float = 0.0
    name = "quantile"

    def __post_init__(self) -> None:
        if not 0.0 <= self.eps <= 1.0:
            raise InputError(f"eps must lie in [0, 1]; got {self.eps!r}")
        if self.margin < 0:
            raise InputError(f"margin must be non-negative; got {self.margin!r}")
        if not 0.0 <= self.end_margin < 1.0:
            raise InputError(f"end_margin must lie in [0, 1); got {self.end_margin!r}")

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
    """Equally spaced points over the batch's range, widened by ``margin`` at each end."""

    margin: float = 0.0
    name = "uniform"

    def place(self, x, grid_size, *, layer=None, context=None):
        return QuantileGrid(eps=1.0, margin=self.margin).place(x, grid_size)


# name -> class or factory of keyword options; kanlab.density adds the importance densities
DKAN_VARIANTS = ("code", "paper")


@dataclass
class DKANGrid(GridStrategy):
    """DKAN's grid (Gong 2024): fixed standard-normal quantiles of standardised inputs.

    A KAN built with it (``KAN(..., grid="dkan")``) standardises every layer's input with
    running statistics, uses a clamped knot vector on the quantile grid, adds the linear boundary
    bases ``max(0, a − z)`` and ``max(0, z − b)``, and never moves its knots (``adaptive`` is
    False): the statistics move instead.

    The paper and its public code differ, and both are offered:

    ``variant="paper"``
        grid ``Φ⁻¹(α + j/G·(1 − 2α))``, ``j = 0..G`` (ends ``Φ⁻¹(α)``, ``Φ⁻¹(1 − α)``); inputs
        standardised with the running averages in training too (Algorithm 1, biased batch
        variance, eq. 8); SiLU of the standardised input.
    ``variant="code"`` (``SignorinoY/DKAN``, ``src/dkan.py``)
        grid ``Φ⁻¹(α/2 + j/G·(1 − α))`` (ends ``Φ⁻¹(α/2)``, ``Φ⁻¹(1 − α/2)``); batch statistics
        in training like ``BatchNorm1d(affine=False)``; SiLU of the raw input. Its
        ``grid_size=5`` has 6 intervals (its grid counts inner knots), which is
        ``grid_size=6`` here: 9 B-splines + 2 tails, as many coefficients as a KAN with G = 8.

    Args:
        alpha: tail probability, in ``(0, 0.5)`` (code: 0.01).
        momentum: ``γ`` of the running statistics, in ``(0, 1]`` (code: 0.1).
        variant: ``"code"`` or ``"paper"``.
    """

    alpha: float = 0.01
    momentum: float = 0.1
    variant: str = "code"
    name = "dkan"
    adaptive = False

    def __post_init__(self) -> None:
        if not 0.0 < self.alpha < 0.5:
            raise InputError(f"alpha must lie in (0, 0.5); got {self.alpha!r}")
        if not 0.0 < self.momentum <= 1.0:
            raise InputError(f"momentum (γ) must lie in (0, 1]; got {self.momentum!r}")
        check_choice("DKAN variant", self.variant, DKAN_VARIANTS)

    def points(self, grid_size: int, dtype: torch.dtype | None = None) -> torch.Tensor:
        """The ``G + 1`` grid points in standardised units: ``(G + 1,)``."""
        a = self.alpha if self.variant == "paper" else self.alpha / 2
        levels = torch.linspace(a, 1 - a, grid_size + 1, dtype=torch.float64)
        return torch.special.ndtri(levels).to(dtype or torch.get_default_dtype())

    def place(self, x, grid_size, *, layer=None, context=None):
        return self.points(grid_size, x.dtype).to(x.device).expand(x.shape[1], -1)

    def layer_options(self) -> dict[str, object]:
        """What a layer needs to be a DKAN layer (see the class docstring)."""
        return {
            "knot_convention": "clamped",
            "tails": "linear",
            "base_input": "raw" if self.variant == "code" else "standardized",
            "standardize_mode": "batch" if self.variant == "code" else "running",
            "momentum": self.momentum,
        }


GRID_STRATEGIES: dict[str, Callable[..., GridStrategy]] = {
    "quantile": QuantileGrid,
    "uniform": UniformGrid,
    "dkan": DKANGrid,
}


def get_grid_strategy(spec: str | GridStrategy | None, **options) -> GridStrategy:
    """A strategy instance from a name in :data:`GRID_STRATEGIES` (with options) or an instance."""
    if spec is None:
        spec = "quantile"
    if isinstance(spec, GridStrategy):
        if options:
            raise InputError("options are only accepted with a strategy name, not an instance")
        return spec
    if not isinstance(spec, str):
        raise InputError(
            f"grid strategy must be a name or a GridStrategy; got {type(spec).__name__}"
        )
    check_choice("grid strategy", spec, GRID_STRATEGIES)
    return GRID_STRATEGIES[spec](**options)
