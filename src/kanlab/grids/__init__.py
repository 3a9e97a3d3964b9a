"""Where the knots go: grid strategies, the one registry of them by name, and when to adapt.

- :mod:`~kanlab.grids.base`: the :class:`GridStrategy` interface (samples -> grid points).
- :mod:`~kanlab.grids.quantile`: pykan's quantile rule and a uniform grid over the data.
- :mod:`~kanlab.grids.dkan`: DKAN's fixed normal-quantile grid.
- :mod:`~kanlab.grids.density`: importance-density grids (knots at weighted quantiles).
- :mod:`~kanlab.grids.floor`: the nearest grid with no interval below a floor.
- :mod:`~kanlab.grids.registry`: :data:`GRID_STRATEGIES`, every strategy by name.
- :mod:`~kanlab.grids.schedules`: when ``fit`` adapts the grid (every n steps, on a plateau,
  after a refinement).

A strategy places knots; it never decides a layer's architecture. Imports: torch,
:mod:`kanlab.errors`, :mod:`kanlab._validation`.
"""

from __future__ import annotations

from kanlab.grids import schedules  # noqa: F401
from kanlab.grids.base import (  # noqa: F401
    GridStrategy,
    check_guard,
    make_increasing,
    min_samples_for_grid,
)
from kanlab.grids.density import (  # noqa: F401
    DENSITIES,
    DensityGrid,
    GridContext,
    density_exponent,
    network_curvature,
    weighted_quantile_grid,
)
from kanlab.grids.dkan import (  # noqa: F401
    DKAN_VARIANTS,
    DKANGrid,
)
from kanlab.grids.floor import floor_intervals  # noqa: F401
from kanlab.grids.quantile import (  # noqa: F401
    QuantileGrid,
    UniformGrid,
)
from kanlab.grids.registry import (  # noqa: F401
    GRID_STRATEGIES,
    get_grid_strategy,
    register_grid_strategy,
)

__all__ = [
    "DENSITIES",
    "DKANGrid",
    "DKAN_VARIANTS",
    "DensityGrid",
    "GRID_STRATEGIES",
    "GridContext",
    "GridStrategy",
    "QuantileGrid",
    "UniformGrid",
    "check_guard",
    "density_exponent",
    "floor_intervals",
    "get_grid_strategy",
    "make_increasing",
    "min_samples_for_grid",
    "network_curvature",
    "register_grid_strategy",
    "schedules",
    "weighted_quantile_grid",
]
