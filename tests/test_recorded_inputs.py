"""``KAN.recorded_inputs``: the default samples of pruning, symbolic fitting, importance and
plots -- a buffer that fit records, save/load keep, pruning restricts, and that stays bounded."""

import json
from pathlib import Path

import pytest
import torch

import kanlab
from kanlab import KAN, InputError
from kanlab.interpret.importance import importance
from kanlab.nn.model import RECORD_MAX_VALUES

D = torch.float64
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "saved_v1"
LIB = ["x", "x^2", "sin", "exp"]


def _x(n=64, d=2, seed=0):
    return torch.rand(n, d, generator=torch.Generator().manual_seed(seed), dtype=D) * 2 - 1


@pytest.fixture(scope="module")
def fitted():
    """A [3, 4, 1] KAN fitted on exp(sin(πx) + y²) (the third input unused), sparsified."""
    data = kanlab.data.make_dataset(
        lambda x: torch.exp(torch.sin(torch.pi * x[:, [0]]) + x[:, [1]] ** 2), 3,
        n_train=200, n_test=50, seed=0, dtype=D)
    model = KAN([3, 4, 1], seed=0, dtype=D)
    kanlab.fit(model, data, steps=20, lamb=0.01, progress=False)
    return model, data


def _same_models(a, b, x):
    assert a.widths == b.widths
    for la, lb in zip(a.layers, b.layers):
        assert torch.equal(la.mask, lb.mask)
    assert torch.equal(a(x), b(x))


def test_fit_records_its_training_inputs_as_a_buffer(fitted):
    model, data = fitted
    assert torch.equal(model.recorded_inputs, data.train_input)
    assert "recorded_inputs" in dict(model.named_buffers())
    assert torch.equal(model.state_dict()["recorded_inputs"], data.train_input)


def test_save_load_keeps_the_defaults_of_prune_and_auto_symbolic(fitted, tmp_path):
    model, data = fitted
    path = model.save(tmp_path / "m")
    assert json.loads((path / "config.json").read_text())["version"] == 2
    loaded = KAN.load(path)
    assert torch.equal(loaded.recorded_inputs, model.recorded_inputs)
    x = data.test_input
    _same_models(loaded.prune(), model.prune(), x)
    a, b = model.prune(), loaded.prune()
    assert a.auto_symbolic(lib=LIB) == b.auto_symbolic(lib=LIB)  # the same fits, bit for bit
    _same_models(a, b, x)
    torch.testing.assert_close(loaded.importance().edges[0], model.importance().edges[0],
                               rtol=0, atol=0)


def test_a_pruned_model_keeps_the_recorded_inputs_of_the_columns_it_keeps(fitted, tmp_path):
    model, _ = fitted
    recorded = model.recorded_inputs
    for smaller in (model.prune(), model.prune_nodes(threshold=0.5), model.prune_edges()):
        assert torch.equal(smaller.recorded_inputs, recorded)
        assert smaller.recorded_inputs.data_ptr() != recorded.data_ptr()  # not shared
    smaller, kept = model.prune_inputs(threshold=0.05)
    assert kept == [0, 1]  # the third input is unused
    assert torch.equal(smaller.recorded_inputs, recorded[:, kept])
    # so the pruned model's defaults are the original ones on the kept columns ...
    torch.testing.assert_close(smaller.importance().nodes[1],
                               importance(smaller, recorded[:, kept]).nodes[1], rtol=0, atol=0)
    # ... also after save/load
    loaded = KAN.load(smaller.save(tmp_path / "p"))
    assert torch.equal(loaded.recorded_inputs, recorded[:, kept])
    assert loaded.auto_symbolic(lib=LIB) == smaller.auto_symbolic(lib=LIB)


def test_pruning_on_explicit_samples_keeps_the_recorded_ones(fitted):
    model, data = fitted
    smaller = model.prune(data.test_input)
    assert torch.equal(smaller.recorded_inputs, model.recorded_inputs)


