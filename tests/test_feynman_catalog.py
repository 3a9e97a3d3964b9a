"""Tests of kanlab.data.feynman_catalog: the AI Feynman Feynman_no_units equations as data."""

import keyword
import math

import numpy as np
import pytest
import torch

from kanlab.data.feynman_catalog import (
    FEYNMAN_NO_UNITS,
    CatalogEquation,
    feynman_no_units_dataset,
)
from kanlab.errors import InputError

NAMES = list(FEYNMAN_NO_UNITS)
MAIN = [n for n in NAMES if not n.startswith("bonus.")]
BONUS = [n for n in NAMES if n.startswith("bonus.")]


def test_catalog_holds_100_main_and_20_bonus_equations_in_csv_order():
    assert len(MAIN) == 100 and len(BONUS) == 20 and len(NAMES) == 120
    assert len(set(NAMES)) == len(NAMES)
    assert NAMES[:3] == ["I.6.2a", "I.6.2", "I.6.2b"] and NAMES[99] == "III.21.20"
    assert NAMES[100:] == [f"bonus.{i}" for i in range(1, 21)]
    for known in ("I.6.2", "I.6.2a", "I.6.2b", "II.11.27", "III.21.20", "II.11.17"):
        assert known in FEYNMAN_NO_UNITS
    assert FEYNMAN_NO_UNITS["bonus.1"].title == "Rutherford scattering"
    assert all(FEYNMAN_NO_UNITS[n].title == "" for n in MAIN)


@pytest.mark.parametrize("name", NAMES)
def test_entry_is_well_formed(name):
    eq = FEYNMAN_NO_UNITS[name]
    assert eq.name == name and eq.output.isidentifier()
    assert 1 <= eq.n_var == len(eq.variables) == len(eq.ranges) <= 10
    assert len(set(eq.variables)) == eq.n_var
    for v in eq.variables:
        assert v.isidentifier() and not keyword.iskeyword(v), v
    for low, high in eq.ranges:
        assert isinstance(low, float) and isinstance(high, float) and low < high
    assert "~" not in eq.formula and "arc" not in eq.formula


@pytest.mark.parametrize("name", NAMES)
def test_torch_fn_matches_formula_text(name):
    sympy = pytest.importorskip("sympy")
    eq = FEYNMAN_NO_UNITS[name]
    symbols = [sympy.Symbol(v) for v in eq.variables]
    expr = sympy.sympify(eq.formula, locals=dict(zip(eq.variables, symbols)))
    assert expr.free_symbols == set(symbols), "the formula uses exactly the variables"
    f = sympy.lambdify(symbols, expr, modules="numpy")
    ds = feynman_no_units_dataset(name, n_train=200, n_test=1, seed=5, dtype=torch.float64)
    x, y = ds.train_input, ds.train_label[:, 0]
    assert torch.isfinite(y).all()
    expected = np.broadcast_to(np.asarray(f(*x.numpy().T), dtype=np.float64), (200,))
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-10, atol=0)
    y32 = eq.fn(x.float())
    assert y32.dtype == torch.float32 and y32.shape == (200,)


def _at(name, *values):
    x = torch.tensor([values], dtype=torch.float64)
    return FEYNMAN_NO_UNITS[name].fn(x).item()


