"""Pruning judged on held-out data: remove the weakest edges while the validation loss allows.

:func:`~kanlab.interpret.prune.prune` cuts at fixed score thresholds (pykan's ``1e-2`` for nodes,
``3e-2`` for edges). On a clean toy function the unneeded edges score near zero and go; on a
noisy table trained with a small ``lamb`` every edge carries a little of the noise, every score
clears the threshold and nothing is pruned. :func:`prune_to_validation` lets the data choose the
cut instead:

1. score every edge on the training inputs (:func:`~kanlab.interpret.importance.importance`,
   the model's own scores) and sort the edges by score, weakest first;
2. for every ``k``, remove the ``k`` weakest edges (:func:`~kanlab.interpret.prune.without_edges`:
   each removed edge's mean on the training inputs goes into the bias it fed) and evaluate the
   loss on the validation set -- no retraining, one forward pass per ``k``;
3. keep the largest ``k`` whose validation loss is at most ``(1 + tolerance)`` times the
   unpruned model's, and that leaves every layer at least ``min_edges`` edges on paths from
   the inputs to the outputs (so a layer never loses all its edges);
4. drop the hidden nodes left without edges (:func:`~kanlab.interpret.prune.drop_dead_nodes`,
   exact).

Why the tolerance is relative to the validation loss: on a noisy table the validation MSE is
mostly the noise variance, so a relative tolerance is measured against the noise, whatever the
target's units. With the MSE, ``tolerance = 0.01`` lets the validation R² fall by at most
``0.01 · (1 − R²)`` (``R² = 1 − MSE/var(y)``): 0.005 at R² 0.5, 10⁻⁵ on a clean fit with R²
0.999, so a clean model keeps the edges it needs. ``tolerance = 0`` removes only edges whose
removal does not raise the validation loss at all (on noisy data, removing an edge that fitted
noise usually lowers it). A retrain of the pruned model is the caller's choice.

Every ``k`` from ``0`` to the number of edges is evaluated (not a binary search): the loss need
not grow monotonically with ``k``, and each evaluation is one forward pass on the validation set.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn

from kanlab._modes import evaluating
from kanlab._validation import check_choice, check_positive_int
from kanlab.errors import InputError
from kanlab.interpret.importance import IMPORTANCE_METHODS, importance
from kanlab.interpret.prune import drop_dead_nodes, n_edges, without_edges

__all__ = ["ValidationPruning", "prune_to_validation"]

Pair = tuple[torch.Tensor, torch.Tensor]
Edge = tuple[int, int, int]


@dataclass
class ValidationPruning:
    """What :func:`prune_to_validation` did.

    Attributes:
        edges_before, edges_after: edges of the model before, and of the pruned model after
            dead nodes were dropped.
        val_loss_before, val_loss_after: validation loss of the unpruned and the pruned model.
        allowed_loss: the largest validation loss accepted, ``(1 + tolerance) · val_loss_before``.
        threshold: the score of the weakest edge kept (every removed edge scored at most this,
            every kept one at least); ``nan`` when no edge is left to score.
        removed: the removed edges ``(l, i, j)`` (layer, input node, output node), weakest first.
        kept_inputs: the input features with at least one edge left.
        losses: validation loss after removing the ``k`` weakest edges, for ``k = 0, 1, ...``
            (``inf`` where a layer would be left without ``min_edges`` edges or a path).
    """

    edges_before: int
    edges_after: int
    val_loss_before: float
    val_loss_after: float
    allowed_loss: float
    threshold: float
    removed: list[Edge] = field(default_factory=list)
    kept_inputs: list[int] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)


@torch.no_grad()
def prune_to_validation(
    model, train: Pair, val: Pair, *, tolerance: float = 0.01,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
    min_edges: int = 1, method: str = "attribution",
):
    """A copy of ``model`` without its weakest edges, as many as the validation loss allows.

    See the module docstring for the procedure and the choice of tolerance. ``model`` is left
    alone; the copy keeps its recorded inputs.

    Args:
        model: a trained :class:`~kanlab.nn.model.KAN`.
        train: ``(x (N, widths[0]), y (N, widths[-1]))``: the edges are scored, and removed
            edges' means taken, on ``x`` (at least 2 rows); ``y`` is only checked (with a
            custom ``loss_fn``, any ``y`` of ``N`` rows).
        val: ``(x (M, widths[0]), y (M, widths[-1]))``: the held-out rows the loss is taken on
            (with a custom ``loss_fn``, any ``y`` of ``M`` rows).
        tolerance: the validation loss may rise to ``(1 + tolerance)`` times the unpruned
            model's (finite, ``>= 0``).
        loss_fn: ``loss_fn(pred, y) -> scalar``, non-negative (e.g.
            ``torch.nn.functional.cross_entropy`` with ``y`` the ``(N,)`` class indices);
            default the mean squared error.
        min_edges: every layer keeps at least this many edges on paths from the inputs to the
            outputs (at least one path always remains).
        method: the edge scores, ``"attribution"`` or ``"l1"``
            (:mod:`kanlab.interpret.importance`).

    Returns:
        ``(pruned, report)``: the new model and a :class:`ValidationPruning`.

    Raises:
        InputError: a bad tolerance or ``min_edges``, ``train``/``val`` of the wrong shapes, or
            a validation loss of the unpruned model that is negative or not finite.

    Warning:
        Evaluates one copy of the model per live edge (``E + 1`` copies and forward passes):
        meant for tabular models of tens to hundreds of edges.

    Example::

        >>> pruned, report = prune_to_validation(model, (x_train, y_train), (x_val, y_val))
        >>> report.kept_inputs, report.edges_after
    """
    custom = loss_fn is not None
    x_train, _ = _checked_pair("train", train, model, min_rows=2, custom_loss=custom)
    x_val, y_val = _checked_pair("val", val, model, min_rows=1, custom_loss=custom)
    tolerance = _checked_tolerance(tolerance)
    check_positive_int("min_edges", min_edges)
    check_choice("method", method, IMPORTANCE_METHODS)
    loss_fn = loss_fn or nn.functional.mse_loss
    before = _loss(model, x_val, y_val, loss_fn)
    if not (math.isfinite(before) and before >= 0):
        raise InputError(f"the unpruned model's validation loss is {before}; "
                         "prune_to_validation needs a finite, non-negative loss")
    order, scores = _weakest_first(model, x_train, method)
    losses = [before]
    for k in range(1, len(order) + 1):
        removed = _removal(model, order[:k])
        if not _leaves_path(model, removed, min_edges):
            losses.append(math.inf)
            continue
        losses.append(_loss(without_edges(model, removed, x_train), x_val, y_val, loss_fn))
    allowed = losses[0] * (1 + tolerance)
    k = max(i for i, loss in enumerate(losses) if loss <= allowed)
    pruned = drop_dead_nodes(without_edges(model, _removal(model, order[:k]), x_train), x_train)
    report = ValidationPruning(
        edges_before=len(order), edges_after=n_edges(pruned),
        val_loss_before=losses[0], val_loss_after=_loss(pruned, x_val, y_val, loss_fn),
        allowed_loss=allowed, threshold=scores[k] if k < len(order) else math.nan,
        removed=order[:k], kept_inputs=_kept_inputs(pruned), losses=losses,
    )
    return pruned, report


def _checked_pair(name: str, pair, model, *, min_rows: int, custom_loss: bool) -> Pair:
    """``pair`` as ``(x, y)`` on the model's device, ``x`` and floating ``y`` in its dtype;
    ``y`` must be ``(N, out)``, or, for a custom loss, any tensor of ``N`` rows (class indices
    keep their integer dtype)."""
    if not isinstance(pair, (tuple, list)) or len(pair) != 2:
        raise InputError(f"{name} must be a pair (x, y) of tensors; got {type(pair).__name__}")
    x, y = (torch.as_tensor(v) for v in pair)
    n_in, n_out = model.widths[0], model.widths[-1]
    if x.dim() != 2 or x.shape[1] != n_in:
        raise InputError(f"{name} x has shape {tuple(x.shape)}; expected (N, {n_in})")
    rows_ok = y.dim() >= 1 and y.shape[0] == x.shape[0]
    if not (rows_ok and (custom_loss or (y.dim() == 2 and y.shape[1] == n_out))):
        raise InputError(f"{name} y has shape {tuple(y.shape)}; expected ({x.shape[0]}, {n_out})"
                         " (one row per row of x)")
    if x.shape[0] < min_rows:
        raise InputError(f"{name} has {x.shape[0]} rows; prune_to_validation needs at least "
                         f"{min_rows}")
    y = y.to(device=model.device, dtype=model.dtype if y.is_floating_point() else None)
    return x.to(dtype=model.dtype, device=model.device), y


def _checked_tolerance(tolerance) -> float:
    if isinstance(tolerance, bool) or not isinstance(tolerance, (int, float)) or not (
            math.isfinite(tolerance) and tolerance >= 0):
        raise InputError(f"tolerance must be a finite number >= 0 (a share of the validation "
                         f"loss, e.g. 0.01); got {tolerance!r}")
    return float(tolerance)


def _weakest_first(model, x: torch.Tensor, method: str) -> tuple[list[Edge], list[float]]:
    """The model's live edges ``(l, i, j)`` sorted by score, weakest first, with their scores."""
    scored = []
    for li, (layer, s) in enumerate(zip(model.layers, importance(model, x, method).edges)):
        for j, i in (layer.mask > 0).nonzero().tolist():  # (out, in) tensor: edge (i, j)
            scored.append((float(s[j, i]), li, i, j))
    scored.sort()
    return [(li, i, j) for _, li, i, j in scored], [s for s, *_ in scored]


