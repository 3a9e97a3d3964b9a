"""Symbolic regression of one edge: the function registry and the affine fits c·f(a·x+b)+d."""

import math

import numpy as np
import pytest
import torch

from kanlab import symbolic
from kanlab.errors import InputError
from kanlab.symbolic import (
    DEFAULT_LIBRARY,
    AffineFit,
    SymbolicFunction,
    fit_affine,
    fit_library,
    function_names,
    get_function,
    library,
    register_function,
    resolve_library,
    suggest,
)

# pykan 0.2.8's library and complexities (its aliases 'x^0.5' and '1/x^0.5' aside)
PYKAN_COMPLEXITY = {
    "x": 1, "x^2": 2, "x^3": 3, "x^4": 3, "x^5": 3,
    "1/x": 2, "1/x^2": 2, "1/x^3": 3, "1/x^4": 4, "1/x^5": 5,
    "sqrt": 2, "x^1.5": 4, "1/sqrt(x)": 2, "exp": 2, "log": 2, "abs": 3,
    "sin": 2, "cos": 2, "tan": 3, "tanh": 3, "sgn": 3,
    "arcsin": 4, "arccos": 4, "arctan": 4, "arctanh": 4, "gaussian": 3, "0": 0,
}  # fmt: skip

# (a, b, c, d) per function, off the default grid's points, with a·x+b inside the function's
# domain for x in [-1, 1]
PARAMS = {
    "x": (1.3, 0.4, -2.1, 0.7), "x^2": (1.7, 0.3, 0.9, -0.4), "x^3": (-1.3, 0.45, 1.2, 0.3),
    "x^4": (0.8, -0.35, 2.0, -1.0), "x^5": (1.1, 0.25, -0.7, 0.2),
    "1/x": (1.3, 2.1, 0.8, -0.3), "1/x^2": (-0.9, 1.7, 1.1, 0.2), "1/x^3": (1.2, 2.3, -0.6, 0.1),
    "1/x^4": (0.7, 1.9, 1.5, -0.2), "1/x^5": (0.6, 1.8, 0.9, 0.4),
    "sqrt": (1.4, 1.9, 1.3, -0.5), "x^1.5": (1.3, 1.7, 0.8, 0.1),
    "1/sqrt(x)": (0.9, 1.6, -1.2, 0.3), "exp": (1.6, -0.3, 0.7, -0.2),
    "log": (1.2, 2.0, 1.1, 0.5), "abs": (2.3, 0.35, -1.4, 0.6), "sin": (2.7, 0.6, 2.0, 1.0),
    "cos": (-1.9, 0.8, 1.3, -0.7), "tan": (0.9, 0.25, 0.6, 0.1), "tanh": (2.2, -0.4, 1.7, 0.2),
    "sgn": (1.7, 0.45, 0.8, -0.3), "arcsin": (0.55, 0.2, 1.4, 0.3),
    "arccos": (0.6, -0.15, -0.9, 0.5), "arctan": (2.4, 0.5, 1.2, -0.4),
    "arctanh": (0.5, 0.3, 0.8, 0.2), "gaussian": (1.8, 0.4, 1.5, -0.5), "0": (1.0, 0.0, 0.0, 1.5),
    "cosh": (1.4, 0.35, 0.8, -0.6), "sinh": (1.2, -0.3, 0.9, 0.4),
}  # fmt: skip

# an interval inside each function's domain, for comparing the torch, safe and sympy forms
DOMAIN = {
    "1/x": (0.2, 3.0), "1/x^2": (0.2, 3.0), "1/x^3": (0.3, 3.0), "1/x^4": (0.3, 3.0),
    "1/x^5": (0.4, 3.0), "sqrt": (0.01, 4.0), "x^0.5": (0.01, 4.0), "x^1.5": (0.01, 4.0),
    "1/sqrt(x)": (0.01, 4.0), "1/x^0.5": (0.01, 4.0), "log": (0.01, 4.0),
    "tan": (-1.4, 1.4), "arcsin": (-0.99, 0.99), "arccos": (-0.99, 0.99),
    "arctanh": (-0.99, 0.99),
}  # fmt: skip


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


