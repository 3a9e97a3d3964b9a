"""How much each edge and node of a KAN matters, measured on a batch.

Two scores:

- ``"attribution"`` (pykan 0.2.8's ``attribute``, the default): a backward pass of scores from
  the outputs. With ``S_L = I`` (one row per network output ``k``), for each layer from the
  last, edge ``i → j`` gets ``E[k, j, i] = std(φ_ji) · S[k, j] / (std(node_j) + 10⁻⁴)`` and
  node ``i`` of the layer below gets ``S[k, i] = Σ_j E[k, j, i]``; scores are then averaged over
  ``k``. An edge matters as much as it moves the nodes that matter.
- ``"l1"`` (the paper's §2.5.1): an edge's score is ``|φ_ji|₁ = mean |φ_ji(x)|``; a hidden
  node's score is ``min(max incoming, max outgoing)`` of those (the paper keeps a node when both
  are above the threshold, which is the same test).

Input nodes get the outgoing part only; output nodes always score 1. With product nodes
(:mod:`kanlab.nn.product_nodes`) edges end at a layer's rows: in the attribution pass each row
gets the score of the node it is a factor of (pykan's rule), and ``node_j`` is the row's sum; in
``"l1"`` a node's incoming part is the largest over its rows.

:func:`attribute` runs the same backward pass from any one node (pykan's
``attribute(l, i)``): what each input, edge and node below it contributes to that node.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from kanlab._validation import check_choice
from kanlab.errors import InputError

__all__ = ["IMPORTANCE_METHODS", "Importance", "attribute", "importance"]

IMPORTANCE_METHODS = ("attribution", "l1")


@dataclass
class Importance:
    """Scores of one batch.

    Attributes:
        edges: one ``(out, in)`` tensor per layer (``edges[l][j, i]``: edge from node ``i`` of
            layer ``l`` to node ``j`` of layer ``l + 1``).
        nodes: one ``(width,)`` tensor per layer of nodes, inputs first (``len(widths)``).
    """

    edges: list[torch.Tensor]
    nodes: list[torch.Tensor]


@torch.no_grad()
def importance(model, x: torch.Tensor, method: str = "attribution") -> Importance:
    """Edge and node scores of ``model`` (a :class:`~kanlab.nn.model.KAN`) on the batch ``x``.

    Args:
        model: the network.
        x: inputs ``(B, widths[0])``, at least 2 samples.
        method: ``"attribution"`` or ``"l1"`` (see the module docstring).
    """
    check_choice("method", method, IMPORTANCE_METHODS)
    traces = model.eval_trace(x)
    if method == "l1":
        edges = [t.activations.abs().mean(0) for t in traces]  # (out, in)
        nodes = [edges[0].amax(0)]
        for layer, below, above in zip(model.layers, edges[:-1], edges[1:]):
            incoming = layer.nodes.reduce(below.amax(1), lambda v: v.amax(-1))  # (nodes,)
            nodes.append(torch.minimum(incoming, above.amax(0)))
        nodes.append(torch.ones_like(traces[-1].outputs[0]))
        return Importance(edges, nodes)
    n_out = traces[-1].outputs.shape[1]
    return _attribution(traces, model.layers,
                        torch.eye(n_out, dtype=x.dtype, device=x.device))


@torch.no_grad()
def attribute(model, x: torch.Tensor, layer: int, node: int) -> Importance:
    """Scores of everything below node ``node`` of layer ``layer`` (0: the inputs, ``L``: the
    outputs) for that node alone, on the batch ``x``: the attribution pass of
    :func:`importance` started from that node instead of from every output.

    Returns:
        :class:`Importance` with ``layer`` edge tensors and ``layer + 1`` node tensors; the
        last is one-hot at ``node``, ``nodes[0]`` scores the inputs.

    Raises:
        InputError: ``layer`` not in ``1..L`` or ``node`` not a node of it.
    """
    widths = model.widths
    if not 1 <= layer < len(widths):
        raise InputError(f"layer must be in 1..{len(widths) - 1} (0 is the inputs); got {layer}")
    if not 0 <= node < widths[layer]:
        raise InputError(f"layer {layer} has nodes 0..{widths[layer] - 1}; got node {node}")
    traces = model.eval_trace(x)[:layer]
    score = torch.zeros(1, widths[layer], dtype=x.dtype, device=x.device)
    score[0, node] = 1.0
    return _attribution(traces, model.layers[:layer], score)


def _attribution(traces, layers, score: torch.Tensor) -> Importance:
    """The backward pass of scores (module docstring) from ``score`` ``(K, width)`` over the
    nodes of the top of ``traces`` (of ``layers``); edge and node scores averaged over the
    ``K`` rows of ``score``."""
    edges: list[torch.Tensor] = []
    nodes = [score.sum(0)]
    for t, layer in zip(reversed(traces), reversed(layers)):
        spread = t.activations.std(0)  # (out, in)
        row_spread = t.sums.std(0)  # (out,)
        row_score = layer.nodes.spread(score)  # (K, out): each row gets its node's score
        e = spread * (row_score / (row_spread + 1e-4)).unsqueeze(-1)  # (K, out, in)
        score = e.sum(1)  # (K, in)
        edges.append(e.mean(0))
        nodes.append(score.mean(0))
    return Importance(edges[::-1], nodes[::-1])
