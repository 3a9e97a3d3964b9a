"""Grid moves keep a network's function where its splines are defined, beyond the grid too.

The network of the issue: a trained ``[3, 4, 2]`` KAN (20 LBFGS steps, no grid updates) whose
hidden inputs leave the hidden layer's grid ``[-1, 1]``. Before the knots beyond the grid were
kept, ``refine(10)`` changed its outputs by 2.2 % (relative max over the training inputs) and
``refine(20)`` by 8 %; see ``experiments/refine_preservation.py`` for the measurement.
"""

import copy

import pytest
import torch

import kanlab
from kanlab.nn import grid_moves
from kanlab.nn.grid_moves import interval_samples, refined_knots
from kanlab.splines import make_knots, uniform_grid, uniform_spacing

D = torch.float64


def _target(x):
    return torch.stack([torch.exp(torch.sin(torch.pi * x[:, 0]) + x[:, 1] ** 2),
                        x[:, 0] * x[:, 2] + torch.cos(x[:, 1])], 1)


def _trained(dtype=D):
    data = kanlab.data.make_dataset(_target, n_var=3, n_train=1000, n_test=100, seed=0,
                                    dtype=dtype)
    model = kanlab.KAN([3, 4, 2], grid_size=5, seed=0, dtype=dtype)
    kanlab.fit(model, data, steps=20, update_grid=False, progress=False)
    return model, data.train_input


@pytest.fixture(scope="module")
def trained():
    return _trained()


def _change(new, old, x):
    """Relative max change of the outputs over the inputs ``x``."""
    with torch.no_grad():
        y = old(x)
        return float((new(x) - y).abs().max() / y.abs().max())


def test_the_network_s_hidden_inputs_leave_the_hidden_grid(trained):
    model, x = trained
    with torch.no_grad():
        h = model.layers[0](x)
    assert ((h < -1) | (h > 1)).float().mean() > 0.1
    assert (h.abs() > 1.6).any()  # beyond the extended knots at G = 10 ([-1.6, 1.6])


@pytest.mark.parametrize("grid_size", [10, 15, 20, 40])
def test_refine_to_a_multiple_of_the_grid_keeps_the_network_exactly(trained, grid_size):
    model, x = trained
    fine = model.refine(grid_size)
    assert fine.grid_size == [grid_size, grid_size]
    dense = torch.rand(4000, 3, generator=torch.Generator().manual_seed(1), dtype=D) * 2 - 1
    for pts in (x, dense):
        assert _change(fine, model, pts) < 1e-12  # measured: ~2e-15
    # twice in a row (5 -> 10 -> 20) as well
    assert _change(model.refine(10).refine(20), model, x) < 1e-12


def test_refine_keeps_every_layer_s_function_on_the_old_support(trained):
    model, _ = trained
    layer = model.layers[1]
    fine = layer.refine(10)
    lo, hi = layer.knots[:, 0], layer.knots[:, -1]  # where the old splines are defined
    t = torch.linspace(0, 1, 801, dtype=D).unsqueeze(1)
    u = lo + (hi - lo) * t  # (801, in): the whole support of every input
    with torch.no_grad():
        torch.testing.assert_close(fine.edge_activations(u), layer.edge_activations(u),
                                   rtol=0, atol=1e-12)
    assert torch.equal(fine.knots[:, :3], layer.knots[:, :3])  # the old knots beyond the grid
    assert torch.equal(fine.knots[:, -3:], layer.knots[:, -3:])
    torch.testing.assert_close(fine.grid[:, ::2], layer.grid, rtol=0, atol=1e-15)


def test_refine_to_other_sizes_stays_close(trained):
    model, x = trained
    for g in (7, 8):  # knots not nested: a least-squares transfer over the old support
        assert _change(model.refine(g), model, x) < 0.02  # measured: 1.4 % and 0.8 %


def test_refine_in_float32_keeps_the_network_to_rounding():
    model, x = _trained(torch.float32)
    assert _change(model.refine(10), model, x) < 1e-5  # measured: ~1e-6


def test_refine_with_samples_keeps_equally_spaced_knots_where_the_inputs_stay_inside(trained):
    model, x = trained
    assert all(uniform_spacing(layer.knots) is not None for layer in model.layers)
    fine = model.refine(10, x)
    assert _change(fine, model, x) < 1e-12
    # the inputs never leave layer 0's grid: its knots stay equally spaced (the closed-form,
    # faster forward pass); the hidden inputs leave layer 1's grid, so its old ends are kept
    assert uniform_spacing(fine.layers[0].knots) is not None
    assert uniform_spacing(fine.layers[1].knots) is None
    blind = model.refine(10)
    assert uniform_spacing(blind.layers[0].knots) is None  # without samples: the whole support


def test_refined_knots_per_side():
    layer = kanlab.KANLinear(2, 1, grid_size=4, dtype=D)
    grid = uniform_grid(2, 8, dtype=D)
    standard = make_knots(grid, 3)
    z = torch.tensor([[-0.5, -1.2], [0.5, 0.3]], dtype=D)  # input 1 leaves on the left only
    knots, region = refined_knots(layer, grid, z)
    assert torch.equal(knots[0], standard[0])  # inside: the usual extension
    assert torch.equal(knots[1, :3], layer.knots[1, :3]) and torch.equal(knots[1, 3:],
                                                                         standard[1, 3:])
    assert torch.equal(region[0, :3], torch.full((3,), -1.0, dtype=D))  # width-0 intervals
    assert torch.equal(region[1, :3], layer.knots[1, :3])
    coarse, _ = refined_knots(layer, uniform_grid(2, 2, dtype=D))  # coarser: usual extension
    assert torch.equal(coarse, make_knots(uniform_grid(2, 2, dtype=D), 3))
    clamped = kanlab.KANLinear(2, 1, grid_size=4, knot_convention="clamped", dtype=D)
    knots, _ = refined_knots(clamped, grid)
    assert torch.equal(knots, make_knots(grid, 3, "clamped"))


