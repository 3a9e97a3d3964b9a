"""Grid moves of a layer: knots to the data (``update_grid``), finer or coarser (``refine``).

Both keep the layer's function: the new spline coefficients are the least-squares transfer of
the old edge functions (:func:`transfer`), one solve per input with all outputs as right-hand
sides. Inner edge branches (linear tails) keep their coefficients; the splines absorb what
changes when the grid's ends move.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from kanlab._validation import as_samples, check_positive_int
from kanlab.grids import GridStrategy, get_grid_strategy
from kanlab.nn.standardize import frozen, standardized
from kanlab.splines.basis import bspline_basis, make_knots
from kanlab.splines.lstsq import transfer_design

__all__ = [
    "interval_samples",
    "refine_",
    "refined_grid",
    "transfer",
    "update_grid",
]


def transfer(layer: nn.Module, z: torch.Tensor, knots: torch.Tensor,
             keep: torch.Tensor | None = None) -> torch.Tensor:
    """Spline coefficients on ``knots`` that keep the layer's edge functions at the samples.

    Args:
        layer: the layer, still on its old knots.
        z: samples of what the splines see, ``(N, in)``.
        knots: the new knot vectors ``(in, n')``.
        keep: ``(N, in)`` of 0/1: samples with 0 take no part (per input), or None for all.

    Returns:
        The coefficients ``(out, in, n' − k − 1)``.
    """
    k = layer.spline_order
    a_new = bspline_basis(z, knots, k)  # (N, in, nb')
    old_cols, old_coef = [bspline_basis(z, layer.knots, k)], [layer.coef]
    for branch in layer.branches:
        terms = branch.transfer_terms(z, layer.knots, knots, getattr(layer, branch.param))
        if branch.inside_spline and terms is not None:
            old_cols.append(terms[0])
            old_coef.append(terms[1])
    a_old = torch.cat(old_cols, dim=-1) if len(old_cols) > 1 else old_cols[0]  # (N, in, n)
    old = torch.cat(old_coef, dim=-1) if len(old_coef) > 1 else old_coef[0]  # (out, in, n)
    if keep is not None:
        a_new, a_old = a_new * keep.unsqueeze(-1), a_old * keep.unsqueeze(-1)
    return transfer_design(a_new.transpose(0, 1), a_old.transpose(0, 1), old)


def _set_spline(layer: nn.Module, knots: torch.Tensor, coef: torch.Tensor,
                in_place: bool) -> None:
    """New knots and coefficients; new tensors unless ``in_place`` and the shapes agree (then
    an optimiser keeps working on the same parameter)."""
    if in_place and knots.shape == layer.knots.shape:
        layer.knots.copy_(knots)
        layer.coef.copy_(coef)
    else:  # new sizes: new buffer and parameter (an optimiser must be rebuilt)
        layer.knots = knots
        layer.coef = nn.Parameter(coef, requires_grad=layer.coef.requires_grad)


@torch.no_grad()
def update_grid(
    layer: nn.Module,
    x: torch.Tensor,
    strategy: str | GridStrategy | None = None,
    *,
    grid_size: int | None = None,
    context: Any = None,
) -> tuple[float, torch.Tensor]:
    """:meth:`KANLinear.update_grid <kanlab.nn.layer.KANLinear.update_grid>` that also returns
    the layer's new outputs on the samples ``(N, out)``: ``(drift, outputs)`` (what the next
    layer of a network sees)."""
    x2 = as_samples("x", x, layer.in_features, layer.knots.dtype)  # (N, in)
    z, _ = standardized(layer.standardize, x2)  # the grid lives where the splines are evaluated
    strat = layer.grid_strategy if strategy is None else get_grid_strategy(strategy)
    new_size = layer.grid_size if grid_size is None else check_positive_int("grid_size",
                                                                             grid_size)
    grid = strat.grid_points(z, new_size, layer.grid, layer=layer, context=context)
    knots = make_knots(grid, layer.spline_order, layer.knot_convention)
    coef = transfer(layer, z, knots)
    with frozen(layer.standardize):
        before = layer(x2)
        _set_spline(layer, knots, coef, in_place=True)
        after = layer(x2)
    return float((after - before).norm() / before.norm().clamp_min(1e-300)), after


def refined_grid(layer: nn.Module, grid_size: int) -> torch.Tensor:
    """Grid points ``(in, grid_size + 1)`` of a refinement.

    A fixed strategy (``adaptive`` False, DKAN) gives its own points at the new size. Otherwise
    the new points interpolate the old ones piecewise linearly, so the knot distribution is
    kept; for ``G'`` a multiple of ``G`` they contain the old ones.
    """
    old = layer.grid  # (in, G + 1)
    strategy = layer.grid_strategy
    if not strategy.adaptive:
        return strategy.points(grid_size, old.dtype).to(old.device).expand(old.shape[0], -1)
    size = layer.grid_size
    pos = torch.linspace(0, size, grid_size + 1, dtype=old.dtype, device=old.device)
    lo = pos.floor().long().clamp(max=size - 1)  # (G' + 1,)
    frac = pos - lo
    return old[:, lo] * (1 - frac) + old[:, lo + 1] * frac  # (in, G' + 1)


def interval_samples(grid: torch.Tensor, per_interval: int) -> torch.Tensor:
    """``per_interval`` points inside each grid interval, per input: ``(in, G+1) -> (G·p, in)``."""
    frac = (torch.arange(per_interval, dtype=grid.dtype, device=grid.device) + 0.5)
    frac = frac / per_interval
    left, width = grid[:, :-1], grid[:, 1:] - grid[:, :-1]  # (in, G)
    pts = left.unsqueeze(-1) + width.unsqueeze(-1) * frac  # (in, G, p)
    return pts.reshape(grid.shape[0], -1).T.contiguous()


@torch.no_grad()
def refine_(layer: nn.Module, grid_size: int, x: torch.Tensor | None = None) -> None:
    """:meth:`KANLinear.refine_ <kanlab.nn.layer.KANLinear.refine_>`: the new grid from
    :func:`refined_grid`, the coefficients transferred on ``x`` (what the splines see of it)
    or, by default, on ``2k + 2`` points in every new grid interval."""
    check_positive_int("grid_size", grid_size)
    grid = refined_grid(layer, grid_size)
    knots = make_knots(grid, layer.spline_order, layer.knot_convention)
    if x is None:
        z = interval_samples(grid, per_interval=2 * layer.spline_order + 2)  # (N, in)
    else:
        x2 = as_samples("x", x, layer.in_features, layer.knots.dtype)
        z, _ = standardized(layer.standardize, x2)
    _set_spline(layer, knots, transfer(layer, z, knots), in_place=False)
