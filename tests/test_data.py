"""Datasets: sampling, determinism, dtypes, ranges, toy functions, the dict round trip."""

from __future__ import annotations

import math

import pytest
import torch

from kanlab import InputError
from kanlab.data import TOY_FUNCTIONS, Dataset, make_dataset, make_toy_dataset

F64 = torch.float64


def f_sum(x):
    return x.sum(1)  # (N,)


def f_two(x):
    return torch.stack([x[:, 0] * 2, x[:, -1] ** 2], dim=1)  # (N, 2)


# ---------------------------------------------------------------- make_dataset


@pytest.mark.parametrize("f, n_out", [(f_sum, 1), (f_two, 2)])
def test_shapes_and_labels_always_2d(f, n_out):
    ds = make_dataset(f, 3, n_train=17, n_test=9, dtype=F64)
    assert ds.train_input.shape == (17, 3) and ds.test_input.shape == (9, 3)
    assert ds.train_label.shape == (17, n_out) and ds.test_label.shape == (9, n_out)
    assert ds.n_features == 3
    torch.testing.assert_close(ds.train_label, f(ds.train_input).reshape(17, n_out))
    torch.testing.assert_close(ds.test_label, f(ds.test_input).reshape(9, n_out))
    assert not torch.equal(ds.train_input[:9], ds.test_input)  # test set is fresh samples


def test_same_seed_same_data_different_seed_different_data():
    a = make_dataset(f_two, 2, n_train=50, n_test=20, seed=3)
    b = make_dataset(f_two, 2, n_train=50, n_test=20, seed=3)
    c = make_dataset(f_two, 2, n_train=50, n_test=20, seed=4)
    for key in ("train_input", "train_label", "test_input", "test_label"):
        assert torch.equal(getattr(a, key), getattr(b, key))
        assert not torch.allclose(getattr(a, key), getattr(c, key))


def test_same_points_in_float32_and_float64():
    d32 = make_dataset(f_two, 2, n_train=40, n_test=10, dtype=torch.float32, seed=5)
    d64 = make_dataset(f_two, 2, n_train=40, n_test=10, dtype=F64, seed=5)
    assert d32.train_input.dtype == torch.float32 and d64.train_input.dtype == F64
    assert d32.train_label.dtype == torch.float32 and d64.test_label.dtype == F64
    for key in ("train_input", "train_label", "test_input", "test_label"):
        assert torch.equal(getattr(d32, key), getattr(d64, key).float())


def test_default_dtype_is_torch_default():
    ds = make_dataset(f_sum, 1, n_train=5, n_test=5)
    assert ds.train_input.dtype == torch.get_default_dtype()


def test_global_rng_untouched():
    torch.manual_seed(1234)
    state = torch.get_rng_state()
    make_dataset(f_two, 3, n_train=30, n_test=30, seed=7)
    make_toy_dataset("xy", n_train=10, n_test=10)
    assert torch.equal(torch.get_rng_state(), state)
    torch.manual_seed(1234)
    expected = torch.rand(3)
    torch.manual_seed(1234)
    make_dataset(f_sum, 2, n_train=8, n_test=8)
    assert torch.equal(torch.rand(3), expected)


def test_per_variable_ranges_are_respected():
    ranges = [(-1.0, 1.0), (2.0, 2.5), (-10.0, -9.0)]
    ds = make_dataset(f_sum, 3, ranges=ranges, n_train=500, n_test=100, dtype=F64, seed=1)
    for x in (ds.train_input, ds.test_input):
        for i, (lo, hi) in enumerate(ranges):
            assert float(x[:, i].min()) >= lo and float(x[:, i].max()) <= hi
    for i, (lo, hi) in enumerate(ranges):  # and roughly filled, uniformly
        col = ds.train_input[:, i]
        assert float(col.min()) < lo + 0.05 * (hi - lo) and float(col.max()) > hi - 0.05 * (hi - lo)
        assert abs(float(col.mean()) - (lo + hi) / 2) < 0.1 * (hi - lo)


