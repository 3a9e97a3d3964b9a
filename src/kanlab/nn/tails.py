"""Linear tails beyond the grid (DKAN's boundary bases): two more basis functions per edge.

``max(0, a − z)`` and ``max(0, z − b)`` with ``[a, b]`` the ends of the input's grid, so that
inputs beyond the grid still reach the spline. The coefficients are the layer's ``tail_coef``
``(out, in, 2)``; they are scaled by ``w_s`` as the spline is: an inner
:class:`~kanlab.nn.branch.EdgeBranch`. This module owns everything the tails take part in:
their GEMM columns and weights, edge values, derivatives (slopes ``−1`` and ``1`` beyond the
ends, 0 inside; every higher derivative 0), initialisation and their role when the knots move
(the splines absorb the change of the tails' kinks).
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["TAILS", "LinearTails", "make_tails"]

TAILS = ("none", "linear")


def _ends(knots: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The grid's ends ``a``, ``b`` ``(in,)`` of a degree-``k`` knot vector."""
    return knots[:, k], knots[:, knots.shape[1] - k - 1]


class LinearTails:
    """``t_ji0 · max(0, a_i − z) + t_ji1 · max(0, z − b_i)`` on every edge.

    Args:
        spline_order: the layer's degree ``k`` (where the grid sits in the knot vector).
    """

    param = "tail_coef"
    inside_spline = True

    def __init__(self, spline_order: int) -> None:
        self.k = spline_order

    def features(self, z: torch.Tensor, knots: torch.Tensor) -> torch.Tensor:
        """``[max(0, a − z), max(0, z − b)]`` per input: ``(B, in) -> (B, in, 2)``."""
        a, b = _ends(knots, self.k)
        return torch.stack([torch.relu(a - z), torch.relu(z - b)], dim=-1)

    def slopes(self, z: torch.Tensor, knots: torch.Tensor) -> torch.Tensor:
        """``d/dz`` of :meth:`features`: ``(B, in) -> (B, in, 2)``."""
        a, b = _ends(knots, self.k)
        return torch.stack([-(z < a).to(z.dtype), (z > b).to(z.dtype)], dim=-1)

    def make_parameter(self, out_features: int, in_features: int, **factory) -> nn.Parameter:
        return nn.Parameter(torch.empty(out_features, in_features, 2, **factory))

    def n_columns(self, in_features: int) -> int:
        return 2 * in_features

    def columns(self, x, z, knots):
        a, b = _ends(knots, self.k)
        return [torch.relu(a - z), torch.relu(z - b)]

    def weights(self, coef, scale):
        return [coef[..., 0] * scale, coef[..., 1] * scale]

    def values(self, x, z, knots, coef):
        return torch.einsum("bit,oit->boi", self.features(z, knots), coef)  # (B, out, in)

    def derivative(self, x, z, dz, knots, coef, order):
        if order == 0:
            return self.values(x, z, knots, coef)
        if order == 1:
            return torch.einsum("bit,oit->boi", self.slopes(z, knots), coef)
        return None  # piecewise linear

    def jet_columns(self, h, dh, d2h, knots):
        batch, n_dim = dh.shape[0], dh.shape[1]
        a, b = _ends(knots, self.k)
        lo = -(h < a).to(h.dtype).unsqueeze(1)  # (B, 1, in): d/dh max(0, a − h)
        hi = (h > b).to(h.dtype).unsqueeze(1)
        value = self.columns(h, h, knots)
        first = [(lo * dh).reshape(batch * n_dim, -1), (hi * dh).reshape(batch * n_dim, -1)]
        second = [(lo * d2h).reshape(batch * n_dim, -1), (hi * d2h).reshape(batch * n_dim, -1)]
        return value, first, second

    def transfer_terms(self, z, old_knots, new_knots, coef):
        """The tails keep their coefficients (the slopes beyond the grid); where the ends move,
        the splines take over the old tails minus the new ones."""
        old, new = self.features(z, old_knots), self.features(z, new_knots)
        return torch.cat([old, new], dim=-1), torch.cat([coef, -coef], dim=-1)

    def reset_(self, coef, std, generator, draw):
        """``N(0, std²)``, like the spline's coefficients (the paper's ``init_noise``)."""
        tail = torch.empty(coef.shape, **draw)
        coef.copy_(tail.normal_(0.0, std, generator=generator))


def make_tails(tails: str, spline_order: int) -> LinearTails | None:
    """The tails branch of a layer with ``tails`` (a name of :data:`TAILS`), or None."""
    return LinearTails(spline_order) if tails == "linear" else None
