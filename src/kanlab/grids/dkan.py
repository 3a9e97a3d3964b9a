"""DKAN's fixed grid (Gong 2024): standard-normal quantiles of standardised inputs."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from kanlab._validation import check_choice
from kanlab.errors import InputError
from kanlab.grids.base import GridStrategy

__all__ = ["DKAN_VARIANTS", "DKANGrid"]

DKAN_VARIANTS = ("code", "paper")


@dataclass
class DKANGrid(GridStrategy):
    """DKAN's grid (Gong 2024): fixed standard-normal quantiles of standardised inputs.

    The grid never moves (``adaptive`` is False): the running statistics of the standardised
    inputs move instead. The layers that go with it -- standardised inputs, a clamped knot
    vector, linear tails beyond the grid -- are not this strategy's decision: ``grid="dkan"``
    names them in :mod:`kanlab.nn.presets` (``DKANLayers``), which reads ``momentum`` and
    ``variant`` from here, so that a saved model's config names one DKAN setting.

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
        momentum: ``γ`` of the running statistics, in ``(0, 1]`` (code: 0.1), for the layers.
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
