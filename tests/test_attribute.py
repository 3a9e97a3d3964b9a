"""``attribute``: the attribution pass of ``importance`` started from any one node."""

import pytest
import torch

import kanlab
from kanlab.errors import InputError
from kanlab.interpret.importance import attribute, importance


def _model_and_points(widths, seed=0):
    model = kanlab.KAN(widths, seed=seed, dtype=torch.float64)
    with torch.no_grad():  # spline terms well away from zero, so every edge carries signal
        for layer in model.layers:
            layer.coef.normal_(generator=torch.Generator().manual_seed(seed))
    x = torch.rand(200, widths[0], dtype=torch.float64,
                   generator=torch.Generator().manual_seed(seed + 1)) * 2 - 1
    return model, x


def test_attribute_at_the_single_output_is_importance():
    model, x = _model_and_points([3, 4, 1])
    got, want = attribute(model, x, 2, 0), importance(model, x)
    for a, b in zip(got.edges + got.nodes, want.edges + want.nodes):
        torch.testing.assert_close(a, b)


def test_importance_averages_the_attributions_of_the_outputs():
    model, x = _model_and_points([3, 4, 2])
    per_output = [attribute(model, x, 2, k) for k in range(2)]
    want = importance(model, x)
    for level in range(2):
        torch.testing.assert_close((per_output[0].edges[level] + per_output[1].edges[level]) / 2,
                                   want.edges[level])
    torch.testing.assert_close((per_output[0].nodes[0] + per_output[1].nodes[0]) / 2,
                               want.nodes[0])


def test_a_hidden_node_that_sees_one_input_attributes_nothing_to_the_other():
    model, x = _model_and_points([2, 3, 1])
    with torch.no_grad():
        model.layers[0].mask[1, 0] = 0.0  # hidden node 1 sees input 1 only
    scores = attribute(model, x, 1, 1)
    assert len(scores.edges) == 1 and len(scores.nodes) == 2
    assert torch.equal(scores.nodes[1], torch.tensor([0.0, 1.0, 0.0], dtype=torch.float64))
    assert float(scores.nodes[0][0]) == 0.0 and float(scores.nodes[0][1]) > 0.1
    assert torch.equal(scores.edges[0][[0, 2]], torch.zeros(2, 2, dtype=torch.float64))
    facade = model.attribute(1, 1, x)  # the model's method, the same numbers
    torch.testing.assert_close(facade.nodes[0], scores.nodes[0])


@pytest.mark.parametrize("layer, node, match", [(0, 0, "layer must be in 1..2"),
                                                (3, 0, "layer must be in 1..2"),
                                                (1, 4, "nodes 0..3"), (2, -1, "nodes 0..0")])
def test_attribute_rejects_nodes_that_do_not_exist(layer, node, match):
    model, x = _model_and_points([2, 4, 1])
    with pytest.raises(InputError, match=match):
        attribute(model, x, layer, node)
