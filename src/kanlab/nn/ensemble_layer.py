"""One layer of every member of an ensemble: the layer's tensors with a leading member axis
``E``, and its pass over all members at once.

Two paths compute the same map:

- **the compiled kernel** (CPU, float32/64, a SiLU base branch or none: the layers
  :mod:`~kanlab.nn.fused_forward` fuses): ``ensemble_forward`` and ``ensemble_backward`` of
  :mod:`kanlab.splines.native` run each member's fused layer on its own slices in one call --
  no Python between members, and the same code and shapes as a lone layer, so that every
  member's outputs and gradients equal a lone model's *to the bit*. Bitwise matters: LBFGS on
  a small KAN amplifies a one-ulp change of the loss to 1e-2 in the parameters within ten
  steps, so only bitwise-equal passes keep ``E`` members trained together equal to ``E``
  separate fits.
- **the reference** (any device, the other base functions, double backward): the inputs
  ``(E, B, in)`` laid out as ``(B, E·in)`` against the members' knot vectors stacked as
  ``(E·in, n_knots)`` -- one :func:`~kanlab.splines.basis.bspline_basis` call -- then one
  batched GEMM of ``[basis | b(x)]`` ``(E, B, in·n_b + in)`` with each member's
  ``[w_s·c·mask | w_b·mask]``, differentiated by autograd; equal to the members to round-off.

Shapes: ``(E, B, in)`` (or ``(B, in)`` shared) ``-> (E, B, out_nodes)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from kanlab.nn.spline_edges import KnotTableCache, spline_basis, spline_gemm_weight
from kanlab.splines import native
from kanlab.splines.basis import bspline_basis, uniform_spacing
from kanlab.symbolic.library import get_function

__all__ = ["PARAMETERS", "StackedLayer", "fused_regularised", "fused_squared_error"]

#: the per-layer parameters an ensemble stacks, in a lone layer's ``parameters()`` order
PARAMETERS = ("coef", "spline_scale", "base_scale", "bias", "product_bias", "affine")


class StackedLayer(nn.Module):
    """One layer of every member: its tensors with a leading member axis ``E`` (module
    docstring); ``knots`` ``(E·in, n_knots)``, member ``e``'s rows ``e·in … (e+1)·in − 1``."""

    def __init__(self, layers: Sequence[nn.Module]) -> None:
        super().__init__()
        first = layers[0]
        self.members = len(layers)
        self.in_features, self.out_features = first.in_features, first.out_features
        self.spline_order, self.nodes = first.spline_order, first.nodes
        self.base_fn_name = first.base_fn_name
        self.base_fn = first.base_fn
        for name in PARAMETERS[:-1]:
            values = [getattr(layer, name) for layer in layers]
            stacked = None if values[0] is None else torch.stack([v.detach() for v in values])
            self.register_parameter(name, None if stacked is None else nn.Parameter(stacked))
        # symbolic edges, the same functions on the same edges in every member: their affine
        # parameters (E, out, in, 4) after the layer's own, in a lone layer's order
        symbolic = first.symbolic
        self.symbolic_names = dict(symbolic.names)
        self._groups = symbolic.groups() if symbolic.names else {}
        affine = None if symbolic.affine is None or not symbolic.names else nn.Parameter(
            torch.stack([layer.symbolic.affine.detach() for layer in layers]),
            requires_grad=symbolic.affine.requires_grad)
        self.register_parameter("affine", affine)
        self.register_buffer("mask", torch.stack([layer.mask for layer in layers]))
        self.register_buffer("active", torch.stack([layer.symbolic.active for layer in layers]))
        self.register_buffer("knots", torch.cat([layer.knots for layer in layers]))
        self._tables = KnotTableCache()
        self._closed_key: tuple[Any, ...] = ()
        self._closed: list[bool] = []

    def closed_forms(self) -> list[bool]:
        """Each member's flag for the kernel's closed form (cubic on equally spaced knots,
        as :func:`~kanlab.splines.basis.uniform_spacing` judges a lone layer's), cached until
        the knots change."""
        key = (self.knots.data_ptr(), self.knots._version, self.knots.shape)
        if key != self._closed_key:
            per_member = self.knots.view(self.members, self.in_features, -1)
            self._closed = [self.spline_order == 3 and uniform_spacing(k) is not None
                            for k in per_member]
            self._closed_key = key
        return self._closed

    def numeric_mask(self) -> torch.Tensor:
        """``(E, out, in)``: every member's edges with a numeric part (not pruned, not
        symbolic), as a lone layer's ``numeric_mask``."""
        return self.mask * (1 - self.active) if self.symbolic_names else self.mask

    def symbolic_values(self, h: torch.Tensor, per_edge: bool = False) -> torch.Tensor | None:
        """The symbolic edges' ``c·f(a·x + b) + d`` (pruned edges masked), summed into each
        output ``(E, B, out)`` -- or ``per_edge``: ``(E, B, out, in)`` -- as a lone layer's
        :class:`~kanlab.nn.symbolic_edges.SymbolicEdges` computes them, one function group at
        a time; None without symbolic edges. ``h``: ``(E, B, in)``."""
        if not self.symbolic_names:
            return None
        e, b, n_in = h.shape
        n_out = self.out_features
        y = h.new_zeros((e, b, n_out * n_in if per_edge else n_out))
        for name, (js, is_) in self._groups.items():
            js, is_ = js.to(h.device), is_.to(h.device)
            fn = get_function(name)
            p = self.affine[:, js, is_].unsqueeze(1)  # (E, 1, n, 4)
            f = fn.safe if self.training else fn.torch_fn
            v = p[..., 2] * f(p[..., 0] * h[:, :, is_] + p[..., 1]) + p[..., 3]
            v = v * self.mask[:, js, is_].unsqueeze(1)  # (E, B, n)
            y = y.index_add(2, js * n_in + is_ if per_edge else js, v)
        return y.view(e, b, n_out, n_in) if per_edge else y

    def edge_activations(self, h: torch.Tensor) -> torch.Tensor:
        """Every member's edge activations ``φ_ji(x_i)``: ``(E, B, in) -> (E, B, out, in)``
        (as a lone layer's ``edge_activations``)."""
        e, b, n_in = h.shape
        flat = h.transpose(0, 1).reshape(b, e * n_in)  # (B, E·in)
        kernel = native.kernel_for(flat, self.spline_order)
        if kernel is not None and flat.dtype == self.knots.dtype \
                and not torch.is_autocast_enabled(flat.device.type):
            basis = _KernelBasis.apply(flat, self.knots, self.spline_order,
                                       all(self.closed_forms()), kernel)
        else:
            lookup = self._tables.lookup(self.knots, self.spline_order, ())
            basis = spline_basis(flat, self.knots, self.spline_order, lookup)
        basis = basis.reshape(b, e, n_in, -1).transpose(0, 1)  # (E, B, in, nb)
        spline = torch.einsum("ebim,eoim->eboi", basis, self.coef)
        mask = self.numeric_mask()
        phi = spline * (self.spline_scale * mask).unsqueeze(1)
        if self.base_scale is not None and self.base_fn is not None:
            phi = phi + self.base_fn(h).unsqueeze(2) * (self.base_scale * mask).unsqueeze(1)
        symbolic = self.symbolic_values(h, per_edge=True)
        return phi if symbolic is None else phi + symbolic

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        """``(E, B, in)`` or shared ``(B, in)`` -> ``(E, B, out_nodes)``."""
        kernel = native.kernel_for(h, self.spline_order) if self.base_fn in (F.silu, None) \
            else None
        if kernel is not None and h.dtype == self.coef.dtype and not torch.is_autocast_enabled(
                h.device.type):
            base = self.base_scale if self.base_fn is not None else None
            y = _FusedEnsembleLayer.apply(h, self.coef, self.spline_scale, base, self.bias,
                                          self.numeric_mask(), self.knots, self.spline_order,
                                          self.closed_forms(), kernel)
        else:
            y = self._reference(h if h.dim() == 3 else h.expand(self.members, -1, -1))
        if self.symbolic_names:
            y = y + self.symbolic_values(h if h.dim() == 3 else h.expand(self.members, -1, -1))
        return self.nodes.combine(y, None if self.product_bias is None
                                  else self.product_bias.unsqueeze(1))

    def _reference(self, h: torch.Tensor) -> torch.Tensor:  # (E, B, in) -> (E, B, out)
        rows, uniform, _ = self._tables.lookup(self.knots, self.spline_order, ())
        base = self.base_scale if self.base_fn is not None else None
        return _reference_map(h, self.coef, self.spline_scale, base, self.bias,
                              self.numeric_mask(), self.knots, self.spline_order, self.base_fn,
                              rows, uniform)


