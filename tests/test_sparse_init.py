"""``sparse_init``: the nearest-neighbour edge mask pykan users start from."""

import pytest
import torch

import kanlab
from kanlab.nn.initialization import sparse_mask


def test_sparse_mask_golden_value():
    # inputs at 1/4, 3/4; outputs at 1/10 .. 9/10: output 2 (1/2) ties, the lower input wins
    expected = torch.tensor([[1.0, 0.0], [1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
    assert torch.equal(sparse_mask(2, 5), expected)


@pytest.mark.parametrize("n_in", range(1, 10))
@pytest.mark.parametrize("n_out", range(1, 10))
def test_sparse_mask_properties(n_in, n_out):
    mask = sparse_mask(n_in, n_out)
    assert mask.shape == (n_out, n_in)
    assert set(mask.unique().tolist()) <= {0.0, 1.0}
    assert (mask.sum(0) >= 1).all() and (mask.sum(1) >= 1).all()  # no node left unconnected
    assert torch.equal(mask, sparse_mask(n_out, n_in).t())  # the same rule both ways
    assert mask.sum() <= n_in + n_out  # at most one edge per node's nearest neighbour
    if n_in == n_out:
        assert torch.equal(mask, torch.eye(n_in))


def test_kan_sparse_init_masks_every_layer_and_survives_save_load(tmp_path):
    model = kanlab.KAN([3, 7, 2], sparse_init=True, seed=0)
    for layer in model.layers:
        assert torch.equal(layer.mask, sparse_mask(layer.in_features, layer.out_features))
    x = torch.rand(16, 3, requires_grad=True)
    model(x).sum().backward()
    coef_grad = model.layers[0].coef.grad  # (out, in, nb): masked edges get no gradient
    assert float(coef_grad[sparse_mask(3, 7) == 0].abs().max()) == 0.0
    model.save(tmp_path / "m")
    loaded = kanlab.KAN.load(tmp_path / "m")
    torch.testing.assert_close(loaded(x), model(x))
    assert all(torch.equal(a.mask, b.mask) for a, b in zip(loaded.layers, model.layers))
    assert all(bool(layer.mask.all()) for layer in kanlab.KAN([3, 7, 2], seed=0).layers)