def _samples(n, lo=-1.0, hi=1.0, seed=0):
    return lo + (hi - lo) * torch.rand(n, generator=_gen(seed), dtype=torch.float64)


def _target(name, x):
    a, b, c, d = PARAMS[name]
    return c * get_function(name).torch_fn(a * x + b) + d


def _rel_rms(u, v):
    return float((u - v).pow(2).mean().sqrt() / v.pow(2).mean().sqrt())


@pytest.fixture
def private_registry(monkeypatch):
    """Registrations in a test go to a copy of the registry, dropped afterwards."""
    monkeypatch.setattr(library, "_REGISTRY", dict(library._REGISTRY))
    monkeypatch.setattr(library, "_REGISTRY_DEFAULTS", list(library._REGISTRY_DEFAULTS))


# --- registry --------------------------------------------------------------------------------


def test_default_library_is_pykans_with_its_complexities():
    assert set(DEFAULT_LIBRARY) == set(PYKAN_COMPLEXITY)
    assert len(DEFAULT_LIBRARY) == len(PYKAN_COMPLEXITY)
    for name in DEFAULT_LIBRARY:
        f = get_function(name)
        assert isinstance(f, SymbolicFunction) and f.name == name
        assert f.complexity == PYKAN_COMPLEXITY[name]
    assert set(DEFAULT_LIBRARY) <= set(function_names())


def test_aliases_are_the_same_functions_outside_the_default_library():
    for alias, name in (("x^0.5", "sqrt"), ("1/x^0.5", "1/sqrt(x)")):
        f, g = get_function(alias), get_function(name)
        assert alias in function_names() and alias not in DEFAULT_LIBRARY
        assert (f.torch_fn, f.sympy_fn, f.safe_fn, f.complexity) == (
            g.torch_fn,
            g.sympy_fn,
            g.safe_fn,
            g.complexity,
        )


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(InputError, match="unknown symbolic function 'sinc'") as err:
        get_function("sinc")
    assert "'sin'" in str(err.value) and "'gaussian'" in str(err.value)
    with pytest.raises(InputError, match="'nope'"):
        fit_affine(torch.arange(4.0), torch.arange(4.0), "nope")


def test_register_fit_and_replace_a_custom_function(private_registry):
    def sinc(t):  # sin(t)/t; torch.sinc is sin(πt)/(πt)
        return torch.sinc(t / math.pi)

    f = register_function("sinc", sinc, lambda x: symbolic._sp().sinc(x), 3)
    assert get_function("sinc") is f and "sinc" in function_names()
    assert "sinc" not in DEFAULT_LIBRARY
    x = _samples(400)
    y = 1.5 * sinc(2.3 * x + 0.3) - 0.2
    fit = fit_affine(x, y, "sinc")
    assert fit.name == "sinc" and fit.complexity == 3
    assert fit.r2 > 1 - 1e-9
    assert _rel_rms(fit.evaluate(x), y) < 1e-8
    with pytest.raises(InputError, match="registered already"):
        register_function("sinc", torch.sinc, lambda x: x, 3)
    g = register_function("sinc", torch.sinc, lambda x: x, 5, overwrite=True)
    assert get_function("sinc") is g and g.complexity == 5


def test_a_function_registered_as_default_joins_the_default_search(private_registry):
    def sinc(t):
        return torch.sinc(t / math.pi)

    register_function("sinc", sinc, lambda x: symbolic._sp().sinc(x), 3)
    assert library.default_library() == DEFAULT_LIBRARY  # not asked: not searched by default
    register_function("sinc_d", sinc, lambda x: symbolic._sp().sinc(x), 3, default=True)
    assert library.default_library() == (*DEFAULT_LIBRARY, "sinc_d")
    x = _samples(400)
    y = 1.5 * sinc(2.3 * x + 0.3) - 0.2
    fits = fit_library(x, y)  # lib=None: the default search, one fit per function
    assert [f.name for f in fits] == list(library.default_library())
    assert fits[-1].name == "sinc_d" and fits[-1].r2 > 1 - 1e-9


