"""The one registry of grid strategies by name: every built-in strategy is listed here.

``KAN(..., grid="curvature")``, ``kanlab fit --grid-strategy`` and saved models look names up
in :data:`GRID_STRATEGIES`; a new strategy is added to the table below (or registered at run
time with :func:`register_grid_strategy`).
"""

from __future__ import annotations

from collections.abc import Callable

from kanlab._validation import check_choice
from kanlab.errors import InputError
from kanlab.grids.base import GridStrategy
from kanlab.grids.density import DENSITIES, DensityGrid
from kanlab.grids.dkan import DKANGrid
from kanlab.grids.quantile import QuantileGrid, UniformGrid

__all__ = ["GRID_STRATEGIES", "PAPER_RULE", "get_grid_strategy", "register_grid_strategy"]


def _density_factory(density: str, suffix: str = "",
                     defaults: dict | None = None) -> Callable[..., DensityGrid]:
    """``make(**options)``: a :class:`DensityGrid` of ``density`` with ``defaults`` under the
    caller's options."""
    def make(**options) -> DensityGrid:
        return DensityGrid(**{"density": density, **(defaults or {}), **options})

    make.__name__ = f"{density}{suffix}_grid"
    return make


#: The importance-density paper's options: raw weights, no floor, every update kept.
PAPER_RULE = {"power": 1.0, "floor": 0.0, "guard": None}

#: name -> class, or factory of keyword options, of every strategy known by name.
#: ``curvature_paper`` and ``curvature_network_paper`` are the paper's raw rules (power 1, no
#: floor, no guard); such a model is saved under its density's name with these options.
GRID_STRATEGIES: dict[str, Callable[..., GridStrategy]] = {
    "quantile": QuantileGrid,
    "uniform": UniformGrid,
    "dkan": DKANGrid,
    **{name: _density_factory(name) for name in DENSITIES},
    "curvature_paper": _density_factory("curvature", "_paper", PAPER_RULE),
    "curvature_network_paper": _density_factory("curvature_network", "_paper", PAPER_RULE),
}


def register_grid_strategy(name: str, factory: Callable[..., GridStrategy]) -> None:
    """Make ``factory(**options)`` known as ``name`` (for ``KAN(grid=name)`` and saved models).

    Raises:
        InputError: ``name`` is taken, or ``factory`` is not callable.
    """
    if name in GRID_STRATEGIES:
        raise InputError(f"grid strategy {name!r} is already registered")
    if not callable(factory):
        raise InputError(f"factory must be callable; got {factory!r}")
    GRID_STRATEGIES[name] = factory


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
