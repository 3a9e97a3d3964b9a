"""A penalised-spline prior on a KAN's edges: curvature (P-spline) and ridge terms.

The sparsity regularisation of the paper (:mod:`kanlab.training.regularization`) pushes whole
edges to zero so that a network can be pruned. On noisy tables with a few hundred rows a KAN
needs a different prior, the one of generalised additive models: each edge
``φ(x) = w_b·b(x) + s·Σ_m c_m B_m(x)`` should be smooth, and its weights small, unless the data
say otherwise. :class:`SplinePenalty` is that prior, passed to
:func:`~kanlab.training.loop.fit` as ``penalty=``:

- **curvature**: ``G³ · Σ_edges Σ_m (Δ² c̃_m)²`` with ``c̃ = s·c`` the edge's effective
  coefficients and ``G`` its grid's intervals: the squared second derivative of the spline,
  integrated, in the coordinate ``u ∈ [0, 1]`` that spaces the grid's intervals equally (for
  cardinal B-splines ``Σ_m c̃_m B_m'' = Σ_m Δ²c̃_m B_m^{(k-2)} / h²`` with ``h = 1/G``, so the
  sum tends to ``∫ (d²φ/du²)² du``; Eilers & Marx's P-spline penalty, scaled to not change
  with ``G`` for the same function). On a data-placed grid ``u`` is the input's quantile:
  the penalty asks for smoothness in rank, whatever the column's skew, and keeps LBFGS well
  conditioned (divided differences over the uneven knots of a mostly-zero column, four knots
  within 0.14 and the fifth 8.8 away, multiply some directions by 10⁴ and stall it). The
  straight line of the input itself is the identity base branch's (``w·x``, penalised only by
  the ridge term): a large curvature weight leaves every spline straight in ``u``, and with
  ``base_fn="identity"`` on equally spaced knots the KAN is then a linear model.
- **ridge**: ``Σ_edges (w_b² + mean_m c̃_m²)``: shrinks every edge towards zero as ridge
  regression (or a logistic regression's L2 term) shrinks its weights.

Both are sums over the numeric edges of every layer (pruned and symbolic edges are left out)
and are added to the mean loss of a batch as they are, so a weight means the same for any
number of samples. Neither needs the batch: it is a function of the parameters only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from kanlab.errors import InputError
from kanlab.nn.model import KAN

__all__ = ["SplinePenalty", "curvature_penalty", "ridge_penalty"]


def _effective_coef(layer) -> torch.Tensor:
    """``s·c`` of every edge ``(out, in, n_basis)``, zero on edges that are not numeric."""
    mask = layer.numeric_mask()  # (out, in)
    return layer.coef * (layer.spline_scale * mask)[..., None]


def curvature_penalty(layer) -> torch.Tensor:
    """``G³ · Σ_{j,i} Σ_m (Δ² c̃_jim)²`` of one :class:`~kanlab.nn.layer.KANLinear`'s numeric
    edges: the squared second derivative of each spline, integrated, in the coordinate
    ``u ∈ [0, 1]`` that spaces its ``G`` grid intervals equally (see the module docstring).
    A scalar, differentiable; zero when an edge has fewer than three coefficients."""
    c = _effective_coef(layer)  # (out, in, nb)
    if c.shape[-1] < 3:
        return c.new_zeros(())
    return c.diff(n=2, dim=-1).pow(2).sum() * float(layer.grid_size) ** 3


def ridge_penalty(layer) -> torch.Tensor:
    """``Σ_{j,i} (w_b,ji² + mean_m c̃_jim²)`` of one layer's numeric edges; a scalar."""
    mask = layer.numeric_mask()
    return (layer.base_scale.pow(2) * mask).sum() + _effective_coef(layer).pow(2).mean(-1).sum()


@dataclass(frozen=True)
class SplinePenalty:
    """``curvature · Σ_layers curvature_penalty + ridge · Σ_layers ridge_penalty``, added to the
    loss of every batch by ``fit(penalty=SplinePenalty(...))``.

    Args:
        curvature: weight of :func:`curvature_penalty` (0: off).
        ridge: weight of :func:`ridge_penalty` (0: off).

    Raises:
        InputError: a weight that is negative or not finite.

    Example::

        >>> fit(model, data, penalty=SplinePenalty(curvature=1.0, ridge=1e-2))
    """

    curvature: float = 0.0
    ridge: float = 0.0

    def __post_init__(self) -> None:
        for name in ("curvature", "ridge"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not (
                math.isfinite(value) and value >= 0
            ):
                raise InputError(f"SplinePenalty {name} must be a finite number >= 0; "
                                 f"got {value!r}")

    def __call__(self, model: KAN) -> torch.Tensor:
        """The penalty of ``model``'s current parameters; a differentiable scalar."""
        if not isinstance(model, KAN):
            raise InputError(f"SplinePenalty acts on a kanlab.KAN; got {type(model).__name__}")
        total = model.layers[0].coef.new_zeros(())
        for layer in model.layers:
            if self.curvature:
                total = total + self.curvature * curvature_penalty(layer)
            if self.ridge:
                total = total + self.ridge * ridge_penalty(layer)
        return total
