"""compile_formula: sympy expressions compiled into KANs whose forward pass is the expression
(1e-12 in float64) and whose formula simplifies back to it; clear errors."""

import pytest
import torch

import kanlab
from kanlab.errors import InputError

sp = pytest.importorskip("sympy")
from kanlab.symbolic.formula import tidy  # noqa: E402

x, y, z, u, v, w = sp.symbols("x y z u v w")

#: the paper's §4.1 examples and Feynman equations (their dimensionless forms in
#: kanlab.data.science), with input ranges where each is finite
CASES = [
    ("x*y", x * y, [x, y], (-1, 1)),
    ("x/y", x / y, [x, y], (0.5, 2)),
    ("x*y*z", x * y * z, [x, y, z], (-1, 1)),
    ("§4.1 exp(sin(πx)+y²)", sp.exp(sp.sin(sp.pi * x) + y**2), [x, y], (-1, 1)),
    ("§4.1 exp(J0(20x)+y²)-like: exp(sin(2x)) + y² ", sp.exp(sp.sin(2 * x)) + y**2, [x, y],
     (-1, 1)),
    ("§4.1 sqrt((x-y)² + (z-w)²)", sp.sqrt((x - y) ** 2 + (z - w) ** 2), [x, y, z, w],
     (0.1, 1)),
    ("I.16.6 (u+v)/(1+uv)", (u + v) / (1 + u * v), [u, v], (-0.8, 0.8)),
    ("I.12.11 1 + a sinθ", 1 + x * sp.sin(y), [x, y], (-1, 1)),
    ("I.13.12 a(1/b - 1)", x * (1 / y - 1), [x, y], (0.5, 2)),
    ("I.15.3x (1-a)/sqrt(1-b²)", (1 - x) / sp.sqrt(1 - y**2), [x, y], (-0.9, 0.9)),
    ("I.40.1 n0 exp(-a)", x * sp.exp(-y), [x, y], (-1, 1)),
    ("I.44.4 n log a", x * sp.log(y), [x, y], (0.5, 2)),
    ("I.50.26 cos a + α cos² a", sp.cos(x) + y * sp.cos(x) ** 2, [x, y], (0, 1)),
    ("I.9.18 a/((b-1)²+(c-d)²+(e-f)²)",
     w / ((x - 1) ** 2 + (y - z) ** 2 + (u - v) ** 2), [w, x, y, z, u, v], (1.1, 2)),
    ("II.11.27 nα/(1 - nα/3)", x * y / (1 - x * y / 3), [x, y], (0, 1)),
    ("III.10.19 sqrt(1+a²+b²)", sp.sqrt(1 + x**2 + y**2), [x, y], (-1, 1)),
]


def _inputs(n_vars, bounds, seed=0):
    low, high = bounds
    gen = torch.Generator().manual_seed(seed)
    return low + (high - low) * torch.rand(300, n_vars, generator=gen, dtype=torch.float64)


def _expected(expr, variables, inputs):
    fn = sp.lambdify(variables, expr, "math")
    return torch.tensor([float(fn(*map(float, row))) for row in inputs], dtype=torch.float64)


@pytest.mark.parametrize("label, expr, variables, bounds", CASES, ids=[c[0] for c in CASES])
def test_compiled_forward_is_the_expression_and_the_formula_comes_back(label, expr, variables,
                                                                       bounds):
    model = kanlab.compile_formula(expr, variables)
    inputs = _inputs(len(variables), bounds)
    got = model.eval()(inputs)[:, 0].detach()
    torch.testing.assert_close(got, _expected(expr, variables, inputs), rtol=1e-12, atol=1e-12)
    (back,) = model.symbolic_formula(variables)
    assert sp.simplify(tidy(back, digits=None) - expr) == 0
    # every unpruned edge is symbolic: the model is its formula
    for layer in model.layers:
        assert not bool((layer.numeric_mask() > 0).any())


def test_products_become_product_nodes_and_sums_sum_nodes():
    assert kanlab.compile_formula(x * y, [x, y]).config["widths"] == [2, [0, 1]]
    assert kanlab.compile_formula(x * y * z, [x, y, z]).config["mult_arity"] == [[], [3]]
    model = kanlab.compile_formula((u + v) / (1 + u * v), [u, v])
    assert model.config["widths"] == [2, [2, 1], [0, 1]]
    # x + sin(x): two terms of one input read it through a node of their own
    model = kanlab.compile_formula(x + sp.sin(x), [x])
    inputs = _inputs(1, (-1, 1))
    torch.testing.assert_close(model(inputs)[:, 0], (inputs + inputs.sin())[:, 0],
                               rtol=1e-13, atol=1e-13)


def test_several_outputs_strings_and_shared_subexpressions():
    model = kanlab.compile_formula(["x*y", "sin(x*y) + z", "x*y"], ["x", "y", "z"])
    inputs = _inputs(3, (-1, 1))
    out = model(inputs).detach()
    p = inputs[:, 0] * inputs[:, 1]
    torch.testing.assert_close(out, torch.stack([p, p.sin() + inputs[:, 2], p], 1),
                               rtol=1e-13, atol=1e-13)
    # one product node for x*y, shared
    assert model.layers[0].nodes.arities == (2,)


def test_a_compiled_model_trains_and_saves_like_any_other(tmp_path):
    model = kanlab.compile_formula(2 * x * y + 0.5, [x, y])
    inputs = _inputs(2, (-1, 1))
    target = (3 * inputs[:, 0] * inputs[:, 1] + 0.5)[:, None]
    kanlab.fit(model, {"train_input": inputs, "train_label": target}, steps=20,
               update_grid=False, progress=False)
    assert float((model(inputs).detach() - target).abs().max()) < 1e-8
    model.save(tmp_path / "m")
    back = kanlab.KAN.load(tmp_path / "m")
    torch.testing.assert_close(back(inputs), model(inputs), rtol=0, atol=0)


@pytest.mark.parametrize("expr, variables, match", [
    (x * y + z, [x, y], r"free symbols \['z'\] that are not in variables"),
    (sp.gamma(x), [x], "no symbolic function computes gamma"),
    (sp.Function("g")(x), [x], "no symbolic function computes g"),
    (sp.besselj(0, x), [x], "no symbolic function computes besselj"),
    (x**7, [x], "no symbolic function computes the power x\\*\\*7"),
    (sp.Integer(3), [x], "constant"),
    (x * y, [x, x], "distinct symbols"),
])
def test_what_cannot_be_compiled_is_a_clear_error(expr, variables, match):
    with pytest.raises(InputError, match=match):
        kanlab.compile_formula(expr, variables)


def test_a_numeric_compilation_is_the_formula_and_trains_splines_beside_it():
    law = x * sp.sin(y)
    model = kanlab.compile_formula(law, [x, y], numeric=True)
    inputs = _inputs(2, (-1, 1))
    torch.testing.assert_close(model(inputs)[:, 0].detach(), _expected(law, [x, y], inputs),
                               rtol=1e-13, atol=1e-13)
    assert all(bool((layer.numeric_mask() == layer.mask).all()) for layer in model.layers)
    # not the law: a factor changed, which the spline beside sin(y) can learn
    target = (inputs[:, 0] * (inputs[:, 1].sin() + 0.3 * inputs[:, 1] ** 2))[:, None]
    before = float((model(inputs).detach() - target).square().mean())
    kanlab.fit(model, {"train_input": inputs, "train_label": target}, steps=15, progress=False)
    assert float((model(inputs).detach() - target).square().mean()) < 0.01 * before
