"""Losses that see the model and the batch inputs, not only its predictions (pykan's
``pred_fn``): physics-informed losses, whose residuals need the model's derivatives.

``fit(model, data, loss_fn=ModelLoss(fn))`` trains on ``fn(model, x, y)`` for each batch
``(x, y)`` -- the collocation points and whatever labels the data carries (zeros will do) --
with everything else of ``fit``: grid updates under their guard (judged by the same loss), the
grid schedule, the sparsity penalty, validation. :func:`batch_loss` is the one place where
``fit``'s parts evaluate a loss, either kind.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from kanlab.errors import InputError

__all__ = ["ModelLoss", "batch_loss", "custom_loss"]


class ModelLoss:
    """A loss ``fn(model, x, y) -> scalar`` (a mean over the batch), for ``fit``'s ``loss_fn``.

    Args:
        fn: takes the model, the batch inputs ``(B, in)`` and labels ``(B, ...)``; returns a
            scalar tensor that autograd can differentiate in the parameters. It runs with
            gradients on (also where ``fit`` evaluates without them), so it may differentiate
            the model in its inputs.

    Example::

        >>> def poisson(model, x, y):  # Δu = f inside: the residual's mean square
        ...     u, du, d2u = model.forward_derivatives(x)
        ...     return (d2u.sum(1) - source(x)).square().mean()
        >>> fit(model, {"train_input": points, "train_label": zeros}, loss_fn=ModelLoss(poisson))
    """

    def __init__(self, fn: Callable[[nn.Module, torch.Tensor, torch.Tensor], torch.Tensor]
                 ) -> None:
        if not callable(fn):
            raise InputError(f"ModelLoss needs a callable fn(model, x, y); got {fn!r}")
        self.fn = fn

    def __call__(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        with torch.enable_grad():
            value = self.fn(model, x, y)
        if not isinstance(value, torch.Tensor) or value.numel() != 1:
            raise InputError(f"a ModelLoss must return a scalar tensor; got {value!r}")
        return value.reshape(())

    def __repr__(self) -> str:
        return f"ModelLoss({getattr(self.fn, '__name__', self.fn)!r})"


def batch_loss(loss_fn: Callable, model: nn.Module, x: torch.Tensor, y: torch.Tensor,
               pred: torch.Tensor | None = None) -> torch.Tensor:
    """The loss of ``model`` on the batch: ``loss_fn(model, x, y)`` for a :class:`ModelLoss`,
    else ``loss_fn(pred, y)`` with ``pred = model(x)`` unless given."""
    if isinstance(loss_fn, ModelLoss):
        return loss_fn(model, x, y)
    return loss_fn(model(x) if pred is None else pred, y)


def custom_loss(loss_fn: Callable | None) -> bool | str:
    """What ``fit``'s label checks allow: ``"model"`` for a :class:`ModelLoss` (labels of any
    shape: the loss reads them, not a comparison with the outputs), True for another loss
    (labels ``(N,)`` allowed), False for the default mean squared error."""
    return "model" if isinstance(loss_fn, ModelLoss) else loss_fn is not None