def test_register_rejects_bad_arguments(private_registry):
    with pytest.raises(InputError, match="callable"):
        register_function("f", "sin", lambda x: x, 1)
    with pytest.raises(InputError, match="callable"):
        register_function("f", torch.sin, None, 1)
    with pytest.raises(InputError, match="callable"):
        register_function("f", torch.sin, lambda x: x, 1, safe_fn=3)
    for bad in (-1, 1.5, True):
        with pytest.raises(InputError, match="complexity"):
            register_function("f", torch.sin, lambda x: x, bad)
    with pytest.raises(InputError, match="name"):
        register_function("", torch.sin, lambda x: x, 1)
    assert "f" not in function_names()


def test_resolve_library():
    assert [f.name for f in resolve_library(None)] == list(DEFAULT_LIBRARY)
    custom = SymbolicFunction("sinh", torch.sinh, lambda x: x, 3)
    assert resolve_library(["sin", custom]) == [get_function("sin"), custom]
    with pytest.raises(InputError, match="empty"):
        resolve_library([])
    with pytest.raises(InputError, match="names or SymbolicFunction"):
        resolve_library(["sin", 3])
    with pytest.raises(InputError, match="'nope'"):
        resolve_library(["sin", "nope"])


def test_an_unregistered_function_object_can_be_fitted_and_evaluated():
    f = SymbolicFunction("sinh", torch.sinh, lambda x: x, 3)
    x = _samples(300)
    y = 0.5 * torch.sinh(1.3 * x - 0.2) + 0.1
    (fit,) = fit_library(x, y, [f])
    assert fit.name == "sinh" and fit.function is f
    assert _rel_rms(fit.evaluate(x), y) < 1e-8


# --- fits ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", DEFAULT_LIBRARY)
def test_exact_affine_map_of_each_function_is_recovered(name):
    x = _samples(500)
    y = _target(name, x)
    fit = fit_affine(x, y, name)
    assert isinstance(fit, AffineFit) and fit.name == name
    assert all(type(v) is float for v in (fit.a, fit.b, fit.c, fit.d, fit.r2))
    assert -10 <= fit.a <= 10 and -10 <= fit.b <= 10
    assert fit.r2 > 1 - 1e-9
    assert _rel_rms(fit.evaluate(x), y) < 1e-8


def test_parameters_of_sin_up_to_its_symmetries():
    a, b, c, d = PARAMS["sin"]
    x = _samples(500)
    fit = fit_affine(x, _target("sin", x), "sin")
    assert abs(fit.a) == pytest.approx(a, rel=1e-9)
    assert abs(fit.c) == pytest.approx(c, rel=1e-9)
    assert fit.d == pytest.approx(d, rel=1e-9)
    # sin(t) = sin(π - t) = -sin(t + π): equivalent parameters give the same function anywhere
    wide = torch.linspace(-6, 6, 1001, dtype=torch.float64)
    assert _rel_rms(fit.evaluate(wide), _target("sin", wide)) < 1e-8


def test_identifiable_combinations_of_x2_exp_and_inverse():
    x = _samples(500)
    a, b, c, d = PARAMS["x^2"]  # c·(a·x+b)² = c·a²·(x + b/a)²
    fit = fit_affine(x, _target("x^2", x), "x^2")
    assert fit.b / fit.a == pytest.approx(b / a, rel=1e-8)
    assert fit.c * fit.a**2 == pytest.approx(c * a**2, rel=1e-8)
    assert fit.d == pytest.approx(d, rel=1e-8)
    a, b, c, d = PARAMS["exp"]  # c·exp(a·x+b) = c·e^b·exp(a·x)
    fit = fit_affine(x, _target("exp", x), "exp")
    assert fit.a == pytest.approx(a, rel=1e-8)
    assert fit.c * math.exp(fit.b) == pytest.approx(c * math.exp(b), rel=1e-8)
    assert fit.d == pytest.approx(d, rel=1e-8)
    a, b, c, d = PARAMS["1/x"]  # c/(a·x+b) = (c/a)/(x + b/a)
    fit = fit_affine(x, _target("1/x", x), "1/x")
    assert fit.b / fit.a == pytest.approx(b / a, rel=1e-8)
    assert fit.c / fit.a == pytest.approx(c / a, rel=1e-8)
    assert fit.d == pytest.approx(d, rel=1e-8)


