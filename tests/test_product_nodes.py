"""Product nodes (pykan's multiplication nodes): the width spec, the forward pass against a slow
obvious version, derivatives, grid moves, pruning, formulas, save/load and clear errors."""

import math

import pytest
import torch

import kanlab
from kanlab.errors import InputError
from kanlab.interpret.importance import attribute, importance
from kanlab.nn.product_nodes import Nodes, WidthSpec, check_hidden_spec, width_spec

D = torch.float64


def _x(n=64, d=2, seed=0, low=-1.0, high=1.0):
    u = torch.rand(n, d, generator=torch.Generator().manual_seed(seed), dtype=D)
    return low + (high - low) * u


def _slow_forward(model, x):
    """Every row a Python sum of edge activations plus bias, every product node a loop."""
    h = x
    for layer in model.layers:
        acts = layer.edge_activations(h)  # (B, rows, in)
        rows = [sum(acts[:, j, i] for i in range(layer.in_features))
                + (layer.bias[j] if layer.bias is not None else 0.0)
                for j in range(layer.out_features)]
        nodes = []
        for n, group in enumerate(layer.nodes.groups):
            value = rows[group[0]]
            for r in group[1:]:
                value = value * rows[r]
            if len(group) > 1 and layer.product_bias is not None:
                value = value + layer.product_bias[n - layer.nodes.n_sum]
            nodes.append(value)
        h = torch.stack(nodes, dim=1)
    return h