def test_an_unfitted_model_has_none_and_says_how_to_get_them():
    model = KAN([2, 3, 1], seed=0, dtype=D)
    assert model.recorded_inputs is None
    assert "recorded_inputs" not in model.state_dict()
    with pytest.raises(InputError, match="pass x, or fit the model first"):
        model.prune()
    pruned = model.prune(_x())  # explicit samples: the pruned model has none either
    assert pruned.recorded_inputs is None


@pytest.mark.parametrize("name", ["plain", "pruned_symbolic", "dkan", "tails_curvature"])
def test_a_model_saved_before_recorded_inputs_loads_without_them(name, tmp_path):
    model = KAN.load(FIXTURES / name)
    assert model.recorded_inputs is None
    with pytest.raises(InputError, match="samples"):
        model.prune()
    x = _x(32, model.widths[0])
    model.record(x)
    loaded = KAN.load(model.save(tmp_path / name))
    assert torch.equal(loaded.recorded_inputs, x.to(model.dtype))


def test_record_copies_in_the_models_dtype_and_moves_with_it():
    model = KAN([2, 3, 1], seed=0)  # float32
    x = _x(10)
    model.record(x)
    assert model.recorded_inputs.dtype == torch.float32
    torch.testing.assert_close(model.recorded_inputs, x.float())
    x32 = x.float()
    model.record(x32)
    x32.zero_()  # the recorded rows are a copy
    torch.testing.assert_close(model.recorded_inputs, x.float())
    model.double()
    assert model.recorded_inputs.dtype == torch.float64
    model.record(x.reshape(5, 2, 2))  # batch dimensions are flattened
    assert model.recorded_inputs.shape == (10, 2)


def test_record_keeps_at_most_max_values_numbers_in_evenly_spaced_rows():
    model = KAN([3, 2, 1], seed=0, dtype=D)
    x = torch.arange(3.0 * 101, dtype=D).reshape(101, 3)
    model.record(x, max_values=30)  # 303 numbers: 10 rows kept
    rows = [round(i * 100 / 9) for i in range(10)]  # 0, 11, 22, ..., 100
    assert torch.equal(model.recorded_inputs, x[rows])
    model.record(x, max_values=303)  # fits: every row
    assert torch.equal(model.recorded_inputs, x)
    model.record(x, max_values=None)
    assert torch.equal(model.recorded_inputs, x)
    model.record(x, max_values=1)  # never fewer than 2 rows (plots need 2)
    assert torch.equal(model.recorded_inputs, x[[0, 100]])
    for bad in (0, -1, 2.5, True):
        with pytest.raises(InputError, match="max_values"):
            model.record(x, max_values=bad)


def test_the_default_bound_is_a_few_megabytes():
    assert RECORD_MAX_VALUES == 2**20
    model = KAN([784, 1], grid_size=1, spline_order=1, seed=0)
    model.record(torch.zeros(4000, 784))  # like MNIST: 1337 rows, about 4 MB in float32
    assert model.recorded_inputs.shape == (2**20 // 784, 784)


def test_load_state_dict_replaces_or_clears_them_and_checks_the_shape():
    model = KAN([2, 3, 1], seed=0, dtype=D)
    model.record(_x(8))
    other = KAN([2, 3, 1], seed=1, dtype=D)
    other.record(_x(5, seed=1))
    model.load_state_dict(other.state_dict())  # a different number of rows
    assert torch.equal(model.recorded_inputs, other.recorded_inputs)
    fresh = KAN([2, 3, 1], seed=2, dtype=D)
    model.load_state_dict(fresh.state_dict())  # a state without them clears them
    assert model.recorded_inputs is None
    state = other.state_dict()
    state["recorded_inputs"] = torch.zeros(4, 3, dtype=D)
    with pytest.raises(RuntimeError, match=r"recorded_inputs has shape \(4, 3\)"):
        model.load_state_dict(state)