def test_optimum_beyond_a_grid_edge_is_found_through_an_equivalent_inside():
    # cos(1.086x - 0.61): the equivalent phase -0.61 - 3π lies just outside b_range, and the
    # coarse grid favours it; the equivalent -0.61 - π inside must be found instead
    x = _samples(890, seed=5)
    y = -0.794 * torch.cos(1.086 * x - 0.610) - 0.608
    fit = fit_affine(x, y, "cos")
    assert fit.r2 > 1 - 1e-12
    assert -10 < fit.b < 10


def test_float32_and_column_inputs():
    x = _samples(300)
    y = _target("tanh", x)
    fit = fit_affine(x.float()[:, None], y.float()[:, None], "tanh")
    assert type(fit.r2) is float and fit.r2 > 1 - 1e-10
    out = fit.evaluate(x.float())
    assert out.dtype == torch.float32 and out.shape == x.shape


def test_zero_function_fits_the_mean():
    x = _samples(200)
    y = torch.sin(3 * x)
    fit = fit_affine(x, y, "0")
    assert (fit.c, fit.r2, fit.complexity) == (0.0, 0.0, 0)
    assert fit.d == pytest.approx(float(y.mean()), abs=1e-15)
    assert torch.equal(fit.evaluate(x), torch.full_like(x, fit.d))


def test_undefined_everywhere_is_a_failed_fit_not_nan():
    x = _samples(200)
    y = torch.sin(x)
    # for a, b >= 5 and x in [-1, 1], a·x+b leaves [-1, 1] somewhere: arcsin is never defined
    fit = fit_affine(x, y, "arcsin", a_range=(5, 10), b_range=(5, 10))
    assert fit.r2 == -math.inf and fit.c == 0.0
    assert fit.d == pytest.approx(float(y.mean()))
    # a function undefined on part of the grid still fits where it is defined
    for f in fit_library(x, y, ["sqrt", "log", "arctanh", "1/x", "x^1.5"]):
        assert math.isfinite(f.r2) and 0 < f.r2 <= 1
        assert torch.isfinite(f.evaluate(x)).all()


def test_small_search_settings_still_give_a_valid_fit():
    x = _samples(100)
    y = _target("sin", x)
    fit = fit_affine(x, y, "sin", grid_number=5, iterations=0)
    assert -10 <= fit.a <= 10 and -10 <= fit.b <= 10 and fit.r2 <= 1
    two = fit_affine(torch.tensor([0.0, 1.0]), torch.tensor([1.0, 3.0]), "x")
    assert two.r2 == pytest.approx(1.0)
    assert torch.allclose(two.evaluate(torch.tensor([0.0, 1.0])), torch.tensor([1.0, 3.0]))


def test_fits_use_no_global_random_state():
    state = torch.random.get_rng_state()
    x = _samples(100)
    fit_library(x, torch.exp(x), ["exp", "sin", "0"])
    assert torch.equal(torch.random.get_rng_state(), state)


# --- ranking ---------------------------------------------------------------------------------


def _score(fit, w=0.8):
    return w * fit.complexity + (1 - w) * math.log2(1 + 1e-5 - fit.r2)


def test_suggest_picks_sin_for_a_sine():
    x = _samples(300)
    y = 2 * torch.sin(3 * x) + 1 + 1e-4 * torch.randn(300, generator=_gen(1), dtype=x.dtype)
    top = suggest(x, y, topk=4)
    assert len(top) == 4
    # sin and cos fit equally well (cos(t - π/2) = sin t) and are equally complex: their
    # scores tie, and the tie goes to the earlier library entry, sin
    assert [f.name for f in top[:2]] == ["sin", "cos"]
    assert top[0].r2 > 1 - 1e-7 and top[0].r2 == pytest.approx(top[1].r2, abs=1e-12)
    assert abs(top[0].a) == pytest.approx(3, rel=1e-4)
    assert abs(top[0].c) == pytest.approx(2, rel=1e-4)
    scores = [_score(f) for f in top]
    assert scores[2] > scores[1] + 0.1 and scores[3] >= scores[2]


