"""The interface of an edge branch: a term of every numeric edge besides its spline.

A numeric edge of a :class:`~kanlab.nn.layer.KANLinear` is

    ``φ_ji(x) = mask_ji · (Σ_outer v_ji(x) + w_s,ji · (spline_ji(z) + Σ_inner v_ji(z)))``

where ``z`` is what the splines see (``x``, or ``x`` standardised). Every ``v`` is a *branch*:
per-input features times per-edge coefficients, one more block of columns in the layer's GEMM.
The base branch ``w_b·b(x)`` (:mod:`kanlab.nn.base_branch`) is *outer*; the linear tails beyond
the grid (:mod:`kanlab.nn.tails`) are *inner*: more basis functions of the spline, in ``z``,
scaled by ``w_s`` with it. A new kind of edge term is a new class with these methods, listed
in the layer's ``branches``; the layer's forward, edge values, derivatives, grid moves and
``select`` then handle it without new code.

Each branch's coefficients are a parameter of the layer named :attr:`EdgeBranch.param`, shape
``(out, in)`` or ``(out, in, t)`` (edges first, ``(out, in)`` like ``nn.Linear.weight``), so the
state-dict keys are the layer's own. ``knots`` below is the layer's ``(in, G + 2k + 1)`` buffer.
"""

from __future__ import annotations

from typing import Protocol

import torch
from torch import nn

__all__ = ["EdgeBranch"]


class EdgeBranch(Protocol):
    """What a layer asks of an edge branch (see the module docstring)."""

    #: name of the layer parameter holding the branch's per-edge coefficients
    param: str
    #: True: in ``z``, scaled by ``w_s`` together with the spline (a spline's extra bases)
    inside_spline: bool

    def make_parameter(self, out_features: int, in_features: int, **factory) -> nn.Parameter:
        """The coefficients, uninitialised."""

    def n_columns(self, in_features: int) -> int:
        """Columns the branch adds to the GEMM per sample."""

    def columns(self, x: torch.Tensor, z: torch.Tensor, knots: torch.Tensor
                ) -> list[torch.Tensor]:
        """The GEMM columns: ``(B, in)`` raw and standardised inputs -> blocks ``(B, in)``."""

    def weights(self, coef: torch.Tensor, scale: torch.Tensor) -> list[torch.Tensor]:
        """The GEMM weights ``(out, in)``, one per column block; ``scale`` ``(out, in)`` is the
        numeric mask, times ``w_s`` for an inner branch."""

    def values(self, x: torch.Tensor, z: torch.Tensor, knots: torch.Tensor,
               coef: torch.Tensor) -> torch.Tensor | None:
        """The term on every edge, ``(B, out, in)``, unmasked (inner: before ``w_s``)."""

    def derivative(self, x: torch.Tensor, z: torch.Tensor, dz: torch.Tensor | None,
                   knots: torch.Tensor, coef: torch.Tensor, order: int) -> torch.Tensor | None:
        """``order``-th derivative of :meth:`values`: inner branches in ``z``, outer ones in
        ``x`` (``dz`` ``(in,)`` is ``dz/dx``, None without standardisation)."""

    def jet_columns(self, h: torch.Tensor, dh: torch.Tensor, d2h: torch.Tensor,
                    knots: torch.Tensor) -> tuple[list, list, list]:
        """Columns of the value, first- and second-derivative GEMMs of
        :meth:`~kanlab.nn.layer.KANLinear.forward_derivatives`: ``(B, in)`` blocks, then
        ``(B·D, in)`` blocks twice (``dh``, ``d2h`` ``(B, D, in)``)."""

    def transfer_terms(self, z: torch.Tensor, old_knots: torch.Tensor, new_knots: torch.Tensor,
                       coef: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor] | None:
        """What the splines must absorb when the knots move (inner branches): features
        ``(N, in, t)`` and coefficients ``(out, in, t)`` of the branch's old minus new value at
        the samples ``z``; None when moving the knots does not change the branch."""

    def reset_(self, coef: torch.Tensor, std: float | torch.Tensor | None,
               generator: torch.Generator | None, draw: dict) -> None:
        """Draw the initial coefficients in place: ``N(0, std²)`` (``std`` a number or one per
        input), zeros for ``std = 0`` (no draw), the branch's own default for None. ``draw`` is
        the device and dtype to draw on (the generator's device)."""