def _removal(model, edges: list[Edge]) -> list[torch.Tensor]:
    """One bool ``(out, in)`` tensor per layer marking ``edges``."""
    removed = [torch.zeros(layer.mask.shape, dtype=torch.bool, device=layer.mask.device)
               for layer in model.layers]
    for li, i, j in edges:
        removed[li][j, i] = True
    return removed


def _leaves_path(model, removed: list[torch.Tensor], min_edges: int) -> bool:
    """Whether every layer keeps ``min_edges`` live edges: kept edges on a path from an input to
    an output (the others go with the dead nodes :func:`drop_dead_nodes` removes)."""
    kept = [(layer.mask > 0) & ~r for layer, r in zip(model.layers, removed)]  # (out, in) each
    fed = [torch.ones(model.widths[0], dtype=torch.bool, device=kept[0].device)]
    for k in kept:  # nodes reached from the inputs
        fed.append((k & fed[-1]).any(1))
    used = [torch.ones(model.widths[-1], dtype=torch.bool, device=kept[0].device)]
    for k in reversed(kept):  # nodes that reach an output
        used.insert(0, (k & used[0].unsqueeze(1)).any(0))
    return all(int((k & fed[li] & used[li + 1].unsqueeze(1)).sum()) >= min_edges
               for li, k in enumerate(kept))


def _loss(model, x: torch.Tensor, y: torch.Tensor, loss_fn) -> float:
    with evaluating(model):
        return float(loss_fn(model(x), y))


def _kept_inputs(model) -> list[int]:
    return (model.layers[0].mask > 0).any(0).nonzero().flatten().tolist()
