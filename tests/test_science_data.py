"""Tests of kanlab.data.science: Feynman and special-function datasets, CSV loading."""

import math

import numpy as np
import pytest
import torch

from kanlab.data.science import (
    FEYNMAN,
    SPECIAL_FUNCTIONS,
    feynman_dataset,
    load_csv,
    special_function_dataset,
)
from kanlab.errors import InputError

TABLE_3 = [
    "I.6.2", "I.6.2b", "I.9.18", "I.12.11", "I.13.12", "I.15.3x", "I.16.6", "I.18.4",
    "I.26.2", "I.27.6", "I.29.16", "I.30.3", "I.30.5", "I.37.4", "I.40.1", "I.44.4",
    "I.50.26", "II.2.42", "II.6.15a", "II.11.7", "II.11.27", "II.35.18", "II.36.38",
    "II.38.3", "III.9.52", "III.10.19", "III.17.37",
]


def test_feynman_holds_every_table_3_row():
    assert list(FEYNMAN)[: len(TABLE_3)] == TABLE_3
    for name, eq in FEYNMAN.items():
        assert eq.name == name
        assert len(eq.ranges) == len(eq.variables) == eq.n_var >= 2
        assert all(lo < hi for lo, hi in eq.ranges)


@pytest.mark.parametrize("name", list(FEYNMAN))
def test_feynman_dataset_shapes_finite_and_in_range(name):
    eq = FEYNMAN[name]
    ds = feynman_dataset(name, n_train=200, n_test=50, seed=1, dtype=torch.float64)
    assert ds.train_input.shape == (200, eq.n_var) and ds.train_label.shape == (200, 1)
    assert ds.test_input.shape == (50, eq.n_var) and ds.test_label.shape == (50, 1)
    assert ds.train_input.dtype == torch.float64
    assert torch.isfinite(ds.train_label).all() and torch.isfinite(ds.test_label).all()
    lo = torch.tensor([r[0] for r in eq.ranges], dtype=torch.float64)
    hi = torch.tensor([r[1] for r in eq.ranges], dtype=torch.float64)
    assert ((ds.train_input >= lo) & (ds.train_input <= hi)).all()


@pytest.mark.parametrize("name", list(FEYNMAN))
def test_feynman_label_equals_formula_text(name):
    sympy = pytest.importorskip("sympy")
    from sympy.parsing.sympy_parser import parse_expr

    eq = FEYNMAN[name]
    symbols = {v: sympy.Symbol(v) for v in eq.variables}
    expr = parse_expr(eq.formula, local_dict=symbols)
    assert expr.free_symbols == set(symbols.values()), "formula uses exactly the variables"
    f = sympy.lambdify([symbols[v] for v in eq.variables], expr, modules="numpy")
    ds = feynman_dataset(name, n_train=20, n_test=1, seed=3, dtype=torch.float64)
    x = ds.train_input.numpy()
    expected = np.broadcast_to(f(*x.T), (len(x),))
    np.testing.assert_allclose(ds.train_label[:, 0].numpy(), expected, rtol=1e-10, atol=1e-12)


def test_feynman_hand_computed_values():
    one = lambda name, *v: FEYNMAN[name].fn(torch.tensor([v], dtype=torch.float64)).item()  # noqa: E731
    assert one("I.6.2", 0.0, 1.0) == pytest.approx(1 / math.sqrt(2 * math.pi), rel=1e-14)
    assert one("I.16.6", 0.5, 0.5) == pytest.approx(0.8, rel=1e-14)  # (1) / (1.25)
    assert one("I.29.16", 1.0, 0.5, 0.5 + math.pi) == pytest.approx(2.0, rel=1e-14)
    assert one("III.9.52", 0.7, 1.0, 1.0) == pytest.approx(0.7, rel=1e-14)  # sinc limit
    assert one("I.30.3", 2.0, math.pi) == pytest.approx(0.0, abs=1e-14)  # sin^2(pi)/1


def test_feynman_dataset_is_seeded_and_dtype_independent():
    a = feynman_dataset("I.6.2", n_train=10, n_test=5, seed=7, dtype=torch.float64)
    b = feynman_dataset("I.6.2", n_train=10, n_test=5, seed=7, dtype=torch.float32)
    assert b.train_input.dtype == torch.float32
    torch.testing.assert_close(a.train_input.float(), b.train_input)
    c = feynman_dataset("I.6.2", n_train=10, n_test=5, seed=8, dtype=torch.float64)
    assert not torch.equal(a.train_input, c.train_input)


def test_unknown_names_suggest_close_matches():
    with pytest.raises(InputError, match=r"I\.6\.2"):
        feynman_dataset("I.6.3")
    with pytest.raises(InputError, match="'jv'"):
        special_function_dataset("jvv")
    with pytest.raises(InputError, match="unknown"):
        feynman_dataset("nothing like it")


def test_special_functions_cover_table_2():
    assert len(SPECIAL_FUNCTIONS) == 15
    for base in ("ellipj", "ellipkinc", "ellipeinc", "jv", "yv", "kv", "iv"):
        assert base in SPECIAL_FUNCTIONS


@pytest.mark.parametrize("name", list(SPECIAL_FUNCTIONS))
def test_special_function_dataset_finite(name):
    pytest.importorskip("scipy")
    ds = special_function_dataset(name, n_train=300, n_test=20, seed=0, dtype=torch.float64)
    assert ds.train_input.shape == (300, 2) and ds.train_label.shape == (300, 1)
    assert torch.isfinite(ds.train_label).all() and torch.isfinite(ds.test_label).all()
    # the domain's corners, where singular behaviour would show
    (lo0, hi0), (lo1, hi1) = SPECIAL_FUNCTIONS[name].ranges
    corners = np.array([[lo0, lo1], [lo0, hi1], [hi0, lo1], [hi0, hi1]])
    assert np.isfinite(SPECIAL_FUNCTIONS[name].fn(corners)).all()


