"""Ensembles (issue 20): E members in one module equal E separate KANs -- outputs, gradients,
members taken out -- with knots and masks of their own: to the bit through the compiled
kernel, to round-off through the batched reference pass; clear errors."""

import pytest
import torch

import kanlab
from kanlab.errors import InputError
from kanlab.nn import ensemble_layer
from kanlab.nn.ensemble import Ensemble
from kanlab.splines import native

D = torch.float64


def _x(n=64, d=2, seed=0):
    return torch.rand(n, d, generator=torch.Generator().manual_seed(seed), dtype=D) * 2 - 1


def _members(widths, seeds, adapt=True, **options):
    """Separate KANs with their own (adapted) knots and a pruned edge in one of them."""
    models = [kanlab.KAN(widths, seed=s, dtype=D, grid_size=4, **options) for s in seeds]
    if adapt:
        for k, m in enumerate(models):
            m.update_grid(_x(200, m.widths[0], seed=10 + k) ** (k + 1))
        models[-1].layers[0].mask[0, 0] = 0.0
    return models


@pytest.mark.parametrize("widths", [[2, 5, 1], [3, [2, 1], 2], [1, 1]])
def test_an_ensemble_equals_its_members_on_shared_and_own_inputs(widths):
    models = _members(widths, [0, 4, 7])
    ens = Ensemble.stack(models)
    x = _x(d=widths[0])
    out = ens(x)
    assert out.shape == (3, 64, models[0].widths[-1])
    for k, m in enumerate(models):
        torch.testing.assert_close(out[k], m(x), rtol=0, atol=1e-14)
    own = torch.stack([_x(d=widths[0], seed=20 + k) for k in range(3)])  # (E, B, in)
    out = ens(own)
    for k, m in enumerate(models):
        torch.testing.assert_close(out[k], m(own[k]), rtol=0, atol=1e-14)


def test_seeds_build_the_same_members_and_members_come_back():
    ens = Ensemble([2, 5, 1], members=3, seeds=[5, 6, 7], dtype=D)
    x = _x()
    state = torch.random.get_rng_state()
    for k, seed in enumerate([5, 6, 7]):
        alone = kanlab.KAN([2, 5, 1], seed=seed, dtype=D)
        torch.testing.assert_close(ens(x)[k], alone(x), rtol=0, atol=1e-14)
        torch.testing.assert_close(ens.member(k)(x), alone(x), rtol=0, atol=0)
    assert torch.equal(torch.random.get_rng_state(), state)  # the global RNG untouched
    torch.testing.assert_close(ens.member(-1)(x), ens.member(2)(x), rtol=0, atol=0)
    assert Ensemble([2, 5, 1], dtype=D).members == 1


def test_gradients_equal_the_members_gradients():
    models = _members([2, 3, 1], [0, 1])
    ens = Ensemble.stack(models)
    x = _x()
    ens(x).square().sum().backward()
    for k, m in enumerate(models):
        m(x).square().sum().backward()
        for name in ("coef", "spline_scale", "base_scale", "bias"):
            torch.testing.assert_close(getattr(ens.layers[0], name).grad[k],
                                       getattr(m.layers[0], name).grad, rtol=1e-12,
                                       atol=1e-14)


@pytest.fixture(params=["kernel", "reference"])
def path(request, monkeypatch):
    """Each test through the compiled kernel (when built) and through the reference pass."""
    if request.param == "reference":
        monkeypatch.setattr(ensemble_layer.native, "kernel_for", lambda *a, **k: None)
    elif not native.available():
        pytest.skip("the compiled kernel is not built")
    return request.param


@pytest.mark.parametrize("widths", [[2, 3, 1], [3, [2, 1], 2]])
def test_outputs_and_gradients_are_the_members_to_the_bit_through_the_kernel(path, widths):
    models = _members(widths, [0, 1, 2])
    ens = Ensemble.stack(models)
    x = _x(d=widths[0])
    out = ens(x)
    out.square().sum().backward()
    exact = path == "kernel"
    for k, m in enumerate(models):
        y = m(x)
        y.square().sum().backward()
        mine = [out[k]] + [getattr(layer, n).grad[k] for layer in ens.layers
                           for n in ("coef", "spline_scale", "base_scale", "bias")]
        theirs = [y] + [getattr(layer, n).grad for layer in m.layers
                        for n in ("coef", "spline_scale", "base_scale", "bias")]
        for a, b in zip(mine, theirs):
            if exact:
                assert torch.equal(a, b)
            else:
                torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-14)


def test_input_gradients_double_backward_and_a_retained_graph(path):
    models = _members([2, 3, 1], [0, 1])
    ens = Ensemble.stack(models)
    own = torch.stack([_x(16, seed=3), _x(16, seed=4)]).requires_grad_()
    shared = _x(16, seed=5).requires_grad_()
    (g_own,) = torch.autograd.grad(ens(own).sum(), own, create_graph=True)
    out = ens(shared)
    (g_shared,) = torch.autograd.grad(out.sum(), shared, retain_graph=True)
    (again,) = torch.autograd.grad(out.sum(), shared)  # through the retained graph
    assert torch.equal(g_shared, again)
    lone_sum = 0
    for k, m in enumerate(models):
        xk = own[k].detach().requires_grad_()
        (g,) = torch.autograd.grad(m(xk).sum(), xk, create_graph=True)
        torch.testing.assert_close(g_own[k], g, rtol=1e-12, atol=1e-14)
        (gg,) = torch.autograd.grad(g.sum(), m.layers[0].coef)
        (gg_ens,) = torch.autograd.grad(g_own[k].sum(), ens.layers[0].coef, retain_graph=True)
        torch.testing.assert_close(gg_ens[k], gg, rtol=1e-10, atol=1e-12)
        xs = shared.detach().requires_grad_()
        lone_sum = lone_sum + torch.autograd.grad(m(xs).sum(), xs)[0]
    torch.testing.assert_close(g_shared, lone_sum, rtol=1e-12, atol=1e-14)


