"""Symbolic regression on a KAN's edges: ``fix_symbolic``, ``suggest_symbolic``,
``auto_symbolic`` (the paper's §2.5.1).

Fits are made on the edge's input *standardised* over the samples, ``z = (x − mean)/std``, and
mapped back (``a·z + b = (a/std)·x + (b − a·mean/std)``): the search ranges ``a_range`` and
``b_range`` are in units of the input's spread, so a hidden node whose values span ``[0, 0.1]``
gets the same search as one spanning ``[−3, 3]`` (pykan searches raw ``a ∈ [−10, 10]``, and a
narrow node's ``exp(15·h)`` is out of its reach).

An edge ``(l, i, j)`` is the activation from node ``i`` of layer ``l`` to node ``j`` of layer
``l + 1`` (pykan's order). Its samples are the pairs ``(x_i, φ_ji(x_i))`` that the network
produces on a batch of *network* inputs: either the batch you pass as ``x``, or, when ``x`` is
None, ``model.recorded_inputs`` -- the training inputs of the last :func:`~kanlab.training.loop.fit`
(see :meth:`~kanlab.nn.model.KAN.record`; saved and loaded with the model; an error if there
is none). Nothing else is cached, so the same call on the same model gives the same answer.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Sequence
from typing import Any

import torch

from kanlab.errors import InputError
from kanlab.symbolic import AffineFit, SymbolicFunction, fit_affine, get_function, suggest

__all__ = [
    "auto_symbolic", "canonicalize", "edge_samples", "fix_symbolic", "suggest_symbolic",
    "unfix_symbolic",
]

log = logging.getLogger(__name__)


def _check_edge(model, l: int, i: int, j: int) -> None:
    if not 0 <= l < len(model.layers):
        raise InputError(f"layer index l={l} is out of range for {len(model.layers)} layers")
    layer = model.layers[l]
    if not (0 <= i < layer.in_features and 0 <= j < layer.out_features):
        raise InputError(
            f"edge (l={l}, i={i}, j={j}) is out of range: layer {l} has {layer.in_features} "
            f"inputs (i) and {layer.out_features} outputs (j)"
        )
    if layer.mask[j, i] == 0:
        raise InputError(f"edge (l={l}, i={i}, j={j}) has been pruned")


@torch.no_grad()
def edge_samples(model, l: int, i: int, j: int, x: torch.Tensor | None = None):
    """The samples ``(x_i, φ_ji(x_i))`` of edge ``(l, i, j)`` on network inputs ``x``.

    Returns:
        Two ``(B,)`` tensors, sorted by the edge's input.
    """
    _check_edge(model, l, i, j)
    traces = model.eval_trace(model.samples(x, "symbolic fitting"))
    return _sorted(traces[l].inputs[:, i], traces[l].activations[:, j, i])


def _sorted(u: torch.Tensor, v: torch.Tensor):
    order = torch.argsort(u)
    return u[order], v[order]


def _standardised(u: torch.Tensor):
    """``(z, to_raw)``: the standardised input and the map of a fit on ``z`` back to ``u``."""
    mean, std = float(u.mean()), float(u.std()) if u.numel() > 1 else 1.0
    if not std > 0:
        std = 1.0

    def to_raw(fit: AffineFit) -> AffineFit:
        return dataclasses.replace(fit, a=fit.a / std, b=fit.b - fit.a * mean / std)

    return (u - mean) / std, to_raw


@torch.no_grad()
def fix_symbolic(model, l: int, i: int, j: int, name: str | SymbolicFunction, *,
                 x: torch.Tensor | None = None, fit_params: bool = True,
                 with_spline: bool = False, **fit_options: Any) -> AffineFit | None:
    """Replace edge ``(l, i, j)`` by ``c·f(a·x + b) + d`` fitted to its samples.

    Args:
        model: a :class:`~kanlab.nn.model.KAN` (changed in place).
        l, i, j: layer, input node, output node.
        name: a function of the registry (:mod:`kanlab.symbolic`).
        x: network inputs to take the edge's samples from (default ``model.recorded_inputs``).
        fit_params: fit ``(a, b, c, d)``; False sets ``f(x)`` itself (``a = c = 1``,
            ``b = d = 0``) and needs no samples.
        with_spline: keep a numeric part beside the formula (pykan's ``'ns'`` edge): the
            edge's spline and base branch restart at zero, so the edge is the formula and
            training adds a spline correction. Its formula needs it fixed without.
        **fit_options: ``a_range``, ``b_range``, ``grid_number``, ``iterations`` of
            :func:`~kanlab.symbolic.fit_affine`.

    Returns:
        The fit (with its ``r2``), or None when ``fit_params`` is False.
    """
    _check_edge(model, l, i, j)
    fn = get_function(name) if isinstance(name, str) else name
    fit = None
    if fit_params:
        u, v = edge_samples(model, l, i, j, x)
        z, to_raw = _standardised(u)
        fit = to_raw(fit_affine(z, v, fn, **fit_options))
    params = (1.0, 0.0, 1.0, 0.0) if fit is None else (fit.a, fit.b, fit.c, fit.d)
    layer = model.layers[l]
    layer.symbolic.set_edge(i, j, fn.name, params, with_spline=with_spline)
    if with_spline:  # the correction starts at zero
        with torch.no_grad():
            layer.coef[j, i] = 0.0
            for branch in layer.branches:
                getattr(layer, branch.param)[j, i] = 0.0
    return fit


def _apply(model, l: int, i: int, j: int, fit: AffineFit) -> None:
    model.layers[l].symbolic.set_edge(i, j, fit.name, (fit.a, fit.b, fit.c, fit.d))


@torch.no_grad()
def unfix_symbolic(model, l: int, i: int, j: int) -> None:
    """Make edge ``(l, i, j)`` numeric again (its spline was kept while it was symbolic)."""
    _check_edge(model, l, i, j)
    model.layers[l].symbolic.remove_edge(i, j)


def suggest_symbolic(model, l: int, i: int, j: int, *, x: torch.Tensor | None = None,
                     lib: Sequence[str | SymbolicFunction] | None = None, topk: int = 5,
                     weight_simple: float = 0.8, **fit_options: Any) -> list[AffineFit]:
    """The ``topk`` best functions for edge ``(l, i, j)``, best first (see
    :func:`kanlab.symbolic.suggest` for the ranking). The model is not changed."""
    u, v = edge_samples(model, l, i, j, x)
    z, to_raw = _standardised(u)
    ranked = suggest(z, v, lib, topk=topk, weight_simple=weight_simple, **fit_options)
    return [to_raw(f) for f in ranked]


def auto_symbolic(model, *, x: torch.Tensor | None = None,
                  lib: Sequence[str | SymbolicFunction] | None = None,
                  weight_simple: float = 0.8, r2_tolerance: float = 1e-5,
                  r2_threshold: float = 0.0,
                  **fit_options: Any) -> dict[tuple[int, int, int], AffineFit]:
    """Fix every numeric edge to its best-ranked function, layer by layer.

    Layers are done in order, each on samples from the network as it then is (so a layer's
    fits see the symbolic edges before it). The ranking is :func:`kanlab.symbolic.suggest`'s
    (``weight_simple``, ``r2_tolerance``). An edge whose best fit has ``r² < r2_threshold``
    stays numeric (and is logged).

    Returns:
        ``{(l, i, j): fit}`` of the edges that were fixed.
    """
    x = model.samples(x, "symbolic fitting")
    fixed: dict[tuple[int, int, int], AffineFit] = {}
    for l, layer in enumerate(model.layers):
        edges = [(i, j) for j, i in (layer.mask > 0).nonzero().tolist()
                 if (i, j) not in layer.symbolic.names]
        if not edges:
            continue
        trace = model.eval_trace(x)[l]
        for i, j in edges:
            u, v = _sorted(trace.inputs[:, i], trace.activations[:, j, i])
            z, to_raw = _standardised(u)
            best = to_raw(suggest(z, v, lib, topk=1, weight_simple=weight_simple,
                                  r2_tolerance=r2_tolerance, **fit_options)[0])
            if best.r2 < r2_threshold:
                log.info("edge (%d, %d, %d) stays numeric: best r2 %.4g (%s)", l, i, j,
                         best.r2, best.name)
                continue
            _apply(model, l, i, j, best)
            fixed[(l, i, j)] = best
            log.info("edge (%d, %d, %d) -> %s, r2 %.6f", l, i, j, best.name, best.r2)
    canonicalize(model)
    return fixed


_POWERS = {"x^2": 2, "x^3": 3, "x^4": 4, "x^5": 5}


@torch.no_grad()
def canonicalize(model) -> None:
    """Rewrite symbolic edges into an equivalent, better-conditioned form (the function is kept).

    - ``c·exp(a·h + b) + d`` becomes ``(c·eᵇ)·exp(a·h) + d``; ``c·(a·h + b)ⁿ + d`` becomes
      ``(c·aⁿ)·(h + b/a)ⁿ + d``, and ``c·(a·h + b) + d`` becomes ``(c·a)·h + (d + c·b)``;
    - a hidden sum node whose incoming edges are all symbolic and that feeds exactly one edge,
      a symbolic ``c'·f(a'·h + b') + d'``, absorbs that edge's inner map: its incoming ``c``,
      ``d`` and its bias are scaled by ``a'`` (and ``b'`` is added to the bias), and the edge
      becomes ``c'·f(h) + d'``.

    Both are exact; they remove the trade-offs (``b`` against ``c``, a node's scale against the
    next ``a``) that make polishing the affine parameters slow and the formula hard to read.
    """
    for layer in model.layers:
        affine = layer.symbolic.affine
        for (i, j), name in layer.symbolic.names.items():
            a, b, c, d = affine[j, i].tolist()
            if name == "exp" and math.isfinite(c * math.exp(b)):
                new = [a, 0.0, c * math.exp(b), d]
            elif name == "x":
                new = [1.0, 0.0, c * a, d + c * b]
            elif name in _POWERS and a != 0.0:
                new = [1.0, b / a, c * a ** _POWERS[name], d]
            else:
                continue
            affine[j, i] = torch.tensor(new, dtype=affine.dtype)
    for below, above in zip(model.layers[:-1], model.layers[1:]):
        if above.symbolic.affine is None or below.symbolic.affine is None:
            continue
        for h in range(below.nodes.n_sum):  # sum nodes: row h is node h
            incoming = (below.mask[h] > 0).nonzero().flatten().tolist()
            outgoing = (above.mask[:, h] > 0).nonzero().flatten().tolist()
            if len(outgoing) != 1 or below.bias is None or not incoming:
                continue
            (j,) = outgoing
            if (h, j) not in above.symbolic.names or any(
                (i, h) not in below.symbolic.names for i in incoming
            ):
                continue
            a, b = above.symbolic.affine[j, h, :2].tolist()
            if a == 0.0:
                continue
            for i in incoming:
                below.symbolic.affine[h, i, 2:] *= a
            below.bias[h] = a * below.bias[h] + b
            above.symbolic.affine[j, h, :2] = torch.tensor([1.0, 0.0])
