"""Edges that are symbolic and numeric at once (pykan's 'ns'): a formula plus a spline
correction that starts at zero and trains; kept by save/load and pruning; not a formula."""

import pytest
import torch

import kanlab
from kanlab.errors import InputError

D = torch.float64


def _setup():
    x = torch.rand(200, 2, generator=torch.Generator().manual_seed(0), dtype=D) * 2 - 1
    y = torch.sin(2 * x[:, :1]) + 0.1 * x[:, :1] ** 3 + x[:, 1:]  # sin plus a small correction
    model = kanlab.KAN([2, 1], seed=0, dtype=D, grid_size=5)
    kanlab.fit(model, {"train_input": x, "train_label": y}, steps=20, progress=False)
    return model, x, y


def test_a_symbolic_edge_with_its_spline_starts_as_the_formula_and_then_corrects_it():
    model, x, y = _setup()
    plain = kanlab.KAN.from_config(model.config)
    plain.load_state_dict(model.state_dict())
    fit = model.fix_symbolic(0, 0, 0, "sin", x=x, with_spline=True)
    plain.fix_symbolic(0, 0, 0, "sin", x=x)
    assert fit.r2 > 0.99
    layer = model.layers[0]
    assert float(layer.numeric_mask()[0, 0]) == 1.0
    assert float(plain.layers[0].numeric_mask()[0, 0]) == 0.0
    torch.testing.assert_close(model(x), plain(x), rtol=0, atol=1e-13)  # the correction is 0
    before = float((model(x).detach() - y).square().mean())
    kanlab.fit(model, {"train_input": x, "train_label": y}, steps=10, update_grid=False,
               progress=False)
    after = float((model(x).detach() - y).square().mean())
    assert after < 0.1 * before  # the spline learned the correction the formula missed
    assert layer.coef[0, 0].detach().abs().sum() > 0
    with pytest.raises(InputError, match=r"still numeric: \(0, 0, 0\)"):
        model.symbolic_formula()


def test_save_load_and_pruning_keep_the_spline_beside_the_formula(tmp_path):
    model, x, _ = _setup()
    model.fix_symbolic(0, 0, 0, "sin", x=x, with_spline=True)
    model.save(tmp_path / "m")
    back = kanlab.KAN.load(tmp_path / "m")
    assert back.layers[0].symbolic.with_spline == {(0, 0)}
    torch.testing.assert_close(back(x), model(x), rtol=0, atol=0)
    pruned = model.prune_inputs(x, threshold=1e-9)[0]
    assert pruned.layers[0].symbolic.with_spline == {(0, 0)}
    model.unfix_symbolic(0, 0, 0)
    assert model.layers[0].symbolic.with_spline == set()
    plain = kanlab.KAN([2, 1], seed=0)
    plain.layers[0].symbolic.set_edge(0, 0, "sin", (1.0, 0.0, 1.0, 0.0))
    assert "with_spline" not in plain.layers[0].symbolic.get_extra_state()
