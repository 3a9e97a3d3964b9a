"""LAN (the KAN paper's Appendix B): node activations, SIREN as a special case, grid moves."""

import math

import numpy as np
import pytest
import torch
from scipy.interpolate import BSpline

import kanlab
from kanlab.data import Dataset
from kanlab.errors import InputError
from kanlab.nn.lan import LAN, NodeActivations

F64 = torch.float64


def slow_forward(model: LAN, x: torch.Tensor) -> torch.Tensor:
    """The LAN by hand: numpy linear maps, scipy's B-splines, the base function."""
    h = x.numpy()
    for depth, linear in enumerate(model.linears):
        h = h @ linear.weight.detach().numpy().T + linear.bias.detach().numpy()
        if depth == len(model.activations_):
            break
        act = model.activations_[depth]
        out = np.empty_like(h)
        for j in range(h.shape[1]):
            spline = BSpline(act.knots[j].numpy(), act.coef[j].detach().numpy(), act.k,
                             extrapolate=True)(h[:, j])
            base = {"silu": h[:, j] / (1 + np.exp(-h[:, j])),
                    "sine": np.sin(act.omega * h[:, j]), "zero": 0.0}[act.base]
            out[:, j] = (act.base_scale[j].item() * base + act.spline_scale[j].item() * spline)
        h = out
    return torch.from_numpy(h)


@pytest.mark.parametrize("base", ["silu", "sine", "zero"])
def test_forward_matches_a_slow_obvious_version(base):
    model = LAN([3, 4, 5, 2], grid_size=4, base=base, omega=2.0, noise_scale=0.5, seed=1,
                dtype=F64)
    x = torch.rand(50, 3, generator=torch.Generator().manual_seed(0), dtype=F64) * 2 - 1
    torch.testing.assert_close(model(x), slow_forward(model, x), rtol=1e-10, atol=1e-12)
    assert model(x[None]).shape == (1, 50, 2)


def test_gradients_are_right():
    model = LAN([2, 3, 1], grid_size=3, noise_scale=0.3, seed=0, dtype=F64)
    x = torch.rand(6, 2, generator=torch.Generator().manual_seed(1), dtype=F64,
                   requires_grad=True)
    assert torch.autograd.gradcheck(model, (x,))


def test_parameter_count_is_weights_plus_node_activations():
    n, depth, g, k = 8, 3, 5, 3
    model = LAN([n] * (depth + 1) + [1], grid_size=g, spline_order=k, seed=0)
    weights = depth * (n * n + n) + (n + 1)
    activations = depth * n * (g + k + 2)  # coefficients, base and spline scale per node
    assert sum(p.numel() for p in model.parameters()) == weights + activations


def test_sine_lan_with_frozen_zero_splines_is_siren():
    omega = 30.0
    model = LAN([2, 16, 16, 1], base="sine", omega=omega, noise_scale=0.0,
                learn_activations=False, seed=3, dtype=F64)
    x = torch.rand(20, 2, generator=torch.Generator().manual_seed(0), dtype=F64) * 2 - 1
    h = x
    for linear in model.linears[:-1]:
        h = torch.sin(omega * linear(h))
    torch.testing.assert_close(model(x), model.linears[-1](h))
    first, hidden = model.linears[0].weight, model.linears[1].weight
    assert first.abs().max() <= 1 / 2 and hidden.abs().max() <= math.sqrt(6 / 16) / omega
    trainable = {name for name, p in model.named_parameters() if p.requires_grad}
    assert trainable == {f"linears.{i}.{w}" for i in range(3) for w in ("weight", "bias")}
    model.learn_activations_()
    assert all(p.requires_grad for p in model.parameters())


def test_seed_gives_the_same_network_and_leaves_the_global_rng():
    state = torch.get_rng_state()
    a, b = LAN([2, 5, 1], seed=7), LAN([2, 5, 1], seed=7)
    assert torch.equal(torch.get_rng_state(), state)
    for p, q in zip(a.parameters(), b.parameters()):
        assert torch.equal(p, q)
    assert not torch.equal(a.linears[0].weight, LAN([2, 5, 1], seed=8).linears[0].weight)


