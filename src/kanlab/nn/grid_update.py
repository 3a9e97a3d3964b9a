"""A network's grid update, checked: knots moved layer by layer, and undone if the fit got worse.

:func:`update_network_grid` is what :meth:`KAN.update_grid <kanlab.nn.model.KAN.update_grid>`
and ``fit``'s grid events run. Each layer's knots move to its own inputs and its coefficients
are refitted to keep its function (:func:`kanlab.nn.grid_moves.update_grid`); the next layer
then sees the refitted layer's output. Network-level densities (``curvature_network``,
``loss``) are computed once, before any layer moves.

**The guard.** A refit keeps the function only as well as the new knots allow it (the drift of
every layer measures what was lost), and new knots are only worth having if they can fit the
data better. With a tolerance (``guard``, by default the strategy's: 0.5 for the importance
densities, none for pykan's quantile rule) every move is judged on its batch:

1. *kept the fit*: with targets (or an objective, such as a PDE's residual loss), the relative
   change of the loss ``(L_after − L_before)/L_before``; without, of the network's outputs
   ``‖f_after − f_before‖/‖f_before‖``; above the tolerance the move is undone;
2. *can fit better*: the smallest loss the output layer's spline coefficients can reach on the
   new knots, everything else fixed, must not exceed the one on the knots an undone move
   leaves (below); on a smooth function a well-placed grid then stays where it is. With real
   targets and the squared error it is a linear least-squares problem, solved exactly
   (:func:`best_output_fit`); with an objective that returns a tensor (any loss, a PDE's
   residual) it is approached by :data:`BEST_FIT_ITERATIONS` LBFGS steps on those
   coefficients (:func:`best_output_objective`), from the same function on both sides; such
   an estimate is a few percent above the true minimum, so the new knots must then be better
   by :data:`APPROXIMATE_FIT_MARGIN` (a closer race decides nothing, and the move is undone).

What an undone move leaves is the strategy's choice
(:meth:`~kanlab.grids.GridStrategy.fallback_strategy`): the old knots and coefficients, put
back exactly (the same parameter objects, so an optimiser keeps working; when the move also
changed the grid size, a plain refinement to that size, :meth:`~kanlab.nn.model.KAN.refine_`,
which keeps the function), or another strategy's move (the density strategies: the ``input``
rule's when the check is estimated), which the *can fit better* check then compares the move
with. The :class:`GridUpdate` says what happened; ``fit`` writes it into ``History.grid_guard``.
"""

from __future__ import annotations

import copy
import logging
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from kanlab._validation import as_samples, per_layer
from kanlab.errors import GridWarning, InputError
from kanlab.grids import GridStrategy, check_guard, get_grid_strategy
from kanlab.grids.density import GridContext
from kanlab.nn import grid_moves

__all__ = [
    "APPROXIMATE_FIT_MARGIN",
    "BEST_FIT_ITERATIONS",
    "BEST_FIT_VALUES",
    "GridUpdate",
    "STRATEGY_GUARD",
    "best_output_fit",
    "best_output_objective",
    "update_network_grid",
]

logger = logging.getLogger(__name__)

#: ``guard=STRATEGY_GUARD``: the tolerance of the grid strategy in use.
STRATEGY_GUARD = "strategy"


@dataclass(frozen=True)
class GridUpdate:
    """What one grid update of a network did.

    Attributes:
        drift: per layer, the relative RMS change of its outputs on its samples that the refit
            could not avoid (of the move tried, also when it was undone).
        change: what the guard judged (relative change of the loss with targets, of the
            outputs without); None when no guard was asked for.
        kept: False when the guard undid the move.
    """

    drift: list[float]
    change: float | None = None
    kept: bool = True


class _Saved:
    """A layer's knots and coefficients before a move, to put back exactly."""

    def __init__(self, layer: nn.Module) -> None:
        self.knots, self.coef = layer.knots, layer.coef
        self.knots_values, self.coef_values = layer.knots.clone(), layer.coef.detach().clone()

    @torch.no_grad()
    def restore(self, layer: nn.Module) -> None:
        if layer.coef is self.coef:  # the move wrote into the same tensors
            layer.knots.copy_(self.knots_values)
            layer.coef.copy_(self.coef_values)
        else:  # the move made new tensors (a new size): the old ones are untouched
            layer.knots, layer.coef = self.knots, self.coef


def _move_layers(model: nn.Module, h: torch.Tensor, strategy: str | GridStrategy | None,
                 sizes: Sequence[int | None], context: GridContext) -> list[float]:
    drift = []
    for li, (layer, g) in enumerate(zip(model.layers, sizes)):
        with warnings.catch_warnings():
            if li > 0:  # a hidden node that sparsification or pruning left constant
                warnings.simplefilter("ignore", GridWarning)
            change, h = grid_moves.update_grid(layer, h, strategy, grid_size=g, context=context)
        drift.append(change)
    return drift


