"""Reordering hidden nodes so that the network plot reads well (pykan's ``swap`` and
``auto_swap``).

Hidden nodes of a row can be put in any order without changing the function: a permutation of
the row is a permutation of the rows of the layer below and of the inputs of the layer above
(sum nodes stay before product nodes). :func:`auto_swap` orders every hidden row to cut the
crossings of the drawn edges: the barycentre heuristic of layered graph drawing, each node
placed at the mean position of the nodes it is joined to (weighted by the edges' importance),
sweeping up and down the rows while the weighted crossings (:func:`crossings`) fall.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import torch
from torch import nn

from kanlab.errors import InputError
from kanlab.interpret.importance import importance

__all__ = ["auto_swap", "crossings", "permute_nodes", "swap_nodes"]


def permute_nodes(model, row: int, order: Sequence[int]):
    """A copy of ``model`` whose hidden row ``row`` holds its nodes in ``order`` (a permutation;
    sum nodes before product nodes); the function is the same.

    Raises:
        InputError: ``row`` not a hidden row, or ``order`` not a permutation of its nodes.
    """
    widths = model.widths
    if not 1 <= row < len(widths) - 1:
        raise InputError(f"row must be a hidden row, 1..{len(widths) - 2}; got {row}")
    if sorted(order) != list(range(widths[row])):
        raise InputError(f"order must be a permutation of 0..{widths[row] - 1}; got "
                         f"{list(order)}")
    new = copy.deepcopy(model)
    below, above = new.layers[row - 1], new.layers[row]
    layers = list(new.layers)
    layers[row - 1] = below.select(range(below.in_features), order)
    layers[row] = above.select(order, range(above.out_nodes))
    new.layers = nn.ModuleList(layers)
    return new


def swap_nodes(model, row: int, i: int, j: int):
    """A copy of ``model`` with nodes ``i`` and ``j`` of hidden row ``row`` exchanged."""
    order = list(range(model.widths[row] if 0 < row < len(model.widths) else 0))
    if not (0 <= i < len(order) and 0 <= j < len(order)):
        raise InputError(f"nodes {i}, {j} are not both in hidden row {row}")
    order[i], order[j] = order[j], order[i]
    return permute_nodes(model, row, order)


def _edges(model, scores: Sequence[torch.Tensor]) -> list[list[tuple[int, int, float]]]:
    """Per layer, the drawn edges as ``(input node, output node, weight)``."""
    out = []
    for layer, s in zip(model.layers, scores):
        node_of = layer.nodes.node_of
        alive = (layer.mask > 0).nonzero().tolist()
        out.append([(i, node_of[j], float(s[j, i])) for j, i in alive])
    return out


def crossings(model, scores: Sequence[torch.Tensor] | None = None) -> float:
    """The drawn edges' crossings, each pair weighted by the product of its edges' scores
    (all 1 with ``scores=None``): edges ``a → b`` and ``c → d`` of a layer cross when
    ``(a − c)·(b − d) < 0`` in the rows' orders."""
    scores = scores or [layer.mask for layer in model.layers]
    total = 0.0
    for edges in _edges(model, scores):
        for k, (a, b, w) in enumerate(edges):
            for c, d, v in edges[k + 1:]:
                if (a - c) * (b - d) < 0:
                    total += w * v
    return total


def _barycentres(model, row: int, edges) -> list[float]:
    """Each node of ``row``: the weighted mean position of the nodes it is joined to."""
    sums = [0.0] * model.widths[row]
    weights = [0.0] * model.widths[row]
    for i, j, w in edges[row - 1]:  # from the row below into row
        sums[j] += w * i
        weights[j] += w
    for i, j, w in edges[row]:  # from row to the row above
        sums[i] += w * j
        weights[i] += w
    return [s / w if w > 0 else float(k) for k, (s, w) in enumerate(zip(sums, weights))]


def auto_swap(model, x: torch.Tensor | None = None, *, sweeps: int = 4):
    """A copy of ``model`` with its hidden rows reordered to cut the weighted crossings of the
    plot (module docstring); the function is the same. Scores are the attribution importance
    on ``x`` (default the recorded inputs; without samples, every edge weighs 1)."""
    x = x if x is not None else getattr(model, "recorded_inputs", None)

    def scored(m):  # (model, its edge scores, its weighted crossings)
        scores = (importance(m, m.samples(x)).edges if x is not None
                  else [layer.mask for layer in m.layers])
        return m, scores, crossings(m, scores)

    best, scores, cost = scored(model)
    for _ in range(sweeps):
        improved = False
        for row in [*range(1, len(model.widths) - 1), *range(len(model.widths) - 2, 0, -1)]:
            centre = _barycentres(best, row, _edges(best, scores))
            n_sum = best.layers[row - 1].nodes.n_sum
            order = (sorted(range(n_sum), key=lambda k: centre[k])
                     + sorted(range(n_sum, best.widths[row]), key=lambda k: centre[k]))
            if order == list(range(best.widths[row])):
                continue
            candidate = scored(permute_nodes(best, row, order))
            if candidate[2] < cost - 1e-12:
                (best, scores, cost), improved = candidate, True
        if not improved:
            break
    return best if best is not model else copy.deepcopy(model)
