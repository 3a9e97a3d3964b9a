"""The common layer's forward pass as one autograd node, through the compiled kernel.

:class:`~kanlab.nn.layer.KANLinear`'s general forward composes the GEMM weight
``[w_s·c·mask | w_b·mask]`` and the base branch's columns ``b(x)`` from PyTorch operations and
hands them to :func:`~kanlab.splines.kernel.spline_linear`: a dozen autograd nodes, each a pass
over the weights or the batch and some microseconds of dispatch. For the common layer (the
base branch SiLU, or none, on the splines' own input; no linear tails) the compiled kernel
(:mod:`kanlab.splines.native`) does it in four passes over memory besides the three GEMMs a
dense layer makes:

    forward:   W = [c·(w_s·mask) | w_b·mask | 0]       one pass over the weights
               A = [B(x) | silu(x) | 0]                 one pass over the batch (+ SiLU)
               y = A Wᵀ + bias                          the GEMM
    backward:  ∂L/∂W = Gᵀ A, split in one pass into ∂L/∂c = ∂L/∂W·w_s·mask,
               ∂L/∂w_s = Σ_j ∂L/∂W·c·mask, ∂L/∂w_b = ∂L/∂W·mask
               ∂L/∂x = Σ_r (G W)[col_r] B'_r(x) + (G W)[base] silu'(x)   (silu' from
               the SiLU column of A, σ = silu(x)/x: no exponential)

with ``G = ∂L/∂y``, in few calls of the kernel (``layer_forward``; ``layer_param_grads``,
``input_grad``: a small layer's step is mostly dispatch). The parameters' gradients come first;
then ``A`` is dropped, and ``∂L/∂A`` is formed a block per thread and gathered while in cache,
so that a step's peak memory stays well below the dense layer's plus ``A``.

The results equal the general path's (tests hold them to 1e-6 in float32); a double backward
(``create_graph=True``) differentiates the general path.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import torch
import torch.nn.functional as F

from kanlab.nn.base_branch import BaseBranch
from kanlab.nn.spline_edges import spline_gemm_weight
from kanlab.splines import native
from kanlab.splines.kernel import spline_linear

__all__ = ["fused_forward"]


def fused_forward(layer: Any, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor | None:
    """The spline and base terms plus bias ``(B, out)`` of the
    :class:`~kanlab.nn.layer.KANLinear` ``layer`` in one autograd node, or None where the
    fused path does not apply (no compiled kernel for these inputs, linear tails, a base
    function other than SiLU, a base branch on the raw input of a standardising layer).

    ``x``, ``z``: the raw and the spline inputs ``(B, in)``. Under ``torch.autocast`` it runs
    in the parameters' dtype with autocast off, as :func:`~kanlab.splines.kernel.spline_linear`.
    """
    base = layer.branches[0] if len(layer.branches) == 1 else None
    if not isinstance(base, BaseBranch) or base.fn not in (F.silu, None) \
            or (base.base_input == "raw" and z is not x):
        return None
    if torch.is_autocast_enabled(z.device.type):
        with torch.autocast(z.device.type, enabled=False):
            z = z.to(layer.coef.dtype)  # the base branch sees it too (checked above)
            return fused_forward(layer, z, z)
    kernel = native.kernel_for(z, layer.spline_order)
    mask = layer.numeric_mask()
    if kernel is None or z.dtype != layer.coef.dtype or mask.requires_grad:
        return None
    _, uniform, _ = layer.knot_lookup()
    closed = uniform is not None and layer.spline_order == 3
    base_scale = layer.base_scale if base.fn is not None else None
    return _FusedLayer.apply(z, layer.coef, layer.spline_scale, base_scale, layer.bias, mask,
                             layer.knots, layer.spline_order, closed, kernel)


def _general(x, coef, spline_scale, base_scale, bias, mask, knots, k):
    """The same map from the general path's differentiable pieces (for double backward)."""
    weight = spline_gemm_weight(coef, spline_scale, mask)
    extra = None
    if base_scale is not None:
        weight = torch.cat([weight, base_scale * mask], dim=1)
        extra = F.silu(x)
    return spline_linear(x, extra, weight, bias, knots, k)


class _FusedLayer(torch.autograd.Function):
    """See the module docstring. Inputs: x ``(B, in)``, coef ``(out, in, nb)``, spline_scale,
    base_scale (or None) and mask ``(out, in)``, bias ``(out,)`` or None, knots ``(in, n)``.

    ``A`` is kept as ``ctx.a``, not saved, so that the backward can drop it once ``∂L/∂W`` is
    formed; a second backward (``retain_graph=True``) builds it again.
    """

    @staticmethod
    def forward(ctx, x, coef, spline_scale, base_scale, bias, mask, knots, k: int,
                closed: bool, kernel: ModuleType):  # type: ignore[override]
        y, ctx.a, weight = kernel.layer_forward(x, coef, spline_scale, mask,
                                                _or_empty(base_scale, x), _or_empty(bias, x),
                                                knots, k, closed)
        ctx.save_for_backward(x, coef, spline_scale, base_scale, bias, mask, knots, weight)
        ctx.k, ctx.closed, ctx.kernel = k, closed, kernel
        return y

    @staticmethod
    def backward(ctx, grad_y):  # type: ignore[override]
        x, coef, spline_scale, base_scale, bias, mask, knots, weight = ctx.saved_tensors
        needs = ctx.needs_input_grad[:5]
        if torch.is_grad_enabled():  # create_graph=True: differentiate the general path
            ctx.a = None  # not needed; a later backward through the graph rebuilds it
            inputs = (x, coef, spline_scale, base_scale, bias)
            y = _general(x, coef, spline_scale, base_scale, bias, mask, knots, ctx.k)
            wanted = [t for t, need in zip(inputs, needs) if need]
            found = iter(torch.autograd.grad(y, wanted, grad_y, create_graph=True,
                                             allow_unused=True))
            grads = [next(found) if need else None for need in needs]
            return (*grads, None, None, None, None, None)
        kernel, silu = ctx.kernel, base_scale is not None
        a, ctx.a = ctx.a, None
        if a is None:  # a second backward through a retained graph
            a = kernel.layer_forward(x, coef, spline_scale, mask, _or_empty(base_scale, x),
                                     _or_empty(bias, x), knots, ctx.k, ctx.closed)[1]
        grads = [None] * 5
        if any(needs[1:]):  # first, while A exists: ∂L/∂W = Gᵀ A, split into the parameters'
            found = kernel.layer_param_grads(grad_y, a, coef, spline_scale, mask, silu)
            grads[1:] = [g if need else None for g, need in zip(found, needs[1:])]
        if needs[0]:  # then A goes; ∂L/∂A = G W in a block per thread
            n_in, nb = coef.shape[1], coef.shape[2]
            base = a[:, n_in * nb : n_in * (nb + 1)].clone() if silu else x.new_empty(0)
            del a
            grads[0] = kernel.input_grad(grad_y, weight, x, knots, ctx.k, ctx.closed, base,
                                         native.CHUNK_VALUES)
        return (*grads, None, None, None, None, None)


def _or_empty(t: torch.Tensor | None, like: torch.Tensor) -> torch.Tensor:
    return like.new_empty(0) if t is None else t
