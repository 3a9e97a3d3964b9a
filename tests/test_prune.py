"""Importance scores and pruning: new models, function kept on the kept part, clear errors."""

import pytest
import torch

import kanlab
from kanlab.errors import InputError
from kanlab.interpret.importance import importance

D = torch.float64


def _x(n=64, d=2, seed=0):
    return torch.rand(n, d, generator=torch.Generator().manual_seed(seed), dtype=D) * 2 - 1


def _constant_edge(layer, i, j, value):
    """Make edge (i, j) the constant ``value`` (symbolic '0' with d = value)."""
    layer.symbolic.set_edge(i, j, "0", (1.0, 0.0, 0.0, value))


def test_attribution_by_hand_on_a_linear_network():
    # y = 2·h0 + 0·h1, h0 = x0 + x1, h1 = x0: the node h1 and everything into it do not matter
    model = kanlab.KAN([2, 2, 1], seed=0, dtype=D)
    for j, i, c in [(0, 0, 1.0), (0, 1, 1.0), (1, 0, 1.0), (1, 1, 0.0)]:
        model.layers[0].symbolic.set_edge(i, j, "x", (1.0, 0.0, c, 0.0))
    model.layers[1].symbolic.set_edge(0, 0, "x", (1.0, 0.0, 2.0, 0.0))
    model.layers[1].symbolic.set_edge(1, 0, "x", (1.0, 0.0, 0.0, 0.0))
    x = _x()
    scores = importance(model, x)
    top = scores.edges[1][0]
    std_h0 = (x[:, 0] + x[:, 1]).std()
    assert float(top[0]) == pytest.approx(float(2 * std_h0 / (2 * std_h0 + 1e-4)), rel=1e-9)
    assert float(top[1]) == 0.0
    assert float(scores.nodes[1][1]) == 0.0 and float(scores.nodes[1][0]) > 0.99
    # inputs: both feed h0 equally in spread
    assert float(scores.nodes[0][0]) == pytest.approx(float(scores.nodes[0][1]), rel=0.2)
    l1 = importance(model, x, method="l1")
    torch.testing.assert_close(l1.edges[1], torch.stack([(2 * (x[:, 0] + x[:, 1])).abs().mean(),
                                                         torch.zeros((), dtype=D)])[None])


def test_prune_edges_carries_constant_edges_into_the_bias_exactly():
    model = kanlab.KAN([2, 3, 1], seed=0, dtype=D)
    _constant_edge(model.layers[0], 1, 2, 0.7)
    _constant_edge(model.layers[1], 0, 0, -0.3)
    x = _x()
    before = {k: v.clone() for k, v in model.state_dict().items() if torch.is_tensor(v)}
    pruned = model.prune_edges(x, threshold=1e-9)
    assert pruned is not model
    gone = [sorted(map(tuple, (layer.mask == 0).nonzero().tolist())) for layer in pruned.layers]
    # the constant edges, and the edges into hidden node 0, which only feeds a constant
    assert gone == [[(0, 0), (0, 1), (2, 1)], [(0, 0)]]
    torch.testing.assert_close(pruned(x), model(x), rtol=0, atol=1e-12)
    for k, v in model.state_dict().items():  # the original is untouched
        if torch.is_tensor(v):
            torch.testing.assert_close(v, before[k], rtol=0, atol=0)


def test_prune_nodes_removes_a_node_whose_outputs_are_constant_and_keeps_the_function():
    model = kanlab.KAN([2, 3, 1], seed=0, dtype=D, grid_size=7)
    _constant_edge(model.layers[1], 1, 0, 0.25)  # node 1 of the hidden layer feeds a constant
    x = _x()
    pruned = model.prune_nodes(x, threshold=1e-9)
    assert pruned.widths == [2, 2, 1]
    assert pruned.grid_size == model.grid_size and pruned.layers[0].spline_order == 3
    torch.testing.assert_close(pruned.layers[0].knots, model.layers[0].knots)
    torch.testing.assert_close(pruned(x), model(x), rtol=0, atol=1e-12)
    # prune(): nodes then edges then dead nodes
    both = model.prune(x, node_threshold=1e-9, edge_threshold=1e-9)
    torch.testing.assert_close(both(x), model(x), rtol=0, atol=1e-12)


def test_prune_inputs_drops_an_input_that_only_feeds_constants():
    model = kanlab.KAN([3, 2, 1], seed=0, dtype=D)
    for j in range(2):
        _constant_edge(model.layers[0], 1, j, 0.1 * (j + 1))
    x = _x(d=3)
    smaller, kept = model.prune_inputs(x, threshold=1e-9)
    assert kept == [0, 2] and smaller.widths == [2, 2, 1]
    torch.testing.assert_close(smaller(x[:, kept]), model(x), rtol=0, atol=1e-12)


def test_pruning_everything_away_is_a_clear_error():
    model = kanlab.KAN([2, 3, 1], seed=0, dtype=D)
    x = _x()
    with pytest.raises(InputError, match="removes every node of hidden layer 1"):
        model.prune_nodes(x, threshold=1e9)
    with pytest.raises(InputError, match="removes every edge"):
        model.prune_edges(x, threshold=1e9)
    with pytest.raises(InputError, match="inputs"):
        model.prune_inputs(x, threshold=1e9)


def test_pruning_needs_samples_and_uses_the_recorded_ones():
    model = kanlab.KAN([2, 3, 1], seed=0, dtype=D)
    with pytest.raises(InputError, match="samples"):
        model.prune()
    x = _x()
    model.record(x)
    torch.testing.assert_close(model.prune(node_threshold=0.0, edge_threshold=0.0)(x), model(x))


def test_keep_nodes_checks_its_lists_and_keeps_constant_contributions():
    model = kanlab.KAN([2, 3, 1], seed=0, dtype=D)
    _constant_edge(model.layers[1], 2, 0, 0.4)
    x = _x()
    smaller = kanlab.interpret.prune.keep_nodes(model, [[0, 1], [0, 1], [0]], x)
    assert smaller.widths == [2, 2, 1]
    torch.testing.assert_close(smaller(x), model(x), rtol=0, atol=1e-12)
    with pytest.raises(InputError, match="one list per node layer"):
        kanlab.interpret.prune.keep_nodes(model, [[0, 1], [0]], x)
    with pytest.raises(InputError, match="outputs"):
        kanlab.interpret.prune.keep_nodes(model, [[0, 1], [0, 1, 2], []], x)