def test_hand_computed_values():
    # exp(-1/2)/sqrt(2 pi) = 0.6065306597126334 / 2.5066282746310002
    assert _at("I.6.2a", 1.0) == pytest.approx(0.24197072451914337, rel=1e-14)
    assert _at("I.12.1", 2.0, 3.0) == pytest.approx(6.0, rel=1e-14)  # mu*Nn
    # sqrt((4-1)^2 + (5-1)^2) = sqrt(9 + 16) = 5 (columns x1, x2, y1, y2)
    assert _at("I.8.14", 1.0, 4.0, 1.0, 5.0) == pytest.approx(5.0, rel=1e-14)
    # 1 + n alpha / (1 - n alpha/3) with n alpha = 0.3: 1 + 0.3/0.9 = 4/3
    assert _at("II.11.28", 0.5, 0.6) == pytest.approx(4 / 3, rel=1e-14)
    # n kb T ln(V2/V1) at n = kb = T = V1 = 1, V2 = e: 1
    assert _at("I.44.4", 1.0, 1.0, 1.0, 1.0, math.e) == pytest.approx(1.0, rel=1e-14)
    # -rho_c_0 q A_vec / m at (1, 2, 3, 6): -1
    assert _at("III.21.20", 1.0, 2.0, 3.0, 6.0) == pytest.approx(-1.0, rel=1e-14)
    # 2 pi d^(3/2) / sqrt(G (m1 + m2)) at d = G = m1 = 1, m2 = 3: 2 pi / 2 = pi
    assert _at("bonus.5", 1.0, 1.0, 1.0, 3.0) == pytest.approx(math.pi, rel=1e-14)
    # acos((cos(pi/2) - 1/2) / (1 - 1/2 cos(pi/2))) = acos(-1/2) = 2 pi/3 (c = 4, v = 2)
    assert _at("bonus.10", 4.0, 2.0, math.pi / 2) == pytest.approx(2 * math.pi / 3, rel=1e-14)


def test_dataset_shapes_ranges_seed_and_dtype():
    eq = FEYNMAN_NO_UNITS["I.9.18"]
    a = feynman_no_units_dataset("I.9.18", n_train=64, n_test=32, seed=3, dtype=torch.float64)
    assert a.train_input.shape == (64, 9) and a.train_label.shape == (64, 1)
    assert a.test_input.shape == (32, 9) and a.test_label.shape == (32, 1)
    lo = torch.tensor([r[0] for r in eq.ranges], dtype=torch.float64)
    hi = torch.tensor([r[1] for r in eq.ranges], dtype=torch.float64)
    for x in (a.train_input, a.test_input):
        assert ((x >= lo) & (x <= hi)).all()
    assert lo[3] == 3.0 and hi[4] == 2.0  # x1 in [3, 4], x2 in [1, 2]
    b = feynman_no_units_dataset("I.9.18", n_train=64, n_test=32, seed=3, dtype=torch.float64)
    assert torch.equal(a.train_input, b.train_input) and torch.equal(a.test_label, b.test_label)
    c = feynman_no_units_dataset("I.9.18", n_train=64, n_test=32, seed=4, dtype=torch.float64)
    assert not torch.equal(a.train_input, c.train_input)
    f = feynman_no_units_dataset("I.9.18", n_train=64, n_test=32, seed=3, dtype=torch.float32)
    assert f.train_input.dtype == f.train_label.dtype == torch.float32
    # labels are computed in float64, then cast
    assert torch.equal(f.train_label, a.train_label.float())


def test_unknown_name_suggests_close_ones_and_lists_known():
    with pytest.raises(InputError, match="Known") as info:
        feynman_no_units_dataset("I.6.2c")
    assert "'I.6.2" in str(info.value) and "III.21.20" in str(info.value)
    with pytest.raises(InputError, match="Known"):
        feynman_no_units_dataset(3)


def test_fn_checks_shape_and_formula_is_not_evaluated():
    with pytest.raises(InputError, match=r"\(N, 2\)"):
        FEYNMAN_NO_UNITS["I.12.1"].fn(torch.ones(4, 3))
    with pytest.raises(InputError, match="unsupported"):
        CatalogEquation("bad", "y", ("x",), ((0.0, 1.0),), "__import__('os').getcwd()")
    with pytest.raises(InputError, match="unsupported"):
        CatalogEquation("bad", "y", ("x",), ((0.0, 1.0),), "x + z")  # z is no variable
    with pytest.raises(InputError, match="identifier"):
        CatalogEquation("bad", "y", ("lambda",), ((0.0, 1.0),), "1")