def _reference_map(h, coef, spline_scale, base_scale, bias, mask, knots, k, base_fn=F.silu,
                   rows=None, uniform=None):
    """The layer's map from differentiable pieces -- the basis of every member at once (the
    inputs ``(E, B, in)`` as ``(B, E·in)`` against the knots ``(E·in, n)``), then one batched
    GEMM of ``[basis | b(x)]`` with ``[w_s·c·mask | w_b·mask]``: ``(E, B, out)``. The reference
    pass, and the fused pass's double backward; ``rows``, ``uniform``: the knots' cached
    lookups (:func:`~kanlab.splines.basis.bspline_basis`)."""
    members, batch, n_in = h.shape
    flat = h.transpose(0, 1).reshape(batch, members * n_in)
    basis = bspline_basis(flat, knots, k, rows=rows, uniform=uniform)
    columns = [basis.reshape(batch, members, -1).transpose(0, 1)]  # (E, B, in·n_b)
    blocks = [spline_gemm_weight(coef, spline_scale, mask)]  # (E, out, in·n_b)
    if base_scale is not None:
        columns.append(base_fn(h))
        blocks.append(base_scale * mask)
    y = torch.bmm(torch.cat(columns, dim=-1), torch.cat(blocks, dim=-1).transpose(1, 2))
    return y if bias is None else y + bias.unsqueeze(1)


