"""Derivatives of elementwise functions (a layer's base function) by autograd."""

from __future__ import annotations

from collections.abc import Callable

import torch

__all__ = ["elementwise_jet"]


def elementwise_jet(
    fn: Callable[[torch.Tensor], torch.Tensor], h: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``fn(h)``, ``fn'(h)`` and ``fn''(h)`` of an elementwise function, differentiable in ``h``."""
    with torch.enable_grad():
        hr = h if h.requires_grad else h.detach().requires_grad_()
        v0 = fn(hr)
        (v1,) = torch.autograd.grad(v0.sum(), hr, create_graph=True)
        if v1.requires_grad:
            (v2,) = torch.autograd.grad(v1.sum(), hr, create_graph=True, allow_unused=True)
            v2 = torch.zeros_like(h) if v2 is None else v2
        else:  # fn is linear
            v2 = torch.zeros_like(h)
    return v0, v1, v2