def _undone(model: nn.Module, h: torch.Tensor, fallback: GridStrategy | None,
            sizes: Sequence[int | None], grid_size: int | Sequence[int] | None) -> nn.Module:
    """Bring ``model``, on its knots before an update, to what an undone update leaves: the
    fallback strategy's move, else (None) a plain refinement to the new size (if any)."""
    if fallback is not None:
        _move_layers(model, h, fallback, sizes, GridContext(model=model, inputs=h))
    elif grid_size is not None:
        model.refine_(grid_size, h)
    return model


def _loss_of(y: torch.Tensor | None,
             loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None
             ) -> Callable[[torch.Tensor], float] | None:
    """The loss of predictions ``(N, out)`` on the labels ``y``: ``loss_fn``, else the mean
    squared error, or the cross entropy for integer labels (classes)."""
    if y is None:
        return None
    if loss_fn is not None:
        return lambda pred: float(loss_fn(pred, y).mean())
    if not y.is_floating_point():
        return lambda pred: float(nn.functional.cross_entropy(pred, y.reshape(-1)))
    return lambda pred: float((pred - y.reshape(pred.shape).to(pred.dtype)).square().mean())


@torch.no_grad()
def update_network_grid(
    model: nn.Module,
    x: torch.Tensor,
    strategy: str | GridStrategy | None = None,
    *,
    grid_size: int | Sequence[int] | None = None,
    y: torch.Tensor | None = None,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
    guard: float | None | str = STRATEGY_GUARD,
    objective: Callable[[nn.Module], torch.Tensor | float] | None = None,
) -> GridUpdate:
    """Adapt every layer's grid of the KAN ``model`` to the batch ``x``, under the guard.

    Args:
        x: inputs ``(..., widths[0])``, at least ``G + 1`` samples.
        strategy: overrides each layer's grid strategy for this call.
        grid_size: new grid sizes (one, or one per layer): extend and adapt in one fit.
        y: targets of ``x`` (the ``loss`` density and the guard use them).
        loss_fn: ``loss_fn(pred, y)`` per sample or a mean (default squared error), for the
            ``loss`` density and the guard.
        guard: a tolerance (see the module docstring), None for none, or ``"strategy"``: the
            ``guard`` of ``strategy`` (or of the model's grid strategy).
        objective: ``objective(model)``, the loss the guard compares before and after the
            update (``fit`` passes its loss on the batch; a PDE, its residual loss); a scalar
            tensor that autograd can differentiate also drives the *can fit better* check.
            Default: the loss of the predictions on ``y`` under ``loss_fn``.
    """
    h = as_samples("x", x, model.widths[0], model.dtype)  # (N, in)
    targets = None if y is None else y.reshape(h.shape[0], -1).to(model.dtype)
    context = GridContext(model=model, inputs=h, targets=targets, loss_fn=loss_fn)
    sizes = [None] * model.depth if grid_size is None else per_layer(
        "grid_size", grid_size, model.depth)
    chosen = model.grid_strategy if strategy is None else get_grid_strategy(strategy)
    if guard == STRATEGY_GUARD:
        guard = chosen.guard
    check_guard(guard)
    if guard is None:
        return GridUpdate(_move_layers(model, h, strategy, sizes, context))
    saved = [_Saved(layer) for layer in model.layers]
    loss = _loss_of(y, loss_fn)
    least_squares = objective is None and loss is not None and loss_fn is None and \
        y.is_floating_point() and not model.layers[-1].nodes.has_products  # else not linear
    if objective is None and loss is not None:
        objective = lambda m: loss(m(h))  # noqa: E731
    before = model(h) if objective is None else None  # (N, out): judged by the outputs
    value = None if objective is None else objective(model)
    loss_before = None if value is None else float(value)
    check_fit = least_squares or isinstance(value, torch.Tensor)  # a tensor: LBFGS can refit

    def best(m: nn.Module) -> float:  # the best the output layer's splines can do
        return best_output_fit(m, h, targets) if least_squares else \
            best_output_objective(m, objective)

    fallback = chosen.fallback_strategy(exact=least_squares)
    if check_fit:
        best_before = best(_undone(copy.deepcopy(model), h, fallback, sizes, grid_size))
    drift = _move_layers(model, h, strategy, sizes, context)
    if objective is None:
        change = float((model(h) - before).norm() / before.norm().clamp_min(1e-300))
    else:
        change = (float(objective(model)) - loss_before) / max(loss_before, 1e-300)
    margin = 0.0 if least_squares else APPROXIMATE_FIT_MARGIN
    fits_worse = check_fit and best(model) > (1.0 - margin) * best_before
    if not (change > guard or fits_worse):
        return GridUpdate(drift, change, kept=True)
    for layer, old in zip(model.layers, saved):
        old.restore(layer)
    _undone(model, h, fallback, sizes, grid_size)
    logger.info("grid update undone: it changed the %s by %.3g (guard %.3g)%s",
                "outputs" if objective is None else "loss", change, guard,
                "; the new knots fit the targets less well" if fits_worse else "")
    return GridUpdate(drift, change, kept=False)


