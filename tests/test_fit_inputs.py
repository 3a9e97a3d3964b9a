"""What ``fit`` takes before it trains: NumPy arrays, integer inputs, and no samples at all."""

import math

import numpy as np
import pytest
import torch

from kanlab import KAN, InputError, fit


def _model(widths=(2, 3, 1), dtype=torch.float64):
    return KAN(list(widths), grid_size=3, seed=0, dtype=dtype)


def _arrays(n=60, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, size=(n, 2))
    return x, np.sin(x[:, :1]) + x[:, 1:] ** 2


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_a_pykan_dict_of_numpy_arrays_trains_like_the_same_tensors(dtype):
    x, y = _arrays()
    arrays = {"train_input": x[:40], "train_label": y[:40],
              "test_input": x[40:], "test_label": y[40:]}
    tensors = {key: torch.as_tensor(value, dtype=dtype) for key, value in arrays.items()}
    from_numpy, from_torch = _model(dtype=dtype), _model(dtype=dtype)
    hist = fit(from_numpy, arrays, steps=3, progress=False)  # before: "must be a torch.Tensor"
    ref = fit(from_torch, tensors, steps=3, progress=False)
    assert hist.train_rmse == ref.train_rmse and hist.test_rmse == ref.test_rmse
    assert math.isfinite(hist.test_rmse[-1])
    assert from_numpy.recorded_inputs.dtype == dtype


def test_numpy_integer_inputs_become_floats_and_integer_labels_stay_classes():
    rng = np.random.default_rng(0)
    x = rng.integers(-3, 4, size=(200, 2))  # int64 features, as a table of counts would be
    y = (x[:, 0] * x[:, 1] > 0).astype(np.int64)
    model = _model((2, 4, 2))
    hist = fit(model, {"train_input": x, "train_label": y}, steps=10,
               loss_fn=torch.nn.functional.cross_entropy, progress=False)
    assert hist.loss[-1] < hist.loss[0]
    assert math.isnan(hist.train_rmse[-1])  # integer labels: classes, no RMSE
    assert model.recorded_inputs.dtype == torch.float64
    # integer tensors are cast the same way
    fit(_model((2, 4, 2)), {"train_input": torch.as_tensor(x), "train_label": torch.as_tensor(y)},
        steps=1, loss_fn=torch.nn.functional.cross_entropy, progress=False)


def test_a_dataloader_of_numpy_pairs():
    x, y = _arrays()
    pairs = list(zip(x, y))
    loader = torch.utils.data.DataLoader(pairs, batch_size=20,
                                         collate_fn=lambda b: (np.stack([p[0] for p in b]),
                                                               np.stack([p[1] for p in b])))
    hist = fit(_model(), loader, opt="adam", steps=4, update_grid=False, progress=False)
    assert len(hist.loss) == 4 and all(math.isfinite(v) for v in hist.loss)


def test_other_array_likes_are_named_in_the_error():
    x, y = _arrays()
    with pytest.raises(InputError, match=r"train_input must be a torch.Tensor or a NumPy array; "
                                         r"got list"):
        fit(_model(), {"train_input": x.tolist(), "train_label": y}, steps=1, progress=False)
    with pytest.raises(InputError, match=r"train_label is a NumPy array of dtype <U1"):
        fit(_model(), {"train_input": x, "train_label": np.array(["a"] * 60)}, steps=1,
            progress=False)


@pytest.mark.parametrize("kind", ["tensors", "numpy"])
def test_no_training_samples_is_our_error_before_any_step(kind):
    x, y = np.zeros((0, 2)), np.zeros((0, 1))
    data = {"train_input": x, "train_label": y}
    if kind == "tensors":
        data = {key: torch.as_tensor(value) for key, value in data.items()}
    model = _model()
    before = [p.detach().clone() for p in model.parameters()]
    # before: torch's "cannot reshape tensor of 0 elements into shape [0, -1]"
    with pytest.raises(InputError, match=r"train_input has shape \(0, 2\): no samples"):
        fit(model, data, steps=2, progress=False)
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))


def test_an_empty_dataloader_is_our_error_not_an_endless_loop():
    empty = torch.utils.data.TensorDataset(torch.zeros(0, 2), torch.zeros(0, 1))
    loader = torch.utils.data.DataLoader(empty, batch_size=4)
    with pytest.raises(InputError, match="DataLoader yielded no batch"):
        fit(_model(), loader, steps=2, update_grid=False, progress=False)
