"""Training an ensemble (issue 20): E members fitted together equal E lone fits with the same
seeds -- parameters, knots and history to the bit where the compiled kernel runs (LBFGS
amplifies any rounding: a one-ulp change of the loss grows to 1e-2 within ten steps, so
nothing short of bitwise holds to 1e-10 over a fit) -- with grid updates, a grid schedule,
mini-batches, Adam, a member whose data differ; and clear errors."""

import math

import pytest
import torch

import kanlab
from kanlab.errors import InputError
from kanlab.nn import ensemble_layer
from kanlab.nn.ensemble import Ensemble
from kanlab.splines import native
from kanlab.training.ensemble_fit import EnsembleHistory

D = torch.float64
needs_kernel = pytest.mark.skipif(not native.available(),
                                  reason="bitwise equality needs the compiled kernel")


def _data(n=300, seed=0, shift=0.0):
    data = kanlab.data.make_toy_dataset("exp_sin_sq", n_train=n, n_test=50, seed=seed, dtype=D)
    data.train_label = data.train_label + shift
    data.test_label = data.test_label + shift
    return data


def _edges(model):
    """Every member-level tensor that training moves, by name."""
    return {n: t for n, t in model.state_dict().items()
            if n.split(".")[-1] in ("coef", "spline_scale", "base_scale", "bias", "knots")}


def _assert_same(lone, ens, e, history, ens_history, exact):
    member = ens.member(e)
    for name, value in _edges(lone).items():
        if exact:
            assert torch.equal(value, _edges(member)[name]), name
        else:
            torch.testing.assert_close(value, _edges(member)[name], rtol=0, atol=1e-10)
    for field in ("step", "loss", "train_rmse", "test_rmse", "grid_size", "events",
                  "grid_drift"):
        mine, theirs = getattr(history, field), getattr(ens_history[e], field)
        if exact or field in ("step", "grid_size", "events"):
            assert mine == theirs, field
        else:
            if field == "grid_drift":  # (step, drift per layer)
                mine = [v for _, drifts in mine for v in drifts]
                theirs = [v for _, drifts in theirs for v in drifts]
            assert mine == pytest.approx(theirs, rel=1e-10, abs=1e-12), field




@needs_kernel
@pytest.mark.parametrize("members", [1, 3])
def test_lbfgs_with_grid_updates_and_a_schedule_equals_lone_fits_to_the_bit(members):
    seeds = [3, 1, 4][:members]
    data = _data()
    options = dict(steps=12, grid_schedule={0: 3, 6: 6}, grid_update_every=2)
    lone = [(m, kanlab.fit(m, data, progress=False, **options))
            for m in (kanlab.KAN([2, 3, 1], grid_size=3, seed=s, dtype=D) for s in seeds)]
    ens = Ensemble([2, 3, 1], members=members, seeds=seeds, grid_size=3, dtype=D)
    history = kanlab.fit(ens, data, progress=False, **options)
    assert isinstance(history, EnsembleHistory) and len(history) == members
    assert ens.grid_size == [6, 6]
    for e, (model, h) in enumerate(lone):
        assert [s for s, _ in h.events] == [0, 2, 4, 6]  # updates until the refinement
        assert "refine to G=6" in h.events[-1][1]
        _assert_same(model, ens, e, h, history, exact=True)


@needs_kernel
def test_adam_with_batches_and_a_member_whose_data_differ_equals_lone_fits():
    data = [_data(seed=0), _data(seed=5, shift=0.5)]
    options = dict(opt="adam", steps=15, batch_size=64, grid_update_every=4)
    lone = [(m, kanlab.fit(m, d, progress=False, **options))
            for m, d in zip((kanlab.KAN([2, 2, 1], seed=s, dtype=D) for s in (0, 1)), data)]
    stacked = {key: torch.stack([getattr(d, key) for d in data])
               for key in ("train_input", "train_label", "test_input", "test_label")}
    ens = Ensemble([2, 2, 1], members=2, seeds=[0, 1], dtype=D)
    history = kanlab.fit(ens, stacked, progress=False, **options)
    for e, (model, h) in enumerate(lone):
        _assert_same(model, ens, e, h, history, exact=True)
    assert history[0].test_rmse[-1] != history[1].test_rmse[-1]


@needs_kernel
def test_each_member_stops_early_and_ends_in_its_best_state_as_a_lone_fit():
    data = _data()
    options = dict(steps=40, validation=0.2, patience=3)
    ens = Ensemble([2, 3, 1], members=3, seeds=[0, 1, 2], dtype=D)
    history = kanlab.fit(ens, data, progress=False, **options)
    stops = set()
    for e in range(3):
        lone = kanlab.KAN([2, 3, 1], seed=e, dtype=D)
        h = kanlab.fit(lone, data, progress=False, **options)
        assert h.stopped_early and history[e].stopped_early
        assert (history[e].best_step, history[e].val_loss, history[e].events) == \
            (h.best_step, h.val_loss, h.events)
        assert history[e].initial_val_loss == h.initial_val_loss
        assert all(torch.equal(a, b) for a, b in zip(ens.member(e).parameters(),
                                                     lone.parameters()))
        stops.add(h.step[-1])
    assert len(stops) > 1  # the members stopped at different steps
    best = [history[e].best_val_loss for e in range(3)]
    assert history.best_member("val_loss") == best.index(min(best))


