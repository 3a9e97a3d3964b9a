"""The parts of a KAN layer: edge branches (base, tails), the knot-table cache, the layer's
assembly of them, and a new branch added without new code in the layer."""

import copy
import math

import pytest
import torch
from torch import nn

import kanlab
from kanlab import InputError, KANLinear
from kanlab.nn.base_branch import BaseBranch
from kanlab.nn.spline_edges import KnotTableCache
from kanlab.nn.tails import LinearTails
from kanlab.splines import make_knots, uniform_grid

D = torch.float64
N_IN, N_OUT = 3, 2


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


def _reference(branch, u, coef):
    """The slow obvious value of one branch on every edge, ``(B, out, in)``, by loops."""
    out = torch.zeros(u.shape[0], coef.shape[0], coef.shape[1], dtype=u.dtype)
    for j in range(coef.shape[0]):
        for i in range(coef.shape[1]):
            if isinstance(branch, LinearTails):
                k = branch.k
                a, b = 0.0 - 1.0, 1.0  # the grid's ends of _knots(k)
                assert float(_knots(k)[i, k]) == a and float(_knots(k)[i, -k - 1]) == b
                out[:, j, i] = (coef[j, i, 0] * torch.clamp(a - u[:, i], min=0)
                                + coef[j, i, 1] * torch.clamp(u[:, i] - b, min=0))
            elif branch.fn is not None:
                out[:, j, i] = coef[j, i] * branch.fn(u[:, i])
    return out


def _knots(k):
    return make_knots(uniform_grid(N_IN, 5, dtype=D), k)


BRANCHES = {
    "silu": lambda: BaseBranch("silu"),
    "tanh_standardized": lambda: BaseBranch("tanh", "standardized"),
    "callable": lambda: BaseBranch(torch.sin),
    "zero": lambda: BaseBranch("zero"),
    "tails_k3": lambda: LinearTails(3),
    "tails_k1": lambda: LinearTails(1),
}


def _setup(name):
    branch = BRANCHES[name]()
    k = branch.k if isinstance(branch, LinearTails) else 3
    x = torch.randn(40, N_IN, generator=_gen(1), dtype=D) * 1.5  # well beyond [-1, 1]
    shift, dz = torch.tensor([0.1, -0.2, 0.3], dtype=D), torch.tensor([0.7, 1.3, 0.9], dtype=D)
    z = (x - shift) * dz  # as a standardisation computes it
    coef = branch.make_parameter(N_OUT, N_IN, dtype=D)
    with torch.no_grad():
        coef.normal_(generator=_gen(2))
    return branch, _knots(k), x, z, dz, coef


def _own_input(branch, x, z):
    if isinstance(branch, LinearTails) or branch.base_input == "standardized":
        return z
    return x


