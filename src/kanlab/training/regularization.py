"""Sparsity regularisation of a KAN (the paper's §2.5.1, eq. 2.17–2.20, and pykan 0.2.8's form).

Both forms score every edge of a layer from a batch, ``v_ji ≥ 0`` ``(out, in)``, and penalise
an L1 term and an entropy term of those scores:

- ``"edge_l1"`` (the paper): ``v_ji = |φ_ji|₁ = mean_s |φ_ji(x_s)|``;
  ``|Φ|₁ = Σ v``, ``S(Φ) = −Σ p log p`` with ``p = v / |Φ|₁``; the penalty is
  ``μ₁ Σ_l |Φ_l|₁ + μ₂ Σ_l S(Φ_l)``.
- ``"edge_std"`` (pykan 0.2.8's default, ``edge_forward_spline_n``):
  ``v_ji = std_s(φ_ji) / (std_s(x_i) + 0.1)`` over the numeric edges only, and the entropy of
  rows and of columns, each normalised with a ``+1`` in the denominator:
  ``μ₁ Σ v + μ₂ (H_row + H_col)``, ``H_row = −mean_j Σ_i p_ji log₂(p_ji + 10⁻⁴)`` with
  ``p_ji = v_ji / (Σ_i v_ji + 1)``.

Coefficient penalties (pykan's ``lamb_coef``, ``lamb_coefdiff``) act on the spline
coefficients directly: ``Σ_{i,m} mean_j |c_jim|`` and the same of their differences along ``m``
(a smoothness penalty).

:class:`Regulariser` puts them together for a model: what ``fit(lamb=...)`` adds to the loss.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from kanlab._validation import check_choice
from kanlab.errors import InputError
from kanlab.nn.model import KAN, LayerTrace

__all__ = [
    "REG_METRICS",
    "Regulariser",
    "coefficient_penalty",
    "edge_scales",
    "sparsity_penalty",
]

REG_METRICS = ("edge_l1", "edge_std")


def edge_scales(
    inputs: torch.Tensor,
    activations: torch.Tensor,
    metric: str = "edge_l1",
    numeric_mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """Every edge's score ``v_ji`` for one layer and batch.

    Args:
        inputs: the layer's inputs ``(B, in)`` (an ensemble's: ``(E, B, in)``).
        activations: its edges' activations ``(B, out, in)`` (``(E, B, out, in)``).
        metric: ``"edge_l1"`` or ``"edge_std"`` (see the module docstring).
        numeric_mask: ``(out, in)`` (``(E, 1, out, in)``), for ``"edge_std"``: only numeric
            edges are scored.

    Returns:
        ``(out, in)`` (``(E, out, in)``), differentiable.
    """
    check_choice("reg_metric", metric, REG_METRICS)
    if metric == "edge_l1":
        return activations.abs().mean(-3)
    acts = activations if numeric_mask is None else activations * numeric_mask
    return acts.std(-3) / (inputs.std(-2).unsqueeze(-2) + 0.1)


def _entropy(p: torch.Tensor, dim: int | tuple[int, ...], log) -> torch.Tensor:
    """``−Σ p log(p + tiny)`` over ``dim``: finite, with finite gradients, where ``p`` is 0
    (dead edges)."""
    terms = p * log(p + 1e-30 if log is torch.log else p + 1e-4)
    return -terms.sum(dim)


def sparsity_penalty(
    scales: Sequence[torch.Tensor], *, l1: float = 1.0, entropy: float = 2.0,
    metric: str = "edge_l1",
) -> torch.Tensor:
    """The L1 + entropy penalty of every layer's edge scores (see the module docstring).

    Args:
        scales: one ``(out, in)`` tensor of :func:`edge_scales` per layer (an ensemble's:
            ``(E, out, in)``, one penalty per member).
        l1, entropy: the weights ``μ₁`` and ``μ₂``.
        metric: the form, ``"edge_l1"`` (paper) or ``"edge_std"`` (pykan 0.2.8).

    Returns:
        A scalar tensor (an ensemble's: ``(E,)``).
    """
    check_choice("reg_metric", metric, REG_METRICS)
    if not scales:
        raise InputError("sparsity_penalty needs at least one layer's edge scores")
    total = scales[0].new_zeros(scales[0].shape[:-2])
    for v in scales:
        if metric == "edge_l1":
            norm = v.sum((-2, -1))
            p = v / (norm[..., None, None] + 1e-30)
            total = total + l1 * norm + entropy * _entropy(p, (-2, -1), torch.log)
        else:
            rows = v / (v.sum(-1, keepdim=True) + 1)
            cols = v / (v.sum(-2, keepdim=True) + 1)
            h = _entropy(rows, -1, torch.log2).mean(-1) + _entropy(cols, -2, torch.log2).mean(-1)
            total = total + l1 * v.sum((-2, -1)) + entropy * h
    return total


def coefficient_penalty(
    coefs: Sequence[torch.Tensor], *, magnitude: float = 0.0, smoothness: float = 0.0
) -> torch.Tensor:
    """``magnitude · Σ_{i,m} mean_j |c_jim| + smoothness · (the same of Δ_m c)`` over layers.

    Args:
        coefs: each layer's spline coefficients ``(out, in, n_basis)`` (an ensemble's:
            ``(E, out, in, n_basis)``, one penalty per member).
        magnitude, smoothness: pykan's ``lamb_coef`` and ``lamb_coefdiff``.
    """
    total = coefs[0].new_zeros(coefs[0].shape[:-3])
    for c in coefs:
        if magnitude:
            total = total + magnitude * c.abs().mean(-3).sum((-2, -1))
        if smoothness and c.shape[-1] > 1:
            total = total + smoothness * c.diff(dim=-1).abs().mean(-3).sum((-2, -1))
    return total


@dataclass(frozen=True)
class Regulariser:
    """``λ · penalty``: the sparsity penalty of a KAN's edges on a batch plus its coefficient
    penalties, as ``fit(lamb=..., lamb_l1=..., ...)`` adds them to the loss.

    Args:
        lamb: ``λ``; 0 turns the regularisation off (:attr:`active` is False).
        l1, entropy: ``μ₁`` and ``μ₂`` of :func:`sparsity_penalty`.
        coef, coefdiff: ``magnitude`` and ``smoothness`` of :func:`coefficient_penalty`.
        metric: ``"edge_l1"`` (paper) or ``"edge_std"`` (pykan 0.2.8).
        scales_fn: scores the edges of one layer like :func:`edge_scales` (multi-process
            training passes :func:`kanlab.training.distributed.global_edge_scales`).

    Raises:
        InputError: an unknown ``metric``, or ``lamb`` negative or not finite.
    """

    lamb: float = 0.0
    l1: float = 1.0
    entropy: float = 2.0
    coef: float = 0.0
    coefdiff: float = 0.0
    metric: str = "edge_l1"
    scales_fn: Callable[..., torch.Tensor] = edge_scales

    def __post_init__(self) -> None:
        check_choice("reg_metric", self.metric, REG_METRICS)
        if self.lamb < 0 or not math.isfinite(self.lamb):
            raise InputError(f"lamb must be a finite non-negative number; got {self.lamb!r}")

    @property
    def active(self) -> bool:
        """Whether ``λ > 0`` (otherwise nothing of the penalty is computed)."""
        return self.lamb > 0

    def for_model(self, model: nn.Module) -> Regulariser:
        """This regulariser, after checking that it can act on ``model``.

        Raises:
            InputError: the regularisation is on and ``model`` is not a KAN.
        """
        if self.active and not isinstance(model, KAN):
            raise InputError("sparsity regularisation (lamb > 0) needs a kanlab.KAN model")
        return self

    def penalty(self, model: KAN, traces: Sequence[LayerTrace]) -> torch.Tensor:
        """The penalty (without ``λ``) of a batch, from ``model.trace(x)``'s traces; a scalar
        (an :class:`~kanlab.nn.ensemble.Ensemble`'s: one per member, ``(E,)``),
        differentiable."""
        scales = [
            self.scales_fn(t.inputs, t.activations, self.metric, _batch_axis(layer.numeric_mask()))
            for t, layer in zip(traces, model.layers)
        ]
        reg = sparsity_penalty(scales, l1=self.l1, entropy=self.entropy, metric=self.metric)
        if self.coef or self.coefdiff:
            reg = reg + coefficient_penalty([layer.coef for layer in model.layers],
                                            magnitude=self.coef, smoothness=self.coefdiff)
        return reg


def _batch_axis(mask: torch.Tensor) -> torch.Tensor:
    """A layer's numeric mask ``(out, in)`` as it is; an ensemble's ``(E, out, in)`` with the
    batch axis of its activations, ``(E, 1, out, in)``."""
    return mask if mask.dim() == 2 else mask.unsqueeze(-3)