def _product_biases(model, seed=0):
    """Random biases after the products (zeros at the start), so that they count."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for layer in model.layers:
            if layer.product_bias is not None:
                layer.product_bias.copy_(torch.randn(layer.product_bias.shape, generator=gen,
                                                     dtype=D))


def _random_symbolic(model, seed=0):
    """Every edge a random symbolic function (so the model is a formula)."""
    gen = torch.Generator().manual_seed(seed)
    names = ["x", "sin", "x^2", "exp", "tanh"]
    for layer in model.layers:
        for j in range(layer.out_features):
            for i in range(layer.in_features):
                a, b, c, d = (torch.rand(4, generator=gen, dtype=D) - 0.5).tolist()
                name = names[int(torch.randint(len(names), (1,), generator=gen))]
                layer.symbolic.set_edge(i, j, name, (0.5 + a, b, 1.0 + c, d))


# ----------------------------------------------------------------- the spec


def test_width_spec_reads_pykans_notation():
    spec = WidthSpec([2, [5, 2], [1, 1]], mult_arity=3)
    assert spec.nodes == [2, 7, 2]
    assert spec.products == [[3, 3], [3]]
    assert spec.rows == [11, 4]
    mixed = WidthSpec([3, [1, 2], 1], mult_arity=[[], [2, 3], []])
    assert mixed.products == [[2, 3], []] and mixed.rows == [6, 1]


@pytest.mark.parametrize("widths, match", [
    ([2], "at least two"),
    ("2,3,1", "at least two"),
    ([2, [5], 1], r"widths\[1\]"),
    ([2, [5, -1], 1], r"widths\[1\]"),
    ([2, [0, 0], 1], r"widths\[1\]"),
    ([2, 2.5, 1], r"widths\[1\]"),
    ([2, True, 1], r"widths\[1\]"),
    ([[2, 1], 3, 1], "inputs and takes no product"),
])
def test_a_malformed_width_spec_is_a_clear_error(widths, match):
    with pytest.raises(InputError, match=match):
        kanlab.KAN(widths)


@pytest.mark.parametrize("arity, match", [
    (1, "mult_arity must be an integer >= 2"),
    (0, "mult_arity must be an integer >= 2"),
    (2.0, "mult_arity must be an integer >= 2"),
    ([[], [2]], "one list per node row"),
    ([[], [2, 2], []], r"mult_arity\[1\] must list the arities of the 1"),
    ([[], [1], []], r"mult_arity\[1\]\[0\] must be an integer >= 2"),
])
def test_an_arity_below_two_or_a_misshapen_arity_list_is_a_clear_error(arity, match):
    with pytest.raises(InputError, match=match):
        kanlab.KAN([2, [1, 1], 1], mult_arity=arity)


def test_a_layer_with_more_factors_than_rows_is_a_clear_error():
    with pytest.raises(InputError, match="need 4 rows; the layer has 3"):
        kanlab.KANLinear(2, 3, products=[2, 2])


def test_hidden_spec_of_the_estimators_takes_numpy_integers_and_pairs():
    np = pytest.importorskip("numpy")
    assert check_hidden_spec("width", (np.int64(3), (2, np.int32(1)))) == (3, [2, 1])
    assert check_hidden_spec("width", ()) == ()
    with pytest.raises(InputError, match=r"width must be a sequence of hidden widths"):
        check_hidden_spec("width", ((2, 1, 1),))


# ------------------------------------------------------------------ forward


@pytest.mark.parametrize("widths, arity", [
    ([2, [3, 2], 1], 2),
    ([3, [0, 2], [1, 1]], 3),
    ([3, [1, 2], [2, 1]], [[], [3, 2], [2]]),  # mixed arities: the gathered path
])
def test_forward_equals_a_slow_obvious_version(widths, arity):
    model = kanlab.KAN(widths, mult_arity=arity, seed=0, dtype=D, grid_size=4,
                       product_bias=True)
    _product_biases(model)
    x = _x(d=widths[0])
    torch.testing.assert_close(model(x), _slow_forward(model, x), rtol=0, atol=1e-13)
    # the trace agrees, and its sums are the rows before the products
    trace = model.trace(x)
    torch.testing.assert_close(trace[-1].outputs, model(x), rtol=0, atol=1e-13)
    assert trace[0].sums.shape == (len(x), model.layers[0].out_features)
    assert trace[0].outputs.shape == (len(x), model.widths[1])
    # batch dimensions do not matter
    torch.testing.assert_close(model(x.reshape(4, 16, -1)).reshape(64, -1), model(x))


def test_a_pure_product_layer_multiplies_its_rows():
    # one layer, one product node of two rows: row 0 = x0, row 1 = x1 (symbolic identity edges)
    model = kanlab.KAN([2, [0, 1]], seed=0, dtype=D)
    layer = model.layers[0]
    layer.symbolic.set_edge(0, 0, "x", (1.0, 0.0, 1.0, 0.0))
    layer.symbolic.set_edge(1, 1, "x", (1.0, 0.0, 1.0, 0.0))
    layer.mask[0, 1] = layer.mask[1, 0] = 0.0
    with torch.no_grad():
        layer.bias.zero_()
    x = _x()
    torch.testing.assert_close(model(x)[:, 0], x[:, 0] * x[:, 1], rtol=0, atol=1e-15)


def test_gradients_through_product_nodes_pass_gradcheck():
    model = kanlab.KAN([2, [1, 2], 1], seed=1, dtype=D, grid_size=3)
    x = _x(n=6).requires_grad_()
    assert torch.autograd.gradcheck(lambda v: model(v), (x,))
    params = [model.layers[0].coef, model.layers[0].bias]
    assert torch.autograd.gradcheck(
        lambda c, b: torch.func.functional_call(
            model, {"layers.0.coef": c, "layers.0.bias": b}, (x.detach(),)), tuple(
            p.detach().clone().requires_grad_() for p in params))


def test_nodes_combine_jet_reduce_spread_and_select():
    nodes = Nodes(7, [2, 3])
    assert nodes.n_sum == 2 and nodes.n_nodes == 4
    assert nodes.groups == ((0,), (1,), (2, 3), (4, 5, 6))
    y = torch.arange(1.0, 8.0, dtype=D)[None]
    torch.testing.assert_close(nodes.combine(y), torch.tensor([[1.0, 2.0, 12.0, 210.0]], dtype=D))
    torch.testing.assert_close(nodes.reduce(y, lambda v: v.amax(-1)),
                               torch.tensor([[1.0, 2.0, 4.0, 7.0]], dtype=D))
    torch.testing.assert_close(nodes.spread(torch.tensor([[10.0, 20.0, 30.0, 40.0]], dtype=D)),
                               torch.tensor([[10, 20, 30, 30, 40, 40, 40]], dtype=D))
    kept, rows = nodes.select([1, 3])
    assert rows == [1, 4, 5, 6] and kept == Nodes(4, [3])
    with pytest.raises(InputError, match="sum nodes must come before"):
        nodes.select([2, 0])
    # jet: the product rule, against autograd (first and pure second derivatives)
    t = torch.linspace(-1, 1, 5, dtype=D).requires_grad_()
    rows_of = torch.stack([torch.sin(t * (r + 1)) + r for r in range(7)], dim=1)  # (5, 7)
    out = nodes.combine(rows_of)
    d1 = [torch.autograd.grad(out[:, n].sum(), t, create_graph=True)[0] for n in range(4)]
    d2 = [torch.autograd.grad(g.sum(), t, retain_graph=True)[0] for g in d1]
    r1 = torch.stack([torch.autograd.grad(rows_of[:, r].sum(), t, create_graph=True)[0]
                      for r in range(7)], 1)
    r2 = torch.stack([torch.autograd.grad(r1[:, r].sum(), t, retain_graph=True)[0]
                      for r in range(7)], 1)
    v, dv, d2v = nodes.jet(rows_of.detach(), r1.detach()[:, None], r2.detach()[:, None])
    torch.testing.assert_close(v, out.detach())
    torch.testing.assert_close(dv[:, 0], torch.stack(d1, 1).detach())
    torch.testing.assert_close(d2v[:, 0], torch.stack(d2, 1))


@pytest.mark.parametrize("arity", [2, 3])
def test_forward_derivatives_and_pde_helpers_through_product_nodes(arity):
    model = kanlab.KAN([2, [2, 2], [1, 1]], mult_arity=arity, seed=3, dtype=D, grid_size=4,
                       product_bias=True)
    _product_biases(model)
    x = _x(n=9, seed=4).requires_grad_()
    u, du, d2u = model.forward_derivatives(x)
    y = model(x)
    for o in range(2):
        (g,) = torch.autograd.grad(y[:, o].sum(), x, create_graph=True)
        torch.testing.assert_close(du[:, :, o], g, rtol=1e-10, atol=1e-12)
        for d in range(2):
            (h,) = torch.autograd.grad(g[:, d].sum(), x, retain_graph=True)
            torch.testing.assert_close(d2u[:, d, o], h[:, d], rtol=1e-10, atol=1e-12)
    hess = kanlab.pde.batch_hessian(lambda v: model(v)[:, 1:], x.detach())
    (g,) = torch.autograd.grad(y[:, 1].sum(), x, create_graph=True)
    (mixed,) = torch.autograd.grad(g[:, 0].sum(), x)
    torch.testing.assert_close(hess[:, 0, 1], mixed[:, 1], rtol=1e-10, atol=1e-12)


# --------------------------------------------------------------- grid moves


def test_update_grid_and_refine_keep_a_product_network():
    model = kanlab.KAN([2, [2, 2], 1], seed=0, dtype=D, grid_size=5)
    x = _x(n=400, seed=1)
    before = model(x).detach()
    refined = model.refine(10)
    torch.testing.assert_close(refined(x), before, rtol=0, atol=1e-10)
    moved = model.refine(5)
    drift = moved.update_grid(x, guard=None)
    assert all(d < 0.05 for d in drift)
    rel = float((moved(x).detach() - before).norm() / before.norm())
    assert rel < 0.05
    # with targets the guard judges a network whose output layer has product nodes (not
    # linear in the coefficients: the LBFGS estimate, not least squares)
    top = kanlab.KAN([2, [0, 1]], seed=0, dtype=D)
    y = (x[:, :1] * x[:, 1:]).detach()
    top.update_grid(x, y=y)  # runs the guard without a least-squares shortcut
    from kanlab.nn.grid_update import best_output_fit
    with pytest.raises(InputError, match="product nodes"):
        best_output_fit(top, x, y)


# ------------------------------------------------------------------- pruning


def test_prune_edges_into_one_factor_keeps_the_product_node():
    model = kanlab.KAN([2, [0, 1]], seed=0, dtype=D)
    layer = model.layers[0]
    layer.symbolic.set_edge(0, 0, "x", (1.0, 0.0, 1.0, 0.0))
    layer.symbolic.set_edge(1, 1, "x", (1.0, 0.0, 1.0, 0.0))
    layer.symbolic.set_edge(1, 0, "0", (1.0, 0.0, 0.0, 0.5))  # a constant edge into factor 0
    layer.symbolic.set_edge(0, 1, "0", (1.0, 0.0, 0.0, 0.0))
    x = _x()
    pruned = model.prune_edges(x, threshold=1e-9)
    assert (pruned.layers[0].mask == torch.tensor([[1.0, 0.0], [0.0, 1.0]], dtype=D)).all()
    torch.testing.assert_close(pruned(x), model(x), rtol=0, atol=1e-13)  # the 0.5 went to bias


def test_prune_nodes_removes_a_product_node_with_all_its_rows():
    model = kanlab.KAN([2, [2, 2], 1], seed=0, dtype=D, grid_size=4, product_bias=True)
    _product_biases(model)
    top = model.layers[1]
    top.symbolic.set_edge(3, 0, "0", (1.0, 0.0, 0.0, 0.25))  # product node 3 feeds a constant
    x = _x()
    pruned = model.prune_nodes(x, threshold=1e-9)
    assert pruned.widths == [2, 3, 1]
    assert pruned.config["widths"] == [2, [2, 1], 1]
    assert pruned.layers[0].out_features == 4 and pruned.layers[0].nodes.arities == (2,)
    torch.testing.assert_close(pruned(x), model(x), rtol=0, atol=1e-12)
    # a sum node goes too: keep_nodes with the product node kept
    kept = kanlab.interpret.prune.keep_nodes(model, [[0, 1], [1, 2, 3], [0]], x)
    assert kept.config["widths"] == [2, [1, 2], 1] and kept.layers[0].out_features == 5
    torch.testing.assert_close(kept.layers[0].coef, model.layers[0].coef[1:])
    torch.testing.assert_close(kept.layers[0].product_bias, model.layers[0].product_bias)
    assert pruned.layers[0].product_bias.tolist() == model.layers[0].product_bias[:1].tolist()
    only_sums = kanlab.interpret.prune.keep_nodes(model, [[0, 1], [0, 1], [0]], x)
    assert only_sums.layers[0].product_bias is None and only_sums.config["widths"][1] == 2


def test_drop_dead_nodes_keeps_a_product_node_fed_through_one_factor():
    model = kanlab.KAN([2, [1, 2], 1], seed=0, dtype=D, grid_size=4)
    with torch.no_grad():
        model.layers[0].mask[1:3] = 0.0  # product node 1: nothing enters either factor: dead
        model.layers[0].mask[3] = 0.0  # product node 2: its first factor only is constant
    x = _x()
    smaller = kanlab.interpret.prune.drop_dead_nodes(model, x)
    assert smaller.widths == [2, 2, 1] and smaller.layers[0].nodes.groups == ((0,), (1, 2))
    torch.testing.assert_close(smaller(x), model(x), rtol=0, atol=1e-12)


# ------------------------------------------------------- importance and plots


def test_attribution_gives_each_factor_its_product_nodes_score():
    model = kanlab.KAN([2, [0, 1]], seed=0, dtype=D)
    layer = model.layers[0]
    layer.symbolic.set_edge(0, 0, "x", (1.0, 0.0, 1.0, 0.0))
    layer.symbolic.set_edge(1, 1, "x", (1.0, 0.0, 2.0, 0.0))
    layer.mask[0, 1] = layer.mask[1, 0] = 0.0
    x = _x()
    scores = importance(model, x)
    # each row sums one edge: its edge carries the node's whole score, 1 · std/(std + 1e-4)
    for j, i in [(0, 0), (1, 1)]:
        s = float(x[:, i].std() * (1 + j))
        assert float(scores.edges[0][j, i]) == pytest.approx(s / (s + 1e-4), rel=1e-12)
    assert float(scores.edges[0][0, 1]) == 0.0
    one = attribute(model, x, 1, 0)
    torch.testing.assert_close(one.nodes[0], scores.nodes[0])
    l1 = importance(model, _x(), method="l1")
    assert l1.nodes[-1].shape == (1,)
    hidden = kanlab.KAN([2, [1, 1], 1], seed=0, dtype=D)
    l1 = importance(hidden, x, method="l1")
    rows_in = l1.edges[0].amax(1)  # (3,) per row
    expected = torch.stack([rows_in[0], rows_in[1:].amax()])
    torch.testing.assert_close(l1.nodes[1], torch.minimum(expected, l1.edges[1].amax(0)))


def test_plot_draws_product_nodes_and_their_factors():
    pytest.importorskip("matplotlib")
    model = kanlab.KAN([2, [1, 1], 1], seed=0, dtype=D)
    fig = model.plot(_x())
    gids = {a.get_gid() for ax in fig.axes for a in ax.get_children() if a.get_gid()}
    assert {"kan-product-1-1", "kan-factor-1-1", "kan-nodes-1", "kan-edge-0-1-2"} <= gids
    (product,) = [a for a in fig.axes[0].get_lines() if a.get_gid() == "kan-product-1-1"]
    (edge,) = [a for a in fig.axes[0].get_lines() if a.get_gid() == "kan-edge-0-1-2"]
    # the edge into row 2 (the product's second factor) ends below the product node
    assert edge.get_ydata()[-1] < product.get_ydata()[0]
    (sums,) = [a for a in fig.axes[0].get_lines() if a.get_gid() == "kan-nodes-1"]
    assert len(sums.get_xdata()) == 1


# ------------------------------------------------------------- formulas


def test_symbolic_formula_multiplies_and_equals_the_forward_pass():
    sp = pytest.importorskip("sympy")
    model = kanlab.KAN([2, [1, 1], [1, 1]], mult_arity=[[], [3], [2]], seed=0, dtype=D,
                       product_bias=True)
    _random_symbolic(model)
    _product_biases(model)
    exprs = model.symbolic_formula()
    x = _x(n=50, seed=5, low=-0.9, high=0.9)
    xs = sp.symbols("x_1:3")
    for o, expr in enumerate(exprs):
        f = sp.lambdify(xs, expr, "math")
        got = torch.tensor([f(*map(float, row)) for row in x], dtype=D)
        torch.testing.assert_close(got, model.eval()(x)[:, o].detach(), rtol=1e-11, atol=1e-11)
    assert isinstance(exprs[1], sp.Mul) or any(isinstance(t, sp.Mul) for t in
                                               sp.preorder_traversal(exprs[1]))


def test_canonicalize_leaves_product_nodes_alone():
    pytest.importorskip("sympy")
    from kanlab.interpret.symbolic_model import canonicalize
    model = kanlab.KAN([2, [1, 1], 1], seed=0, dtype=D)
    _random_symbolic(model, seed=2)
    x = _x(low=-0.9, high=0.9)
    before = model.eval()(x)
    canonicalize(model)
    torch.testing.assert_close(model(x), before, rtol=1e-12, atol=1e-12)


# ----------------------------------------------------------- save and load


def test_save_load_keeps_the_spec_and_the_function(tmp_path):
    model = kanlab.KAN([3, [1, 2], 1], mult_arity=[[], [2, 3], []], seed=0, dtype=D,
                       product_bias=True)
    _product_biases(model)
    model.record(_x(d=3))
    model.save(tmp_path / "m")
    back = kanlab.KAN.load(tmp_path / "m")
    assert back.config == model.config
    assert back.config["widths"] == [3, [1, 2], 1]
    assert back.config["mult_arity"] == [[], [2, 3], []] and back.config["product_bias"]
    assert back.layers[0].product_bias is not None
    x = _x(d=3, seed=7)
    torch.testing.assert_close(back(x), model(x), rtol=0, atol=0)
    assert "mult_arity" not in kanlab.KAN([2, 3, 1]).config  # sum-only configs as before
    assert width_spec(kanlab.KAN([2, 3, 1]).layers) == ([2, 3, 1], None)


def test_fit_trains_a_product_node_to_x_times_y():
    x = _x(n=256, seed=1)
    y = x[:, :1] * x[:, 1:]
    model = kanlab.KAN([2, [0, 1]], seed=0, dtype=D, grid_size=5)
    kanlab.fit(model, {"train_input": x, "train_label": y}, steps=40, progress=False)
    rmse = float((model(x).detach() - y).square().mean().sqrt())
    assert rmse < 1e-3 * float(y.std())
    assert math.isfinite(rmse)


# ------------------------------------------------------ estimators and CLI


def test_the_estimator_and_the_cli_take_product_nodes():
    pytest.importorskip("sklearn")
    from kanlab.apps.cli import build_parser
    from kanlab.apps.estimators import KANRegressor

    x = _x(n=200, seed=2).numpy()
    y = x[:, 0] * x[:, 1]
    est = KANRegressor(width=((1, 1),), grids=(5,), steps=20, random_state=0).fit(x, y)
    assert est.model_.config["widths"][1] == [1, 1]
    assert float(((est.predict(x) - y) ** 2).mean()) < 1e-3 * float(y.var())
    command = ["fit", "d.csv", "--target", "y", "--out", "o", "--width"]
    assert build_parser().parse_args([*command, "3:2,1"]).width == [[3, 2], 1]
    with pytest.raises(SystemExit):
        build_parser().parse_args([*command, "3:0:1,1"])


def test_a_bias_after_the_product_fits_one_plus_a_product():
    # 1 + a·sin(θ) (Feynman I.12.11) in one product node: the bias after it carries the 1
    model = kanlab.KAN([2, [0, 1]], seed=0, dtype=D, product_bias=True)
    layer = model.layers[0]
    layer.mask[0, 1] = layer.mask[1, 0] = 0.0
    layer.symbolic.set_edge(0, 0, "x", (1.0, 0.0, 1.0, 0.0))
    layer.symbolic.set_edge(1, 1, "sin", (1.0, 0.0, 1.0, 0.0))
    with torch.no_grad():
        layer.bias.zero_()
        layer.product_bias.fill_(1.0)
    x = _x()
    torch.testing.assert_close(model(x)[:, 0], 1 + x[:, 0] * x[:, 1].sin(), rtol=0, atol=1e-15)
    sp = pytest.importorskip("sympy")
    a, t = sp.symbols("a t")
    assert sp.simplify(model.symbolic_formula([a, t])[0] - (1 + a * sp.sin(t))) == 0
    assert kanlab.KAN([2, [0, 1]]).layers[0].product_bias is None  # off by default
    assert "product_bias" not in kanlab.KAN([2, [0, 1]]).config
