"""Running per-input standardisation, as DKAN puts in front of its splines.

DKAN (Gong 2024) keeps a running mean and variance of every input of a layer, updated in training
mode with momentum ``γ`` like batch normalisation and frozen in eval mode, and evaluates its
splines at the standardised input ``z = (x − μ)/σ`` on a fixed grid of normal quantiles.

Two variants exist and both are offered:

``"batch"`` (the public code, ``SignorinoY/DKAN``)
    exactly ``torch.nn.BatchNorm1d(affine=False)``: in training the batch is standardised with its
    own mean and (biased) variance, and the running variance is updated with the unbiased one.
``"running"`` (the paper, Algorithm 1)
    the running statistics are updated first (with the biased batch variance of eq. 8) and the
    batch is standardised with them, in training as in evaluation.

The batch statistics come from :meth:`RunningStandardize.batch_moments`; training on several
processes replaces it (:func:`kanlab.training.distributed.synced_statistics`) by one that reduces
the statistics over every process's batch, like ``torch.nn.SyncBatchNorm``.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext

import torch
from torch import nn

from kanlab._modes import evaluating
from kanlab._validation import check_choice, check_positive_int
from kanlab.errors import InputError

__all__ = ["STANDARDIZE_MODES", "RunningStandardize", "frozen", "standardized"]

STANDARDIZE_MODES = ("batch", "running")


class RunningStandardize(nn.Module):
    """``z = (x − μ)/sqrt(σ² + eps)`` per input with running statistics.

    Args:
        num_features: inputs ``in``.
        momentum: ``γ`` in ``(0, 1]``: ``μ ← (1 − γ)μ + γ μ_B`` (and the same for ``σ²``).
        mode: ``"batch"`` (DKAN's code, BatchNorm semantics) or ``"running"`` (DKAN's paper).
        eps: added to the variance.

    Shape: ``(B, in) -> (B, in)``. Buffers ``running_mean`` (0 at start), ``running_var`` (1 at
    start) and ``num_batches_tracked``.
    """

    #: ``moments(x) -> (mean, biased variance, count)`` of a training batch ``x`` ``(B, in)``,
    #: differentiable; ``None`` (the default) computes them from ``x`` alone. Not saved.
    moments_fn: Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor, int]] | None = None

    def __init__(
        self,
        num_features: int,
        momentum: float = 0.1,
        mode: str = "batch",
        eps: float = 1e-5,
        *,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        self.num_features = check_positive_int("num_features", num_features)
        if not 0.0 < momentum <= 1.0:
            raise InputError(f"momentum (γ) must lie in (0, 1]; got {momentum!r}")
        self.momentum = float(momentum)
        self.mode = check_choice("mode", mode, STANDARDIZE_MODES)
        if eps < 0:
            raise InputError(f"eps must be non-negative; got {eps!r}")
        self.eps = float(eps)
        factory = {"device": device, "dtype": dtype}
        self.register_buffer("running_mean", torch.zeros(num_features, **factory))
        self.register_buffer("running_var", torch.ones(num_features, **factory))
        self.register_buffer(
            "num_batches_tracked", torch.tensor(0, dtype=torch.long, device=device)
        )

    def extra_repr(self) -> str:
        return f"{self.num_features}, momentum={self.momentum}, mode={self.mode!r}, eps={self.eps}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return (x - self.running_mean) / torch.sqrt(self.running_var + self.eps)
        mean, var, n = self.batch_moments(x)
        if n < 2:
            raise InputError(
                f"standardising with batch statistics needs at least 2 samples; got {n}"
                " (call .eval() to use the running statistics)"
            )
        with torch.no_grad():
            g = self.momentum
            new_var = var * n / (n - 1) if self.mode == "batch" else var  # BatchNorm: unbiased
            self.running_mean.mul_(1 - g).add_(g * mean.detach())
            self.running_var.mul_(1 - g).add_(g * new_var.detach())
            self.num_batches_tracked += 1
        if self.mode == "batch":
            return (x - mean) / torch.sqrt(var + self.eps)
        return (x - self.running_mean) / torch.sqrt(self.running_var + self.eps)

    def batch_moments(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, int]:
        """Mean ``(in,)``, biased variance ``(in,)`` and sample count of the batch ``x``.

        Those of ``x`` itself, or what :attr:`moments_fn` returns when it is set (the moments
        of the batches of every process).
        """
        if self.moments_fn is not None:
            return self.moments_fn(x)
        return x.mean(0), x.var(0, unbiased=False), x.shape[0]

    def transform(self, x: torch.Tensor) -> torch.Tensor:
        """What :meth:`forward` returns in the current mode, without updating any statistics."""
        if self.training and self.mode == "batch":
            mean, var, _ = self.batch_moments(x)
            return (x - mean) / torch.sqrt(var + self.eps)
        return (x - self.running_mean) / torch.sqrt(self.running_var + self.eps)

    def scale(self) -> torch.Tensor:
        """``dz/dx = 1/sqrt(σ² + eps)`` per input in eval mode: ``(in,)``."""
        return 1.0 / torch.sqrt(self.running_var + self.eps)

    def select(self, index: torch.Tensor) -> RunningStandardize:
        """A copy for the inputs ``index`` ``(in',)`` (in that order), with their statistics."""
        new = copy.deepcopy(self)
        new.num_features = len(index)
        new.running_mean = self.running_mean[index].clone()
        new.running_var = self.running_var[index].clone()
        return new


def standardized(
    standardize: RunningStandardize | None, x: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """``z`` as a layer's forward pass computes it, without updating statistics, and ``dz/dx``.

    ``dz/dx`` ``(in,)`` is that of the running statistics. Without standardisation (None):
    ``(x, None)``. Shape of ``z``: that of ``x``, ``(B, in)``.
    """
    if standardize is None:
        return x, None
    return standardize.transform(x), standardize.scale()


def frozen(standardize: RunningStandardize | None) -> AbstractContextManager:
    """A block in which ``standardize`` uses its running statistics and never updates them
    (its training flag is restored afterwards); nothing for None."""
    return nullcontext() if standardize is None else evaluating(standardize)
