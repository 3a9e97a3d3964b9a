"""Named architectures: what a :class:`~kanlab.nn.model.KAN`'s layers are for a named grid.

A grid strategy only places knots. ``KAN(..., grid="dkan")`` (or a
:class:`~kanlab.grids.DKANGrid` instance) means more than knots -- DKAN's layers -- and that
decision is made here, in :data:`LAYER_PRESETS`, keyed by the grid's name:

``"dkan"`` (Gong 2024), :class:`DKANLayers`
    every layer standardises its inputs with running statistics
    (:class:`~kanlab.nn.standardize.RunningStandardize`), evaluates a clamped knot vector on
    the grid's normal quantiles, adds the linear tails beyond the grid
    (:mod:`kanlab.nn.tails`), and never moves its knots (the grid is fixed: ``adaptive`` is
    False). The variant (``"code"`` or ``"paper"``) and the statistics' momentum are the
    grid's settings, so that a saved model's ``config.json`` names one DKAN setting.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from kanlab.grids import GridStrategy
from kanlab.nn.standardize import RunningStandardize

__all__ = ["LAYER_PRESETS", "DKANLayers", "layer_preset"]


@dataclass(frozen=True)
class DKANLayers:
    """DKAN's layers for a :class:`~kanlab.grids.DKANGrid` ``grid`` (see the module docstring).

    ``variant="code"`` (``SignorinoY/DKAN``): batch statistics in training like
    ``BatchNorm1d(affine=False)``, the base function of the raw input. ``variant="paper"``:
    the running statistics in training too (Algorithm 1), the base function of the
    standardised input.
    """

    grid: Any

    def shared_options(self) -> dict[str, str]:
        """Options of every layer, in place of the model's (and saved in its config)."""
        return {"knot_convention": "clamped", "tails": "linear"}

    def layer_options(self, in_features: int, grid_size: int,
                      dtype: torch.dtype | None) -> dict[str, Any]:
        """The rest of one layer's options: its grid points, base input and standardisation."""
        paper = self.grid.variant == "paper"
        return {
            "grid": self.grid.points(grid_size, dtype),
            "base_input": "standardized" if paper else "raw",
            "standardize": RunningStandardize(in_features, momentum=self.grid.momentum,
                                              mode="running" if paper else "batch", dtype=dtype),
        }


#: grid name -> the layers it stands for
LAYER_PRESETS: dict[str, type[DKANLayers]] = {"dkan": DKANLayers}


def layer_preset(strategy: GridStrategy) -> DKANLayers | None:
    """The named architecture of a model built with the grid ``strategy``, or None."""
    preset = LAYER_PRESETS.get(strategy.name)
    return None if preset is None else preset(strategy)