def test_interval_samples_mark_empty_intervals():
    breaks = torch.tensor([[0.0, 0.0, 1.0, 3.0]], dtype=D)
    pts, keep = interval_samples(breaks, 2)
    assert pts.shape == keep.shape == (6, 1)
    torch.testing.assert_close(pts[:, 0], torch.tensor([0, 0, 0.25, 0.75, 1.5, 2.5], dtype=D))
    assert keep[:, 0].tolist() == [0, 0, 1, 1, 1, 1]


def test_update_grid_keeps_the_network_up_to_the_moved_knots(trained):
    """Moving the knots at a fixed G cannot keep a spline exactly (the old one is not in the
    new space); the refit is the least-squares best on the inputs each layer sees."""
    model, x = trained
    moved = copy.deepcopy(model)
    drift = moved.update_grid(x)
    assert _change(moved, model, x) < 0.01  # measured: 0.37 %
    assert all(d < 0.01 for d in drift)
    extended = copy.deepcopy(model)
    extended.update_grid(x, grid_size=10)
    assert _change(extended, model, x) < 0.005  # measured: 0.18 %


def test_refinement_inside_fit_trains_and_keeps_equally_spaced_knots():
    data = kanlab.data.make_toy_dataset("exp_sin_sq", n_train=400, n_test=400, seed=0, dtype=D)
    model = kanlab.KAN([2, 1, 1], grid_size=3, seed=0, dtype=D)
    hist = kanlab.fit(model, data, steps=45, grid_schedule=[3, 5, 10], update_grid=False,
                      progress=False)
    assert model.grid_size == [10, 10]
    assert hist.final_by_grid()[10]["test_rmse"] < hist.final_by_grid()[3]["test_rmse"] / 5
    # fit hands its batch to refine_: layer 0's inputs stay inside [-1, 1], so its knots stay
    # equally spaced (the forward pass's closed form)
    assert uniform_spacing(model.layers[0].knots) is not None


def test_the_measuring_script_runs_on_a_tiny_budget():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "experiments" / "refine_preservation.py"
    spec = importlib.util.spec_from_file_location("refine_preservation", path)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    rows = script.run(seeds=(0,), steps=2, sizes=(10,))
    assert len(rows) == len(script.TARGETS)
    assert all(r["now10"] < 1e-12 and r["prev10"] >= 0 for r in rows)
    assert "refine(10) now" in script.report(rows, (10,), quick=True)


def test_a_coarsening_refine_warns_with_the_change_it_measured(trained):
    model, x = trained
    with pytest.warns(kanlab.GridWarning, match=r"grid_size=2 from 5 \(coarser\) changed the "
                                                r"layer's spline edges by (\d\.\d+)") as record:
        coarse = model.refine(2)  # before: silently a different function
    assert len(record) == 2  # one per layer
    lost = _change(coarse, model, x)
    assert lost > 0.05  # what the warning is about: the network's outputs did change
    for w in record:
        assert float(str(w.message).split("edges by ")[1].split(" ")[0]) > 1e-3


def test_the_measured_change_is_the_change_of_the_edges(trained):
    model, _ = trained
    layer = model.layers[0]
    grid = grid_moves.refined_grid(layer, 3)
    knots, region = refined_knots(layer, grid)
    z, keep = interval_samples(region, 8)
    coef = grid_moves.transfer(layer, z, knots, keep)
    change = grid_moves.transfer_change(layer, z, knots, coef, keep)
    coarse = copy.deepcopy(layer)
    grid_moves._set_spline(coarse, knots, coef, in_place=False)
    with torch.no_grad():  # the same number from the edge activations themselves
        kept = keep.unsqueeze(1)  # (N, 1, in): samples in intervals of width 0 take no part
        spline_before = (layer.edge_activations(z) - _base_part(layer, z)) * kept
        spline_after = (coarse.edge_activations(z) - _base_part(coarse, z)) * kept
    direct = float((spline_after - spline_before).norm() / spline_before.norm())
    assert change == pytest.approx(direct, rel=1e-6)


def _base_part(layer, z):
    base = layer.branches[0]
    return base.values(z, z, layer.knots, layer.base_scale) * layer.mask


@pytest.mark.parametrize("grid_size", [5, 7, 10, 20])
def test_refining_to_the_same_or_a_finer_grid_does_not_warn(trained, grid_size):
    model, _ = trained
    model.refine(grid_size)  # filterwarnings = error: a warning would fail the test


def test_a_coarsening_that_keeps_the_function_does_not_warn():
    layer = kanlab.KANLinear(2, 3, grid_size=4, dtype=D)
    with torch.no_grad():
        layer.coef.zero_()  # zero splines: any grid holds them
    coarse = layer.refine(2)
    assert coarse.grid_size == 2 and not coarse.coef.any()
