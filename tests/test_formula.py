"""Symbolic regression on a model's edges, and formulas that equal the forward pass."""

import numpy as np
import pytest
import torch

import kanlab
from kanlab.errors import InputError
from kanlab.symbolic.formula import formula_function, formula_latex

sympy = pytest.importorskip("sympy")
D = torch.float64
SAFE = ["x", "x^2", "x^3", "sin", "cos", "tanh", "exp", "gaussian", "arctan", "abs", "0"]


def _random_symbolic_model(widths, seed):
    gen = torch.Generator().manual_seed(seed)
    model = kanlab.KAN(widths, seed=seed, dtype=D)
    for layer in model.layers:
        torch.nn.init.normal_(layer.bias, generator=gen)
        for j in range(layer.out_features):
            for i in range(layer.in_features):
                name = SAFE[int(torch.randint(len(SAFE), (1,), generator=gen))]
                a, b, c, d = (torch.rand(4, generator=gen, dtype=D) - 0.5).tolist()
                layer.symbolic.set_edge(i, j, name, (2 * a, b, c, d))
    return model.eval()


@pytest.mark.parametrize(("widths", "seed"), [([2, 3, 1], 0), ([3, 2, 2], 1), ([1, 4, 3, 1], 2)])
def test_formula_equals_forward_on_random_fully_symbolic_models(widths, seed):
    model = _random_symbolic_model(widths, seed)
    model.layers[0].mask[0, 0] = 0  # a pruned edge takes no part
    exprs = model.symbolic_formula()
    assert len(exprs) == widths[-1]
    variables = sympy.symbols(f"x_1:{widths[0] + 1}")
    x = torch.rand(50, widths[0], generator=torch.Generator().manual_seed(9), dtype=D) * 4 - 2
    want = model(x).detach()
    got_np = formula_function(exprs, variables)(x.numpy())
    np.testing.assert_allclose(got_np, want.numpy(), rtol=1e-6, atol=1e-9)
    got_torch = formula_function(exprs, variables, backend="torch")(x)
    torch.testing.assert_close(got_torch, want, rtol=1e-6, atol=1e-9)
    assert all(isinstance(s, str) and s for s in formula_latex(exprs))


def test_formula_by_hand_with_names_and_precision():
    model = kanlab.KAN([2, 1], seed=0, dtype=D)
    model.layers[0].bias.data.fill_(0.5)
    model.layers[0].symbolic.set_edge(0, 0, "sin", (3.0, 0.0, 1.0, 0.0))
    model.layers[0].symbolic.set_edge(1, 0, "x^2", (1.0, 0.0, 2.0, 0.25))
    (expr,) = model.symbolic_formula(["u", "v"])
    u, v = sympy.symbols("u v")
    assert expr.free_symbols == {u, v}
    for uu, vv in [(0.1, 0.2), (-0.7, 1.3)]:
        want = np.sin(3 * uu) + 2 * vv**2 + 0.75
        assert float(expr.subs({u: uu, v: vv})) == pytest.approx(want, rel=1e-14)
    assert str(expr) == "2.0*v**2 + sin(3.0*u) + 0.75"
    (rounded,) = model.symbolic_formula(precision=2)
    assert "0.75" in str(rounded)


def test_formula_of_a_numeric_model_is_an_error_naming_the_edges():
    model = kanlab.KAN([2, 2, 1], seed=0)
    model.layers[0].symbolic.set_edge(0, 0, "sin", (1.0, 0.0, 1.0, 0.0))
    with pytest.raises(InputError, match=r"5 edge\(s\).*\(0, 1, 0\)"):
        model.symbolic_formula()
    with pytest.raises(InputError, match="var_names"):
        _random_symbolic_model([2, 1], 0).symbolic_formula(["a"])


def _model_with_edge(fn, grid_size=30):
    """A [1, 1] KAN whose only edge is ``fn`` (spline fitted by least squares, no base)."""
    model = kanlab.KAN([1, 1], seed=0, dtype=D, grid_size=grid_size, base_fn="zero")
    layer = model.layers[0]
    x = torch.linspace(-1, 1, 400, dtype=D)[:, None]
    basis = layer.basis(x)[:, 0]  # (N, nb)
    coef = torch.linalg.lstsq(basis, fn(x[:, 0])[:, None]).solution
    with torch.no_grad():
        layer.coef.copy_(coef.T[None])
    return model, x


def test_fix_symbolic_recovers_the_edge_function():
    target = lambda t: 0.5 * torch.sin(2 * t + 0.3) + 0.1  # noqa: E731
    model, x = _model_with_edge(target)
    ranked = model.suggest_symbolic(0, 0, 0, x=x, lib=["x", "x^2", "exp", "sin"], topk=2)
    assert ranked[0].name == "sin" and ranked[0].r2 > 1 - 1e-8
    fit = model.fix_symbolic(0, 0, 0, "sin", x=x)
    assert fit.r2 > 1 - 1e-8
    torch.testing.assert_close(model.eval()(x)[:, 0], target(x[:, 0]), rtol=0, atol=1e-5)
    (expr,) = model.symbolic_formula()
    t = sympy.Symbol("x_1")
    assert abs(float(expr.subs(t, 0.2)) - float(target(torch.tensor(0.2)))) < 1e-5
    model.unfix_symbolic(0, 0, 0)
    with pytest.raises(InputError, match="numeric"):
        model.symbolic_formula()


def test_auto_symbolic_fixes_every_edge_and_the_formula_follows():
    model = kanlab.KAN([2, 2, 1], seed=0, dtype=D)
    x = torch.rand(200, 2, generator=torch.Generator().manual_seed(0), dtype=D) * 2 - 1
    model.record(x)
    fixed = model.auto_symbolic(lib=["x", "x^2", "sin", "tanh"])
    assert len(fixed) == 6
    exprs = model.symbolic_formula()
    got = formula_function(exprs, sympy.symbols("x_1:3"), backend="torch")(x)
    torch.testing.assert_close(got, model.eval()(x).detach(), rtol=1e-6, atol=1e-9)


def test_symbolic_calls_check_their_arguments():
    model = kanlab.KAN([2, 2, 1], seed=0)
    x = torch.rand(20, 2)
    with pytest.raises(InputError, match="out of range"):
        model.fix_symbolic(0, 2, 0, "sin", x=x)
    with pytest.raises(InputError, match="layer index"):
        model.fix_symbolic(2, 0, 0, "sin", x=x)
    with pytest.raises(InputError, match="not_a_function"):
        model.fix_symbolic(0, 0, 0, "not_a_function", x=x)
    with pytest.raises(InputError, match="samples"):
        model.suggest_symbolic(0, 0, 0)
    model.layers[0].mask[1, 0] = 0
    with pytest.raises(InputError, match="pruned"):
        model.fix_symbolic(0, 0, 1, "sin", x=x)


def test_tidy_snaps_round_off_to_exact_numbers_and_rounds_the_rest():
    from kanlab.symbolic.formula import tidy

    x, y = sympy.symbols("x y")
    noisy = (sympy.Float(1.00000000000001)
             * sympy.exp(sympy.Float(0.999999999999) * (y - sympy.Float(3.6e-17)) ** 2
                         + sympy.sin(sympy.Float(3.14159265358979) * x))
             - sympy.Float(2.2e-16))
    assert tidy(noisy) == sympy.exp(y**2 + sympy.sin(sympy.pi * x))
    assert str(tidy(sympy.Float(0.5349123) * sympy.sin(sympy.Float(2.1234) * x))) == \
        "0.5349*sin(2.123*x)"
