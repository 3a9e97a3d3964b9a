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

Input nodes get the outgoing part only; output nodes always score 1.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from kanlab._validation import check_choice

__all__ = ["IMPORTANCE_METHODS", "Importance", "importance"]

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
        for below, above in zip(edges[:-1], edges[1:]):
            nodes.append(torch.minimum(below.amax(1), above.amax(0)))
        nodes.append(torch.ones_like(edges[-1][:, 0]))
        return Importance(edges, nodes)
    n_out = traces[-1].outputs.shape[1]
    score = torch.eye(n_out, dtype=x.dtype, device=x.device)  # (K, width of the top layer)
    edges: list[torch.Tensor] = []
    nodes = [torch.ones(n_out, dtype=x.dtype, device=x.device)]
    for t in reversed(traces):
        spread = t.activations.std(0)  # (out, in)
        node_spread = t.outputs.std(0)  # (out,)
        e = spread * (score / (node_spread + 1e-4)).unsqueeze(-1)  # (K, out, in)
        score = e.sum(1)  # (K, in)
        edges.append(e.mean(0))
        nodes.append(score.mean(0))
    return Importance(edges[::-1], nodes[::-1])