def test_suggest_weight_trades_simplicity_against_fit():
    x = _samples(300)
    y = _target("tanh", x)  # complexity 3, fitted exactly
    lib = ["0", "x", "tanh", "arctan"]
    assert suggest(x, y, lib, topk=1)[0].name == "tanh"
    assert suggest(x, y, lib, topk=1, weight_simple=1.0)[0].name == "0"
    ranked = suggest(x, y, lib, topk=10, weight_simple=0.0)
    assert len(ranked) == 4 and ranked[0].name == "tanh"
    assert [f.name for f in suggest(x, y, lib, topk=10, weight_simple=0.5)][-1] == "0"


def test_suggest_constant_is_the_zero_function():
    x = _samples(100)
    y = torch.full_like(x, 2.5)
    top = suggest(x, y, topk=3)
    assert top[0].name == "0" and top[0].r2 == 1.0
    assert (top[0].c, top[0].d) == (0.0, 2.5)
    assert [f.complexity for f in top] == [0, 1, 2]  # every fit is exact: simplest first
    assert all(f.r2 == 1.0 and f.c == 0.0 for f in fit_library(x, y, ["sin", "log", "sgn"]))


def test_suggest_scores_are_ordered():
    x = _samples(200)
    y = torch.exp(-x) + 0.01 * torch.randn(200, generator=_gen(2), dtype=x.dtype)
    top = suggest(x, y, topk=27)
    assert sorted(f.name for f in top) == sorted(DEFAULT_LIBRARY)
    scores = [_score(f) for f in top]
    assert all(s2 >= s1 - 1e-6 for s1, s2 in zip(scores, scores[1:]))
    assert top[0].name == "exp"


# --- bad input -------------------------------------------------------------------------------


def test_bad_samples_raise_input_errors():
    x = _samples(10)
    y = x.clone()
    y[3] = float("nan")
    with pytest.raises(InputError, match="y contains 1 NaN or inf"):
        fit_affine(x, y, "x")
    with pytest.raises(InputError, match="same length; got 10 and 9"):
        fit_affine(x, x[:9], "x")
    with pytest.raises(InputError, match="at least 2 samples; got 1"):
        fit_affine(x[:1], x[:1], "x")
    with pytest.raises(InputError, match="1-D"):
        fit_affine(x.view(2, 5), x.view(2, 5), "x")
    with pytest.raises(InputError, match="real"):
        fit_affine(x.to(torch.complex128), x, "x")
    with pytest.raises(InputError, match="x contains"):
        fit_library(torch.full((3,), float("inf")), torch.zeros(3))


def test_bad_settings_raise_input_errors():
    x = _samples(10)
    with pytest.raises(InputError, match="a_range"):
        fit_affine(x, x, "x", a_range=(1, -1))
    with pytest.raises(InputError, match="b_range"):
        fit_affine(x, x, "x", b_range=(0, math.inf))
    with pytest.raises(InputError, match="grid_number"):
        fit_affine(x, x, "x", grid_number=1)
    with pytest.raises(InputError, match="iterations"):
        fit_affine(x, x, "x", iterations=-1)
    with pytest.raises(InputError, match="unknown fit option"):
        fit_library(x, x, ["x"], grid=11)
    with pytest.raises(InputError, match="topk"):
        suggest(x, x, ["x"], topk=0)
    with pytest.raises(InputError, match="weight_simple"):
        suggest(x, x, ["x"], weight_simple=1.5)


# --- safe variants ---------------------------------------------------------------------------


SINGULAR = {
    "1/x": [0.0], "1/x^2": [0.0], "1/x^3": [0.0], "1/x^4": [0.0], "1/x^5": [0.0],
    "1/sqrt(x)": [0.0], "sqrt": [0.0], "x^1.5": [0.0], "log": [0.0],
    "tan": [-math.pi / 2, math.pi / 2, 3 * math.pi / 2],
    "arcsin": [-1.0, 1.0], "arccos": [-1.0, 1.0], "arctanh": [-1.0, 1.0],
}  # fmt: skip


def test_functions_with_singularities_have_safe_variants():
    with_safe = {n for n in DEFAULT_LIBRARY if get_function(n).safe_fn is not None}
    assert with_safe == set(SINGULAR)


