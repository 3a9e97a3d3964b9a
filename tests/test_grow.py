"""Growing models (expand_depth, expand_width, augment_input, perturb) keeps the function and
the original; checkpoints rewind to copies; clear errors."""

import pytest
import torch

import kanlab
from kanlab.errors import InputError
from kanlab.nn.checkpoints import Checkpoints
from kanlab.nn.grow import augment_input, expand_depth, expand_width, perturb, with_features

D = torch.float64


def _x(n=128, d=2, seed=0):
    return torch.rand(n, d, generator=torch.Generator().manual_seed(seed), dtype=D) * 2 - 1


def _trained(widths=(2, 3, 1), seed=0):
    model = kanlab.KAN(list(widths), seed=seed, dtype=D, grid_size=4)
    x = _x(d=widths[0])
    kanlab.fit(model, {"train_input": x, "train_label": (x[:, :1] * 2).sin() + x[:, -1:] ** 2},
               steps=5, progress=False)
    return model, x


def _state(model):
    return {k: v.clone() for k, v in model.state_dict().items() if torch.is_tensor(v)}


def test_expand_depth_appends_an_identity_layer():
    model, x = _trained()
    before = _state(model)
    deeper = expand_depth(model)
    assert deeper.widths == [2, 3, 1, 1] and deeper.depth == 3
    torch.testing.assert_close(deeper(x), model(x), rtol=0, atol=1e-12)
    for k, v in model.state_dict().items():  # the original is untouched
        if torch.is_tensor(v):
            torch.testing.assert_close(v, before[k], rtol=0, atol=0)
    # it trains and saves like any model; its config rebuilds it
    assert len(deeper.config["grid_range"]) == 3 and len(deeper.config["base_fn"]) == 3
    clone = kanlab.KAN.from_config(deeper.config)
    clone.load_state_dict(deeper.state_dict())
    torch.testing.assert_close(clone(x), deeper(x), rtol=0, atol=0)


def test_expand_width_adds_sum_nodes_without_changing_the_function():
    model, x = _trained((2, [2, 1], 1))
    wider = expand_width(model, 1, n=2)
    assert wider.widths == [2, 5, 1] and wider.config["widths"] == [2, [4, 1], 1]
    torch.testing.assert_close(wider(x), model(x), rtol=0, atol=1e-13)
    # the old rows keep their coefficients; the product node's factors moved by two rows
    torch.testing.assert_close(wider.layers[0].coef[:2], model.layers[0].coef[:2])
    torch.testing.assert_close(wider.layers[0].coef[4:], model.layers[0].coef[2:])
    # new nodes are live: their incoming edges are fresh, so training reaches them
    assert float(wider.layers[0].coef[2:4].detach().abs().sum()) > 0
    with pytest.raises(InputError, match="hidden row"):
        expand_width(model, 2)


def test_augment_input_adds_inputs_with_zero_edges():
    model, x = _trained()
    model.layers[0].symbolic.set_edge(1, 2, "sin", (1.0, 0.0, 0.5, 0.0))
    bigger = augment_input(model, 1)
    xa = with_features(x, [lambda v: v[:, 0] * v[:, 1]])
    assert xa.shape == (128, 3) and bigger.widths[0] == 3
    torch.testing.assert_close(bigger(xa), model(x), rtol=0, atol=1e-13)
    assert bigger.layers[0].symbolic.names == {(1, 2): "sin"}
    assert bigger.recorded_inputs is None and model.recorded_inputs is not None
    with pytest.raises(InputError, match="one value per row"):
        with_features(x, [lambda v: v[:3, 0]])


def test_perturb_shakes_numeric_edges_and_can_revive_pruned_ones():
    model, x = _trained()
    model.layers[0].mask[1, 0] = 0.0
    shaken = perturb(model, 0.1, seed=1)
    assert not torch.equal(shaken.layers[0].coef, model.layers[0].coef)
    assert float(shaken.layers[0].mask[1, 0]) == 0.0
    again = perturb(model, 0.1, seed=1)
    torch.testing.assert_close(again.layers[0].coef, shaken.layers[0].coef)  # seeded
    revived = perturb(model, 0.1, revive=True)
    assert bool((revived.layers[0].mask == 1).all())
    assert float(revived.layers[0].base_scale[1, 0].detach()) == 0.0
    assert torch.equal(perturb(model, 0.0)(x), model(x))
    with pytest.raises(InputError, match="magnitude"):
        perturb(model, -1.0)


def test_checkpoints_rewind_to_copies_and_say_what_exists(tmp_path):
    model, x = _trained()
    history = Checkpoints()
    assert history.checkpoint(model, "trained", note="5 LBFGS steps") == "trained"
    with torch.no_grad():
        model.layers[0].coef.add_(1.0)  # later changes do not reach the checkpoint
    assert history.checkpoint(model) == "1"
    back = history.rewind("trained")
    assert not torch.equal(back(x), model(x))
    with torch.no_grad():
        back.layers[0].coef.zero_()  # nor do changes to what rewind returned
    torch.testing.assert_close(history.rewind(0).layers[0].coef + 1.0, model.layers[0].coef)
    assert history.names == ["trained", "1"] and history.note("trained") == "5 LBFGS steps"
    with pytest.raises(InputError, match=r"no checkpoint 'pruned'; the checkpoints are"):
        history.rewind("pruned")
    with pytest.raises(InputError, match="no checkpoint 5"):
        history.rewind(5)
    with pytest.raises(InputError, match="exists already"):
        history.checkpoint(model, "trained")
    assert not list(tmp_path.iterdir())  # nothing written unless asked
    history.save(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["0-trained", "1-1"]
    torch.testing.assert_close(kanlab.KAN.load(tmp_path / "1-1")(x), model(x))


def test_growing_leaves_the_training_flag_alone():
    model, _ = _trained()
    model.train()
    expand_depth(model)
    assert model.training
