"""Importance-density grid adaptation: weighted ECDF inversion and the densities."""

import warnings

import pytest
import torch

import kanlab
from _reference import lstsq_per_input
from kanlab import InputError, KANLinear
from kanlab.errors import GridWarning
from kanlab.grids import QuantileGrid, get_grid_strategy
from kanlab.grids.density import DensityGrid, GridContext, network_curvature, weighted_quantile_grid
from kanlab.splines import bspline_basis

D = torch.float64


@pytest.mark.parametrize(("n", "grid_size"), [(1000, 5), (1000, 3), (37, 7), (12, 11), (6, 5)])
def test_input_weights_reproduce_the_quantile_rule_exactly(n, grid_size):
    x = torch.randn(n, 3, dtype=D, generator=torch.Generator().manual_seed(n))
    ours = DensityGrid("input", floor=0.0).place(x, grid_size)
    core = QuantileGrid(eps=0.0).place(x, grid_size)
    assert torch.equal(ours, core)


def test_weighted_inverse_on_known_weights():
    x = torch.tensor([[0.1], [0.5], [0.9]], dtype=D)
    # the paper's check: all weight on the first sample puts the median at 0.1
    grid = weighted_quantile_grid(x, torch.tensor([1.0, 0.0, 0.0], dtype=D), 2)
    assert grid.tolist() == [[0.1, 0.1, 0.9]]
    # ten samples 0..9; weight 3 on sample 2, 1 elsewhere (total 12): levels 4 and 8 are first
    # reached by the cumulative weight before samples 3 (2+3=5 > 4 ... ) -> see the rule
    x = torch.arange(10, dtype=D).unsqueeze(1)
    w = torch.ones(10, dtype=D)
    w[2] = 3.0
    # weight strictly before sample i: 0,1,2,5,6,7,8,9,10,11; levels 12/3 = 4 and 8
    grid = weighted_quantile_grid(x, w, 3)
    assert grid.squeeze().tolist() == [0.0, 2.0, 6.0, 9.0]


def test_per_sample_weights_broadcast_to_every_input():
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(50, 2, dtype=D, generator=gen)
    w = torch.rand(50, dtype=D, generator=gen)
    both = weighted_quantile_grid(x, w, 4)
    one = weighted_quantile_grid(x[:, 1:], w, 4)
    assert torch.equal(both[1:], one)


@pytest.mark.parametrize(
    "weights",
    [
        lambda x: torch.zeros_like(x),  # all-zero curvature
        lambda x: torch.where(torch.arange(len(x))[:, None] == 7, 1e30, 1.0).expand_as(x),
        lambda x: torch.full_like(x, float("nan")),
    ],
    ids=["all-zero", "one-huge", "nan"],
)
def test_knots_stay_strictly_increasing_whatever_the_weights(weights):
    x = torch.rand(64, 2, dtype=D, generator=torch.Generator().manual_seed(1))
    x[10:20, 0] = 0.5  # duplicate samples
    strategy = DensityGrid(lambda x, layer, ctx: weights(x))
    if torch.isnan(weights(x)).any():
        with pytest.raises(InputError):  # NaN weights are not silently used
            strategy.grid_points(x, 6, torch.zeros(2, 7, dtype=D))
        return
    grid = strategy.grid_points(x, 6, torch.zeros(2, 7, dtype=D))
    assert (grid.diff(dim=1) > 0).all()


def test_constant_input_keeps_its_grid_with_a_warning():
    x = torch.rand(64, 2, dtype=D, generator=torch.Generator().manual_seed(2))
    x[:, 1] = 0.3
    old = torch.linspace(-1, 1, 6, dtype=D).expand(2, 6)
    with pytest.warns(GridWarning, match="constant"):
        grid = DensityGrid("input").grid_points(x, 5, old)
    assert torch.equal(grid[1], old[1]) and (grid.diff(dim=1) > 0).all()


def test_too_few_samples_and_bad_options_are_clear_errors():
    with pytest.raises(InputError, match="at least 6 samples"):
        DensityGrid("input").grid_points(torch.rand(4, 1), 5, torch.zeros(1, 6))
    with pytest.raises(InputError, match="did you mean 'curvature'"):
        get_grid_strategy("curvatur")
    with pytest.raises(InputError, match="smoothing"):
        DensityGrid("input", smoothing=1.5)
    context = GridContext(kanlab.KAN([1, 1]), torch.rand(10, 1))
    with pytest.raises(InputError, match="targets"):
        DensityGrid("loss").place(torch.rand(10, 1), 3, context=context)


def _peak_layer(grid_size=40):
    """A 1-input layer whose function is exp(-200 x²) on [-1, 1] (fitted on its grid)."""
    layer = KANLinear(1, 1, grid_size=grid_size, base_fn="zero", dtype=D)
    x = torch.linspace(-1, 1, 2001, dtype=D).unsqueeze(1)
    y = torch.exp(-200 * x**2)
    coef = kanlab.splines.lstsq.fit_coefficients(x, y.unsqueeze(-1), layer.knots, 3)
    with torch.no_grad():
        layer.coef.copy_(coef)
    return layer


