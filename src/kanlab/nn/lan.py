"""Learnable-activation networks (LANs, the KAN paper's Appendix B): an MLP whose activations
are learnable splines on the nodes.

A LAN layer is a linear map followed, on each of its output nodes, by its own activation

    φ_j(z) = w_b,j · b(z) + w_s,j · Σ_m c_jm B_m(z),

the base function ``b`` (SiLU as a KAN's, or SIREN's ``sin(ω z)``, or none) plus a B-spline on a
grid of ``G`` intervals (:class:`NodeActivations`). The last layer's nodes are the outputs, with
no activation, as an MLP's. A LAN of width ``N``, depth ``L`` and grid ``G`` holds about
``N²L`` weights and ``NL(G + k + 2)`` activation parameters: learnable activations cost little.

The grids move as a KAN's: :meth:`LAN.update_grid` places each node's grid from the samples of
its pre-activation (by a grid strategy of :mod:`kanlab.grids`, the KAN's quantile/uniform blend
by default) and moves the spline onto it by least squares; :meth:`LAN.refine_` extends the
grids to more intervals, keeping the function. :func:`kanlab.fit` calls both on its schedule
(``update_grid=``, ``grid_schedule=``) as for a KAN. :meth:`LAN.activations` samples every
node's function for a plot (:func:`kanlab.interpret.lan_plot.plot_lan`, or ``model.plot(x)``).

A LAN with ``base="sine"``, zero splines and ``learn_activations=False`` is SIREN (Sitzmann et
al. 2020: ``sin(ω z)`` activations, ``ω = 30``, with its initialisation); letting the splines
learn turns it into the paper's B.3 image model, and :meth:`LAN.learn_activations_` does that
to a trained SIREN.

Imports: torch, :mod:`kanlab.splines`, :mod:`kanlab.grids`, :mod:`kanlab.errors`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from kanlab._validation import (
    check_choice,
    check_nonnegative_int,
    check_positive_int,
    check_range,
    check_widths,
)
from kanlab.errors import InputError
from kanlab.grids.registry import get_grid_strategy
from kanlab.nn.facade import LANFacade
from kanlab.splines.basis import extended_knots, local_jet, uniform_grid, uniform_spacing
from kanlab.splines.lstsq import transfer_coefficients

__all__ = ["BASES", "LAN", "NodeActivations"]

#: the base functions ``b`` of a node's activation
BASES = ("silu", "sine", "zero")


class NodeActivations(nn.Module):
    """One learnable activation per node: ``φ_j(z) = w_b,j b(z) + w_s,j spline_j(z)``.

    Args:
        n_nodes: number of nodes.
        grid_size, spline_order: the splines' ``G`` intervals and degree ``k``.
        grid_range: the initial grid's ends (every node's).
        base: ``"silu"``, ``"sine"`` (``sin(omega · z)``) or ``"zero"`` (the spline alone).
        omega: the sine's frequency (SIREN's ``ω₀``).
        noise_scale: initial spline coefficients drawn from ``N(0, noise_scale²)`` by
            ``generator`` (0: zero splines, so the activation starts as ``b``).
        generator: local generator for the noise.

    Buffers and parameters: ``knots`` ``(n, G + 2k + 1)``; ``coef`` ``(n, G + k)``;
    ``base_scale`` and ``spline_scale`` ``(n,)``.

    Shape:
        ``(..., n) -> (..., n)``.
    """

    def __init__(self, n_nodes: int, *, grid_size: int = 5, spline_order: int = 3,
                 grid_range: tuple[float, float] = (-1.0, 1.0), base: str = "silu",
                 omega: float = 1.0, noise_scale: float = 0.1,
                 generator: torch.Generator | None = None,
                 dtype: torch.dtype | None = None) -> None:
        super().__init__()
        check_positive_int("n_nodes", n_nodes)
        check_positive_int("grid_size", grid_size)
        check_choice("base", base, BASES)
        check_nonnegative_int("spline_order", spline_order)
        grid_range = check_range("grid_range", grid_range)
        self.k, self.base, self.omega = spline_order, base, float(omega)
        dtype = dtype or torch.get_default_dtype()
        grid = uniform_grid(n_nodes, grid_size, grid_range, dtype=dtype)
        self.register_buffer("knots", extended_knots(grid, spline_order))
        noise = torch.randn(n_nodes, grid_size + spline_order, generator=generator,
                            dtype=dtype) * noise_scale
        self.coef = nn.Parameter(noise)
        self.base_scale = nn.Parameter(torch.ones(n_nodes, dtype=dtype))
        self.spline_scale = nn.Parameter(torch.ones(n_nodes, dtype=dtype))

    @property
    def n_nodes(self) -> int:
        return self.coef.shape[0]

    @property
    def grid_size(self) -> int:
        return self.knots.shape[1] - 2 * self.k - 1

    @property
    def grid(self) -> torch.Tensor:
        """Grid points ``(n, G + 1)`` (the knots without the ``k`` beyond each end)."""
        return self.knots[:, self.k: self.knots.shape[1] - self.k]

    def base_function(self, z: torch.Tensor) -> torch.Tensor:
        if self.base == "silu":
            return nn.functional.silu(z)
        if self.base == "sine":
            return torch.sin(self.omega * z)
        return torch.zeros_like(z)

    def spline(self, z: torch.Tensor) -> torch.Tensor:
        """Each node's spline at ``z`` ``(..., n)`` (without ``w_s``): the ``k + 1`` basis
        functions that are nonzero at each point times their coefficients (differentiable in
        ``z`` and in the coefficients)."""
        flat = z.reshape(-1, z.shape[-1])
        (values,), index = local_jet(flat, self.knots, self.k, 1,
                                     uniform=uniform_spacing(self.knots))
        coef = self.coef.expand(flat.shape[0], -1, -1).gather(-1, index)  # (B, n, k + 1)
        out = (values * coef).sum(-1)  # (B, n)
        return out.reshape(z.shape)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        out = self.base_scale * self.base_function(z)
        if self.coef.requires_grad or bool(self.coef.any()):  # frozen zero splines add 0
            out = out + self.spline_scale * self.spline(z)
        return out

    @torch.no_grad()
    def move_grid(self, z: torch.Tensor, grid: torch.Tensor) -> None:
        """Put the splines on new grid points ``(n, G' + 1)``, keeping their values at the
        samples ``z`` ``(N, n)`` as well as least squares can."""
        knots = extended_knots(grid.to(self.knots.dtype), self.k)
        coef = transfer_coefficients(z.to(self.knots.dtype), self.knots, self.coef.detach()[None],
                                     knots, self.k)[0]
        self.knots = knots
        if coef.shape == self.coef.shape:
            self.coef.copy_(coef)
        else:
            self.coef = nn.Parameter(coef)


class LAN(LANFacade, nn.Module):
    """A learnable-activation network: linear maps, each hidden node followed by its own spline
    activation (:class:`NodeActivations`); the outputs are linear.

    Args:
        widths: nodes from inputs to outputs, e.g. ``[2, 5, 1]`` (at least two layers of nodes).
        grid_size, spline_order, grid_range, noise_scale: the activations' splines.
        base: the activations' base ``"silu"``, ``"sine"`` or ``"zero"``.
        omega: the sine's frequency; ``base="sine"`` also selects SIREN's initialisation of the
            weights (the first layer ``U(−1/in, 1/in)``, the others ``U(±sqrt(6/in)/ω)``).
        grid: a grid strategy of :mod:`kanlab.grids` by name (``"quantile"``) with
            ``grid_options``; it places the grids in :meth:`update_grid`.
        learn_activations: False freezes the splines (coefficients and scales): a LAN then is
            an MLP with activation ``b``.
        seed: seeds a local generator for every initial value (the global RNG is not used);
            None draws a seed from the global RNG.
        dtype, device: where the parameters live.

    Shape:
        ``(..., widths[0]) -> (..., widths[-1])``.
    """

    def __init__(self, widths: Sequence[int], *, grid_size: int = 5, spline_order: int = 3,
                 grid_range: tuple[float, float] = (-1.0, 1.0), base: str = "silu",
                 omega: float = 30.0, noise_scale: float = 0.1, grid: str = "quantile",
                 grid_options: dict | None = None, learn_activations: bool = True,
                 seed: int | None = None, dtype: torch.dtype | None = None,
                 device: torch.device | str | None = None) -> None:
        super().__init__()
        widths = check_widths(widths)
        check_choice("base", base, BASES)
        self.widths, self.base, self.omega = widths, base, float(omega)
        self.grid_strategy = get_grid_strategy(grid, **(grid_options or {}))
        if seed is None:
            seed = int(torch.randint(0, 2**62, (1,)))
        generator = torch.Generator().manual_seed(seed)
        dtype = dtype or torch.get_default_dtype()
        self.linears = nn.ModuleList()
        self.activations_ = nn.ModuleList()
        for depth, (n_in, n_out) in enumerate(zip(widths[:-1], widths[1:])):
            self.linears.append(_linear(n_in, n_out, base, omega, depth == 0, generator, dtype))
            if depth < len(widths) - 2:
                self.activations_.append(NodeActivations(
                    n_out, grid_size=grid_size, spline_order=spline_order,
                    grid_range=grid_range, base=base, omega=omega, noise_scale=noise_scale,
                    generator=generator, dtype=dtype))
        self.learn_activations_(learn_activations)
        if device is not None:
            self.to(device)

    @property
    def in_features(self) -> int:
        return self.widths[0]

    @property
    def out_features(self) -> int:
        return self.widths[-1]

    @property
    def grid_size(self) -> list[int]:
        """Each hidden layer's grid size."""
        return [act.grid_size for act in self.activations_]

    def learn_activations_(self, learn: bool = True) -> LAN:
        """Let the splines' coefficients and scales train (or freeze them); returns self."""
        for act in self.activations_:
            for p in (act.coef, act.base_scale, act.spline_scale):
                p.requires_grad_(learn)
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] != self.widths[0]:
            raise InputError(f"x has {x.shape[-1]} features; the LAN takes {self.widths[0]}")
        for depth, linear in enumerate(self.linears):
            x = linear(x)
            if depth < len(self.activations_):
                x = self.activations_[depth](x)
        return x

    def preactivations(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Each hidden layer's inputs to its activations, ``(N, width)`` each."""
        out = []
        with torch.no_grad():
            for linear, act in zip(self.linears, self.activations_):
                out.append(linear(x))
                x = act(out[-1])
        return out

    @torch.no_grad()
    def update_grid(self, x: torch.Tensor, grid_size: int | None = None) -> None:
        """Place every hidden node's grid from the samples ``x`` ``(N, in)`` of the network's
        inputs (at ``grid_size`` intervals: a refinement when it is new), layer by layer."""
        for linear, act in zip(self.linears, self.activations_):
            z = linear(x)
            size = act.grid_size if grid_size is None else grid_size
            act.move_grid(z, self.grid_strategy.grid_points(z, size, act.grid))
            x = act(z)

    @torch.no_grad()
    def refine_(self, grid_size: int, x: torch.Tensor) -> LAN:
        """Extend every grid to ``grid_size`` intervals over its present range, keeping each
        function (least squares at the pre-activations of ``x``); returns self."""
        check_positive_int("grid_size", grid_size)
        for z, act in zip(self.preactivations(x), self.activations_):
            lo, hi = act.grid[:, :1], act.grid[:, -1:]
            steps = torch.linspace(0, 1, grid_size + 1, dtype=lo.dtype, device=lo.device)
            act.move_grid(z, lo + (hi - lo) * steps)
        return self

    def activations(self, x: torch.Tensor, n_points: int = 101) -> list[dict[str, torch.Tensor]]:
        """Every hidden node's function for a plot: per layer ``{"z": (n_points, width),
        "phi": (n_points, width), "samples": (N, width)}``, ``z`` spanning the range of the
        pre-activations of ``x``."""
        out = []
        for z, act in zip(self.preactivations(x), self.activations_):
            lo, hi = z.amin(0), z.amax(0)
            steps = torch.linspace(0, 1, n_points, dtype=z.dtype, device=z.device)
            grid = lo + (hi - lo) * steps[:, None]
            with torch.no_grad():
                out.append({"z": grid, "phi": act(grid), "samples": z})
        return out


def _linear(n_in: int, n_out: int, base: str, omega: float, first: bool,
            generator: torch.Generator, dtype: torch.dtype) -> nn.Linear:
    """An ``nn.Linear`` initialised from ``generator``: PyTorch's default, or SIREN's for a
    sine base."""
    linear = nn.utils.skip_init(nn.Linear, n_in, n_out, dtype=dtype)
    if base == "sine":
        bound = 1 / n_in if first else math.sqrt(6 / n_in) / omega
    else:
        bound = 1 / math.sqrt(n_in)
    with torch.no_grad():
        linear.weight.uniform_(-bound, bound, generator=generator)
        linear.bias.uniform_(-1 / math.sqrt(n_in), 1 / math.sqrt(n_in), generator=generator)
    return linear
