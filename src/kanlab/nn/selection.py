"""A layer's sub-layer: the edges between some of its inputs and outputs (what pruning keeps).

Every per-edge tensor of the layer -- the spline coefficients and scales, each edge branch's
coefficients (:mod:`kanlab.nn.branch`), the mask, the symbolic edges -- is indexed
``[rows][:, in_index]``, with ``rows`` the rows of the kept output nodes (a product node keeps
all its factors, :mod:`kanlab.nn.product_nodes`); the kept inputs keep their knots and running
statistics.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import torch
from torch import nn

from kanlab.errors import InputError

__all__ = ["select"]


@torch.no_grad()
def select(layer: nn.Module, in_index: Sequence[int], out_index: Sequence[int]) -> nn.Module:
    """A copy of the :class:`~kanlab.nn.layer.KANLinear` ``layer`` with only the given inputs
    and outputs (renumbered in that order); the kept edges are unchanged.

    Args:
        layer: the layer.
        in_index: inputs to keep (distinct indices into ``range(in_features)``).
        out_index: output nodes to keep (distinct indices into ``range(out_nodes)``; sum
            nodes before product nodes).

    Raises:
        InputError: an empty list, an index out of range or a repeated one, or a sum node
            after a product node.
    """
    i = _index("in_index", in_index, layer.in_features, layer.coef.device)
    kept = _index("out_index", out_index, layer.out_nodes, layer.coef.device)
    nodes, rows = layer.nodes.select(kept.tolist())
    o = torch.tensor(rows, dtype=torch.long, device=layer.coef.device)
    new = copy.deepcopy(layer)
    new.in_features, new.out_features, new.nodes = len(i), len(o), nodes
    for name in ("coef", "spline_scale", *(b.param for b in layer.branches)):
        p = getattr(layer, name)  # (out, in, ...) -> (out', in', ...)
        edges = p.index_select(0, o).index_select(1, i).clone()
        setattr(new, name, nn.Parameter(edges, requires_grad=p.requires_grad))
    if layer.bias is not None:
        new.bias = nn.Parameter(layer.bias[o].clone(), requires_grad=layer.bias.requires_grad)
    if layer.product_bias is not None:  # the kept product nodes' biases, or None if none
        k = [n - layer.nodes.n_sum for n in kept.tolist() if layer.nodes.is_product(n)]
        pb = layer.product_bias
        new.product_bias = nn.Parameter(pb[k].clone(), requires_grad=pb.requires_grad) if k \
            else None
    new.knots = layer.knots[i].clone()
    new.mask = layer.mask.index_select(0, o).index_select(1, i).clone()
    if layer.standardize is not None:
        new.standardize = layer.standardize.select(i)
    new.symbolic = layer.symbolic.select(i.tolist(), o.tolist())
    return new


def _index(name: str, index: Sequence[int], size: int, device) -> torch.Tensor:
    idx = torch.as_tensor(list(index), dtype=torch.long)
    if idx.dim() != 1 or len(idx) == 0:
        raise InputError(f"{name} must be a non-empty list of indices; got {list(index)!r}")
    if bool(((idx < 0) | (idx >= size)).any()) or len(set(idx.tolist())) != len(idx):
        raise InputError(f"{name} must hold distinct indices in [0, {size}); got {idx.tolist()}")
    return idx.to(device)