def test_the_trace_is_the_members_traces_with_their_gradients(path):
    models = _members([3, [2, 1], 2], [0, 1, 2])
    ens = Ensemble.stack(models)
    x = _x(d=3).requires_grad_()
    traces = ens.trace(x)
    loss = sum(t.activations.abs().mean() for t in traces) + traces[-1].outputs.square().sum()
    loss.backward()
    for k, m in enumerate(models):
        xk = x.detach().requires_grad_()
        lone = m.trace(xk)
        lone_loss = sum(t.activations.abs().mean() for t in lone) / 3 \
            + lone[-1].outputs.square().sum()
        lone_loss.backward()
        for mine, theirs in zip(traces, lone):
            for name in ("inputs", "activations", "outputs", "sums"):
                torch.testing.assert_close(getattr(mine, name)[k], getattr(theirs, name),
                                           rtol=1e-12, atol=1e-13)
        torch.testing.assert_close(ens.layers[0].coef.grad[k], m.layers[0].coef.grad,
                                   rtol=1e-10, atol=1e-12)
        torch.testing.assert_close(ens.layers[1].spline_scale.grad[k],
                                   m.layers[1].spline_scale.grad, rtol=1e-10, atol=1e-12)
    lone_input_grads = []
    for m in models:
        xk = x.detach().requires_grad_()
        lone = m.trace(xk)
        (sum(t.activations.abs().mean() for t in lone) / 3
         + lone[-1].outputs.square().sum()).backward()
        lone_input_grads.append(xk.grad)
    torch.testing.assert_close(x.grad, sum(lone_input_grads), rtol=1e-10, atol=1e-12)


@pytest.mark.skipif(not native.available(), reason="the compiled kernel is not built")
def test_the_kernels_regularised_pass_equals_autograd_through_the_trace():
    from kanlab.nn.ensemble_layer import fused_regularised
    from kanlab.training.regularization import Regulariser

    models = _members([2, 3, 2, 1], [0, 1, 2])  # adapted knots, a pruned edge
    ens = Ensemble.stack(models)
    x = _x(200)
    y = torch.sin(3 * x[:, :1]) * x[:, 1:]
    lambdas = torch.tensor([1e-2, 1e-3, 0.0], dtype=D)
    traces = ens.trace(x)
    losses = (traces[-1].outputs - y).square().mean((1, 2))
    penalty = Regulariser(1.0, 1.0, 2.0).penalty(ens, traces)
    (losses + lambdas * penalty).sum().backward()
    expected = [p.grad.clone() for p in ens.parameters()]
    ens.zero_grad(set_to_none=True)
    found = fused_regularised(ens.layers, x, y, lambdas, 1.0, 2.0)
    torch.testing.assert_close(found[0], losses.detach(), rtol=1e-13, atol=0)
    torch.testing.assert_close(found[1], penalty.detach(), rtol=1e-13, atol=0)
    for p, g in zip(ens.parameters(), expected):
        torch.testing.assert_close(p.grad, g, rtol=1e-12, atol=1e-13)
    ens.zero_grad(set_to_none=True)
    only = fused_regularised(ens.layers, x, y, lambdas, 1.0, 2.0,
                             torch.tensor([False, True, False]))
    assert torch.isnan(only[0][0]) and only[0][1] == found[0][1]
    assert float(ens.layers[0].coef.grad[0].abs().max()) == 0.0


def test_what_an_ensemble_cannot_take_is_a_clear_error():
    with pytest.raises(InputError, match="members must be an integer >= 1"):
        Ensemble([2, 1], members=0)
    with pytest.raises(InputError, match="one seed per member"):
        Ensemble([2, 1], members=2, seeds=[1])
    ens = Ensemble([2, 3, 1], members=2, dtype=D)
    with pytest.raises(InputError, match=r"expected \(B, 2\) for every member or \(2, B, 2\)"):
        ens(torch.zeros(3, 5, 2, dtype=D))
    with pytest.raises(InputError, match="member index must be an integer in 0..1"):
        ens.member(2)
    with pytest.raises(InputError, match=r"model 1 differs from model 0 in \['widths'\]"):
        Ensemble.stack([kanlab.KAN([2, 3, 1]), kanlab.KAN([2, 4, 1])])
    with pytest.raises(InputError, match="linear tails"):
        Ensemble.stack([kanlab.KAN([2, 1], tails="linear")])
    with pytest.raises(InputError, match="non-empty list"):
        Ensemble.stack([])
    a, b = kanlab.KAN([2, 1], seed=0), kanlab.KAN([2, 1], seed=1)
    a.fix_symbolic(0, 0, 0, "sin", fit_params=False)
    with pytest.raises(InputError, match=r"differs from model 0 in \['symbolic'\]"):
        Ensemble.stack([a, b])
    b.fix_symbolic(0, 0, 0, "sin", fit_params=False, with_spline=True)
    with pytest.raises(InputError, match="symbolic edges with splines"):
        Ensemble.stack([a, b])