class _FusedEnsembleLayer(torch.autograd.Function):
    """The compiled member-by-member pass (module docstring). Inputs: h ``(E, B, in)`` or
    ``(B, in)``, coef ``(E, out, in, nb)``, spline_scale, base_scale (or None), mask
    ``(E, out, in)``, bias ``(E, out)`` or None, knots ``(E·in, n)``."""

    @staticmethod
    def forward(ctx, h, coef, spline_scale, base_scale, bias, mask, knots, k: int,
                closed: list[bool], kernel):  # type: ignore[override]
        members = coef.shape[0]
        knots3 = knots.view(members, coef.shape[2], -1)
        empty = h.new_empty(0)
        found = kernel.ensemble_forward(h, coef, spline_scale, mask,
                                        empty if base_scale is None else base_scale,
                                        empty if bias is None else bias, knots3, k, closed)
        ctx.a, ctx.w = list(found[1:members + 1]), list(found[members + 1:])
        ctx.save_for_backward(h, coef, spline_scale, base_scale, bias, mask, knots)
        ctx.k, ctx.closed, ctx.kernel = k, closed, kernel
        return found[0]

    @staticmethod
    def backward(ctx, grad_y):  # type: ignore[override]
        h, coef, spline_scale, base_scale, bias, mask, knots = ctx.saved_tensors
        needs = ctx.needs_input_grad[:5]
        if torch.is_grad_enabled():  # create_graph=True: differentiate the reference map
            members = coef.shape[0]
            h3 = h if h.dim() == 3 else h.expand(members, -1, -1)
            inputs = (h, coef, spline_scale, base_scale, bias)
            y = _reference_map(h3, coef, spline_scale, base_scale, bias, mask, knots, ctx.k)
            wanted = [t for t, need in zip(inputs, needs) if need]
            found = iter(torch.autograd.grad(y, wanted, grad_y, create_graph=True,
                                             allow_unused=True))
            return (*[next(found) if need else None for need in needs], *[None] * 5)
        members, n_in = coef.shape[0], coef.shape[2]
        a, ctx.a = ctx.a, None
        if a is None:  # a second backward through a retained graph: build A again
            empty = h.new_empty(0)
            a = ctx.kernel.ensemble_forward(
                h, coef, spline_scale, mask, empty if base_scale is None else base_scale,
                empty if bias is None else bias, knots.view(members, n_in, -1), ctx.k,
                ctx.closed)[1:members + 1]
        gc, gs, gb, gbias, gh = ctx.kernel.ensemble_backward(
            grad_y, a, ctx.w, h, coef, spline_scale, mask, knots.view(members, n_in, -1),
            ctx.k, ctx.closed, base_scale is not None, needs[0], native.CHUNK_VALUES)
        if needs[0] and h.dim() == 2:  # a shared input: the members' gradients add up
            gh = gh.sum(0)
        grads = (gh, gc, gs, gb if base_scale is not None else None,
                 gbias if bias is not None else None)
        return (*[g if need else None for g, need in zip(grads, needs)], *[None] * 5)


def _kernel_inputs(layers: Sequence[StackedLayer], x: torch.Tensor, y: torch.Tensor):
    """``(kernel, per-layer tensors, per-layer closed-form flags)`` for the compiled
    member-by-member passes, or None where they do not apply (no kernel for ``x``, product
    nodes, a base function other than SiLU, another dtype, autocast, no autograd)."""
    first = layers[0]
    kernel = native.kernel_for(x, first.spline_order)
    if kernel is None or torch.is_autocast_enabled(x.device.type) or x.dtype != first.coef.dtype \
            or y.dtype != x.dtype or not torch.is_grad_enabled():
        return None
    if any(layer.nodes.has_products or layer.base_fn not in (F.silu, None)
           or layer.symbolic_names or layer.spline_order != first.spline_order
           for layer in layers):
        return None
    empty = x.new_empty(0)
    tensors, flags = [], []
    for layer in layers:
        base = layer.base_scale if layer.base_fn is not None else None
        tensors.append([layer.coef.detach(), layer.spline_scale.detach(), layer.mask,
                        empty if base is None else base.detach(),
                        empty if layer.bias is None else layer.bias.detach(),
                        layer.knots.view(layer.members, layer.in_features, -1)])
        flags.append(layer.closed_forms())
    return kernel, tensors, flags


