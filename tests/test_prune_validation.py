"""prune_to_validation: the weakest edges go while the validation loss allows, checked against a
slow version that sums the kept edges and the removed edges' training means by hand."""

import math

import pytest
import torch

import kanlab
from kanlab.errors import InputError
from kanlab.interpret.importance import importance
from kanlab.interpret.prune_validation import prune_to_validation

D = torch.float64
WIDTHS = ([8, 1], [8, 3, 1])


def _data(n, seed):
    """y = 2·x0 + sin(3·x1) + noise (sd 0.1); inputs 2..7 are irrelevant."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 8, generator=gen, dtype=D) * 2 - 1
    noise = 0.1 * torch.randn(n, 1, generator=gen, dtype=D)
    return x, 2 * x[:, :1] + torch.sin(3 * x[:, 1:2]) + noise


TRAIN, VAL = _data(200, 0), _data(200, 1)


@pytest.fixture(scope="module", params=WIDTHS, ids=str)
def model(request):
    m = kanlab.KAN(request.param, seed=0, dtype=D)
    kanlab.fit(m, {"train_input": TRAIN[0], "train_label": TRAIN[1]}, steps=10, progress=False)
    return m


def _mse(m, pair):
    with torch.no_grad():
        return float(torch.nn.functional.mse_loss(m.eval()(pair[0]), pair[1]))


@torch.no_grad()
def _masked_forward(model, removed, x, x_train):
    """The slow, obvious pruned network: node ``j`` of every layer is its bias plus, over the
    edges ``i -> j``, ``φ_ji`` of the kept edges and the training mean of ``φ_ji`` (on the
    original network's layer inputs) of the removed ones."""
    train_h, h = x_train, x
    for li, layer in enumerate(model.layers):
        train_acts = layer.edge_activations(train_h)  # (N, out, in)
        acts = layer.edge_activations(h)  # (B, out, in)
        out = torch.zeros(h.shape[0], layer.out_features, dtype=D)
        for j in range(layer.out_features):
            out[:, j] = layer.bias[j]
            for i in range(layer.in_features):
                if (li, i, j) in removed:
                    out[:, j] += train_acts[:, j, i].mean()
                else:
                    out[:, j] += acts[:, j, i]
        train_h = train_acts.sum(-1) + layer.bias
        h = out
    return h


def test_the_irrelevant_inputs_go_and_the_loss_stays_within_tolerance(model):
    before = {k: v.clone() for k, v in model.state_dict().items() if torch.is_tensor(v)}
    pruned, report = prune_to_validation(model, TRAIN, VAL, tolerance=0.01)
    assert report.kept_inputs == [0, 1]
    assert (pruned.layers[0].mask[:, 2:] == 0).all()
    assert report.edges_before == sum(layer.mask.numel() for layer in model.layers)  # 8 or 27
    assert report.edges_after == sum(int(layer.mask.sum()) for layer in pruned.layers)
    assert report.edges_after <= report.edges_before - 6
    assert report.val_loss_before == pytest.approx(_mse(model, VAL), rel=1e-12)
    assert report.val_loss_after == pytest.approx(_mse(pruned, VAL), rel=1e-12)
    assert report.val_loss_after <= 1.01 * report.val_loss_before * (1 + 1e-12)
    assert report.allowed_loss == pytest.approx(1.01 * report.val_loss_before, rel=1e-12)
    for k, v in before.items():  # the argument is left alone
        torch.testing.assert_close(model.state_dict()[k], v, rtol=0, atol=0)


def test_the_threshold_separates_removed_from_kept_scores(model):
    _, report = prune_to_validation(model, TRAIN, VAL)
    scores = importance(model, TRAIN[0]).edges
    removed = [float(scores[li][j, i]) for li, i, j in report.removed]
    kept = [float(s[j, i]) for li, s in enumerate(scores)
            for j, i in (model.layers[li].mask > 0).nonzero().tolist()
            if (li, i, j) not in report.removed]
    assert removed == sorted(removed)
    assert max(removed) <= report.threshold == min(kept)


def test_the_pruned_model_is_the_original_with_those_edges_replaced_by_their_means(model):
    pruned, report = prune_to_validation(model, TRAIN, VAL, tolerance=0.05)
    assert report.removed
    expected = _masked_forward(model.eval(), set(report.removed), VAL[0], TRAIN[0])
    with torch.no_grad():
        torch.testing.assert_close(pruned.eval()(VAL[0]), expected, rtol=0, atol=1e-10)


def test_the_largest_acceptable_number_of_edges_is_removed(model):
    _, report = prune_to_validation(model, TRAIN, VAL, tolerance=0.01)
    k = len(report.removed)
    assert report.losses[0] == report.val_loss_before
    assert report.losses[k] <= report.allowed_loss
    assert all(loss > report.allowed_loss for loss in report.losses[k + 1:])


def test_tolerance_zero_never_raises_the_validation_loss(model):
    _, report = prune_to_validation(model, TRAIN, VAL, tolerance=0)
    assert report.val_loss_after <= report.val_loss_before * (1 + 1e-12)
    k = len(report.removed)
    assert all(loss > report.val_loss_before for loss in report.losses[k + 1:])


def test_tolerance_zero_keeps_every_edge_a_clean_fit_needs():
    # y = x0 + x1 exactly, fitted with exactly linear edges: removing either raises the loss
    model = kanlab.KAN([2, 1], seed=0, dtype=D)
    for i in range(2):
        model.layers[0].symbolic.set_edge(i, 0, "x", (1.0, 0.0, 1.0, 0.0))
    with torch.no_grad():
        model.layers[0].bias.zero_()
    x = torch.rand(50, 2, generator=torch.Generator().manual_seed(3), dtype=D)
    pair = (x, x.sum(1, keepdim=True))
    pruned, report = prune_to_validation(model, pair, pair, tolerance=0)
    assert report.removed == [] and report.edges_after == 2 and report.val_loss_after == 0.0
    assert math.isinf(report.losses[-1]) and report.losses[1] > 0


@pytest.mark.parametrize("min_edges", [1, 2])
def test_a_huge_tolerance_still_keeps_a_path_and_min_edges(model, min_edges):
    pruned, report = prune_to_validation(model, TRAIN, VAL, tolerance=1e9, min_edges=min_edges)
    assert all(int(layer.mask.sum()) >= min_edges for layer in pruned.layers)
    assert report.kept_inputs and all(w >= 1 for w in pruned.widths)
    assert pruned(VAL[0]).shape == (200, 1)


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"tolerance": -0.1}, "tolerance must be a finite number >= 0.*-0.1"),
    ({"tolerance": math.nan}, "tolerance.*nan"),
    ({"tolerance": math.inf}, "tolerance.*inf"),
    ({"tolerance": "1%"}, "tolerance.*'1%'"),
    ({"min_edges": 0}, "min_edges"),
    ({"method": "l2"}, "l2"),
])
def test_bad_options_are_refused(kwargs, match):
    model = kanlab.KAN([8, 1], seed=0, dtype=D)
    with pytest.raises(InputError, match=match):
        prune_to_validation(model, TRAIN, VAL, **kwargs)


