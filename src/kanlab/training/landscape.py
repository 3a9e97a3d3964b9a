"""The loss landscape around a trained model: the Hessian of the loss in the parameters, and
its spectrum (pykan's Interp 10): flat directions (eigenvalues near 0) are parameters the data
does not pin down -- symmetries, removable edges.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from kanlab.errors import InputError
from kanlab.training.model_loss import batch_loss

__all__ = ["loss_hessian"]

#: The most parameters :func:`loss_hessian` takes (the Hessian has their square of entries and
#: costs one backward pass per parameter).
MAX_PARAMETERS = 4096


def loss_hessian(model: nn.Module, x: torch.Tensor, y: torch.Tensor,
                 loss_fn: Callable | None = None) -> tuple[torch.Tensor, list[str]]:
    """The Hessian ``(P, P)`` of the loss on ``(x, y)`` in the model's trainable parameters
    (flattened in ``named_parameters`` order), and each entry's name
    (``"layers.0.coef[3]"``). ``loss_fn``: as ``fit``'s (default MSE; a
    :class:`~kanlab.training.model_loss.ModelLoss` too). Its eigenvalues
    (``torch.linalg.eigvalsh``) are the landscape's curvatures.

    Raises:
        InputError: more than :data:`MAX_PARAMETERS` trainable parameters.
    """
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    total = sum(p.numel() for _, p in named)
    if total > MAX_PARAMETERS:
        raise InputError(f"loss_hessian builds a (P, P) matrix; the model has P = {total} "
                         f"trainable parameters (at most {MAX_PARAMETERS}): freeze some")
    params = [p for _, p in named]
    with torch.enable_grad():
        loss = batch_loss(loss_fn or nn.functional.mse_loss, model, x, y)
        grads = torch.autograd.grad(loss, params, create_graph=True, allow_unused=True)
        flat = _flat(grads, params)  # (P,); 0 for a parameter the loss does not use
        rows = []
        for k in range(total):
            if not flat[k].requires_grad:  # constant (e.g. linear in this parameter)
                rows.append(torch.zeros_like(flat))
                continue
            second = torch.autograd.grad(flat[k], params, retain_graph=True, allow_unused=True)
            rows.append(_flat(second, params).detach())
    names = [f"{n}[{k}]" for n, p in named for k in range(p.numel())]
    return torch.stack(rows).detach(), names


def _flat(grads, params) -> torch.Tensor:
    return torch.cat([(torch.zeros_like(p) if g is None else g).reshape(-1)
                      for g, p in zip(grads, params)])