def _write_grads(layers: Sequence[StackedLayer], grads: Sequence[torch.Tensor]) -> None:
    """Set (or add to) the parameters' ``.grad`` from the kernel's per-layer gradients of
    coef, spline_scale, base_scale and bias."""
    for li, layer in enumerate(layers):
        params = (layer.coef, layer.spline_scale,
                  layer.base_scale if layer.base_fn is not None else None, layer.bias)
        for param, grad in zip(params, grads[4 * li: 4 * li + 4]):
            if param is not None and param.requires_grad:
                param.grad = grad if param.grad is None else param.grad + grad


def fused_regularised(layers: Sequence[StackedLayer], x: torch.Tensor, y: torch.Tensor,
                      lambdas: torch.Tensor, l1: float, entropy: float,
                      which: torch.Tensor | None = None
                      ) -> tuple[torch.Tensor, torch.Tensor] | None:
    """Every member's mean squared error and sparsity penalty (the paper's eq. 2.20, metric
    ``edge_l1``: :func:`~kanlab.training.regularization.sparsity_penalty`) on ``x``, ``y``,
    each ``(E,)``, with the gradients of ``error + λ_e·penalty`` written into the parameters'
    ``.grad`` -- each member's whole pass in the compiled kernel (``ensemble_regularised``:
    its edge activations, the penalty and their gradients by hand), equal to the autograd
    pass through :meth:`Ensemble.trace <kanlab.nn.ensemble.Ensemble.trace>` to round-off;
    ``which``: as for :func:`fused_squared_error`.

    Returns None (nothing written) where this path does not apply (see
    :func:`fused_squared_error`).
    """
    found = _kernel_inputs(layers, x, y)
    if found is None:
        return None
    kernel, tensors, flags = found
    out = kernel.ensemble_regularised(x, y, tensors, layers[0].spline_order, flags,
                                      lambdas.to(torch.float64).cpu(), float(l1), float(entropy),
                                      [] if which is None else which.tolist())
    _write_grads(layers, out[2:])
    return out[0], out[1]


def fused_squared_error(layers: Sequence[StackedLayer], x: torch.Tensor, y: torch.Tensor,
                        which: torch.Tensor | None = None) -> torch.Tensor | None:
    """Every member's mean squared error on ``x``, ``y`` ``(E,)``, its gradients written into
    the layers' parameters' ``.grad`` -- each member's forward, loss and backward one after the
    other in the compiled kernel (``ensemble_mse``), to the bit a lone model's
    ``mse_loss(model(x), y).backward()``, with its intermediate matrices still in cache.

    ``x`` ``(B, in)`` or ``(E, B, in)``, ``y`` ``(B, out)`` or ``(E, B, out)``; ``which``
    ``(E,)`` bool: only these members (the others' losses are NaN, their gradients 0).
    Returns None (nothing written) where this path does not apply: no compiled kernel for
    ``x``, product nodes, a base function other than SiLU, another dtype, autocast.
    """
    found = _kernel_inputs(layers, x, y)
    if found is None:
        return None
    kernel, tensors, flags = found
    out = kernel.ensemble_mse(x, y, tensors, layers[0].spline_order, flags, native.CHUNK_VALUES,
                              [] if which is None else which.tolist())
    _write_grads(layers, out[1:])
    return out[0]


class _KernelBasis(torch.autograd.Function):
    """The dense B-spline basis ``(B, in·nb)`` of ``x`` ``(B, in)`` (each input its own knot
    row) from the compiled kernel's ``fill``, and its input gradient from
    ``gather_input_grad`` (the derivative basis, never formed). A double backward
    differentiates the pure-PyTorch basis."""

    @staticmethod
    def forward(ctx, x, knots, k: int, closed: bool, kernel):  # type: ignore[override]
        ctx.save_for_backward(x, knots)
        ctx.k, ctx.closed, ctx.kernel = k, closed, kernel
        n_basis = knots.shape[1] - k - 1
        return kernel.fill(x, knots, k, x.new_empty(0), x.shape[1] * n_basis, closed)

    @staticmethod
    def backward(ctx, grad):  # type: ignore[override]
        x, knots = ctx.saved_tensors
        if not ctx.needs_input_grad[0]:
            return None, None, None, None, None
        if torch.is_grad_enabled():  # create_graph=True: through the pure-PyTorch basis
            dense = bspline_basis(x, knots, ctx.k).reshape(x.shape[0], -1)
            (gx,) = torch.autograd.grad(dense, x, grad, create_graph=True)
            return gx, None, None, None, None
        gx = ctx.kernel.gather_input_grad(grad.contiguous(), x, knots, ctx.k, ctx.closed,
                                          x.new_empty(0))
        return gx, None, None, None, None