@pytest.mark.parametrize("name", sorted(SINGULAR))
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_safe_variant_is_finite_and_exact_away_from_singularities(name, dtype):
    f = get_function(name)
    points = torch.tensor(SINGULAR[name], dtype=torch.float64)
    t = torch.cat([torch.linspace(-5, 5, 2001, dtype=torch.float64), points]).to(dtype)
    t.requires_grad_(True)
    out = f.safe(t)
    (grad,) = torch.autograd.grad(out.sum(), t)
    assert out.dtype == dtype
    assert torch.isfinite(out).all() and torch.isfinite(grad).all()
    with torch.no_grad():
        exact = f.torch_fn(t)
        if name == "tan":  # singular where cos vanishes
            far = torch.cos(t).abs() > 0.1
        else:
            far = (t[:, None] - points.to(dtype)).abs().amin(1) > 0.2
        far &= torch.isfinite(exact)
        assert far.sum() > 300
        rtol = 1e-6 if dtype == torch.float32 else 1e-12
        torch.testing.assert_close(out[far], exact[far], rtol=rtol, atol=0)


def test_safe_defaults_to_the_exact_function():
    t = torch.linspace(-3, 3, 11)
    for name in ("sin", "exp", "x^2", "sgn"):
        f = get_function(name)
        assert f.safe_fn is None and torch.equal(f.safe(t), f.torch_fn(t))


# --- sympy -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", function_names())
def test_sympy_form_equals_torch_form(name):
    sympy = pytest.importorskip("sympy")
    f = get_function(name)
    lo, hi = DOMAIN.get(name, (-2.0, 2.0))
    t = _samples(64, lo, hi, seed=3)
    x = sympy.Symbol("x")
    fn = sympy.lambdify(x, f.sympy_fn(x), modules="numpy")
    expected = f.torch_fn(t).numpy()
    got = np.broadcast_to(np.asarray(fn(t.numpy()), dtype=np.float64), expected.shape)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


def test_fit_as_sympy_expression():
    sympy = pytest.importorskip("sympy")
    x = _samples(300)
    fit = fit_affine(x, _target("log", x), "log")
    u = sympy.Symbol("u")
    expr = fit.sympy(u)
    assert expr.free_symbols == {u} and expr.has(sympy.log)
    values = sympy.lambdify(u, expr, modules="numpy")(x.numpy())
    np.testing.assert_allclose(values, fit.evaluate(x).numpy(), rtol=1e-12)
    zero = fit_affine(x, _target("log", x), "0").sympy()
    assert zero.free_symbols == set()
    assert float(zero) == pytest.approx(float(_target("log", x).mean()), rel=1e-12)


@pytest.mark.parametrize("lib", [["sin", "x^2"], ["x^2", "sin"]])
def test_a_near_exact_square_is_a_square_not_a_sliver_of_a_sine(lib):
    # a numeric edge that is x² up to 1e-4 noise: sin(a·x + b) with a tiny a fits it a hair
    # better (four parameters against three), but x² is the answer
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(500, generator=gen, dtype=torch.float64) * 2 - 1
    y = 1.3 * x**2 - 0.2 + 1e-4 * torch.randn(500, generator=gen, dtype=torch.float64)
    fits = {f.name: f for f in fit_library(x, y, lib)}
    assert fits["sin"].r2 >= fits["x^2"].r2 - 1e-9  # the sine is not worse...
    assert abs(fits["sin"].c) > 10 * abs(fits["x^2"].c)  # ...by using a sliver of itself
    assert suggest(x, y, lib, topk=1)[0].name == "x^2"


def test_every_sympy_form_without_sympy_says_how_to_install(monkeypatch):
    """One loader (library.sympy_module) for the library, the fits and the formulas."""
    import sys

    from kanlab.symbolic.formula import formula_latex

    monkeypatch.setitem(sys.modules, "sympy", None)
    fit = AffineFit("sin", 1.0, 0.0, 1.0, 0.0, 1.0, 2)
    for call in (lambda: get_function("sin").sympy_fn(1), fit.sympy,
                 lambda: formula_latex([]), library.sympy_module):
        with pytest.raises(ImportError, match=r"symbolic formulas: install sympy with "
                                              r"pip install 'kanlab\[symbolic\]'"):
            call()