def test_special_function_values_equal_scipy():
    sp = pytest.importorskip("scipy.special")
    x = np.array([[0.3, 0.5], [0.9, 0.2]])
    fn = {k: v.fn for k, v in SPECIAL_FUNCTIONS.items()}
    np.testing.assert_allclose(fn["jv"](x), sp.jv(x[:, 0], x[:, 1]), rtol=1e-15)
    np.testing.assert_allclose(fn["kv"](x), sp.kv(x[:, 0], x[:, 1]), rtol=1e-15)
    np.testing.assert_allclose(fn["ellipj"](x), sp.ellipj(x[:, 0], x[:, 1])[0], rtol=1e-15)
    np.testing.assert_allclose(fn["lpmv_2"](x), sp.lpmv(2, x[:, 0], x[:, 1]), rtol=1e-15)
    # hand values: J0(0) = 1; P_1^0(x) = x; Re Y_1^0 = sqrt(3/4pi) cos(polar);
    # Re Y_1^1 = -sqrt(3/8pi) sin(polar) cos(azimuth) (Condon-Shortley phase)
    assert fn["jv"](np.array([[0.0, 0.0]]))[0] == pytest.approx(1.0)
    assert fn["lpmv_0"](np.array([[1.0, 0.3]]))[0] == pytest.approx(0.3)
    az, pol = 0.4, 1.1
    pt = np.array([[az, pol]])
    assert fn["sph_harm_0_1"](pt)[0] == pytest.approx(math.sqrt(3 / (4 * math.pi)) * math.cos(pol))
    expected = -math.sqrt(3 / (8 * math.pi)) * math.sin(pol) * math.cos(az)
    assert fn["sph_harm_1_1"](pt)[0] == pytest.approx(expected)
    ds = special_function_dataset("yv", n_train=5, n_test=5, dtype=torch.float64)
    x = ds.train_input.numpy()
    np.testing.assert_allclose(ds.train_label[:, 0].numpy(), sp.yv(x[:, 0], x[:, 1]))


def _write(tmp_path, text):
    path = tmp_path / "data.csv"
    path.write_text(text)
    return path


def test_load_csv_round_trip_and_split(tmp_path):
    rows = [(i, 2.0 * i, 0.5 * i + 1) for i in range(10)]
    path = _write(tmp_path, "x, y ,z\n" + "".join(f"{a},{b},{c}\n" for a, b, c in rows) + "\n")
    ds = load_csv(path, "z", test_fraction=0.2, seed=0, dtype=torch.float64)
    assert ds.train_input.shape == (8, 2) and ds.train_label.shape == (8, 1)
    assert ds.test_input.shape == (2, 2) and ds.test_label.shape == (2, 1)
    x = torch.cat([ds.train_input, ds.test_input])
    y = torch.cat([ds.train_label, ds.test_label])
    assert sorted(x[:, 0].tolist()) == list(range(10))  # every row once
    torch.testing.assert_close(x[:, 1], 2.0 * x[:, 0])
    torch.testing.assert_close(y[:, 0], 0.5 * x[:, 0] + 1)
    again = load_csv(path, "z", test_fraction=0.2, seed=0, dtype=torch.float64)
    assert torch.equal(again.train_input, ds.train_input)
    assert load_csv(path, "z").train_input.dtype == torch.float32


def test_load_csv_feature_selection_and_no_test(tmp_path):
    path = _write(tmp_path, "a,b,c,d\n1,2,3,4\n5,6,7,8\n")
    ds = load_csv(path, ["d", "a"], features=["c"], test_fraction=0.0)
    assert ds.test_input is None
    order = ds.train_input[:, 0].argsort()
    assert ds.train_input[order].tolist() == [[3.0], [7.0]]
    assert ds.train_label[order].tolist() == [[4.0, 1.0], [8.0, 5.0]]


def test_load_csv_errors(tmp_path):
    path = _write(tmp_path, "a,b\n1,2\n3,4\n5,6\n")
    with pytest.raises(InputError, match=r"no column 'c'.*\['a', 'b'\]"):
        load_csv(path, "c")
    with pytest.raises(InputError, match="no column 'q'"):
        load_csv(path, "a", features=["q"])
    bad = _write(tmp_path, "a,b\n1,2\n3,oops\n5,6\n")
    with pytest.raises(InputError, match=r"line 3, column 'b': 'oops' is not a number"):
        load_csv(bad, "b")
    nan = _write(tmp_path, "a,b\n1,2\nnan,4\n5,6\n")
    with pytest.raises(InputError, match=r"line 3, column 'a'.*not finite"):
        load_csv(nan, "b")
    short = _write(tmp_path, "a,b\n1,2\n3\n")
    with pytest.raises(InputError, match="line 3 has 1 cells"):
        load_csv(short, "b")
    one = _write(tmp_path, "a,b\n1,2\n")
    with pytest.raises(InputError, match="1 data rows"):
        load_csv(one, "b")
    with pytest.raises(InputError, match="header"):
        load_csv(_write(tmp_path, ""), "b")


def test_missing_scipy_names_the_install(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "scipy.special", None)
    with pytest.raises(ImportError, match=r"scipy with pip install 'kanlab\[scipy\]'"):
        special_function_dataset("jv", n_train=2, n_test=2)