def test_update_grid_covers_the_preactivations_and_keeps_the_function():
    model = LAN([2, 6, 1], grid_size=5, noise_scale=0.3, seed=0, dtype=F64)
    with torch.no_grad():
        model.linears[0].weight.mul_(3.0)  # pre-activations well beyond the grid [-1, 1]
    x = torch.rand(400, 2, generator=torch.Generator().manual_seed(0), dtype=F64) * 2 - 1
    z = model.preactivations(x)[0]
    before = model.activations_[0](z)
    model.update_grid(x)
    act = model.activations_[0]
    torch.testing.assert_close(act.grid[:, 0], z.amin(0))
    torch.testing.assert_close(act.grid[:, -1], z.amax(0))
    inside = (z.abs() <= 1).all(1)  # where the old splines were fit by data
    assert (act(z) - before)[inside].abs().max() < 0.05 * before.abs().max()


def test_refine_keeps_the_function_and_resizes_every_grid():
    """On equally spaced grids (``grid="uniform"``) the new knots hold the old ones, so the
    refined splines are the old functions exactly; on a quantile grid they are close."""
    x = torch.rand(300, 2, generator=torch.Generator().manual_seed(0), dtype=F64) * 2 - 1
    for grid, tolerance in (("uniform", 1e-9), ("quantile", 1e-4)):
        model = LAN([2, 4, 3, 1], grid_size=3, noise_scale=0.5, grid=grid, seed=2, dtype=F64)
        model.update_grid(x)
        before = model(x)
        model.refine_(12, x)
        assert model.grid_size == [12, 12]
        assert model.activations_[0].coef.shape == (4, 15)
        torch.testing.assert_close(model(x), before, rtol=0,
                                   atol=tolerance * before.abs().max().item())


def test_fit_trains_a_lan_with_grid_updates_and_extension():
    f = lambda x: torch.exp(torch.sin(math.pi * x[:, :1]) + x[:, 1:] ** 2)  # noqa: E731
    g = torch.Generator().manual_seed(0)
    x, xt = (torch.rand(n, 2, generator=g, dtype=F64) * 2 - 1 for n in (300, 300))
    data = Dataset(x, f(x), xt, f(xt))
    model = LAN([2, 5, 1], grid_size=3, seed=0, dtype=F64)
    history = kanlab.fit(model, data, steps=30, progress=False, grid_schedule=[3, 6])
    assert model.grid_size == [6]
    assert any("update grid" in e for _, e in history.events)
    assert any("refine to G=6" in e for _, e in history.events)
    assert history.test_rmse[-1] < 0.2 * history.test_rmse[0]


@pytest.mark.parametrize("widths", [[3], [2, 0, 1], "2,5,1", [2, 2.5, 1], [2, True, 1], 5])
def test_malformed_widths_are_named(widths):
    with pytest.raises(InputError, match="widths must be a list"):
        LAN(widths)


def test_bad_options_are_named():
    with pytest.raises(InputError, match="base"):
        LAN([2, 3, 1], base="relu")
    with pytest.raises(InputError, match="grid_range"):
        NodeActivations(3, grid_range=(1.0, -1.0))
    with pytest.raises(InputError, match="x has 3 features; the LAN takes 2"):
        LAN([2, 3, 1])(torch.zeros(4, 3))


def test_plot_draws_weights_and_every_node(tmp_path):
    pytest.importorskip("matplotlib")
    model = LAN([2, 3, 2, 1], seed=0, dtype=F64)
    x = torch.rand(50, 2, generator=torch.Generator().manual_seed(0), dtype=F64)
    fig = model.plot(x, path=tmp_path / "lan.png")
    assert (tmp_path / "lan.png").stat().st_size > 0
    axes = fig.get_axes()
    assert len(axes) == 2 * 4  # two hidden layers: weights + up to 3 nodes each
    curve = axes[1].get_lines()[0]  # layer 1, node 0: φ over its pre-activations
    z = model.preactivations(x)[0][:, 0]
    assert curve.get_xdata().min() == pytest.approx(z.min().item())
    np.testing.assert_allclose(curve.get_ydata(),
                               model.activations_[0](torch.as_tensor(
                                   np.stack([curve.get_xdata()] * 3, 1)))[:, 0].detach())
    assert not axes[-1].axison  # layer 2 has 2 nodes: its third panel is off
    with pytest.raises(InputError, match="no hidden layer"):
        LAN([2, 1]).plot(x.float())
