"""Hypothesis tests: separability (additive, multiplicative), generalised symmetry, the modular
tree and pairwise interaction, on exact functions and on trained KANs; clear errors."""

import pytest
import torch

import kanlab
from kanlab.errors import InputError
from kanlab.interpret.hypothesis import (
    interaction_matrix,
    modular_tree,
    plot_tree,
    separable_groups,
)
from kanlab.interpret.hypothesis import (
    test_separability as separability,
)
from kanlab.interpret.hypothesis import (
    test_symmetry as symmetry,
)

D = torch.float64


def _x(n, d, seed=0, low=-1.0, high=1.0):
    gen = torch.Generator().manual_seed(seed)
    return low + (high - low) * torch.rand(n, d, generator=gen, dtype=D)


def f_add(v):  # exp(sin x1 + x2²) + x3·x4: additive split {1, 2} | {3, 4}
    return torch.exp(torch.sin(v[:, 0]) + v[:, 1] ** 2) + v[:, 2] * v[:, 3]


def g_mul(v):  # sin(x1)·(x2 + x3²): multiplicative split {1} | {2, 3}
    return torch.sin(v[:, 0]) * (v[:, 1] + v[:, 2] ** 2)


def _g_inputs(n=600, seed=1):
    x = _x(n, 3, seed)
    x[:, 0] = 1.0 + x[:, 0] * 0.5  # sin(x1) away from 0, where log|g| is singular
    x[:, 1] = 1.5 + x[:, 1] * 0.5  # x2 + x3² away from 0
    return x


def test_interaction_matrix_by_hand():
    x = _x(400, 3)
    scores = interaction_matrix(lambda v: 2 * v[:, 0] * v[:, 1] + v[:, 2], x)
    # ∂²f/∂x1∂x2 = 2 everywhere: score 2·σ1·σ2/σ_f; nothing else interacts
    expected = 2 * x[:, 0].std() * x[:, 1].std() / (2 * x[:, 0] * x[:, 1] + x[:, 2]).std()
    assert float(scores[0, 1]) == pytest.approx(float(expected), rel=1e-10)
    assert float(scores[0, 2]) == 0.0 and float(scores[1, 2]) == 0.0
    torch.testing.assert_close(scores, scores.t())
    # scale-free: the same for 5·f
    torch.testing.assert_close(interaction_matrix(lambda v: 5 * (2 * v[:, 0] * v[:, 1] + v[:, 2]),
                                                  x), scores)


def test_the_issues_functions_split_where_they_should():
    x = _x(500, 4)
    assert separable_groups(f_add, x, "add") == [[0, 1], [2, 3]]
    assert separability(f_add, x, [[0, 1], [2, 3]], "add")[0]
    ok, worst = separability(f_add, x, [[0], [1, 2, 3]], "add")
    assert not ok and worst > 0.1
    xg = _g_inputs()
    assert separable_groups(g_mul, xg, "mul") == [[0], [1, 2]]
    assert separable_groups(g_mul, xg, "add") == [[0, 1, 2]]  # not additively
    # no split at all: one group, and the split test says no
    h = lambda v: torch.sin(v[:, 0] * v[:, 1] + v[:, 2])  # noqa: E731
    x3 = _x(500, 3, seed=2)
    assert separable_groups(h, x3, "add") == [[0, 1, 2]]
    assert separable_groups(h, x3, "mul") == [[0, 1, 2]]
    assert not separability(h, x3, [[0], [1, 2]], "mul")[0]


def test_trained_kans_show_the_same_splits():
    x = _x(1000, 4)
    model = kanlab.KAN([4, 5, 1], seed=0, dtype=D)
    kanlab.fit(model, {"train_input": x, "train_label": f_add(x)[:, None]}, steps=60,
               progress=False)
    assert separable_groups(model, x, "add") == [[0, 1], [2, 3]]
    xg = _g_inputs(1000)
    model = kanlab.KAN([3, 5, 1], seed=0, dtype=D)
    kanlab.fit(model, {"train_input": xg, "train_label": g_mul(xg)[:, None]}, steps=60,
               progress=False)
    assert separable_groups(model, xg, "mul") == [[0], [1, 2]]


def test_generalised_symmetry():
    x = _x(400, 3, seed=3)
    fn = lambda v: torch.sin(v[:, 0] ** 2 + v[:, 1] ** 2) * v[:, 2]  # noqa: E731
    ok, score = symmetry(fn, x, [0, 1])  # depends on x1, x2 through x1² + x2²
    assert ok and score < 1e-12
    ok, score = symmetry(fn, x, [1, 2])
    assert not ok and score > 0.05
    assert symmetry(fn, x, [0]) == (True, 0.0)


def test_the_tree_of_a_modular_function_is_its_tree():
    x = _x(400, 4, seed=4)
    tree = modular_tree(f_add, x)
    assert tree.groups() == [[0, 1], [2, 3]] and tree.kind == "+"
    nested = lambda v: torch.sin((v[:, 0] + v[:, 1]) ** 2 + v[:, 2]) * v[:, 3]  # noqa: E731
    tree = modular_tree(nested, x)
    assert tree.groups() == [[[0, 1], 2], 3] and tree.kind == "×"
    flat = modular_tree(lambda v: v[:, 0] + v[:, 1] + v[:, 2], x[:, :3])
    assert flat.groups() == [0, 1, 2] and flat.kind == "+"
    # nothing separates: the inputs hang off the root alone
    none = modular_tree(lambda v: torch.sin(v[:, 0] * v[:, 1] + v[:, 1] * v[:, 2]
                                            + v[:, 2] * v[:, 0]), x[:, :3])
    assert none.groups() == [0, 1, 2] and none.kind == ""


def test_plot_tree_draws_every_module():
    pytest.importorskip("matplotlib")
    x = _x(300, 4, seed=5)
    fig = plot_tree(modular_tree(f_add, x), names=["a", "b", "c", "d"])
    gids = {line.get_gid() for line in fig.axes[0].get_lines()}
    assert {"kan-tree-0-1", "kan-tree-2-3", "kan-tree-0-1-2-3", "kan-tree-leaf-3"} <= gids


def test_bad_input_is_a_clear_error():
    x = _x(50, 2)
    with pytest.raises(InputError, match="mode must be 'add' or 'mul'"):
        interaction_matrix(lambda v: v[:, 0], x, "sum")
    with pytest.raises(InputError, match=r"x must be samples \(N, d\)"):
        interaction_matrix(lambda v: v[:, 0], x[0])
    with pytest.raises(InputError, match="disjoint lists of inputs"):
        separability(lambda v: v[:, 0] * v[:, 1], x, [[0], [0, 1]])
    with pytest.raises(InputError, match="zero at"):
        interaction_matrix(lambda v: 0 * v[:, 0], x, "mul")
    with pytest.raises(InputError, match=r"fn must map \(N, d\) to \(N,\)"):
        interaction_matrix(lambda v: v, x)
    with pytest.raises(InputError, match="max_inputs"):
        modular_tree(lambda v: v.sum(1), _x(50, 12))