@pytest.mark.parametrize(("train", "val", "match"), [
    ((TRAIN[0][:, :7], TRAIN[1]), VAL, r"train x has shape \(200, 7\); expected \(N, 8\)"),
    (TRAIN, (VAL[0], VAL[1][:10]), r"val y has shape \(10, 1\); expected \(200, 1\)"),
    (TRAIN, (VAL[0], VAL[1][:, 0]), r"val y has shape \(200,\)"),
    ((TRAIN[0][:1], TRAIN[1][:1]), VAL, "train has 1 rows.*at least 2"),
    (TRAIN[0], VAL, "train must be a pair"),
])
def test_bad_shapes_are_refused(train, val, match):
    model = kanlab.KAN([8, 1], seed=0, dtype=D)
    with pytest.raises(InputError, match=match):
        prune_to_validation(model, train, val)


def test_a_classifier_prunes_with_cross_entropy_on_class_indices():
    # class = sign of x0; x1..x3 irrelevant. Logits (N, 2) against labels (N,) int64.
    x = torch.rand(300, 4, generator=torch.Generator().manual_seed(4), dtype=D) * 2 - 1
    labels = (x[:, 0] > 0).long()
    model = kanlab.KAN([4, 2], seed=0, dtype=D)
    loss = torch.nn.functional.cross_entropy
    kanlab.fit(model, {"train_input": x[:200], "train_label": labels[:200]}, steps=10,
               loss_fn=loss, progress=False)
    pruned, report = prune_to_validation(model, (x[:200], labels[:200]), (x[200:], labels[200:]),
                                         tolerance=0.05, loss_fn=loss)
    assert report.kept_inputs == [0]
    with torch.no_grad():
        assert float(loss(pruned(x[200:]), labels[200:])) == pytest.approx(
            report.val_loss_after, rel=1e-12)
    assert report.val_loss_after <= report.allowed_loss


def test_a_negative_loss_is_refused():
    model = kanlab.KAN([8, 1], seed=0, dtype=D)
    with pytest.raises(InputError, match="loss is -.*non-negative"):
        prune_to_validation(model, TRAIN, VAL, loss_fn=lambda p, y: -(p - y).pow(2).mean())
