"""Grid moves of a layer: knots to the data (``update_grid``), finer or coarser (``refine``).

Both keep the layer's function: the new spline coefficients are the least-squares transfer of
the old edge functions (:func:`transfer`), one solve per input with all outputs as right-hand
sides. Inner edge branches (linear tails) keep their coefficients; the splines absorb what
changes when the grid's ends move.

Refinement keeps the function *wherever the old splines are defined*, not only on the grid. An
extended knot vector reaches ``k`` intervals beyond each end of the grid; at the finer spacing
of the new grid the usual extension would reach less far, and a hidden input between the new and
the old ends would lose part of its spline. So the new knot vector keeps the old knots beyond
the grid (:func:`refined_knots`) and the fit samples that whole support: for ``G' = n·G`` the
new knots contain the old ones and the transfer is exact everywhere. Given samples ``x`` that
stay inside the grid on a side, that side gets the usual extension instead (equally spaced
knots stay equally spaced, which keeps the forward pass on its closed-form path).

A coarser grid (``G' < G``) cannot keep the function in general: :func:`refine_` measures what
the transfer lost (:func:`transfer_change`) and warns with a :class:`~kanlab.errors.GridWarning`
when it is more than :data:`COARSEN_TOLERANCE`.
"""

from __future__ import annotations

import warnings
from typing import Any

import torch
from torch import nn

from kanlab._validation import as_samples, check_positive_int
from kanlab.errors import GridWarning
from kanlab.grids import GridStrategy, get_grid_strategy
from kanlab.nn.standardize import frozen, standardized
from kanlab.splines.basis import bspline_basis, make_knots
from kanlab.splines.lstsq import transfer_design

__all__ = [
    "COARSEN_TOLERANCE",
    "interval_samples",
    "refine_",
    "refined_grid",
    "refined_knots",
    "transfer",
    "transfer_change",
    "update_grid",
]

#: The relative change of a layer's edge functions above which a coarsening ``refine`` warns.
COARSEN_TOLERANCE = 1e-3


def transfer(layer: nn.Module, z: torch.Tensor, knots: torch.Tensor,
             keep: torch.Tensor | None = None) -> torch.Tensor:
    """Spline coefficients on ``knots`` that keep the layer's edge functions at the samples.

    Args:
        layer: the :class:`~kanlab.nn.layer.KANLinear`, still on its old knots.
        z: samples of what the splines see, ``(N, in)``.
        knots: the new knot vectors ``(in, n')``.
        keep: ``(N, in)`` of 0/1: samples with 0 take no part (per input), or None for all.

    Returns:
        The coefficients ``(out, in, n' − k − 1)``.
    """
    return transfer_design(*_designs(layer, z, knots, keep))


