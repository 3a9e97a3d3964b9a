"""fit warns (DataWarning) when the training inputs are on a scale a KAN cannot use, and stays
quiet on ordinary data (pytest turns any warning into an error)."""

import pytest
import torch

import kanlab
from kanlab.errors import DataWarning


def _pair(scale, n=200, seed=0):
    x = torch.rand(n, 2, generator=torch.Generator().manual_seed(seed)) * scale
    return {"train_input": x, "train_label": torch.sin(3 * x[:, :1] / scale) + x[:, 1:] / scale}


def test_inputs_scaled_by_1e30_warn_before_training_ends_in_nan():
    x = torch.rand(200, 2, generator=torch.Generator().manual_seed(0)) * 1e30
    data = {"train_input": x, "train_label": x.sum(1, keepdim=True) / 1e30}
    with pytest.raises(FloatingPointError), pytest.warns(DataWarning) as record:
        kanlab.fit(kanlab.KAN([2, 1], seed=0), data, steps=5, progress=False)
    message = str(record[0].message)
    assert "train_input" in message and "1e+30" in message and "standardise" in message
    assert "column 0" in message or "column 1" in message


def test_inputs_at_1e5_warn_and_indeed_train_to_nothing():
    data = _pair(1e5)
    model = kanlab.KAN([2, 1], seed=0)
    with pytest.warns(DataWarning, match=r"grid range \[-1, 1\]"):
        kanlab.fit(model, data, steps=20, progress=False)
    with torch.no_grad():
        relative = (model(data["train_input"]) - data["train_label"]).pow(2).mean() / (
            data["train_label"].var())
    assert float(relative) > 0.3  # what the warning is about: the fit learned little


def test_a_wide_grid_range_moves_the_limit():
    data = _pair(1e5)
    model = kanlab.KAN([2, 1], seed=0, grid_range=(0.0, 1e3))
    kanlab.fit(model, data, steps=1, progress=False)  # 1e5 / 1e3 = 100: no warning


@pytest.mark.parametrize("scale", [1.0, 10.0, 1000.0])
def test_ordinary_inputs_give_no_warning_and_train_well(scale):
    data = _pair(scale)
    model = kanlab.KAN([2, 1], seed=0)
    kanlab.fit(model, data, steps=20, progress=False)  # a warning would be an error here
    with torch.no_grad():
        relative = (model(data["train_input"]) - data["train_label"]).pow(2).mean() / (
            data["train_label"].var())
    assert float(relative) < 0.01


def test_only_the_training_inputs_are_judged():
    data = _pair(1.0)
    data["test_input"], data["test_label"] = data["train_input"] * 1e9, data["train_label"]
    kanlab.fit(kanlab.KAN([2, 1], seed=0), data, steps=1, progress=False)
