"""Variance-balancing initialisation of a KAN layer (jaxKAN's ``"glorot_fine"``).

The paper's initialisation (pykan's, :meth:`kanlab.nn.layer.KANLinear.reset_parameters`) draws
every spline coefficient from ``N(0, 0.1²)`` and the base weights from Xavier. Rigas et al.
("Towards deep physics-informed KANs", and the importance-density paper's code
``srigas/kan_grid``) instead balance the variance of each term of the layer, forward and
backward, Glorot-style, with one standard deviation per basis function ("fine").

For inputs ``x ~ U(a, b)`` (the grid's ends; gain ``g = (b − a)/√12``, the input's std), with
``n = G + k + 1`` terms per edge (``G + k`` bases and the base function ``r``), ``s_in = in·n``
and ``s_out = out·n``:

* base weights ``w_b ~ N(0, g² · 2 / (s_in·E[r²] + s_out·E[r′²]))``;
* spline coefficients ``c_m ~ N(0, g² / (s_in·E[B_m²] + s_out·E[B_m′²]))``, per basis ``m``;
* ``w_s = 1`` and the bias 0.

Without a base function (``base_fn="zero"``) ``n = G + k`` and there are no base weights. The
expectations are exact here (Gauss-Legendre on each knot interval); jaxKAN estimates them from
10 000 uniform samples, so its standard deviations differ from these by about 1 %.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from kanlab._autodiff import elementwise_jet
from kanlab.splines.basis import bspline_basis

__all__ = ["INITIALIZATIONS", "glorot_fine_std", "initialize_", "sparse_mask", "uniform_moments"]

INITIALIZATIONS = ("pykan", "glorot_fine")
_NODES_PER_INTERVAL = 16  # exact for B-spline products up to degree 31; ~1e-15 for SiLU


def _quadrature(a: float, b: float, breaks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Composite Gauss-Legendre nodes and weights on [a, b], split at ``breaks``.

    The weights sum to 1: they give ``E[f(x)]`` for ``x ~ U(a, b)``.
    """
    cuts = np.unique(np.concatenate([[a, b], breaks[(breaks > a) & (breaks < b)]]))
    t, w = np.polynomial.legendre.leggauss(_NODES_PER_INTERVAL)
    lo, hi = cuts[:-1, None], cuts[1:, None]
    nodes = (lo + hi) / 2 + (hi - lo) / 2 * t
    weights = (hi - lo) / 2 * w / (b - a)
    return nodes.ravel(), weights.ravel()