def _designs(layer: nn.Module, z: torch.Tensor, knots: torch.Tensor,
             keep: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The transfer's designs ``(in, N, n')`` (new knots) and ``(in, N, n)`` (what the splines
    hold now, inner branches included) and the current coefficients ``(out, in, n)``."""
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
    return a_new.transpose(0, 1), a_old.transpose(0, 1), old


@torch.no_grad()
def transfer_change(layer: nn.Module, z: torch.Tensor, knots: torch.Tensor,
                    coef: torch.Tensor, keep: torch.Tensor | None = None) -> float:
    """How much the transfer onto ``knots`` with ``coef`` changes the layer's spline edges.

    The relative RMS change ``‖φ_new − φ_old‖ / ‖φ_old‖`` of the spline part of every edge
    (scaled by ``w_s`` and the mask, so pruned edges do not count) at the samples ``z``
    ``(N, in)`` (those with ``keep`` 1), from per-input Gram matrices in float64 (no
    ``(N, out, in)`` tensor). 0 when the edges are all zero.
    """
    a_new, a_old, old = (t.to(torch.float64) for t in _designs(layer, z, knots, keep))
    new = coef.to(torch.float64)
    w2 = (layer.spline_scale * layer.numeric_mask()).to(torch.float64).square()  # (out, in)

    def dot(c1: torch.Tensor, a1: torch.Tensor, c2: torch.Tensor, a2: torch.Tensor) -> torch.Tensor:
        gram = a1.transpose(1, 2) @ a2  # (in, n1, n2)
        return (w2 * torch.einsum("oim,imn,oin->oi", c1, gram, c2)).sum()

    before = dot(old, a_old, old, a_old)
    if not before > 0:
        return 0.0
    diff = dot(new, a_new, new, a_new) - 2 * dot(new, a_new, old, a_old) + before
    return float((diff.clamp_min(0) / before).sqrt())


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


def refined_knots(
    layer: nn.Module, grid: torch.Tensor, z: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """The knot vectors of a refinement onto ``grid`` and the region to keep the function on.

    Per input and side, the function must be kept beyond the grid unless the samples ``z``
    ``(N, in)`` (None: unknown) stay inside it there. Where it must, and the old knots beyond
    the grid reach further than the usual extension at the new spacing (a finer grid, same
    ends), the new knot vector keeps the old ones there and the region to fit includes them;
    elsewhere the region ends at the grid's end (intervals of width 0), and a coarser grid's
    usual extension, which reaches further, is fitted on the grid only (as the old spline's
    fall to zero over its short extension is not a coarser spline's to follow).

    Returns:
        ``(knots, region)``, both ``(in, G' + 2k + 1)``.
    """
    k, old = layer.spline_order, layer.knots
    knots = make_knots(grid, k, layer.knot_convention)
    region = make_knots(grid, k, "clamped")
    if k == 0:
        return knots, region
    a, b = grid[:, :1], grid[:, -1:]  # (in, 1)
    need_lo = torch.ones_like(a, dtype=torch.bool) if z is None else (z.t() < a).any(1, True)
    need_hi = torch.ones_like(b, dtype=torch.bool) if z is None else (z.t() > b).any(1, True)
    lo_old, hi_old = old[:, :k], old[:, -k:]  # (in, k)
    keep_lo = need_lo & (lo_old[:, -1:] < a) & (lo_old[:, :1] < knots[:, :1])  # (in, 1)
    keep_hi = need_hi & (hi_old[:, :1] > b) & (hi_old[:, -1:] > knots[:, -1:])
    knots[:, :k] = torch.where(keep_lo, lo_old, knots[:, :k])
    knots[:, -k:] = torch.where(keep_hi, hi_old, knots[:, -k:])
    region[:, :k] = torch.where(keep_lo, lo_old, region[:, :k])
    region[:, -k:] = torch.where(keep_hi, hi_old, region[:, -k:])
    return knots, region


def interval_samples(breaks: torch.Tensor, per_interval: int
                     ) -> tuple[torch.Tensor, torch.Tensor]:
    """``per_interval`` points inside each interval of ``breaks``, per input.

    Shapes: breaks ``(in, n)`` -> samples ``(N, in)`` with ``N = (n − 1)·p``, and ``(N, in)``
    of 0/1: 1 where the interval has a positive width.
    """
    frac = (torch.arange(per_interval, dtype=breaks.dtype, device=breaks.device) + 0.5)
    frac = frac / per_interval
    left, width = breaks[:, :-1], breaks[:, 1:] - breaks[:, :-1]  # (in, n - 1)
    pts = left.unsqueeze(-1) + width.unsqueeze(-1) * frac  # (in, n - 1, p)
    keep = (width > 0).to(breaks.dtype).unsqueeze(-1).expand_as(pts)
    return (pts.reshape(breaks.shape[0], -1).T.contiguous(),
            keep.reshape(breaks.shape[0], -1).T.contiguous())


@torch.no_grad()
def refine_(layer: nn.Module, grid_size: int, x: torch.Tensor | None = None) -> None:
    """:meth:`KANLinear.refine_ <kanlab.nn.layer.KANLinear.refine_>`: see the module docstring.

    The fit samples are ``2k + 2`` points in every interval of the region to keep
    (:func:`refined_knots`), plus what the splines see of ``x`` when it is given.

    Warns:
        GridWarning: ``grid_size`` is smaller than the layer's and the edges changed by more
            than :data:`COARSEN_TOLERANCE` (:func:`transfer_change`).
    """
    check_positive_int("grid_size", grid_size)
    grid = refined_grid(layer, grid_size)
    z = None
    if x is not None:
        x2 = as_samples("x", x, layer.in_features, layer.knots.dtype)
        z, _ = standardized(layer.standardize, x2)
    knots, region = refined_knots(layer, grid, z)
    samples, keep = interval_samples(region, per_interval=2 * layer.spline_order + 2)
    if z is not None:
        samples, keep = torch.cat([samples, z]), torch.cat([keep, torch.ones_like(z)])
    coef = transfer(layer, samples, knots, keep)
    if grid_size < layer.grid_size:  # coarser: the function is not kept in general
        change = transfer_change(layer, samples, knots, coef, keep)
        if change > COARSEN_TOLERANCE:
            warnings.warn(
                f"refine to grid_size={grid_size} from {layer.grid_size} (coarser) changed the "
                f"layer's spline edges by {change:.3g} (relative RMS over their support): a "
                f"coarser grid cannot keep the function; a multiple of {layer.grid_size} keeps "
                "it exactly", GridWarning, stacklevel=3)
    _set_spline(layer, knots, coef, in_place=False)