def test_one_range_applies_to_every_variable():
    ds = make_dataset(f_sum, 4, ranges=(0.0, 3.0), n_train=300, n_test=10, dtype=F64)
    assert float(ds.train_input.min()) >= 0.0 and float(ds.train_input.max()) <= 3.0
    assert bool((ds.train_input.amax(0) > 2.5).all())  # every variable spans the range
    two = make_dataset(f_sum, 2, ranges=[(0.0, 3.0), (5.0, 6.0)], n_train=50, n_test=5)
    assert float(two.train_input[:, 1].min()) >= 5.0  # a list of pairs is per-variable


@pytest.mark.parametrize("ranges", [[(0.0, 1.0)] * 2, [(0.0, 1.0)] * 4, [(0.0, 1.0)]])
def test_wrong_ranges_length_raises(ranges):
    with pytest.raises(InputError, match=r"ranges has \d entries; expected one per variable \(3\)"):
        make_dataset(f_sum, 3, ranges=ranges)


@pytest.mark.parametrize("ranges", [(1.0, 0.0), [(0.0, 1.0), (2.0, 2.0)]])
def test_empty_range_raises(ranges):
    with pytest.raises(ValueError, match="low < high"):
        make_dataset(f_sum, 2, ranges=ranges)


@pytest.mark.parametrize("kwargs, name", [({"n_train": 0}, "n_train"), ({"n_test": -1}, "n_test"),
                                          ({"n_train": 2.5}, "n_train")])
def test_bad_counts_raise(kwargs, name):
    with pytest.raises(InputError, match=name):
        make_dataset(f_sum, 2, **kwargs)
    with pytest.raises(InputError, match="n_var"):
        make_dataset(f_sum, 0)


def test_f_with_a_bad_shape_raises():
    with pytest.raises(InputError, match=r"f must return \(N,\) or \(N, n_out\)"):
        make_dataset(lambda x: x[:, :, None], 2, n_train=4, n_test=4)
    with pytest.raises(InputError, match="for N = 4"):
        make_dataset(lambda x: x[:2, 0], 2, n_train=4, n_test=4)


# ---------------------------------------------------------------- toy functions


@pytest.mark.parametrize("name", sorted(TOY_FUNCTIONS))
def test_every_toy_function_builds_a_dataset(name):
    n_var, f, formula = TOY_FUNCTIONS[name]
    assert isinstance(formula, str) and formula
    ds = make_toy_dataset(name, n_train=20, n_test=7, dtype=F64, seed=2)
    assert ds.train_input.shape == (20, n_var) and ds.test_input.shape == (7, n_var)
    assert ds.train_label.shape == (20, 1) and ds.test_label.shape == (7, 1)
    assert float(ds.train_input.abs().max()) <= 1.0  # [-1, 1]^n
    assert bool(torch.isfinite(ds.train_label).all())
    torch.testing.assert_close(ds.train_label[:, 0], f(ds.train_input))
    assert float(ds.train_label.std()) > 0


def test_toy_functions_have_the_papers_formulas():
    x = torch.tensor([[0.5, -0.25, 0.1, 0.2]], dtype=F64)
    _, xy, _ = TOY_FUNCTIONS["xy"]
    torch.testing.assert_close(xy(x[:, :2]), torch.tensor([-0.125], dtype=F64))
    _, f, _ = TOY_FUNCTIONS["exp_sin_sq"]
    torch.testing.assert_close(f(x[:, :2]), torch.tensor([math.exp(1.0 + 0.0625)], dtype=F64))
    _, f, _ = TOY_FUNCTIONS["exp_4d"]
    expected = math.exp(0.5 * (math.sin(math.pi * 0.3125) + math.sin(math.pi * 0.05)))
    torch.testing.assert_close(f(x), torch.tensor([expected], dtype=F64))


def test_unknown_toy_name_suggests():
    with pytest.raises(InputError, match=r"did you mean 'bessel_j0'"):
        make_toy_dataset("bessel_j1")
    with pytest.raises(ValueError, match="unknown toy function"):
        make_toy_dataset("nope_nothing_like_it")


