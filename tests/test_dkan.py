"""DKAN: running standardisation, normal-quantile grids, linear tails."""

import copy

import pytest
import torch

import kanlab
from kanlab import InputError, KANLinear
from kanlab.grids import DKANGrid
from kanlab.nn.standardize import RunningStandardize

D = torch.float64


def _batches(n=5, size=32, n_in=3, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return [torch.randn(size, n_in, dtype=D, generator=gen) * 2 + 1 for _ in range(n)]


@pytest.mark.parametrize("momentum", [0.1, 0.3, 1.0])
def test_batch_mode_matches_batchnorm1d(momentum):
    ours = RunningStandardize(3, momentum=momentum, mode="batch", dtype=D)
    bn = torch.nn.BatchNorm1d(3, affine=False, momentum=momentum, dtype=D)
    for x in _batches():
        torch.testing.assert_close(ours(x), bn(x))
    torch.testing.assert_close(ours.running_mean, bn.running_mean)
    torch.testing.assert_close(ours.running_var, bn.running_var)
    assert int(ours.num_batches_tracked) == int(bn.num_batches_tracked)
    ours.eval()
    bn.eval()
    x = _batches(1, seed=9)[0]
    torch.testing.assert_close(ours(x), bn(x))


def test_running_mode_follows_the_papers_algorithm():
    gamma = 0.2
    ours = RunningStandardize(3, momentum=gamma, mode="running", dtype=D)
    mean, var = torch.zeros(3, dtype=D), torch.ones(3, dtype=D)
    for x in _batches():
        mean = (1 - gamma) * mean + gamma * x.mean(0)
        var = (1 - gamma) * var + gamma * x.var(0, unbiased=False)  # eq. 8: biased
        z = ours(x)  # standardised with the updated running statistics, in training too
        torch.testing.assert_close(z, (x - mean) / torch.sqrt(var + ours.eps))
    torch.testing.assert_close(ours.running_var, var)


def test_bad_settings_are_clear_errors():
    for alpha in (0.0, 0.5, -0.1):
        with pytest.raises(InputError, match="alpha"):
            DKANGrid(alpha=alpha)
    for gamma in (0.0, 1.5):
        with pytest.raises(InputError, match="momentum"):
            DKANGrid(momentum=gamma)
        with pytest.raises(InputError, match="momentum"):
            RunningStandardize(2, momentum=gamma)
    with pytest.raises(InputError, match="did you mean 'paper'"):
        DKANGrid(variant="papr")
    with pytest.raises(InputError, match="at least 2 samples"):
        RunningStandardize(2)(torch.zeros(1, 2))


def test_grid_points_of_both_variants():
    normal = torch.distributions.Normal(0.0, 1.0)
    code = DKANGrid(alpha=0.01, variant="code").points(6, D)
    paper = DKANGrid(alpha=0.05, variant="paper").points(5, D)
    assert code.shape == (7,) and paper.shape == (6,)
    torch.testing.assert_close(code[0], normal.icdf(torch.tensor(0.005)).to(D))
    torch.testing.assert_close(paper[-1], normal.icdf(torch.tensor(0.95)).to(D))
    torch.testing.assert_close(code, -code.flip(0))  # symmetric


def _dkan(variant="code", seed=0):
    return kanlab.KAN([3, 4, 2], grid="dkan" if variant == "code" else DKANGrid(variant=variant),
                      grid_size=6, seed=seed, dtype=D)


@pytest.mark.parametrize("variant", ["code", "paper"])
def test_dkan_layers_are_built_as_the_paper_says(variant):
    model = _dkan(variant)
    layer = model.layers[0]
    k = layer.spline_order
    assert layer.knot_convention == "clamped" and layer.tail_coef is not None
    assert (layer.knots[:, :k + 1] == layer.knots[:, :1]).all()  # clamped ends
    torch.testing.assert_close(layer.grid[0], DKANGrid(variant=variant).points(6, D))
    assert layer.standardize.mode == ("batch" if variant == "code" else "running")
    assert layer.base_input == ("raw" if variant == "code" else "standardized")
    assert not model.grid_strategy.adaptive


def test_dkan_in_eval_mode_is_deterministic_and_independent_of_the_batch():
    model = _dkan()
    for x in _batches():
        model(x)  # training: statistics move
    model.eval()
    stats = model.layers[0].standardize.running_mean.clone()
    x = _batches(1, size=16, seed=5)[0]
    full = model(x)
    torch.testing.assert_close(model(x), full, rtol=0, atol=0)
    torch.testing.assert_close(model(x[:1]), full[:1], rtol=0, atol=1e-14)
    torch.testing.assert_close(model(x.flip(0)), full.flip(0), rtol=0, atol=1e-14)
    assert torch.equal(model.layers[0].standardize.running_mean, stats)


def test_eval_output_is_the_sum_of_edge_activations():
    model = _dkan("paper")
    for x in _batches():
        model(x)
    model.eval()
    x = _batches(1, size=40, seed=3)[0] * 3  # many points beyond the grid: tails matter
    h = x
    for layer in model.layers:
        expected = layer.edge_activations(h).sum(-1) + layer.bias
        h = layer(h)
        torch.testing.assert_close(h, expected)


def test_linear_tails_make_the_spline_linear_beyond_the_grid():
    layer = KANLinear(1, 1, grid_size=4, tails="linear", base_fn="zero", dtype=D)
    with torch.no_grad():
        layer.tail_coef.copy_(torch.tensor([[[0.7, -1.3]]], dtype=D))
    x = torch.tensor([[-4.0], [-3.0], [3.0], [4.0]], dtype=D)  # beyond all knots (±2.5)
    y = layer(x).squeeze()
    torch.testing.assert_close(y[0] - y[1], torch.tensor(0.7, dtype=D))  # slope -0.7 left
    torch.testing.assert_close(y[3] - y[2], torch.tensor(-1.3, dtype=D))
    plain = KANLinear(1, 1, grid_size=4, base_fn="zero", dtype=D)
    assert torch.equal(plain(x[:2]), torch.zeros(2, 1, dtype=D))  # without tails: nothing


def test_layer_with_tails_and_standardisation_passes_gradcheck():
    layer = KANLinear(2, 2, grid_size=4, tails="linear", standardize="running", dtype=D,
                      generator=torch.Generator().manual_seed(0))
    layer.eval()
    x = (torch.randn(6, 2, dtype=D, generator=torch.Generator().manual_seed(1)) * 2)
    x.requires_grad_()
    assert torch.autograd.gradcheck(layer, (x,))
    assert torch.autograd.gradgradcheck(layer, (x,))


def test_edge_derivative_with_tails_and_standardisation_matches_autograd():
    layer = KANLinear(2, 3, grid_size=5, tails="linear", standardize="batch", dtype=D,
                      base_input="standardized", generator=torch.Generator().manual_seed(2))
    layer(_batches(1, n_in=2)[0])  # move the statistics off (0, 1)
    layer.eval()
    x = torch.randn(30, 2, dtype=D, generator=torch.Generator().manual_seed(3)) * 3
    for order in (1, 2):
        ours = layer.edge_derivative(x, order)
        for j in range(3):
            xr = x.clone().requires_grad_()
            d = layer.edge_activations(xr)[:, j, :]
            for _ in range(order):
                (d,) = torch.autograd.grad(d.sum(), xr, create_graph=True)
            torch.testing.assert_close(ours[:, j, :], d, rtol=1e-8, atol=1e-8)


def test_grid_moves_keep_the_function_of_a_layer_with_tails():
    layer = KANLinear(2, 3, grid_size=5, tails="linear", knot_convention="clamped", dtype=D,
                      generator=torch.Generator().manual_seed(4))
    x = torch.randn(400, 2, dtype=D, generator=torch.Generator().manual_seed(5)) * 0.7
    before = layer(x)
    refined = layer.refine(10)  # ends unchanged, knots nested: exact (beyond the grid too)
    torch.testing.assert_close(refined(x), before, rtol=0, atol=1e-9)
    assert torch.equal(refined.tail_coef, layer.tail_coef)
    old_phi = layer.edge_activations(x)  # (N, out, in)
    layer.update_grid(x)  # the ends move to the data; the tails keep their slopes
    assert torch.equal(refined.tail_coef, layer.tail_coef)
    # the splines are the least-squares fit of (old function - new tails - base) at the samples
    base = layer.base_fn(x).unsqueeze(1) * layer.base_scale
    tails = torch.einsum("bit,oit->boi", layer.tail_features(x), layer.tail_coef)
    target = (old_phi - base) / layer.spline_scale - tails  # (N, out, in)
    a = kanlab.splines.bspline_basis(x, layer.knots, 3)  # (N, in, nb)
    for i in range(2):
        direct = torch.linalg.lstsq(a[:, i], target[:, :, i], driver="gelsd").solution  # (nb, out)
        torch.testing.assert_close(layer.coef[:, i], direct.T, rtol=1e-6, atol=1e-8)


def test_fit_never_moves_a_dkan_grid():
    model = _dkan()
    data = kanlab.data.make_dataset(lambda x: x[:, :2], n_var=3,
                                    n_train=64, n_test=16, dtype=D)
    knots = model.layers[0].knots.clone()
    hist = kanlab.fit(model, data, opt="adam", steps=6, lr=0.01, progress=False)
    assert not any("update grid" in e for _, e in hist.events)
    assert torch.equal(model.layers[0].knots, knots)


def test_refining_a_dkan_model_puts_the_new_grid_at_normal_quantiles():
    model = _dkan()
    finer = model.refine(12)
    torch.testing.assert_close(finer.layers[1].grid[0], DKANGrid().points(12, D))
    assert finer.layers[1].tail_coef is not None and finer.grid_size == [12, 12]


def test_fit_evaluates_in_eval_mode_and_leaves_the_statistics_to_training_batches():
    model = _dkan()
    gen = torch.Generator().manual_seed(11)
    x = torch.randn(64, 3, dtype=D, generator=gen)
    data = kanlab.data.Dataset(x, x[:, :2], x[:4] + 50.0, x[:4, :2])  # a distant test set
    kanlab.fit(model, data, opt="adam", steps=1, lr=0.0, progress=False)
    bn = torch.nn.BatchNorm1d(3, affine=False, momentum=0.1, dtype=D)
    bn(x)  # the one training batch is all the statistics may have seen
    torch.testing.assert_close(model.layers[0].standardize.running_mean, bn.running_mean)
    assert model.training


def test_trace_updates_running_statistics_only_when_asked():
    x = torch.randn(64, 2, generator=torch.Generator().manual_seed(0)) * 2 + 1
    model = kanlab.KAN([2, 3, 1], grid="dkan", seed=0).train()
    stats = [layer.standardize.running_mean.clone() for layer in model.layers]
    model.trace(x)  # looking inside changes nothing
    assert all(torch.equal(s, layer.standardize.running_mean)
               for s, layer in zip(stats, model.layers))
    twin = copy.deepcopy(model)
    traced = model.trace(x, update_statistics=True)
    out = twin(x)  # forward records the statistics; the trace must record the same
    for a, b in zip(model.layers, twin.layers):
        torch.testing.assert_close(a.standardize.running_mean, b.standardize.running_mean)
        torch.testing.assert_close(a.standardize.running_var, b.standardize.running_var)
    torch.testing.assert_close(traced[-1].outputs, out)


def test_fit_with_regularisation_updates_dkan_statistics():
    data = kanlab.data.make_dkan_dataset("normal", n_train=256, n_test=64, seed=0)
    model = kanlab.KAN([2, 3, 1], grid="dkan", seed=0)
    kanlab.fit(model, data, opt="adam", steps=3, lamb=0.01, progress=False)
    assert model.layers[0].standardize.running_mean.abs().max() > 0


@pytest.mark.parametrize("grid", ["dkan", DKANGrid()])
def test_dkan_models_have_the_config_they_had_before_the_preset_moved_to_nn(grid):
    """``tests/fixtures/saved_v1/dkan/config.json`` was written when DKANGrid decided the
    layers; the nn preset builds the model with the same config (so save writes the same)."""
    import json
    from pathlib import Path

    saved = json.loads((Path(__file__).resolve().parent / "fixtures" / "saved_v1" / "dkan"
                        / "config.json").read_text())["config"]
    model = kanlab.KAN(saved["widths"], grid=grid, grid_size=4, seed=1, dtype=D)
    assert json.loads(json.dumps(model.config)) == saved
