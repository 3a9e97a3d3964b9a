"""Reordering hidden nodes: the same function, fewer crossings in the plot, clear errors."""

import pytest
import torch

import kanlab
from kanlab.errors import InputError
from kanlab.interpret.swap import auto_swap, crossings, permute_nodes, swap_nodes

D = torch.float64


def _x(n=64, d=2, seed=0):
    return torch.rand(n, d, generator=torch.Generator().manual_seed(seed), dtype=D) * 2 - 1


def _tangled():
    """[2, 4, 1]: hidden nodes 0 and 3 read input 1, nodes 1 and 2 read input 0."""
    model = kanlab.KAN([2, [3, 1], 1], seed=0, dtype=D, grid_size=4)
    mask = model.layers[0].mask
    mask.zero_()
    for row, i in [(0, 1), (1, 0), (2, 0), (3, 1), (4, 1)]:  # rows 3, 4: the product node
        mask[row, i] = 1.0
    return model


def test_crossings_by_hand_and_permutations_keep_the_function():
    model = _tangled()
    # layer 0 edges (input, node): (1,0) (0,1) (0,2) (1,3) (1,3): (1,0) crosses (0,1), (0,2)
    assert crossings(model) == 2.0
    x = _x()
    swapped = swap_nodes(model, 1, 0, 2)
    torch.testing.assert_close(swapped(x), model(x), rtol=0, atol=1e-14)
    assert crossings(swapped) == 0.0
    with pytest.raises(InputError, match="sum nodes must come before"):
        permute_nodes(model, 1, [3, 0, 1, 2])
    with pytest.raises(InputError, match="permutation"):
        permute_nodes(model, 1, [0, 0, 1, 2])
    with pytest.raises(InputError, match="hidden row"):
        permute_nodes(model, 2, [0])


def test_auto_swap_untangles_and_keeps_the_function():
    model = _tangled()
    x = _x()
    for samples in (None, x):
        tidy = auto_swap(model, samples)
        assert crossings(tidy) == 0.0
        torch.testing.assert_close(tidy(x), model(x), rtol=0, atol=1e-14)
    assert crossings(model) == 2.0  # the original is untouched


def test_plot_options_metric_and_scale():
    pytest.importorskip("matplotlib")
    model = kanlab.KAN([2, 3, 1], seed=0, dtype=D)
    x = _x()
    alpha = {}
    for metric in ("attribution", "l1"):
        fig = model.plot(x, metric=metric, beta=1.0)
        (edge,) = [a for a in fig.axes[0].get_lines() if a.get_gid() == "kan-edge-0-0-0"]
        alpha[metric] = edge.get_alpha()
    assert alpha["attribution"] != alpha["l1"]
    small, big = model.plot(x), model.plot(x, scale=2.0)
    assert big.get_size_inches() == pytest.approx(2 * small.get_size_inches())
    with pytest.raises(InputError, match="scale must be a number > 0"):
        model.plot(x, scale=0)
    with pytest.raises(InputError, match="method"):
        model.plot(x, metric="forward")
