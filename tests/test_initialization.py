"""The "glorot_fine" initialisation: its moments, its standard deviations, and the layer option."""

import math

import pytest
import torch
import torch.nn.functional as F

from kanlab import KAN, KANLinear
from kanlab.errors import InputError
from kanlab.nn.initialization import glorot_fine_std, uniform_moments
from kanlab.splines import bspline_basis, make_knots, uniform_grid


def _knots(n_in, G, k=3, lo=-1.0, hi=1.0):
    return make_knots(uniform_grid(n_in, G, (lo, hi), dtype=torch.float64), k)


def _dense_mean(f, a, b, n=400_001):
    """E[f(x)] for x ~ U(a, b) by the trapezoid rule on a fine grid (slow, obvious)."""
    x = torch.linspace(a, b, n, dtype=torch.float64)
    y = f(x)
    return torch.trapezoid(y, x, dim=0) / (b - a)


@pytest.mark.parametrize("G,k,lo,hi", [(3, 3, -1.0, 1.0), (7, 2, 0.0, 3.0), (5, 1, -2.0, 0.5)])
def test_moments_equal_a_dense_trapezoid(G, k, lo, hi):
    knots = _knots(1, G, k, lo, hi)
    mu0, mu1, r0, r1, gain = uniform_moments(knots, k, F.silu)
    basis = lambda x: bspline_basis(x[:, None], knots, k)[:, 0]  # noqa: E731
    slope = lambda x: bspline_basis(x[:, None], knots, k, derivative=1)[:, 0]  # noqa: E731
    torch.testing.assert_close(mu0[0], _dense_mean(lambda x: basis(x) ** 2, lo, hi),
                               rtol=1e-6, atol=1e-9)
    torch.testing.assert_close(mu1[0], _dense_mean(lambda x: slope(x) ** 2, lo, hi),
                               rtol=1e-5, atol=1e-9)
    dsilu = lambda x: torch.sigmoid(x) * (1 + x * (1 - torch.sigmoid(x)))  # noqa: E731
    torch.testing.assert_close(r0[0], _dense_mean(lambda x: F.silu(x) ** 2, lo, hi), rtol=1e-8,
                               atol=0)
    torch.testing.assert_close(r1[0], _dense_mean(lambda x: dsilu(x) ** 2, lo, hi), rtol=1e-8,
                               atol=0)
    assert gain[0].item() == pytest.approx((hi - lo) / math.sqrt(12))


def test_std_formula_golden_values():
    # [2 -> 10], G = 3, k = 3 on [-1, 1]: s_in = 2·7, s_out = 10·7, gain 1/√3
    base, coef = glorot_fine_std(_knots(2, 3), 3, 10, F.silu)
    mu0, mu1, r0, r1, _ = uniform_moments(_knots(2, 3), 3, F.silu)
    g = 1 / math.sqrt(3)
    torch.testing.assert_close(base, g * torch.sqrt(2 / (14 * r0 + 70 * r1)))
    torch.testing.assert_close(coef, g / torch.sqrt(14 * mu0 + 70 * mu1))
    # the bases are symmetric on a symmetric grid, so are their standard deviations
    torch.testing.assert_close(coef[0], coef[0].flip(0))
    # golden: the end bases get the largest std (they carry the least mass)
    assert coef[0, 0] > coef[0, 1] > coef[0, 2]
    assert base[0].item() == pytest.approx(0.16787, rel=1e-4)


def test_without_a_base_function_the_terms_are_the_bases_only():
    base, coef = glorot_fine_std(_knots(3, 4), 3, 5, None)
    mu0, mu1, *_ = uniform_moments(_knots(3, 4), 3, None)
    assert base is None
    g = 1 / math.sqrt(3)
    torch.testing.assert_close(coef, g / torch.sqrt(3 * 7 * mu0 + 5 * 7 * mu1))


def test_layer_draws_follow_the_standard_deviations():
    gen = torch.Generator().manual_seed(0)
    layer = KANLinear(200, 300, grid_size=3, init="glorot_fine", generator=gen,
                      dtype=torch.float64)
    base, coef = glorot_fine_std(layer.knots, 3, 300, F.silu)
    # 60 000 draws per basis: the sample std is within 2 % of its target
    torch.testing.assert_close(layer.coef.std(dim=(0, 1)), coef[0], rtol=0.02, atol=0)
    assert layer.base_scale.std().item() == pytest.approx(base[0].item(), rel=0.02)
    assert torch.equal(layer.spline_scale, torch.ones_like(layer.spline_scale))
    assert torch.equal(layer.bias, torch.zeros_like(layer.bias))


def test_zero_base_layer_has_zero_base_weights():
    layer = KANLinear(3, 2, base_fn="zero", init="glorot_fine")
    assert torch.equal(layer.base_scale, torch.zeros_like(layer.base_scale))


def test_model_option_is_seeded_saved_and_loaded(tmp_path):
    a = KAN([2, 4, 1], init="glorot_fine", seed=3, dtype=torch.float64)
    b = KAN([2, 4, 1], init="glorot_fine", seed=3, dtype=torch.float64)
    pykan = KAN([2, 4, 1], seed=3, dtype=torch.float64)
    x = torch.rand(7, 2, dtype=torch.float64)
    assert torch.equal(a(x), b(x))
    assert not torch.equal(a.layers[0].coef, pykan.layers[0].coef)
    assert a.config["init"] == ["glorot_fine", "glorot_fine"]
    loaded = KAN.load(a.save(tmp_path / "m"))
    assert loaded.layers[1].init == "glorot_fine"
    assert torch.equal(loaded(x), a(x))


def test_unknown_initialisation_is_a_clear_error():
    with pytest.raises(InputError, match="init.*glorot_fine"):
        KAN([2, 1], init="xavier")