#: The most numbers of the output layer's design matrix that :func:`best_output_fit` builds
#: (rows are thinned evenly beyond it).
BEST_FIT_VALUES = 2**24

#: LBFGS iterations of :func:`best_output_objective`.
BEST_FIT_ITERATIONS = 20

#: How much lower (relative) an approximate best fit (:func:`best_output_objective`) on the
#: new knots must be than on the knots an undone update leaves. On the Helmholtz PINN, 20 LBFGS
#: steps reach a loss 15-40 % below the start, far from converged, and the first update of an
#: untrained network won by 0.6 %: a race that close is decided by the estimate's error.
APPROXIMATE_FIT_MARGIN = 0.05


def best_output_objective(model: nn.Module,
                          objective: Callable[[nn.Module], torch.Tensor]) -> float:
    """The smallest ``objective(model)`` (a scalar tensor) that the output layer's spline
    coefficients reach by :data:`BEST_FIT_ITERATIONS` LBFGS iterations (strong Wolfe line
    search) from their current values, everything else fixed; the coefficients are put back,
    and no other parameter gets a gradient.

    Raises:
        InputError: the objective does not depend on the coefficients through autograd.
    """
    coef = model.layers[-1].coef
    saved = coef.detach().clone()
    opt = torch.optim.LBFGS([coef], lr=1.0, max_iter=BEST_FIT_ITERATIONS,
                            history_size=BEST_FIT_ITERATIONS, tolerance_grad=0.0,
                            tolerance_change=0.0, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        value = objective(model)
        if not (isinstance(value, torch.Tensor) and value.requires_grad):
            raise InputError("the guard's objective must return a scalar tensor that autograd "
                             "can differentiate with respect to the model's coefficients")
        (coef.grad,) = torch.autograd.grad(value, [coef])
        return value.detach()

    try:
        with torch.enable_grad():
            opt.step(closure)
            with torch.no_grad():
                return float(objective(model))
    finally:
        with torch.no_grad():
            coef.copy_(saved)
        coef.grad = None


@torch.no_grad()
def best_output_fit(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """The smallest mean squared error on ``(x, y)`` that the output layer's splines can reach
    on their current knots, everything else fixed: a linear least-squares problem.

    Shapes: x ``(N, in_0)``, y ``(N, out)``. Each output ``o`` solves
    ``min_c ‖A_o c − (y_o − r_o)‖²`` with ``A_o = [w_s,oi·B_i(h_i)]`` ``(N, in·n_b)`` (the
    spline bases of the layer's inputs ``h``) and ``r_o`` the rest of the output (base
    branch, tails, symbolic edges, bias); normal equations in float64 with a ridge of
    ``1e-10`` of the mean diagonal (pruned edges give zero columns).
    """
    if model.layers[-1].nodes.has_products:
        raise InputError("best_output_fit needs outputs linear in the output layer's "
                         "coefficients; product nodes multiply them (use best_output_objective)")
    h = x
    for layer in model.layers[:-1]:
        h = layer(h)
    last = model.layers[-1]
    basis = last.basis(h).to(torch.float64)  # (N, in, nb)
    n, n_in, nb = basis.shape
    step = max(1, -(-n * n_in * nb // BEST_FIT_VALUES))
    basis, h, y = basis[::step], h[::step], y[::step].to(torch.float64)
    scale = (last.spline_scale * last.numeric_mask()).to(torch.float64)  # (out, in)
    coef = last.coef.to(torch.float64)
    spline = torch.einsum("nim,oim->no", basis, coef * scale.unsqueeze(-1))  # (N, out)
    target = y - (last(h).to(torch.float64) - spline)  # what the splines must give
    total = 0.0
    for o in range(last.out_features):
        a = (basis * scale[o].view(1, n_in, 1)).reshape(basis.shape[0], n_in * nb)
        gram = a.T @ a
        ridge = 1e-10 * float(gram.diagonal().mean().clamp_min(1e-300))
        c = torch.linalg.solve(gram + ridge * torch.eye(gram.shape[0], dtype=gram.dtype),
                               a.T @ target[:, o])
        total += float((a @ c - target[:, o]).square().mean())
    return total / last.out_features

