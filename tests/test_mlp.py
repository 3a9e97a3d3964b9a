"""The MLP baseline: shapes, local seeding, training through kanlab.fit, bad input."""

import pytest
import torch

import kanlab
from kanlab.data import make_toy_dataset
from kanlab.errors import InputError
from kanlab.nn.mlp import MLP, n_parameters

D = torch.float64


def test_shapes_parameter_count_and_local_seed():
    state = torch.random.get_rng_state()
    a = MLP([2, 20, 20, 1], seed=3, dtype=D)
    b = MLP([2, 20, 20, 1], seed=3, dtype=D)
    assert torch.equal(torch.random.get_rng_state(), state)  # global RNG untouched
    x = torch.rand(7, 5, 2, dtype=D)
    assert a(x).shape == (7, 5, 1)
    torch.testing.assert_close(a(x), b(x), rtol=0, atol=0)
    assert n_parameters(a) == (2 * 20 + 20) + (20 * 20 + 20) + (20 + 1)
    assert not torch.equal(MLP([2, 20, 1], seed=4, dtype=D)(x), MLP([2, 20, 1], seed=3, dtype=D)(x))


def test_fit_trains_an_mlp_like_a_kan():
    data = make_toy_dataset("exp_sin_sq", seed=0, n_train=200, n_test=100)
    model = MLP([2, 16, 1], activation="tanh", seed=0, dtype=D)
    history = kanlab.fit(model, data, steps=20, progress=False)
    assert history.test_rmse[-1] < 0.5 * history.test_rmse[0]
    with pytest.raises(ValueError, match="needs a kanlab.KAN"):
        kanlab.fit(model, data, steps=1, lamb=0.1, progress=False)


def test_bad_input():
    with pytest.raises(InputError, match="widths"):
        MLP([2, 0, 1])
    with pytest.raises(InputError, match="activation"):
        MLP([2, 1], activation="swish")
    with pytest.raises(InputError, match=r"expected \(\.\.\., 2\)"):
        MLP([2, 1])(torch.rand(3, 4))