# ---------------------------------------------------------------- Dataset


def _tensors(with_test=True):
    g = torch.Generator().manual_seed(0)
    d = {
        "train_input": torch.randn(6, 2, generator=g),
        "train_label": torch.randn(6, 1, generator=g),
    }
    if with_test:
        d["test_input"] = torch.randn(3, 2, generator=g)
        d["test_label"] = torch.randn(3, 1, generator=g)
    return d


@pytest.mark.parametrize("with_test", [True, False])
def test_from_dict_to_dict_round_trip(with_test):
    d = _tensors(with_test)
    ds = Dataset.from_dict(d)
    back = ds.to_dict()
    assert set(back) == set(d)
    for key in d:
        assert back[key] is d[key]
    if not with_test:
        assert ds.test_input is None and ds.test_label is None


def test_from_dict_missing_keys_are_named():
    with pytest.raises(InputError, match=r"lacks \['train_label'\]"):
        Dataset.from_dict({"train_input": torch.zeros(2, 1)})
    with pytest.raises(InputError, match=r"lacks \['train_input', 'train_label'\]"):
        Dataset.from_dict({"test_input": torch.zeros(2, 1)})


def test_test_input_without_test_label_raises():
    d = _tensors()
    with pytest.raises(InputError, match="given together"):
        Dataset(d["train_input"], d["train_label"], test_input=d["test_input"])
    with pytest.raises(InputError, match="given together"):
        Dataset(d["train_input"], d["train_label"], test_label=d["test_label"])
    del d["test_label"]
    with pytest.raises(InputError, match="given together"):
        Dataset.from_dict(d)


def test_non_tensor_fields_raise():
    with pytest.raises(InputError, match="train_label must be a torch.Tensor; got list"):
        Dataset(torch.zeros(2, 1), [0.0, 1.0])  # type: ignore[arg-type]


def test_to_casts_floats_and_keeps_integer_labels():
    ds = Dataset(torch.zeros(4, 2), torch.tensor([0, 1, 1, 0]), torch.ones(2, 2),
                 torch.tensor([1, 0]))
    moved = ds.to(dtype=F64)
    assert moved.train_input.dtype == F64 and moved.test_input.dtype == F64
    assert moved.train_label.dtype == torch.int64 and moved.test_label.dtype == torch.int64
    assert ds.train_input.dtype == torch.float32  # the original is untouched


def test_dkan_synthetic_follows_its_formula_and_input_laws():
    from kanlab.data import dkan_synthetic, make_dkan_dataset

    gen = torch.Generator().manual_seed(0)
    x, y = dkan_synthetic(4000, inputs="uniform", half_width=3.0, noise=0.0, generator=gen)
    assert x.shape == (4000, 2) and y.shape == (4000, 1) and x.dtype == torch.float64
    assert x.abs().max() <= 3.0 and x.abs().max() > 2.9
    expected = torch.log(x[:, 0].abs() + (x[:, 1] / 2) ** 2 + 1)
    torch.testing.assert_close(y[:, 0], expected, rtol=0, atol=0)
    xn, yn = dkan_synthetic(4000, noise=0.1, generator=torch.Generator().manual_seed(0))
    assert (xn.abs() > 1).any(dim=1).float().mean() > 0.4  # "outside" a [-1, 1] grid
    residual = yn[:, 0] - torch.log(xn[:, 0].abs() + (xn[:, 1] / 2) ** 2 + 1)
    assert abs(float(residual.std()) - 0.1) < 0.01
    d1, d2 = make_dkan_dataset("normal", seed=3), make_dkan_dataset("normal", seed=3)
    assert d1.train_input.shape == (9000, 2) and d1.test_input.shape == (1000, 2)
    assert torch.equal(d1.train_input, d2.train_input)
    with pytest.raises(InputError, match="inputs"):
        dkan_synthetic(10, inputs="outside")