def test_the_reference_pass_trains_members_as_lone_fits_to_round_off(monkeypatch):
    # without the compiled kernel (another device, KANLAB_NATIVE=0) the batched reference
    # pass rounds differently from a lone layer: equal to round-off over a short fit
    monkeypatch.setattr(ensemble_layer.native, "kernel_for", lambda *a, **k: None)
    data = _data()
    options = dict(steps=2, grid_update_every=1, optimizer_options={"max_iter": 5})
    lone = [(m, kanlab.fit(m, data, progress=False, **options))
            for m in (kanlab.KAN([2, 2, 1], seed=s, dtype=D) for s in (0, 1))]
    ens = Ensemble([2, 2, 1], members=2, dtype=D)
    history = kanlab.fit(ens, data, progress=False, **options)
    for e, (model, h) in enumerate(lone):
        _assert_same(model, ens, e, h, history, exact=False)


def test_members_regularised_with_their_own_lambda_equal_lone_fits_to_round_off():
    # the penalty goes through the trace (a batched einsum: another order of sums), so the
    # members equal lone fits to round-off, compared before LBFGS amplifies it
    data = _data()
    lambs = [1e-2, 1e-3, 0.0]
    ens = Ensemble([2, 3, 1], members=3, seeds=[0, 1, 2], dtype=D)
    history = kanlab.fit(ens, data, steps=1, lamb=lambs, progress=False)
    for e, lamb in enumerate(lambs):
        lone = kanlab.KAN([2, 3, 1], seed=e, dtype=D)
        h = kanlab.fit(lone, data, steps=1, lamb=lamb, progress=False)
        assert history[e].reg == pytest.approx(h.reg, rel=1e-12, abs=0)
        assert history[e].loss == pytest.approx(h.loss, rel=1e-12)
        for name, value in _edges(lone).items():
            torch.testing.assert_close(_edges(ens.member(e))[name], value, rtol=0, atol=1e-10)
    assert history[0].reg[0] > 0 and history[2].reg == [0.0]
    with pytest.raises(InputError, match="one number or one per member"):
        kanlab.fit(ens, data, steps=1, lamb=[1e-3, 1e-2], progress=False)
    with pytest.raises(InputError, match="lamb must be a finite non-negative"):
        kanlab.fit(ens, data, steps=1, lamb=[1e-3, -1.0, 0.0], progress=False)


def test_a_custom_loss_and_the_best_member():
    data = _data()
    ens = Ensemble([2, 2, 1], members=3, seeds=[0, 1, 2], dtype=D)

    def mae(pred, y):
        return (pred - y).abs().mean()

    history = kanlab.fit(ens, data, steps=3, loss_fn=mae, progress=False)
    lone = kanlab.KAN([2, 2, 1], seed=1, dtype=D)
    lone_history = kanlab.fit(lone, data, steps=3, loss_fn=mae, progress=False)
    assert history[1].loss == pytest.approx(lone_history.loss, rel=1e-9)
    finals = history.final("test_rmse")
    assert history.best_member() == finals.index(min(finals))
    assert all(math.isfinite(v) for v in history.final("loss"))
    with pytest.raises(InputError, match="metric"):
        history.final("accuracy")


def test_bad_ensemble_training_input_is_a_clear_error():
    ens = Ensemble([2, 2, 1], members=3, dtype=D)
    data = _data()
    wrong = {"train_input": data.train_input.expand(2, -1, -1),
             "train_label": data.train_label.expand(2, -1, -1)}
    with pytest.raises(InputError, match="first axis of 3"):
        kanlab.fit(ens, wrong, steps=1, progress=False)
    with pytest.raises(InputError, match="not supported for an Ensemble yet"):
        kanlab.fit(ens, data, steps=1, callbacks=[lambda state: None], progress=False)
    with pytest.raises(InputError, match="patience=3 needs validation data"):
        kanlab.fit(ens, data, steps=1, patience=3, progress=False)
    own = {"train_input": data.train_input.expand(3, -1, -1),
           "train_label": data.train_label.expand(3, -1, -1)}
    with pytest.raises(InputError, match="validation fraction holds out shared rows"):
        kanlab.fit(ens, own, steps=1, validation=0.2, progress=False)
    with pytest.raises(InputError, match="first axis of 3"):
        kanlab.fit(ens, data, steps=1, progress=False,
                   validation=(own["train_input"][:2], own["train_label"][:2]))
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(data.train_input, data.train_label), batch_size=10)
    with pytest.raises(InputError, match="DataLoader"):
        kanlab.fit(ens, loader, steps=1, progress=False)
    with pytest.raises(InputError, match=r"expected \(N, 2\)"):
        kanlab.fit(ens, {"train_input": data.train_input[:, :1],
                         "train_label": data.train_label}, steps=1, progress=False)
