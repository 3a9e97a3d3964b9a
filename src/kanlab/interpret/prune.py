"""Pruning: smaller KANs that predict like the original (the paper's §2.5.1).

Every function returns a *new* model and leaves its argument alone. What a removed edge
contributed is not simply dropped: its mean over the batch goes into the bias of the node it
fed, so the pruned model predicts like the full one without retraining (pykan 0.2.8 drops it,
and its pruned toy model is off by a constant). Removed edges with a near-constant activation
therefore cost nothing; the rest cost their variance.

Samples: every function takes network inputs ``x``; None means ``model.recorded_inputs``
(:meth:`~kanlab.nn.model.KAN.record`). The pruned model keeps the original's recorded inputs,
restricted to the input columns it keeps (all of them unless inputs are removed), whatever
``x`` was: they stay the training inputs of the last fit, so pruning again, symbolic fitting
and plots of the pruned model default to the same rows.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Sequence

import torch
from torch import nn

from kanlab.errors import InputError
from kanlab.interpret.importance import importance

__all__ = ["drop_dead_nodes", "keep_nodes", "n_edges", "prune", "prune_edges", "prune_inputs",
           "prune_nodes", "without_edges"]

log = logging.getLogger(__name__)


def n_edges(model) -> int:
    """The edges a KAN still has (not pruned), over all its layers."""
    return int(sum(int((layer.mask > 0).sum()) for layer in model.layers))


def _carried(acts: torch.Tensor, removed: torch.Tensor) -> torch.Tensor:
    """Batch mean of the ``removed`` edges' activations, summed per output node.

    acts ``(B, out, in)``; removed ``(out, in)`` bool -> ``(out,)``.
    """
    return (acts.mean(0) * removed).sum(1)


def _add_to_bias(layer: nn.Module, carried: torch.Tensor) -> None:
    if layer.bias is not None:
        layer.bias.add_(carried)
    elif bool((carried != 0).any()):
        log.warning("a layer without bias: the pruned edges' mean outputs are dropped")


@torch.no_grad()
def prune_edges(model, x: torch.Tensor | None = None, threshold: float = 3e-2, *,
                method: str = "attribution"):
    """A copy without the edges whose score is below ``threshold`` (their mean kept as bias).

    Args:
        model: a :class:`~kanlab.nn.model.KAN`.
        x: samples of the inputs ``(B, widths[0])``; default ``model.recorded_inputs``.
        threshold: edges scoring below it are removed (pykan: 3e-2).
        method: ``"attribution"`` or ``"l1"`` (:mod:`kanlab.interpret.importance`).
    """
    x = model.samples(x, "pruning")
    scores = importance(model, x, method).edges
    new = without_edges(model, [s < threshold for s in scores], x)
    if any(not bool((layer.mask > 0).any()) for layer in new.layers):
        raise InputError(
            f"pruning edges below {threshold} removes every edge of a layer; lower the threshold"
        )
    return new


@torch.no_grad()
def without_edges(model, removed: Sequence[torch.Tensor], x: torch.Tensor | None = None):
    """A copy without the edges marked in ``removed``, each one's mean on ``x`` kept as bias.

    Edges already pruned stay pruned; a layer may be left without edges (callers check).

    Args:
        model: a :class:`~kanlab.nn.model.KAN`.
        removed: one bool tensor ``(out, in)`` per layer (``removed[l][j, i]``: edge
            ``(l, i, j)`` goes).
        x: samples of the inputs ``(B, widths[0])`` the means are taken over; default
            ``model.recorded_inputs``.

    Raises:
        InputError: ``removed`` does not have one ``(out, in)`` tensor per layer.
    """
    shapes = [tuple(layer.mask.shape) for layer in model.layers]
    if len(removed) != len(shapes) or any(tuple(r.shape) != s for r, s in zip(removed, shapes)):
        raise InputError(f"removed needs one bool tensor per layer of shapes {shapes}; got "
                         f"{[tuple(r.shape) for r in removed]}")
    x = model.samples(x, "pruning")
    traces = model.eval_trace(x)
    new = copy.deepcopy(model)
    for layer, t, r in zip(new.layers, traces, removed):
        gone = r.to(device=layer.mask.device, dtype=torch.bool) & (layer.mask > 0)  # (out, in)
        _add_to_bias(layer, _carried(t.activations, gone))
        layer.mask[gone] = 0.0
        for j, i in gone.nonzero().tolist():  # (out, in) tensor: edge (i, j)
            layer.symbolic.remove_edge(i, j)
    return new


def _rebuild(model, keep: Sequence[list[int]], x: torch.Tensor):
    """A copy keeping nodes ``keep[l]`` of every node layer ``l`` (inputs first); what the
    edges out of removed nodes contributed goes into the biases."""
    traces = model.eval_trace(x)
    new = copy.deepcopy(model)
    layers = []
    for li, layer in enumerate(model.layers):
        out_keep, in_keep = keep[li + 1], keep[li]
        gone = torch.ones(layer.in_features, dtype=torch.bool, device=layer.mask.device)
        gone[in_keep] = False
        removed = (layer.mask > 0) & gone  # (out, in): edges out of removed nodes
        part = layer.select(in_keep, out_keep)
        rows = layer.nodes.rows(out_keep)  # the kept nodes' rows (product nodes: their factors)
        _add_to_bias(part, _carried(traces[li].activations, removed)[rows])
        layers.append(part)
    new.layers = nn.ModuleList(layers)
    new.widths = [len(k) for k in keep]
    recorded = getattr(model, "recorded_inputs", None)
    if recorded is not None:
        new.record(recorded[:, keep[0]], max_values=None)  # (N, kept inputs)
    return new


@torch.no_grad()
def keep_nodes(model, keep: Sequence[Sequence[int]], x: torch.Tensor | None = None):
    """A copy keeping only the nodes ``keep[l]`` of every node layer ``l`` (inputs first);
    what the edges out of removed nodes contributed on ``x`` goes into the biases.

    Args:
        model: a :class:`~kanlab.nn.model.KAN`.
        keep: one list of node indices per node layer (``len(widths)`` lists, each non-empty).
        x: samples of the inputs; default ``model.recorded_inputs``.
    """
    if len(keep) != len(model.widths):
        raise InputError(f"keep needs one list per node layer ({len(model.widths)}); "
                         f"got {len(keep)}")
    if list(keep[-1]) != list(range(model.widths[-1])):
        raise InputError("keep_nodes cannot remove or reorder the outputs")
    return _rebuild(model, [list(k) for k in keep], model.samples(x, "pruning"))


def _kept(scores: torch.Tensor, threshold: float, what: str) -> list[int]:
    keep = (scores >= threshold).nonzero().flatten().tolist()
    if not keep:
        raise InputError(
            f"pruning at threshold {threshold} removes every node of {what} (best score "
            f"{float(scores.max()):.3g}); lower the threshold"
        )
    return keep


@torch.no_grad()
def prune_nodes(model, x: torch.Tensor | None = None, threshold: float = 1e-2, *,
                method: str = "attribution"):
    """A copy without the hidden nodes whose score is below ``threshold``.

    Args:
        model: a :class:`~kanlab.nn.model.KAN`.
        x: samples of the inputs ``(B, widths[0])``; default ``model.recorded_inputs``.
        threshold: hidden nodes scoring below it are removed (pykan: 1e-2).
        method: ``"attribution"`` or ``"l1"`` (:mod:`kanlab.interpret.importance`).

    Raises:
        InputError: when every node of a hidden layer would go.
    """
    x = model.samples(x, "pruning")
    nodes = importance(model, x, method).nodes
    keep = [list(range(model.widths[0]))]
    for li in range(1, len(model.widths) - 1):
        keep.append(_kept(nodes[li], threshold, f"hidden layer {li}"))
    keep.append(list(range(model.widths[-1])))
    return _rebuild(model, keep, x)


@torch.no_grad()
def prune_inputs(model, x: torch.Tensor | None = None, threshold: float = 1e-2, *,
                 method: str = "attribution"):
    """A copy without the input features whose score is below ``threshold``.

    The new model takes only the kept columns, ``x[:, kept]``.

    Returns:
        ``(model, kept)``: the new model and the indices of the kept inputs.
    """
    x = model.samples(x, "pruning")
    nodes = importance(model, x, method).nodes
    keep = [_kept(nodes[0], threshold, "the inputs")]
    keep += [list(range(w)) for w in model.widths[1:]]
    return _rebuild(model, keep, x), keep[0]


def prune(model, x: torch.Tensor | None = None, node_threshold: float = 1e-2,
          edge_threshold: float = 3e-2, *, method: str = "attribution"):
    """:func:`prune_nodes`, then :func:`prune_edges` on the result (pykan's ``prune``)."""
    x = model.samples(x, "pruning")
    smaller = prune_nodes(model, x, node_threshold, method=method)
    return drop_dead_nodes(prune_edges(smaller, x, edge_threshold, method=method), x)


@torch.no_grad()
def drop_dead_nodes(model, x: torch.Tensor | None = None):
    """A copy without the hidden nodes that no unpruned edge enters or leaves.

    Such a node is a constant (nothing enters: its outgoing edges' means go into the next
    biases, exactly) or unused (nothing leaves), so the function is kept exactly. A product
    node is fed when an edge enters any of its factors.
    """
    x = model.samples(x, "pruning")
    keep = [list(range(model.widths[0]))]
    for li in range(1, len(model.widths) - 1):
        below = model.layers[li - 1]
        fed = below.nodes.reduce((below.mask > 0).any(1), lambda v: v.any(-1))  # (width,)
        used = (model.layers[li].mask > 0).any(0)  # some edge leaves
        keep.append(_kept((fed & used).to(x.dtype), 0.5, f"hidden layer {li}"))
    keep.append(list(range(model.widths[-1])))
    if all(len(k) == w for k, w in zip(keep, model.widths)):
        return copy.deepcopy(model)
    return _rebuild(model, keep, x)
