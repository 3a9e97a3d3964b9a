"""Symbolic edges inside a layer: forward, per-edge values, derivatives, persistence."""

import copy
import pickle
from pathlib import Path

import pytest
import torch

import kanlab
from kanlab.errors import InputError

D = torch.float64
FIXTURES = Path(__file__).resolve().parent / "fixtures"


def _layer_with_symbolic_edges():
    layer = kanlab.KANLinear(3, 2, generator=torch.Generator().manual_seed(0), dtype=D)
    layer.symbolic.set_edge(2, 1, "sin", (2.0, 0.5, 3.0, -1.0))  # edge (i, j): input 2 -> out 1
    layer.symbolic.set_edge(0, 0, "x^2", (1.5, -0.2, 0.7, 0.3))
    layer.symbolic.set_edge(2, 0, "sin", (-1.0, 0.1, 0.5, 0.0))
    return layer


def _x(n=17, seed=1):
    return torch.rand(n, 3, generator=torch.Generator().manual_seed(seed), dtype=D) * 2 - 1


def test_forward_is_the_sum_of_edge_activations_with_symbolic_edges_in_place_of_numeric():
    layer = _layer_with_symbolic_edges()
    x = _x()
    phi = layer.edge_activations(x)  # (B, out, in)
    torch.testing.assert_close(layer(x), phi.sum(-1) + layer.bias, rtol=0, atol=1e-12)
    torch.testing.assert_close(phi[:, 1, 2], 3 * torch.sin(2 * x[:, 2] + 0.5) - 1)
    torch.testing.assert_close(phi[:, 0, 0], 0.7 * (1.5 * x[:, 0] - 0.2) ** 2 + 0.3)
    # numeric edges are untouched
    numeric = kanlab.KANLinear(3, 2, generator=torch.Generator().manual_seed(0), dtype=D)
    torch.testing.assert_close(phi[:, 1, 0], numeric.edge_activations(x)[:, 1, 0])


def test_unfix_restores_the_numeric_edge():
    layer = _layer_with_symbolic_edges()
    numeric = kanlab.KANLinear(3, 2, generator=torch.Generator().manual_seed(0), dtype=D)
    for i, j in [(2, 1), (0, 0), (2, 0)]:
        layer.symbolic.remove_edge(i, j)
    torch.testing.assert_close(layer(_x()), numeric(_x()), rtol=0, atol=0)


def test_edge_derivatives_of_symbolic_edges_and_forward_derivatives():
    layer = _layer_with_symbolic_edges()
    x = _x()
    d1 = layer.edge_derivative(x, 1)
    d2 = layer.edge_derivative(x, 2)
    torch.testing.assert_close(d1[:, 1, 2], 6 * torch.cos(2 * x[:, 2] + 0.5))
    torch.testing.assert_close(d2[:, 1, 2], -12 * torch.sin(2 * x[:, 2] + 0.5))
    torch.testing.assert_close(d2[:, 0, 0], torch.full_like(x[:, 0], 0.7 * 2 * 1.5**2))
    dh = torch.eye(3, dtype=D).expand(len(x), 3, 3)
    y, dy, d2y = layer.forward_derivatives(x, dh, torch.zeros_like(dh))
    jac = torch.autograd.functional.jacobian(lambda v: layer(v).sum(0), x.clone())  # (out, B, in)
    torch.testing.assert_close(y, layer(x))
    torch.testing.assert_close(dy, jac.permute(1, 2, 0), rtol=0, atol=1e-10)
    torch.testing.assert_close(d2y, d2.permute(0, 2, 1), rtol=0, atol=1e-10)


def test_affine_parameters_train_and_safe_functions_are_used_in_training_mode():
    layer = kanlab.KANLinear(1, 1, dtype=D)
    layer.symbolic.set_edge(0, 0, "1/x", (1.0, 0.0, 1.0, 0.0))
    x = torch.tensor([[0.0], [0.5]], dtype=D)
    layer.train()
    assert torch.isfinite(layer(x)).all()  # the safe variant near the singularity
    layer.eval()
    assert not torch.isfinite(layer(x)[0]).all()  # the exact function in evaluation mode
    layer.train()
    layer(x).sum().backward()
    grad = layer.symbolic.affine.grad
    assert grad is not None and torch.isfinite(grad).all()


