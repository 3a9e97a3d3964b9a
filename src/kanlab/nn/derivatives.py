"""Derivatives of a layer's edges: per edge of any order, and through the layer in forward mode.

:func:`edge_derivative` gives every edge's ``φ_ji^(n)(x_i)`` (grid strategies weigh samples by
it; symbolic fitting and plots read it). :func:`forward_derivatives` pushes first and pure second
derivatives through the layer as one GEMM per order (PDE residuals). Both ask each part for its
own share: the splines (closed-form basis derivatives), the layer's edge branches
(:mod:`kanlab.nn.branch`) and the symbolic edges.
"""

from __future__ import annotations

import torch
from torch import nn

from kanlab._validation import check_features, check_nonnegative_int
from kanlab.errors import InputError
from kanlab.nn.spline_edges import spline_jet_rows
from kanlab.nn.standardize import standardized

__all__ = ["edge_derivative", "forward_derivatives"]


def edge_derivative(layer: nn.Module, x: torch.Tensor, order: int) -> torch.Tensor:
    """Every edge's ``order``-th derivative ``φ_ji^(order)(x_i)`` of the
    :class:`~kanlab.nn.layer.KANLinear` ``layer``: ``(B, in) -> (B, out, in)``.

    Spline part from the basis derivatives (closed form); the base function's derivative by
    autograd on the elementwise function (no Hessian is formed). With standardisation the
    chain rule uses the running statistics' ``dz/dx``.
    """
    check_features("x", x, layer.in_features)
    check_nonnegative_int("order", order)
    x2 = x.reshape(-1, layer.in_features).detach()  # (B, in)
    knots = layer.knots
    with torch.no_grad():
        z, dz = standardized(layer.standardize, x2)
        spline = torch.einsum("bim,oim->boi", layer.basis(z, derivative=order), layer.coef)
        for branch in layer.branches:
            if branch.inside_spline:
                d = branch.derivative(x2, z, dz, knots, getattr(layer, branch.param), order)
                spline = spline if d is None else spline + d
        mask = layer.numeric_mask()
        phi = spline * (layer.spline_scale * mask)  # (B, out, in)
        if dz is not None:
            phi = phi * dz**order
    for branch in layer.branches:
        if not branch.inside_spline:
            d = branch.derivative(x2, z, dz, knots, getattr(layer, branch.param), order)
            phi = phi if d is None else phi + d * mask
    if len(layer.symbolic):
        phi = phi + layer.symbolic.jet(x2, order, layer.mask)[order].detach()
    return phi


def forward_derivatives(
    layer: nn.Module, h: torch.Tensor, dh: torch.Tensor, d2h: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Push first and pure second derivatives through the :class:`~kanlab.nn.layer.KANLinear`
    ``layer`` (forward mode).

    With ``y_j = Σ_i φ_ji(h_i)``: ``∂y_j = Σ_i φ'_ji ∂h_i`` and
    ``∂²y_j = Σ_i φ''_ji (∂h_i)² + φ'_ji ∂²h_i`` for each input coordinate of the network,
    as one GEMM over the stacked bases. Differentiable (for PDE losses).

    Product nodes multiply their rows' jets by the product rule
    (:meth:`~kanlab.nn.product_nodes.Nodes.jet`).

    Shapes: h ``(B, in)``; dh, d2h ``(B, D, in)`` (D network inputs) -> y ``(B, out_nodes)``,
    dy and d2y ``(B, D, out_nodes)``.

    Raises:
        InputError: for a layer that standardises its inputs (not supported).
    """
    if layer.standardize is not None:
        raise InputError("forward_derivatives does not support standardising (DKAN) layers")
    batch, n_dim = dh.shape[0], dh.shape[1]
    k, knots = layer.spline_order, layer.knots
    rows = spline_jet_rows(h, dh, d2h, knots, k, layer.knot_lookup())  # [(B, in·nb), (B·D, ..)²]
    extra: list[list[torch.Tensor]] = [[], [], []]
    for branch in layer.branches:
        for blocks, new in zip(extra, branch.jet_columns(h, dh, d2h, knots)):
            blocks += new
    weight = layer.gemm_weight()  # (out, in·nb + E)
    n_spline = rows[0].shape[1]
    w_spline, w_extra = weight[:, :n_spline].t(), weight[:, n_spline:].t()
    outs = []  # per row block: spline part + extra part (no concatenated copy of the rows)
    for r, e in zip(rows, extra):
        o = r @ w_spline
        outs.append(torch.addmm(o, torch.cat(e, dim=1), w_extra) if e else o)
    y = outs[0] + (layer.bias if layer.bias is not None else 0)
    dy = outs[1].reshape(batch, n_dim, -1)
    d2y = outs[2].reshape(batch, n_dim, -1)
    if len(layer.symbolic):
        v0, v1, v2 = layer.symbolic.jet(h, mask=layer.mask)  # (B, out, in) each
        y = y + v0.sum(-1)
        dy = dy + torch.einsum("boi,bdi->bdo", v1, dh)
        d2y = d2y + torch.einsum("boi,bdi->bdo", v2, dh * dh)
        d2y = d2y + torch.einsum("boi,bdi->bdo", v1, d2h)
    return layer.nodes.jet(y, dy, d2y, layer.product_bias)
