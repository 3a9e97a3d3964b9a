"""SplinePenalty: the P-spline curvature and ridge prior of fit(penalty=...)."""

import math

import pytest
import torch

from kanlab import KAN
from kanlab.errors import InputError
from kanlab.nn.layer import KANLinear
from kanlab.splines.basis import bspline_basis
from kanlab.training.loop import fit
from kanlab.training.spline_penalty import SplinePenalty, curvature_penalty, ridge_penalty


def _layer_fitting(f, grid_size, in_features=1, out_features=1):
    """A layer whose every spline is the least-squares fit of ``f`` on [-1, 1]."""
    layer = KANLinear(in_features, out_features, grid_size=grid_size, dtype=torch.float64)
    x = torch.linspace(-1, 1, 4001, dtype=torch.float64)
    with torch.no_grad():
        basis = bspline_basis(x[:, None].expand(-1, in_features), layer.knots, 3)  # (N, in, nb)
        c = torch.linalg.lstsq(basis[:, 0], f(x)[:, None]).solution[:, 0]  # (nb,)
        layer.coef.copy_(c.expand_as(layer.coef))
        layer.spline_scale.fill_(1.0)
    return layer


def _value(t: torch.Tensor) -> float:
    return float(t.detach())


def test_curvature_penalty_tends_to_the_integral_of_the_squared_second_derivative():
    # f = sin(2x) on [-1, 1], x = 2u - 1: ∫₀¹ (d²f/du²)² du = 2³ ∫ f''(x)² dx
    # = 8 · ∫ 16 sin²(2x) dx = 8 · 16 (1 - sin(4)/4) ≈ 152.2
    exact = 8 * 16 * (1 - math.sin(4) / 4)
    errors = {g: _value(curvature_penalty(_layer_fitting(lambda x: torch.sin(2 * x), g))) - exact
              for g in (20, 40, 80, 160)}
    assert abs(errors[160]) < 0.015 * exact
    # first order in the knot spacing h = 2/G (the ends' coefficients): halving h halves it
    for g in (20, 40, 80):
        assert errors[g] / errors[2 * g] == pytest.approx(2.0, rel=0.15)
    # the same function on a grid twice as fine: nearly the same penalty (no growth with G)
    assert errors[20] + exact == pytest.approx(errors[40] + exact, rel=0.05)


def test_a_linear_spline_has_no_curvature_and_the_ridge_term_is_the_sum_of_squares():
    layer = KANLinear(2, 3, grid_size=5, dtype=torch.float64)
    with torch.no_grad():
        m = torch.arange(layer.coef.shape[-1], dtype=torch.float64)
        layer.coef.copy_(0.3 - 0.7 * m)  # linear in m: every second difference is 0
        layer.spline_scale.fill_(2.0)
        layer.base_scale.fill_(0.5)
    assert _value(curvature_penalty(layer)) == pytest.approx(0.0, abs=1e-12)
    c = 2.0 * (0.3 - 0.7 * m)
    expected = 6 * (0.25 + float((c**2).mean()))  # 6 edges
    assert _value(ridge_penalty(layer)) == pytest.approx(expected, rel=1e-12)


def test_pruned_edges_are_not_penalised():
    layer = _layer_fitting(torch.sin, 8, in_features=2)
    full = _value(curvature_penalty(layer)), _value(ridge_penalty(layer))
    with torch.no_grad():
        layer.mask[0, 1] = 0.0
    assert _value(curvature_penalty(layer)) == pytest.approx(full[0] / 2, rel=1e-12)
    assert _value(ridge_penalty(layer)) < full[1]


def test_a_strong_curvature_penalty_leaves_a_linear_fit():
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(200, 1, generator=gen, dtype=torch.float64) * 2 - 1
    y = x**2 + 0.5 * x
    data = {"train_input": x, "train_label": y}
    curves = {}
    for weight in (0.0, 1e3):
        model = KAN([1, 1], grid_size=8, base_fn="identity", seed=0, dtype=torch.float64)
        fit(model, data, steps=20, progress=False, update_grid=False,
            penalty=SplinePenalty(curvature=weight))
        grid = torch.linspace(-0.9, 0.9, 19, dtype=torch.float64)[:, None]
        with torch.no_grad():
            curves[weight] = model(grid)[:, 0].diff(n=2).abs().max()
    assert curves[0.0] > 1e-2  # follows the parabola: second differences 2·0.1² = 0.02
    assert curves[1e3] < 1e-2 * curves[0.0]


@pytest.mark.parametrize("bad", [-1.0, math.inf, math.nan, "1", True])
def test_bad_weights_are_input_errors(bad):
    with pytest.raises(InputError, match="curvature must be a finite number >= 0"):
        SplinePenalty(curvature=bad)


def test_the_penalty_needs_a_kan():
    with pytest.raises(InputError, match="acts on a kanlab.KAN; got Linear"):
        SplinePenalty(ridge=1.0)(torch.nn.Linear(2, 1))