def test_state_dict_round_trip_deepcopy_and_pickle_keep_symbolic_edges():
    layer = _layer_with_symbolic_edges()
    x = _x()
    fresh = kanlab.KANLinear(3, 2, dtype=D)
    fresh.load_state_dict(layer.state_dict())
    assert fresh.symbolic.names == layer.symbolic.names
    torch.testing.assert_close(fresh(x), layer(x), rtol=0, atol=0)
    for other in (copy.deepcopy(layer), pickle.loads(pickle.dumps(layer))):
        torch.testing.assert_close(other(x), layer(x), rtol=0, atol=0)


def test_model_save_load_keeps_symbolic_edges(tmp_path):
    model = kanlab.KAN([2, 2, 1], seed=0, dtype=D)
    model.layers[1].symbolic.set_edge(1, 0, "exp", (0.5, 0.1, 2.0, -1.0))
    model.save(tmp_path / "m")
    loaded = kanlab.KAN.load(tmp_path / "m")
    x = torch.rand(9, 2, dtype=D)
    torch.testing.assert_close(loaded(x), model(x), rtol=0, atol=0)


def test_select_keeps_and_renumbers_symbolic_edges():
    layer = _layer_with_symbolic_edges()
    part = layer.select([2, 0], [1])  # inputs 2, 0 and output 1
    assert part.symbolic.names == {(0, 0): "sin"}
    x = _x()
    torch.testing.assert_close(part.edge_activations(x[:, [2, 0]]),
                               layer.edge_activations(x)[:, [1]][:, :, [2, 0]])


def test_bad_symbolic_edges_are_rejected():
    layer = kanlab.KANLinear(3, 2)
    with pytest.raises(InputError, match="out of range"):
        layer.symbolic.set_edge(0, 2, "sin", (1.0, 0.0, 1.0, 0.0))  # output 2 of 2
    with pytest.raises(InputError, match="unknown|not registered|known"):
        layer.symbolic.set_edge(0, 0, "sinc_nobody_registered", (1.0, 0.0, 1.0, 0.0))
    with pytest.raises(InputError, match="a, b, c, d"):
        layer.symbolic.set_edge(0, 0, "sin", (1.0, 0.0))


def test_edges_are_named_input_first_and_tensors_are_out_by_in():
    layer = kanlab.KANLinear(3, 2, dtype=D)
    layer.symbolic.set_edge(2, 1, "sin", (1.0, 0.0, 1.0, 0.0))  # input 2 -> output 1
    assert layer.symbolic.names == {(2, 1): "sin"}
    assert layer.symbolic.active[1, 2] == 1 and layer.symbolic.active.sum() == 1
    assert layer.symbolic.function(2, 1).name == "sin" and layer.symbolic.function(1, 2) is None
    x = _x()
    torch.testing.assert_close(layer.edge_activations(x)[:, 1, 2], torch.sin(x[:, 2]))
    assert layer.state_dict()["symbolic._extra_state"] == {"version": 2,
                                                           "names": [[2, 1, "sin"]]}


def test_symbolic_edges_saved_before_the_edge_order_change_load_input_first():
    """``tests/fixtures/symbolic_edges_v1.pt``: a layer state dict written by the code before
    the change (c98e02a), whose extra state lists ``[out, in, name]``; edges (in 2 -> out 1,
    ``sin``) and (in 1 -> out 0, ``x^2``) are not symmetric, so a missed swap shows."""
    saved = torch.load(FIXTURES / "symbolic_edges_v1.pt", weights_only=True)
    assert "version" not in saved["state_dict"]["symbolic._extra_state"]
    layer = kanlab.KANLinear(3, 2, dtype=D)
    layer.load_state_dict(saved["state_dict"])
    assert layer.symbolic.names == {(i, j): name for i, j, name in saved["edges_in_out"]}
    layer.eval()
    with torch.no_grad():
        torch.testing.assert_close(layer(saved["x"]), saved["y"], rtol=0, atol=1e-14)
    # and what is saved now is version 2, read back the same
    again = kanlab.KANLinear(3, 2, dtype=D)
    again.load_state_dict(layer.state_dict())
    assert again.symbolic.names == layer.symbolic.names


def test_extra_state_from_a_newer_version_is_refused():
    edges = kanlab.nn.SymbolicEdges(2, 2)
    with pytest.raises(InputError, match="newer"):
        edges.set_extra_state({"version": 99, "names": []})