@pytest.mark.parametrize("name", sorted(BRANCHES))
def test_branch_values_and_gemm_columns_match_a_per_edge_loop(name):
    branch, knots, x, z, dz, coef = _setup(name)
    expected = _reference(branch, _own_input(branch, x, z), coef.detach())
    values = branch.values(x, z, knots, coef)
    cols = branch.columns(x, z, knots)
    assert sum(c.shape[1] for c in cols) == branch.n_columns(N_IN)
    if values is None:
        assert cols == [] and branch.weights(coef, torch.ones(N_OUT, N_IN, dtype=D)) == []
        assert not expected.abs().any()
        return
    torch.testing.assert_close(values, expected, rtol=1e-14, atol=1e-14)
    # the GEMM's columns times its weights sum the edges into each output
    scale = torch.rand(N_OUT, N_IN, generator=_gen(3), dtype=D)
    weights = branch.weights(coef, scale)
    y = torch.cat(cols, dim=1) @ torch.cat(weights, dim=1).t()  # (B, out)
    torch.testing.assert_close(y, (values * scale).sum(-1), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", sorted(BRANCHES))
@pytest.mark.parametrize("order", [0, 1, 2])
def test_branch_derivatives_match_autograd(name, order):
    branch, knots, x, z, dz, coef = _setup(name)
    coef = coef.detach()
    d = branch.derivative(x, z, dz, knots, coef, order)
    if branch.inside_spline:  # in z, as the spline's bases
        u0 = z.clone().requires_grad_()
        f = lambda u: _reference(branch, u, coef)  # noqa: E731
    else:  # in x, through the standardisation when the branch sees z
        u0 = x.clone().requires_grad_()
        std = not isinstance(branch, LinearTails) and branch.base_input == "standardized"
        f = lambda u: _reference(branch, (u - (x - z / dz)) * dz if std else u, coef)  # noqa: E731
    vals = f(u0)  # (B, out, in)
    for _ in range(order):
        grads = []
        for j in range(N_OUT):
            g = None
            if vals.requires_grad:
                (g,) = torch.autograd.grad(vals[:, j].sum(), u0, create_graph=True,
                                           allow_unused=True)
            grads.append(torch.zeros_like(u0) if g is None else g)
        vals = torch.stack(grads, 1)
    if d is None:
        assert not vals.detach().abs().any()
    else:
        torch.testing.assert_close(d, vals.detach(), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("name", sorted(BRANCHES))
def test_branch_jet_columns_are_the_chain_rule_of_its_columns(name):
    branch, knots, x, _, _, _ = _setup(name)
    h = x[:8]
    dh = torch.randn(8, 2, N_IN, generator=_gen(4), dtype=D)
    d2h = torch.randn(8, 2, N_IN, generator=_gen(5), dtype=D)
    value, first, second = branch.jet_columns(h, dh, d2h, knots)
    cols = branch.columns(h, h, knots)
    assert len(value) == len(first) == len(second) == len(cols)
    for n, (c, v, f, s) in enumerate(zip(cols, value, first, second)):
        torch.testing.assert_close(v, c)
        hr = h.clone().requires_grad_()
        cr = branch.columns(hr, hr, knots)[n]
        (g1,) = torch.autograd.grad(cr.sum(), hr, create_graph=True)  # elementwise: c'(h)
        g2 = torch.autograd.grad(g1.sum(), hr, allow_unused=True)[0] if g1.requires_grad \
            else None
        g2 = torch.zeros_like(h) if g2 is None else g2
        g1 = g1.detach().unsqueeze(1)
        torch.testing.assert_close(f, (g1 * dh).reshape(16, -1))
        torch.testing.assert_close(s, (g2.unsqueeze(1) * dh * dh + g1 * d2h).reshape(16, -1))


@pytest.mark.parametrize("name", sorted(BRANCHES))
def test_transfer_terms_are_the_old_minus_the_new_value(name):
    branch, knots, x, z, _, coef = _setup(name)
    k = branch.k if isinstance(branch, LinearTails) else 3
    moved = make_knots(uniform_grid(N_IN, 5, (-0.6, 1.4), dtype=D), k)
    terms = branch.transfer_terms(z, knots, moved, coef.detach())
    if not branch.inside_spline:
        assert terms is None  # the base function does not depend on the knots
        return
    features, c = terms
    change = torch.einsum("bit,oit->boi", features, c)
    old, new = branch.values(x, z, knots, coef), branch.values(x, z, moved, coef)
    torch.testing.assert_close(change, (old - new).detach(), rtol=1e-13, atol=1e-13)


def test_branch_initialisation():
    draw = {"device": "cpu", "dtype": D}
    base, tails = BaseBranch("silu"), LinearTails(3)
    w = base.make_parameter(40, 30, dtype=D)
    with torch.no_grad():
        base.reset_(w, None, _gen(), draw)  # Xavier-uniform
        bound = math.sqrt(6 / 70)
        assert w.abs().max() <= bound and w.abs().max() > 0.9 * bound
        base.reset_(w, 0.0, _gen(), draw)
        assert not w.any()
        base.reset_(w, torch.full((30,), 2.0, dtype=D), _gen(), draw)
        assert w.std().item() == pytest.approx(2.0, rel=0.05)
        t = tails.make_parameter(40, 30, dtype=D)
        tails.reset_(t, 0.1, _gen(), draw)
        assert t.shape == (40, 30, 2) and t.std().item() == pytest.approx(0.1, rel=0.05)


def test_bad_branch_options():
    with pytest.raises(InputError, match="did you mean 'silu'"):
        BaseBranch("sillu")
    with pytest.raises(InputError, match="callable"):
        BaseBranch(3)
    with pytest.raises(InputError, match="base_input"):
        BaseBranch("silu", "standardised")


# ---------------------------------------------------------------------- the layer's parts
def test_layer_branches_and_gemm_layout():
    layer = KANLinear(N_IN, N_OUT, tails="linear", generator=_gen(), dtype=D)
    base, tails = layer.branches
    assert isinstance(base, BaseBranch) and isinstance(tails, LinearTails)
    assert layer.base_fn is base.fn and layer.base_fn_name == "silu"
    nb = layer.coef.shape[-1]
    w = layer.gemm_weight()  # [splines | base | tails low | tails high]
    assert w.shape == (N_OUT, N_IN * nb + 3 * N_IN)
    torch.testing.assert_close(w[:, : N_IN * nb], layer.spline_weight())
    torch.testing.assert_close(w[:, N_IN * nb : N_IN * (nb + 1)], layer.base_scale)
    torch.testing.assert_close(w[:, N_IN * (nb + 1) : N_IN * (nb + 2)],
                               layer.tail_coef[..., 0] * layer.spline_scale)
    assert len(KANLinear(2, 2, base_fn="zero").branches) == 1
    assert KANLinear(2, 2).tail_coef is None


def test_knot_table_cache_is_rebuilt_exactly_when_the_knots_change():
    layer = KANLinear(N_IN, N_OUT, generator=_gen(), dtype=D)
    first = layer.knot_lookup()
    assert layer.knot_lookup() is first  # reused
    with torch.no_grad():
        layer.knots.mul_(1.5)  # in place: the version counter moves
    second = layer.knot_lookup()
    assert second is not first
    torch.testing.assert_close(second[1][:, 1], 1 / (1.5 * 0.4) * torch.ones(N_IN, dtype=D))
    layer.knots = layer.knots.clone()  # another tensor
    assert layer.knot_lookup() is not second
    cache = KnotTableCache()
    assert cache.lookup(layer.knots, 3, layer.branches) is not cache.lookup(layer.knots, 3, ())


def test_two_grid_moves_without_a_forward_in_between_use_the_new_knots():
    """The cache names its knot tensor, so no new knot vector can take its memory and look
    cached; every call after any sequence of moves matches a layer built from scratch."""
    gen = _gen(7)
    x = torch.rand(300, N_IN, generator=gen, dtype=D) * 2 - 1
    layer = KANLinear(N_IN, N_OUT, generator=_gen(), dtype=D)
    layer(x)
    for g in (10, 5, 10, 20):
        layer.refine_(g)
        fresh = KANLinear(N_IN, N_OUT, grid_size=g, dtype=D)
        fresh.load_state_dict(layer.state_dict())
        torch.testing.assert_close(layer(x), fresh(x), rtol=0, atol=0)
    copied = copy.deepcopy(layer)
    torch.testing.assert_close(copied(x), layer(x), rtol=0, atol=0)


class _LinearEdges:
    """A toy outer branch ``v_ji = c_ji · x_i`` (a new edge kind written against the
    interface of kanlab.nn.branch): the layer needs no new code for it."""

    param = "linear_coef"
    inside_spline = False

    def make_parameter(self, out_features, in_features, **factory):
        return nn.Parameter(torch.empty(out_features, in_features, **factory))

    def n_columns(self, in_features):
        return in_features

    def columns(self, x, z, knots):
        return [x]

    def weights(self, coef, scale):
        return [coef * scale]

    def values(self, x, z, knots, coef):
        return x.unsqueeze(1) * coef

    def derivative(self, x, z, dz, knots, coef, order):
        if order == 0:
            return self.values(x, z, knots, coef)
        return coef.expand(x.shape[0], -1, -1) if order == 1 else None

    def jet_columns(self, h, dh, d2h, knots):
        return [h], [dh.reshape(-1, h.shape[1])], [d2h.reshape(-1, h.shape[1])]

    def transfer_terms(self, z, old_knots, new_knots, coef):
        return None

    def reset_(self, coef, std, generator, draw):
        coef.copy_(torch.full(coef.shape, 0.5, **draw))


def test_a_new_edge_branch_needs_no_new_code_in_the_layer():
    layer = KANLinear(N_IN, N_OUT, tails="linear", generator=_gen(), dtype=D)
    plain = copy.deepcopy(layer)
    new = _LinearEdges()
    layer.register_parameter(new.param, new.make_parameter(N_OUT, N_IN, dtype=D))
    layer.branches = (*layer.branches, new)
    layer.reset_parameters(_gen())
    assert torch.equal(layer.linear_coef, torch.full((N_OUT, N_IN), 0.5, dtype=D))
    x = torch.randn(30, N_IN, generator=_gen(3), dtype=D).requires_grad_()
    extra = 0.5 * x.sum(-1, keepdim=True)
    torch.testing.assert_close(layer(x), plain(x) + extra)
    torch.testing.assert_close(layer.edge_activations(x).sum(-1) + layer.bias, layer(x))
    d1 = layer.edge_derivative(x, 1)
    torch.testing.assert_close(d1, plain.edge_derivative(x, 1) + 0.5)
    dh = torch.eye(N_IN, dtype=D).expand(30, N_IN, N_IN)
    y, dy, d2y = layer.forward_derivatives(x, dh, torch.zeros_like(dh))
    jac = torch.autograd.functional.jacobian(lambda v: layer(v).sum(0), x.detach())
    torch.testing.assert_close(dy, jac.permute(1, 2, 0))
    part = layer.select([2, 0], [1])
    torch.testing.assert_close(part(x[:, [2, 0]]), layer(x)[:, [1]] - (
        layer.edge_activations(x)[:, 1, 1:2]))
    with torch.no_grad():
        before = layer(x)
        layer.update_grid(x.detach())  # the new branch keeps its coefficients
        assert torch.equal(layer.linear_coef, torch.full((N_OUT, N_IN), 0.5, dtype=D))
        assert (layer(x) - before).abs().max() < 0.05


def test_dkan_preset_decides_the_layers_not_the_grid():
    from kanlab.grids import DKANGrid, QuantileGrid
    from kanlab.nn.presets import DKANLayers, layer_preset

    assert layer_preset(QuantileGrid()) is None
    assert not hasattr(DKANGrid(), "layer_options")
    preset = layer_preset(DKANGrid(variant="paper", momentum=0.3))
    assert isinstance(preset, DKANLayers)
    assert preset.shared_options() == {"knot_convention": "clamped", "tails": "linear"}
    opts = preset.layer_options(4, 6, D)
    assert opts["base_input"] == "standardized" and opts["standardize"].mode == "running"
    assert opts["standardize"].momentum == 0.3 and opts["standardize"].num_features == 4
    torch.testing.assert_close(opts["grid"], DKANGrid(variant="paper").points(6, D))
    # grid="dkan" and the instance build the same model, layer by layer
    a = kanlab.KAN([3, 4, 2], grid="dkan", grid_size=6, seed=0, dtype=D)
    b = kanlab.KAN([3, 4, 2], grid=DKANGrid(), grid_size=6, seed=0, dtype=D)
    assert a.config == b.config
    for (ka, va), (kb, vb) in zip(a.state_dict().items(), b.state_dict().items()):
        assert ka == kb and (not torch.is_tensor(va) or torch.equal(va, vb))


def test_fixed_and_data_driven_strategies_on_points():
    from kanlab.grids import DKANGrid, QuantileGrid

    assert DKANGrid().points(4, D).shape == (5,)
    with pytest.raises(InputError, match="no fixed points"):
        QuantileGrid().points(4, D)
