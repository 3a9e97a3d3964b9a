"""Importance-density grid adaptation: knots where a density of the batch says they are needed.

A grid of ``G`` intervals is placed by inverting a weighted empirical CDF of the batch (per input)
at the levels ``j/G``: interval ``j`` then carries ``1/G`` of the batch's importance. The
importance density decides what matters:

``input``
    every sample weighs 1: knots at sample quantiles.
``curvature``
    ``w_si = Σ_j |φ''_ji(x_si)|``: the diagonal of the layer's Hessian, per input, from the
    edges' second derivatives (closed form; no autograd Hessian).
``gradient``
    ``w_si = Σ_j |φ'_ji(x_si)|``.
``curvature_network``
    the reference code's rule (``srigas/kan_grid``): one weight per sample, ``Σ_d Σ_o
    |f_o(x + h e_d) − 2 f_o(x) + f_o(x − h e_d)| / h²`` of the whole network ``f`` at its input
    (``h = 1e-3``), used for every layer.
``loss``
    the per-sample loss of the network (needs the targets).

**The exponent.** A degree-``k`` spline's error on an interval of width ``h`` is about
``h^(k+1)·|f^(k+1)|``. Minimising the squared error summed over the samples (density ``p``) for
a fixed number of knots puts the knot density at ``ρ ∝ (p·|f^(k+1)|²)^(1/(2k+3))``. The weights
stand in for ``f^(k+1)`` through a lower derivative ``f^(m)``: a feature of height ``A`` and
width ``ℓ`` has ``f^(m) ~ A/ℓ^m``, so ``|f^(k+1)| ~ |f^(m)|^((k+1)/m)`` at fixed height, and the
knots go at the ``w^e`` weighted quantiles with ``e = 2(k+1)/(m(2k+3))``: ``(k+1)/(2k+3)`` for
the curvatures (``m = 2``; 4/9 for cubic splines, and exact for linear ones, 2/5), twice that for
``gradient`` (``m = 1``). The squared error itself (``loss``) gets ``e = 1/(2k+3)``. In every case
the interval width follows the feature's width ``ℓ`` and the height enters only weakly. (Weights
on the samples put the knots at density ``p·w^e``: in the data, where coefficients can be
fitted; the theory's ``p^(1/(2k+3))`` would spend knots on empty stretches.)

**The floor.** A density concentrated on one sharp feature draws every knot into it, and
repeated adaptation compounds it (the paper's rule, power 1 and no floor, ends with eight of
ten intervals inside 0.05 of the range on ``tanh(30(x + 0.2)) + 0.5x²``). By default the
weighted quantiles are then moved, as little as possible, so that no interval is narrower than
``floor`` (0.1) of the uniform one (:func:`kanlab.grids.floor.floor_intervals`): collapse is
impossible, not just unlikely, and a grid that needs no floor is left as it is.

The inverse of the weighted CDF is the step function ``x_(i)`` with
``i = max{i : Σ_{l<i} w_(l) ≤ W·j/G}`` over the sorted samples, and the end points are the
batch's minimum and maximum: with equal weights exactly ``x_(floor(N·j/G))``, the core's
quantile rule (:func:`weighted_quantile_grid`).
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch

from kanlab._validation import check_choice
from kanlab.errors import InputError
from kanlab.grids.base import GridStrategy, check_guard
from kanlab.grids.floor import floor_intervals

if TYPE_CHECKING:  # pragma: no cover
    from torch import nn

__all__ = [
    "DENSITIES",
    "DERIVATIVE_ORDERS",
    "DensityGrid",
    "density_exponent",
    "GridContext",
    "network_curvature",
    "weighted_quantile_grid",
]


def weighted_quantile_grid(x: torch.Tensor, w: torch.Tensor, grid_size: int) -> torch.Tensor:
    """Grid points at the weighted quantiles ``j/G`` of every input.

    Args:
        x: samples ``(N, in)``.
        w: non-negative, finite importance weights ``(N, in)`` or ``(N,)`` (one per sample). An
            input whose weights are all zero (a straight line has no curvature) falls back to
            equal weights.
        grid_size: number of intervals ``G``.

    Returns:
        ``(in, G + 1)``: the batch minimum, the ``G − 1`` inner quantiles, the batch maximum.
    """
    n, n_in = x.shape
    if w.dim() == 1:
        w = w.unsqueeze(1).expand(n, n_in)
    if w.shape != x.shape:
        raise InputError(
            f"weights have shape {tuple(w.shape)}; expected {tuple(x.shape)} or ({n},)"
        )
    w = w.to(torch.float64)
    if not bool(torch.isfinite(w).all()) or bool((w < 0).any()):
        raise InputError("importance weights must be finite and non-negative")
    total = w.sum(0)  # (in,)
    if bool((total <= 0).any()) or not bool(torch.isfinite(total).all()):
        w = torch.where((total > 0) & torch.isfinite(total), w, torch.ones_like(w))
        total = w.sum(0)
    xs, order = torch.sort(x, dim=0)  # (N, in)
    ws = torch.gather(w, 0, order)
    before = (torch.cumsum(ws, 0) - ws).T.contiguous()  # (in, N): weight strictly before x_(i)
    j = torch.arange(1, grid_size, dtype=torch.float64, device=x.device)  # (G - 1,)
    level = (total / grid_size)[:, None] * j  # (in, G - 1), as the core computes N/G·j
    idx = (torch.searchsorted(before, level, right=True) - 1).clamp_(0, n - 1)  # (in, G - 1)
    inner = torch.gather(xs.T, 1, idx)  # (in, G - 1)
    return torch.cat([xs[:1].T, inner, xs[-1:].T], dim=1)


@dataclass
class GridContext:
    """What network-level densities need beyond a layer's own inputs.

    Attributes:
        model: the network being adapted.
        inputs: the network inputs ``(N, in_0)`` of the batch.
        targets: the targets ``(N, out)`` (``loss`` density only).
        loss_fn: per-sample loss ``(pred, target) -> (N,)`` or elementwise; default squared error.
        cache: values computed once per update for all layers.
    """

    model: nn.Module | None = None
    inputs: torch.Tensor | None = None
    targets: torch.Tensor | None = None
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None
    cache: dict[str, Any] = field(default_factory=dict)


def _need(context: GridContext | None, what: str, density: str) -> Any:
    value = getattr(context, what, None) if context is not None else None
    if value is None:
        raise InputError(
            f"the {density!r} importance density needs the network's {what}; call "
            f"model.update_grid(x{', y' if what == 'targets' else ''}) (or fit) rather than "
            "updating a layer on its own"
        )
    return value


def network_curvature(model: nn.Module, x: torch.Tensor, h: float = 1e-3) -> torch.Tensor:
    """``Σ_d Σ_o |f_o(x + h e_d) − 2 f_o(x) + f_o(x − h e_d)| / h²`` per sample: ``(N,)``.

    Evaluated in float64 (on a float64 copy of a lower-precision model): in float32 a second
    difference with ``h = 1e-3`` is mostly rounding noise (``eps/h² ≈ 0.1`` relative).
    """
    if x.dtype != torch.float64:
        model = copy.deepcopy(model).double()
        x = x.double()
    with torch.no_grad():
        n, d = x.shape
        f0 = model(x)  # (N, out)
        total = torch.zeros(n, dtype=f0.dtype, device=x.device)
        for k in range(d):
            step = torch.zeros_like(x)
            step[:, k] = h
            second = (model(x + step) - 2 * f0 + model(x - step)) / (h * h)
            total += second.abs().sum(1)
    return total


def _input_density(x, layer, context):
    return torch.ones_like(x)


def _curvature_density(x, layer, context):
    return layer.edge_derivative(x, 2).abs().sum(1)  # (N, in): Σ_j |φ''_ji|


def _gradient_density(x, layer, context):
    return layer.edge_derivative(x, 1).abs().sum(1)


def _network_curvature_density(x, layer, context):
    if "curvature_network" not in (context.cache if context else {}):
        model = _need(context, "model", "curvature_network")
        inputs = _need(context, "inputs", "curvature_network")
        context.cache["curvature_network"] = network_curvature(model, inputs)
    return context.cache["curvature_network"]  # (N,)


def _loss_density(x, layer, context):
    if "loss" not in (context.cache if context else {}):
        model = _need(context, "model", "loss")
        inputs, targets = context.inputs, _need(context, "targets", "loss")
        with torch.no_grad():
            pred = model(inputs)
            if context.loss_fn is None:
                loss = (pred - targets.reshape(pred.shape)).square()
            else:
                loss = context.loss_fn(pred, targets)
        context.cache["loss"] = loss.reshape(loss.shape[0], -1).sum(1)  # (N,)
    return context.cache["loss"]


DENSITIES: dict[str, Callable[..., torch.Tensor]] = {
    "input": _input_density,
    "curvature": _curvature_density,
    "gradient": _gradient_density,
    "curvature_network": _network_curvature_density,
    "loss": _loss_density,
}

#: What an undone update of a :class:`DensityGrid` leaves (:meth:`DensityGrid.fallback_strategy`).
FALLBACKS = ("auto", "keep", "input")

#: The derivative order ``m`` that each named density stands for (see the module docstring);
#: ``loss`` is the squared error itself.
DERIVATIVE_ORDERS: dict[str, int] = {"curvature": 2, "curvature_network": 2, "gradient": 1}


def density_exponent(density: str | Callable[..., torch.Tensor], spline_order: int) -> float:
    """The exponent ``e`` of a density's weights for splines of degree ``spline_order`` ``k``.

    ``2(k+1)/(m(2k+3))`` for a density of derivative order ``m``, ``1/(2k+3)`` for ``loss``, 1
    for ``input`` (equal weights) and for a callable (nothing is known of it).
    """
    k = spline_order
    if density == "loss":
        return 1.0 / (2 * k + 3)
    if isinstance(density, str) and density in DERIVATIVE_ORDERS:
        return 2.0 * (k + 1) / (DERIVATIVE_ORDERS[density] * (2 * k + 3))
    return 1.0


@dataclass
class DensityGrid(GridStrategy):
    """Knots at weighted quantiles of the batch under an importance density, with a floor.

    The default is robust by construction: weights raised to the exponent of approximation
    theory for the layer's spline order (module docstring), and no interval narrower than
    ``floor`` of the uniform one. The importance-density paper's rule is ``power=1.0,
    floor=0.0, guard=None`` (registered as ``"curvature_paper"``; on a sharp feature it
    gathers nearly every knot there).

    Args:
        density: a name in :data:`DENSITIES` or a callable ``(x, layer, context) -> weights``
            (``(N, in)`` or ``(N,)``, non-negative).
        power: raise the weights to this power, in ``(0, 1]``; None: the density's exponent
            :func:`density_exponent` for the layer's spline order (1 for a callable).
        floor: no interval narrower than this fraction of the uniform width over the batch,
            in ``[0, 1)``: the weighted quantiles are moved as little as that allows
            (:func:`~kanlab.grids.floor.floor_intervals`).
        smoothing: mixes the normalised weights with equal ones,
            ``w ← (1 − smoothing)·w/mean(w) + smoothing``, in ``[0, 1]`` (1: input-based).
        eps: blends the grid with a uniform one over the batch range, as the core's quantile
            rule does, in ``[0, 1]``.
        margin: moves the end points out by this fraction of the batch's range (the reference
            code's bounds use 1 %), so that the extreme samples are not on the grid's edge.
        guard: a grid update that makes the network's loss on the batch worse by more than this
            fraction is undone (:mod:`kanlab.nn.grid_update`); None: never.
        fallback: what an update undone by the guard leaves instead: ``"keep"``, the old knots
            (a plain refinement when the size changes); ``"input"``, the move of the ``input``
            density with the same floor, eps and margin; or ``"auto"`` (the default): the old
            knots when the guard's check is exact (least squares on real targets: the density's
            knots were then kept only where they fit at least as well), the input rule's move
            when it is estimated or absent (a PDE's residual, no targets), so that an undecided
            update does what the input rule does. The ``input`` density keeps its knots.
    """

    density: str | Callable[..., torch.Tensor] = "curvature"
    power: float | None = None
    floor: float = 0.1
    smoothing: float = 0.0
    eps: float = 0.0
    margin: float = 0.0
    guard: float | None = 0.5
    fallback: str = "auto"

    def __post_init__(self) -> None:
        if isinstance(self.density, str):
            check_choice("importance density", self.density, DENSITIES)
        elif not callable(self.density):
            raise InputError("density must be a name or a callable (x, layer, context) -> w")
        for name in ("smoothing", "eps"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise InputError(f"{name} must lie in [0, 1]; got {value!r}")
        if not 0.0 <= self.floor < 1.0:
            raise InputError(f"floor must lie in [0, 1); got {self.floor!r}")
        if self.margin < 0:
            raise InputError(f"margin must be non-negative; got {self.margin!r}")
        if self.power is not None and not 0.0 < self.power <= 1.0:
            raise InputError(f"power must lie in (0, 1] or be None; got {self.power!r}")
        check_guard(self.guard)
        check_choice("fallback", self.fallback, FALLBACKS)

    def fallback_strategy(self, exact: bool = True) -> DensityGrid | None:
        """What an undone update does instead: None keeps the old knots, else the ``input``
        density's move (see ``fallback``)."""
        if self.fallback == "keep" or self.density == "input" or (
                self.fallback == "auto" and exact):
            return None
        return dataclasses.replace(self, density="input", power=None, smoothing=0.0,
                                   guard=None, fallback="keep")

    @property
    def name(self) -> str:  # type: ignore[override]
        return self.density if isinstance(self.density, str) else "density"

    def exponent(self, layer=None) -> float:
        """The power the weights are raised to (``power``, or the density's exponent for the
        spline order of ``layer``, cubic when there is none)."""
        if self.power is not None:
            return self.power
        return density_exponent(self.density, getattr(layer, "spline_order", 3))

    def weights(self, x, *, layer=None, context=None) -> torch.Tensor:
        """Importance weights ``(N, in)`` of the samples ``x`` ``(N, in)``, raised to
        :meth:`exponent`."""
        fn = DENSITIES[self.density] if isinstance(self.density, str) else self.density
        if fn in (_curvature_density, _gradient_density) and layer is None:
            raise InputError(f"the {self.name!r} density needs the layer being adapted")
        w = fn(x, layer, context)
        if w.dim() == 1:
            w = w.unsqueeze(1).expand_as(x)
        w = w.detach().to(torch.float64)
        power = self.exponent(layer)
        if power != 1.0:
            w = w.clamp_min(0) ** power
        if self.smoothing > 0:
            mean = w.mean(0, keepdim=True)
            w = (1 - self.smoothing) * w / torch.where(mean > 0, mean, 1.0) + self.smoothing
        return w

    def place(self, x, grid_size, *, layer=None, context=None):
        w = self.weights(x, layer=layer, context=context)
        grid = floor_intervals(weighted_quantile_grid(x, w, grid_size), self.floor).to(x.dtype)
        if self.margin > 0:
            pad = self.margin * (grid[:, -1] - grid[:, 0])
            grid = grid.clone()
            grid[:, 0] -= pad
            grid[:, -1] += pad
        if self.eps > 0:
            lo, hi = grid[:, :1], grid[:, -1:]
            t = torch.linspace(0, 1, grid_size + 1, dtype=x.dtype, device=x.device)
            grid = self.eps * (lo + (hi - lo) * t) + (1 - self.eps) * grid
        return grid
