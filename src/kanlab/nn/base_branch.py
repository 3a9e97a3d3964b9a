"""The base branch of every edge: ``w_b · b(u)`` with ``b`` SiLU by default (the KAN paper's).

``u`` is the edge's raw input ``x`` or, in a standardising (DKAN) layer with
``base_input="standardized"``, what the splines see. The weights ``w_b`` are the layer's
``base_scale`` ``(out, in)``. An outer :class:`~kanlab.nn.branch.EdgeBranch`.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from kanlab._autodiff import elementwise_jet
from kanlab._validation import check_choice
from kanlab.errors import InputError

__all__ = ["BASE_FUNCTIONS", "BASE_INPUTS", "BaseBranch"]


def _identity(x: torch.Tensor) -> torch.Tensor:
    return x


BASE_FUNCTIONS: dict[str, Callable[[torch.Tensor], torch.Tensor] | None] = {
    "silu": F.silu,
    "identity": _identity,
    "tanh": torch.tanh,
    "gelu": F.gelu,
    "zero": None,
}

BASE_INPUTS = ("raw", "standardized")


class BaseBranch:
    """``w_b,ji · b(u_i)`` on every edge; no GEMM column at all without a base function.

    Args:
        fn: a name of :data:`BASE_FUNCTIONS` (``"zero"``: no base branch) or a callable.
        base_input: ``"raw"`` (``u = x``) or ``"standardized"`` (``u = z``).

    Attributes:
        fn: the elementwise function, or None.
        name: its name, or None for a callable.
    """

    param = "base_scale"
    inside_spline = False

    def __init__(self, fn: str | Callable[[torch.Tensor], torch.Tensor] = "silu",
                 base_input: str = "raw") -> None:
        if isinstance(fn, str):
            check_choice("base_fn", fn, BASE_FUNCTIONS)
            self.name: str | None = fn
            self.fn = BASE_FUNCTIONS[fn]
        elif callable(fn):
            self.name, self.fn = None, fn
        else:
            raise InputError(f"base_fn must be a name or a callable; got {fn!r}")
        self.base_input = check_choice("base_input", base_input, BASE_INPUTS)

    def _input(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return x if self.base_input == "raw" else z

    def make_parameter(self, out_features: int, in_features: int, **factory) -> nn.Parameter:
        return nn.Parameter(torch.empty(out_features, in_features, **factory))

    def n_columns(self, in_features: int) -> int:
        return in_features if self.fn is not None else 0

    def columns(self, x, z, knots):
        return [] if self.fn is None else [self.fn(self._input(x, z))]

    def weights(self, coef, scale):
        return [] if self.fn is None else [coef * scale]

    def values(self, x, z, knots, coef):
        if self.fn is None:
            return None
        return self.fn(self._input(x, z)).unsqueeze(1) * coef  # (B, out, in)

    def derivative(self, x, z, dz, knots, coef, order):
        """By autograd on the elementwise function (no Hessian is formed); chain rule through
        the running statistics for a standardised input."""
        if self.fn is None:
            return None
        raw = self.base_input == "raw" or dz is None
        with torch.enable_grad():
            u = (x if raw else z).clone().requires_grad_()
            d = self.fn(u)
            for _ in range(order):
                if not d.requires_grad:  # the previous derivative was constant
                    d = torch.zeros_like(u)
                    break
                (d,) = torch.autograd.grad(d.sum(), u, create_graph=True)
        d = d.detach() if raw else d.detach() * dz**order  # (B, in)
        return d.unsqueeze(1) * coef

    def jet_columns(self, h, dh, d2h, knots):
        if self.fn is None:
            return [], [], []
        batch, n_dim = dh.shape[0], dh.shape[1]
        v0, v1, v2 = elementwise_jet(self.fn, h)  # (B, in) each
        first = (v1.unsqueeze(1) * dh).reshape(batch * n_dim, -1)  # (B·D, in)
        second = (v2.unsqueeze(1) * dh * dh + v1.unsqueeze(1) * d2h).reshape(batch * n_dim, -1)
        return [v0], [first], [second]

    def transfer_terms(self, z, old_knots, new_knots, coef):
        return None  # the base function does not depend on the knots

    def reset_(self, coef, std, generator, draw):
        """``std`` None: Xavier-uniform ``U(±√(6/(in + out)))`` (the paper's)."""
        base = torch.empty(coef.shape, **draw)
        if std is None:
            bound = math.sqrt(6.0 / (coef.shape[0] + coef.shape[1]))
            base.uniform_(-bound, bound, generator=generator)
        elif isinstance(std, torch.Tensor):
            base.normal_(0.0, 1.0, generator=generator).mul_(std.to(**draw))
        elif std > 0:
            base.normal_(0.0, std, generator=generator)
        else:
            base.zero_()
        coef.copy_(base)