def test_edge_derivatives_match_autograd():
    layer = KANLinear(3, 2, grid_size=6, dtype=D, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        layer.coef.normal_(0, 1, generator=torch.Generator().manual_seed(4))
    x = (torch.rand(20, 3, dtype=D, generator=torch.Generator().manual_seed(5)) * 2 - 1)
    for order in (1, 2):
        ours = layer.edge_derivative(x, order)  # (B, out, in)
        for j in range(2):
            xr = x.clone().requires_grad_()
            d = layer.edge_activations(xr)[:, j, :]  # (B, in), φ_ji depends on x_i only
            for _ in range(order):
                (d,) = torch.autograd.grad(d.sum(), xr, create_graph=True)
            torch.testing.assert_close(ours[:, j, :], d, rtol=1e-9, atol=1e-9)


def test_curvature_gathers_knots_at_the_peak_and_input_does_not():
    layer = _peak_layer()
    x = torch.rand(4000, 1, dtype=D, generator=torch.Generator().manual_seed(6)) * 2 - 1
    near = {}
    for name in ("input", "curvature", "curvature_paper"):
        grid = get_grid_strategy(name).grid_points(x, 10, layer.grid, layer=layer)
        near[name] = int((grid.abs() < 0.2).sum())
    assert near["curvature_paper"] >= 7 and near["input"] <= 3
    assert near["input"] < near["curvature"] <= near["curvature_paper"]


def test_refit_after_curvature_adaptation_is_a_direct_least_squares_solve():
    layer = _peak_layer(grid_size=10)
    x = torch.rand(4000, 1, dtype=D, generator=torch.Generator().manual_seed(7)) * 2 - 1
    old = layer.edge_activations(x)  # (N, out, in) = (N, 1, 1): the spline (no base branch)
    layer.update_grid(x, "curvature_paper")
    a = bspline_basis(x, layer.knots, 3)  # (N, 1, nb)
    assert torch.linalg.matrix_rank(a[:, 0]) == a.shape[-1]  # a well-posed solve
    direct = lstsq_per_input(a, old.transpose(1, 2))  # (out, in, nb) reference solve
    torch.testing.assert_close(layer.coef, direct, rtol=1e-6, atol=1e-9)


def test_network_densities_via_model_update_grid():
    model = kanlab.KAN([2, 3, 1], grid_size=5, seed=0, dtype=D, grid="curvature_network")
    x = torch.rand(200, 2, dtype=D, generator=torch.Generator().manual_seed(8)) * 2 - 1
    y = torch.sin(3 * x[:, :1])
    w = network_curvature(model, x)
    assert w.shape == (200,) and (w >= 0).all()
    before = model(x)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.update_grid(x)
        model.update_grid(x, "gradient")
        model.update_grid(x, "loss", y=y)
    assert (model(x) - before).abs().max() < 0.05
    with pytest.raises(InputError, match="targets"):
        model.update_grid(x, "loss")


def test_density_strategy_survives_save_and_load(tmp_path):
    model = kanlab.KAN([2, 2, 1], seed=0, grid=DensityGrid("curvature", smoothing=0.1))
    model.save(tmp_path / "m")
    loaded = kanlab.KAN.load(tmp_path / "m")
    assert loaded.grid_strategy == DensityGrid("curvature", smoothing=0.1)


def test_power_and_smoothing_spread_the_knots_between_curvature_and_input():
    layer = _peak_layer()
    x = torch.rand(4000, 1, dtype=D, generator=torch.Generator().manual_seed(9)) * 2 - 1
    near = {}
    for key, strategy in {
        "input": DensityGrid("input", floor=0.0),
        "curvature": DensityGrid("curvature", power=1.0, floor=0.0),
        "sqrt": DensityGrid("curvature", power=0.5, floor=0.0),
        "smoothed": DensityGrid("curvature", power=1.0, floor=0.0, smoothing=0.5),
    }.items():
        grid = strategy.grid_points(x, 20, layer.grid, layer=layer)
        near[key] = int((grid.abs() < 0.2).sum())
    assert near["input"] < near["sqrt"] < near["curvature"]
    assert near["input"] < near["smoothed"] < near["curvature"]
    with pytest.raises(InputError, match="power"):
        DensityGrid("curvature", power=0.0)


def test_margin_moves_only_the_end_points_out():
    x = torch.rand(100, 2, dtype=D, generator=torch.Generator().manual_seed(10))
    plain = DensityGrid("input").place(x, 4)
    wide = DensityGrid("input", margin=0.01).place(x, 4)
    span = plain[:, -1] - plain[:, 0]
    torch.testing.assert_close(wide[:, 1:-1], plain[:, 1:-1])
    torch.testing.assert_close(wide[:, 0], plain[:, 0] - 0.01 * span)
    torch.testing.assert_close(wide[:, -1], plain[:, -1] + 0.01 * span)