def uniform_moments(
    knots: torch.Tensor, k: int, base_fn: Callable[[torch.Tensor], torch.Tensor] | None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Second moments of the bases and the base function under ``x ~ U(grid ends)``, per input.

    Args:
        knots: ``(in, G + 2k + 1)`` knot vectors (the grid is ``knots[:, k:-k]``).
        k: spline degree.
        base_fn: the base function ``r``, or None.

    Returns:
        ``E[B_m²]`` and ``E[B_m′²]``, each ``(in, G + k)``; ``E[r²]`` and ``E[r′²]``, each
        ``(in,)`` (zeros without a base function); and the gain ``(b − a)/√12``, ``(in,)``.
    """
    n_in = knots.shape[0]
    kn = knots.detach().to("cpu", torch.float64)
    grid = kn[:, k : kn.shape[1] - k]
    mu0, mu1, r0, r1, gain = [], [], [], [], []
    for i in range(n_in):
        a, b = float(grid[i, 0]), float(grid[i, -1])
        nodes, weights = _quadrature(a, b, kn[i].numpy())
        x = torch.from_numpy(nodes).to(torch.float64)
        w = torch.from_numpy(weights).to(torch.float64)
        row = kn[i : i + 1]
        values = bspline_basis(x[:, None], row, k)[:, 0]  # (nodes, nb)
        slopes = bspline_basis(x[:, None], row, k, derivative=1)[:, 0]
        mu0.append(w @ values.square())
        mu1.append(w @ slopes.square())
        if base_fn is None:
            r0.append(x.new_zeros(()))
            r1.append(x.new_zeros(()))
        else:
            r, dr, _ = (v.detach() for v in elementwise_jet(base_fn, x))
            r0.append(w @ r.square())
            r1.append(w @ dr.square())
        gain.append(x.new_tensor((b - a) / math.sqrt(12.0)))
    return (torch.stack(mu0), torch.stack(mu1), torch.stack(r0), torch.stack(r1),
            torch.stack(gain))


def glorot_fine_std(
    knots: torch.Tensor,
    k: int,
    out_features: int,
    base_fn: Callable[[torch.Tensor], torch.Tensor] | None,
) -> tuple[torch.Tensor | None, torch.Tensor]:
    """Standard deviations of the ``"glorot_fine"`` initialisation (see the module docstring).

    Args:
        knots: ``(in, G + 2k + 1)`` knot vectors.
        k: spline degree.
        out_features: the layer's outputs.
        base_fn: the base function, or None for a layer without one.

    Returns:
        The base weights' std, ``(in,)`` (None without a base function), and the spline
        coefficients' std, ``(in, G + k)``; both float64 on the CPU.
    """
    mu0, mu1, r0, r1, gain = uniform_moments(knots, k, base_fn)
    n_in, nb = mu0.shape
    terms = nb + (1 if base_fn is not None else 0)
    s_in, s_out = n_in * terms, out_features * terms
    coef_std = gain[:, None] * torch.rsqrt(s_in * mu0 + s_out * mu1)
    if base_fn is None:
        return None, coef_std
    base_std = gain * torch.sqrt(2.0 / (s_in * r0 + s_out * r1))
    return base_std, coef_std


@torch.no_grad()
def initialize_(layer: nn.Module, generator: torch.Generator | None = None) -> None:
    """Draw the initial parameters of the :class:`~kanlab.nn.layer.KANLinear` ``layer`` in
    place, by its ``init`` scheme.

    ``"pykan"``: ``c ~ N(0, init_noise²)``, ``w_s = 1``, ``w_b`` Xavier-uniform;
    ``"glorot_fine"``: the standard deviations of :func:`glorot_fine_std`. Inner edge branches
    (linear tails) are drawn like the spline's coefficients, ``N(0, init_noise²)``; the bias is
    zero. The draws come in a fixed order -- spline coefficients, inner branches, then outer
    branches (the base weights) -- so a seed gives the same layer whatever the device: they are
    drawn where the generator lives (a CPU generator can seed a CUDA layer) and copied.
    """
    gen_device = generator.device if generator is not None else layer.coef.device
    draw = {"device": gen_device, "dtype": layer.coef.dtype}
    coef = torch.empty(layer.coef.shape, **draw)
    base_std: torch.Tensor | float | None = None  # pykan: the base branch's own (Xavier)
    if layer.init == "glorot_fine":
        base_std, coef_std = glorot_fine_std(layer.knots, layer.spline_order,
                                             layer.out_features, layer.base_fn)
        base_std = 0.0 if base_std is None else base_std  # no base function: zero weights
        coef.normal_(0.0, 1.0, generator=generator).mul_(coef_std.to(**draw))
    else:
        coef.normal_(0.0, layer.init_noise, generator=generator)
    layer.coef.copy_(coef)
    for branch in layer.branches:
        if branch.inside_spline:
            branch.reset_(getattr(layer, branch.param), layer.init_noise, generator, draw)
    layer.spline_scale.fill_(1.0)
    for branch in layer.branches:
        if not branch.inside_spline:
            branch.reset_(getattr(layer, branch.param), base_std, generator, draw)
    if layer.bias is not None:
        layer.bias.zero_()


def sparse_mask(in_features: int, out_features: int) -> torch.Tensor:
    """A sparse initial edge mask ``(out, in)`` of 0/1 (pykan's ``sparse_init``): nearest
    neighbours between the two rows of nodes.

    Node ``i`` of a row of ``n`` sits at ``(i + ½)/n`` in ``[0, 1]``; every input is joined to
    the output nearest to it and every output to the input nearest to it (the lower index on a
    tie), so every node keeps at least one edge, equal widths give the identity, and
    ``sparse_mask(a, b) == sparse_mask(b, a).T``.
    """
    a = (torch.arange(in_features, dtype=torch.float64) + 0.5) / in_features
    b = (torch.arange(out_features, dtype=torch.float64) + 0.5) / out_features
    distance = (b[:, None] - a[None, :]).abs()  # (out, in)
    mask = torch.zeros(out_features, in_features)
    mask[distance.argmin(0), torch.arange(in_features)] = 1.0  # each input's nearest output
    mask[torch.arange(out_features), distance.argmin(1)] = 1.0  # each output's nearest input
    return mask

