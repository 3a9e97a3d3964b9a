"""Derivatives by autograd: of elementwise functions (a layer's base function), and every
sample's Jacobian and Hessian of a row-wise function (re-exported by :mod:`kanlab.science.pde`;
the hypothesis tests of :mod:`kanlab.interpret.hypothesis` use them)."""

from __future__ import annotations

from collections.abc import Callable

import torch

from kanlab.errors import InputError

__all__ = ["batch_hessian", "batch_jacobian", "column_gradients", "elementwise_jet"]


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


def _rowwise_output(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor,
                    ) -> tuple[torch.Tensor, torch.Tensor]:
    """``(x with grad, fn(x) as (N, m))`` for the batch helpers, with the shapes checked."""
    if x.dim() != 2:
        raise InputError(f"x has shape {tuple(x.shape)}; expected (N, d)")
    xr = x if x.requires_grad else x.detach().requires_grad_()
    with torch.enable_grad():
        y = fn(xr)
    if y.dim() == 1:
        y = y.unsqueeze(1)
    if y.dim() != 2 or y.shape[0] != x.shape[0]:
        raise InputError(f"fn must map (N, d) to (N, m) or (N,); got {tuple(y.shape)}")
    return xr, y


def column_gradients(y: torch.Tensor, xr: torch.Tensor, create_graph: bool) -> torch.Tensor:
    """``(N, m, d)``: ``[n, j] = ∂y_nj / ∂x_n`` for ``y`` ``(N, m)`` computed row by row from
    ``xr`` ``(N, d)``, one backward pass per column (row ``n`` of ``∂(Σ_n y_nj)/∂x`` is sample
    ``n``'s gradient); zeros where ``y`` does not depend on ``x``."""
    if not y.requires_grad:  # constant in x (the derivative of a linear function, say)
        return xr.new_zeros(y.shape[0], y.shape[1], xr.shape[1])
    columns = []
    with torch.enable_grad():
        for j in range(y.shape[1]):
            (g,) = torch.autograd.grad(y[:, j].sum(), xr, create_graph=create_graph,
                                       retain_graph=True, allow_unused=True)
            columns.append(torch.zeros_like(xr) if g is None else g)
    return torch.stack(columns, dim=1)


def batch_jacobian(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, *,
                   create_graph: bool = False) -> torch.Tensor:
    """Each sample's Jacobian ``∂fn(x)_n / ∂x_n``: ``(N, d) -> (N, m, d)``.

    ``fn`` must treat rows independently (any KAN or MLP does; a batch-norm layer in training
    mode does not): then row ``n`` of ``∂(Σ_n fn(x)_nj)/∂x`` is sample ``n``'s gradient of
    output ``j``, one backward pass per output. ``create_graph=True`` keeps the result
    differentiable (for a loss). pykan's ``batch_jacobian``.
    """
    xr, y = _rowwise_output(fn, x)
    return column_gradients(y, xr, create_graph)


def batch_hessian(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, *,
                  create_graph: bool = False) -> torch.Tensor:
    """Each sample's Hessian of a scalar output, mixed partials included:
    ``(N, d) -> (N, d, d)`` with ``[n, i, k] = ∂²fn(x)_n / ∂x_ni ∂x_nk``.

    ``fn`` maps ``(N, d)`` to ``(N,)`` or ``(N, 1)`` and treats rows independently (as
    :func:`batch_jacobian`); ``d + 1`` backward passes. pykan's ``batch_hessian``.
    """
    xr, y = _rowwise_output(fn, x)
    if y.shape[1] != 1:
        raise InputError(f"batch_hessian needs one output per sample; fn gives {y.shape[1]}")
    grad = column_gradients(y, xr, create_graph=True)[:, 0]  # (N, d)
    return column_gradients(grad, xr, create_graph)
