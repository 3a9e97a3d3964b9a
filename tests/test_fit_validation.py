"""Validation inside ``fit``: the held-out rows, ``History.val_loss`` against a slow hand
computation, early stopping, the refinement rule, the best state restored across a refinement,
the input errors, and runs without validation as before."""

import copy
import json
import math

import numpy as np
import pytest
import torch
from torch.nn.functional import cross_entropy, l1_loss

from kanlab import KAN, InputError, fit
from kanlab.data import Dataset
from kanlab.training.validation import RTOL, hold_out

D = torch.float64


def _noisy_line(n, seed, noise=0.3):
    """``y = x + noise`` on ``n`` rows: a KAN with a fine grid overfits it."""
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 1, generator=g, dtype=D) * 2 - 1
    return x, x + noise * torch.randn(n, 1, generator=g, dtype=D)


def _pure_noise(n, seed):
    """Labels independent of the inputs: no grid helps beyond a smooth mean."""
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 1, generator=g, dtype=D) * 2 - 1
    return x, torch.randn(n, 1, generator=g, dtype=D)


def _slow_mse(model, x, y):
    """The mean squared error, one row at a time, in eval mode (the obvious version)."""
    was_training = model.training
    model.eval()
    total = 0.0
    with torch.no_grad():
        for i in range(x.shape[0]):
            total += float(((model(x[i : i + 1]) - y[i : i + 1]) ** 2).sum())
    model.train(was_training)
    return total / y.numel()


def _assert_same_state(state, expected, skip=()):
    """Every entry of two ``state_dict`` s equal: tensors bit for bit, extra states by ``==``."""
    assert set(state) - set(skip) == set(expected) - set(skip)
    for key, value in expected.items():
        if key in skip:
            continue
        if isinstance(value, torch.Tensor):
            assert torch.equal(state[key], value), key
        else:
            assert state[key] == value, key


# ------------------------------------------------------------------ the held-out rows
def test_a_held_out_fraction_is_deterministic_disjoint_and_leaves_the_rest_to_train():
    x = torch.arange(40, dtype=D).reshape(40, 1)  # each row names itself
    data = Dataset(x, 2 * x, x[:5], x[:5])
    before = torch.get_rng_state()
    train, xv, yv = hold_out(data, 0.25, seed=3)
    assert torch.equal(torch.get_rng_state(), before)  # a local generator only
    again, xv2, _ = hold_out(data, 0.25, seed=3)
    other, xv3, _ = hold_out(data, 0.25, seed=4)
    assert torch.equal(xv, xv2) and torch.equal(train.train_input, again.train_input)
    assert not torch.equal(xv, xv3)
    assert xv.shape == (10, 1) and train.train_input.shape == (30, 1)
    held, kept = set(xv.flatten().tolist()), set(train.train_input.flatten().tolist())
    assert held.isdisjoint(kept) and held | kept == set(range(40))
    assert torch.equal(yv, 2 * xv) and torch.equal(train.train_label, 2 * train.train_input)
    assert torch.equal(train.test_input, x[:5])  # the test set stays
    assert bool((xv[1:] > xv[:-1]).all())  # both parts keep the rows' order


def test_fit_trains_on_the_rest_only_and_records_its_rmse():
    x, y = _noisy_line(40, seed=0)
    model = KAN([1, 1], grid_size=5, seed=0, dtype=D)
    hist = fit(model, {"train_input": x, "train_label": y}, steps=3, validation=0.25, seed=7,
               progress=False)
    train, xv, yv = hold_out(Dataset(x, y), 0.25, seed=7)
    assert model.recorded_inputs.shape == (30, 1)  # fit records the rows it trained on
    assert torch.equal(model.recorded_inputs, train.train_input)
    assert hist.train_rmse[-1] == pytest.approx(math.sqrt(_slow_mse(model, *train.to_dict()
                                                                      .values())), rel=1e-12)
    assert hist.val_loss[-1] == pytest.approx(_slow_mse(model, xv, yv), rel=1e-12)


# ---------------------------------------------------------------------- val_loss itself
@pytest.mark.parametrize("as_numpy", [False, True])
def test_val_loss_is_the_loss_on_the_validation_rows_after_each_step(as_numpy):
    x, y = _noisy_line(40, seed=1)
    xv, yv = _noisy_line(15, seed=2)
    seen = {}

    def slow(state):
        seen[state.step] = (_slow_mse(state.model, xv, yv), state.val_loss)

    validation = (xv.numpy(), yv.numpy()) if as_numpy else (xv, yv)
    model = KAN([1, 2, 1], grid_size=5, seed=0, dtype=D)
    hist = fit(model, Dataset(x, y), steps=8, validation=validation, patience=8,
               restore_best=False, callbacks=[slow], progress=False)
    assert hist.step == list(range(1, 9)) and len(hist.val_loss) == 8
    for step, val in zip(hist.step, hist.val_loss):
        hand, from_state = seen[step]
        assert val == pytest.approx(hand, rel=1e-12, abs=1e-15)
        assert from_state == val  # TrainState carries it
    assert hist.best_step == hist.step[int(np.argmin(hist.val_loss))]
    assert hist.best_val_loss == min(hist.val_loss)


def test_val_loss_uses_the_custom_loss_and_class_labels():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(60, 2, generator=g, dtype=D) * 2 - 1
    labels = (x[:, 0] * x[:, 1] > 0).long()
    xv, yv = x[:20], labels[:20]
    seen = {}

    def hand(state):
        with torch.no_grad():
            seen[state.step] = float(cross_entropy(state.model.eval()(xv), yv))
        state.model.train()

    hist = fit(KAN([2, 3, 2], grid_size=3, seed=0, dtype=D),
               {"train_input": x[20:], "train_label": labels[20:]},
               validation={"train_input": xv, "train_label": yv}, loss_fn=cross_entropy,
               steps=4, callbacks=[hand], progress=False)
    assert [seen[s] for s in hist.step] == pytest.approx(hist.val_loss, rel=1e-12)


def test_a_custom_loss_is_the_validation_loss_without_the_penalty():
    x, y = _noisy_line(40, seed=3)
    xv, yv = _noisy_line(10, seed=4)
    seen = {}

    def hand(state):
        with torch.no_grad():
            seen[state.step] = float(l1_loss(state.model.eval()(xv), yv))
        state.model.train()

    hist = fit(KAN([1, 2, 1], grid_size=3, seed=0, dtype=D), Dataset(x, y), steps=3,
               validation=(xv, yv), loss_fn=l1_loss, lamb=1e-2, callbacks=[hand],
               progress=False)
    assert [seen[s] for s in hist.step] == pytest.approx(hist.val_loss, rel=1e-12)
    assert all(r > 0 for r in hist.reg)  # the penalty was on, and not in val_loss


# -------------------------------------------------------------------- early stopping
def test_early_stopping_on_an_overfitting_problem_restores_the_best_state():
    x, y = _noisy_line(40, seed=0)
    xv, yv = _noisy_line(40, seed=10)
    model = KAN([1, 1], grid_size=20, seed=0, dtype=D)
    hist = fit(model, Dataset(x, y), steps=100, validation=(xv, yv), patience=5,
               progress=False)
    assert hist.stopped_early and hist.step[-1] < 100
    assert hist.events[-1][1].startswith("stop: validation did not improve for")
    assert hist.best_step < hist.step[-1]
    restored = _slow_mse(model, xv, yv)
    assert restored == pytest.approx(hist.best_val_loss, rel=1e-12)
    assert hist.best_val_loss == min(hist.val_loss) < hist.val_loss[-1]
    # patience: stopped at the first recorded step 5 steps after the last 1e-4 improvement
    best_so_far, last_improvement = math.inf, 0
    for step, val in zip(hist.step, hist.val_loss):
        if val < best_so_far - RTOL * abs(best_so_far) or math.isinf(best_so_far):
            best_so_far, last_improvement = val, step
    assert hist.step[-1] == last_improvement + 5


def test_the_default_patience_is_ten_recorded_steps():
    x, y = _noisy_line(40, seed=0)
    xv, yv = _noisy_line(40, seed=10)
    hist = fit(KAN([1, 1], grid_size=20, seed=0, dtype=D), Dataset(x, y), steps=100,
               validation=(xv, yv), progress=False)
    short = fit(KAN([1, 1], grid_size=20, seed=0, dtype=D), Dataset(x, y), steps=100,
                validation=(xv, yv), patience=5, progress=False)
    assert hist.stopped_early and hist.step[-1] == short.step[-1] + 5
    assert hist.best_step == short.best_step


def test_with_log_every_validation_follows_the_recorded_steps_and_patience_counts_steps():
    x, y = _noisy_line(40, seed=0)
    xv, yv = _noisy_line(40, seed=10)
    seen = {}

    def hand(state):
        seen[state.step] = state.val_loss

    model = KAN([1, 1], grid_size=20, seed=0, dtype=D)
    hist = fit(model, Dataset(x, y), steps=100, log_every=3, validation=(xv, yv),
               callbacks=[hand], progress=False)
    assert all(s % 3 == 0 for s in hist.step[:-1]) and len(hist.val_loss) == len(hist.step)
    assert [seen[s] for s in hist.step] == hist.val_loss
    assert all(math.isnan(v) for s, v in seen.items() if s not in hist.step)
    assert hist.best_step in hist.step and hist.stopped_early
    best_so_far, last_improvement = math.inf, 0
    for step, val in zip(hist.step, hist.val_loss):
        if math.isinf(best_so_far) or val < best_so_far - RTOL * abs(best_so_far):
            best_so_far, last_improvement = val, step
    assert hist.step[-1] == last_improvement + 30  # default: 10 recorded steps of 3


# ------------------------------------------------------------- refinements and restore
@pytest.mark.parametrize("grid", [None, "dkan"])
def test_restore_across_a_refinement_gives_back_the_first_grid_and_its_exact_state(grid):
    x, y = _noisy_line(60, seed=0)  # G=3 improves on the start; G=10 only overfits
    xv, yv = _noisy_line(30, seed=100)
    probe = torch.linspace(-1.2, 1.2, 50, dtype=D).reshape(-1, 1)
    snapshots = {}

    def snapshot(state):
        with torch.no_grad():
            out = state.model.eval()(probe)
        state.model.train()
        snapshots[state.step] = (out, copy.deepcopy(state.model.state_dict()))

    options = {} if grid is None else {"grid": grid}
    model = KAN([1, 1], grid_size=3, seed=0, dtype=D, **options)
    hist = fit(model, Dataset(x, y), steps=20, grid_schedule=[3, 10], validation=(xv, yv),
               patience=20, callbacks=[snapshot], progress=False)
    assert (10, "refine to G=10") in hist.events and not hist.stopped_early
    assert hist.grid_size[-1] == [10]
    assert hist.best_step <= 10  # the best state is the first stage's
    assert model.grid_size == [3]
    out, state = snapshots[hist.best_step]
    with torch.no_grad():
        assert torch.equal(model.eval()(probe), out)
    # fit records the training rows after restoring
    _assert_same_state(model.state_dict(), state, skip={"recorded_inputs"})
    assert _slow_mse(model, xv, yv) == pytest.approx(hist.best_val_loss, rel=1e-12)
    assert torch.equal(model.recorded_inputs, x)
    fit(model, Dataset(x, y), steps=1, progress=False)  # the restored model trains on


def test_refinements_stop_when_a_stage_does_not_improve_validation():
    x, y = _pure_noise(60, seed=0)
    xv, yv = _pure_noise(30, seed=100)
    model = KAN([1, 1], grid_size=3, seed=0, dtype=D)
    hist = fit(model, Dataset(x, y), steps=30, grid_schedule=[3, 10, 20],
               validation=(xv, yv), patience=30, progress=False)
    # the starting model (a near-constant) is the best on noise: the first stage does not
    # improve on it, so G=10, due before step 10, is not run, and the start comes back
    assert hist.stopped_early and hist.step[-1] == 10
    assert hist.events[-1] == (10, "stop: validation did not improve at G=3; G=10 not tried")
    assert min(hist.val_loss) >= hist.initial_val_loss and hist.best_step == 0
    assert hist.best_val_loss == hist.initial_val_loss
    assert [10] not in hist.grid_size and model.grid_size == [3]
    # without validation the same run goes through every stage
    plain = fit(KAN([1, 1], grid_size=3, seed=0, dtype=D), Dataset(x, y), steps=30,
                grid_schedule=[3, 10, 20], progress=False)
    assert plain.grid_size[-1] == [20] and plain.step[-1] == 30


def test_a_module_that_is_not_a_kan_gets_its_best_state_back():
    x, y = _noisy_line(40, seed=0)
    xv, yv = _noisy_line(20, seed=5)
    model = torch.nn.Sequential(torch.nn.Linear(1, 32), torch.nn.Tanh(),
                                torch.nn.Linear(32, 1)).to(D)
    states = {}

    def keep(state):
        states[state.step] = copy.deepcopy(state.model.state_dict())

    hist = fit(model, Dataset(x, y), opt="adam", lr=0.05, steps=60, validation=(xv, yv),
               patience=60, callbacks=[keep], progress=False)
    _assert_same_state(model.state_dict(), states[hist.best_step])
    assert _slow_mse(model, xv, yv) == pytest.approx(hist.best_val_loss, rel=1e-12)


def test_restore_best_false_keeps_the_last_state():
    x, y = _noisy_line(40, seed=0)
    xv, yv = _noisy_line(40, seed=10)
    model = KAN([1, 1], grid_size=20, seed=0, dtype=D)
    hist = fit(model, Dataset(x, y), steps=100, validation=(xv, yv), patience=5,
               restore_best=False, progress=False)
    assert hist.stopped_early and hist.best_step < hist.step[-1]
    assert _slow_mse(model, xv, yv) == pytest.approx(hist.val_loss[-1], rel=1e-12)


# -------------------------------------------------------------------------- bad inputs
@pytest.mark.parametrize("fraction", [0, 0.0, 1, 1.5, -0.2, True, math.nan])
def test_a_fraction_outside_zero_one_is_refused(fraction):
    x, y = _noisy_line(20, seed=0)
    with pytest.raises(InputError, match=r"fraction must be in \(0, 1\)"):
        fit(KAN([1, 1], grid_size=3, dtype=D), Dataset(x, y), steps=1, validation=fraction,
            progress=False)


def test_validation_input_errors_name_the_problem():
    x, y = _noisy_line(20, seed=0)
    data = Dataset(x, y)

    def run(**kw):
        fit(KAN([1, 1], grid_size=3, dtype=D), data, steps=1, progress=False, **kw)

    with pytest.raises(InputError, match="patience=5 needs validation data"):
        run(patience=5)
    with pytest.raises(InputError, match="patience must be a positive integer; got 0"):
        run(validation=0.2, patience=0)
    with pytest.raises(InputError, match=r"validation_input has shape \(10, 2\); expected "
                                         r"\(N, 1\)"):
        run(validation=(torch.zeros(10, 2, dtype=D), torch.zeros(10, 1, dtype=D)))
    with pytest.raises(InputError, match="validation_label has 9 rows but validation_input "
                                         "has 10"):
        run(validation=(torch.zeros(10, 1), torch.zeros(9, 1)))
    bad = torch.zeros(10, 1, dtype=D)
    bad[3] = math.nan
    with pytest.raises(InputError, match="validation_label contains 1 NaN"):
        run(validation=(torch.zeros(10, 1), bad))
    with pytest.raises(InputError, match="validation has no rows"):
        run(validation=(torch.zeros(0, 1), torch.zeros(0, 1)))
    with pytest.raises(InputError, match="an \\(x, y\\) pair; got str"):
        run(validation="20%")
    with pytest.raises(InputError, match="holds out 0 of the 3 training rows"):
        fit(KAN([1, 1], grid_size=3, dtype=D), Dataset(x[:3], y[:3]), steps=1,
            validation=0.1, update_grid=False, progress=False)
    with pytest.raises(InputError, match="not supported with distributed=True yet"):
        run(validation=0.2, distributed=True)


def test_a_fraction_with_a_dataloader_says_why_and_explicit_data_works():
    x, y = _noisy_line(40, seed=0)
    loader = torch.utils.data.DataLoader(list(zip(x, y)), batch_size=10)
    with pytest.raises(InputError, match="a DataLoader does not give; pass the validation "
                                         "data instead"):
        fit(KAN([1, 1], grid_size=3, dtype=D), loader, opt="adam", steps=1, validation=0.2,
            progress=False)
    xv, yv = _noisy_line(10, seed=1)
    hist = fit(KAN([1, 1], grid_size=3, dtype=D), loader, opt="adam", steps=4,
               update_grid=False, validation=(xv.float(), yv.float()), progress=False)
    assert len(hist.val_loss) == len(hist.step) and all(math.isfinite(v) for v in hist.val_loss)


# ------------------------------------------------------------------ without validation
def test_without_validation_the_run_and_its_history_are_as_before():
    x, y = _noisy_line(40, seed=0)
    data = Dataset(x[:30], y[:30], x[30:], y[30:])
    plain_model = KAN([1, 2, 1], grid_size=5, seed=0, dtype=D)
    plain = fit(plain_model, data, steps=12, grid_schedule=[5, 10], progress=False)
    assert len(plain.val_loss) == len(plain.step) and all(math.isnan(v) for v in plain.val_loss)
    assert plain.best_step is None and not plain.stopped_early
    assert math.isnan(plain.best_val_loss)
    assert not any(text.startswith("stop") for _, text in plain.events)
    # validation only watches: the same run with it (never stopping, nothing restored) trains
    # bit for bit the same
    xv, yv = _noisy_line(10, seed=9)
    watched_model = KAN([1, 2, 1], grid_size=5, seed=0, dtype=D)
    watched = fit(watched_model, data, steps=12, grid_schedule=[5, 10], validation=(xv, yv),
                  patience=12, restore_best=False, progress=False)
    for name in ("step", "loss", "train_rmse", "test_rmse", "grid_size", "events", "reg"):
        assert getattr(watched, name) == getattr(plain, name), name
    _assert_same_state(watched_model.state_dict(), plain_model.state_dict())
    record = json.loads(json.dumps(watched.as_dict()))
    assert record["best_step"] == watched.best_step and record["stopped_early"] is False
    assert len(record["val_loss"]) == len(record["step"])


def test_a_run_that_never_beats_its_start_ends_in_its_starting_state():
    # validation labels are the starting model's own outputs: its loss there is 0, and
    # training on noise can only raise it; the start (step 0) is the best state
    x, y = _pure_noise(40, seed=1)
    xv = torch.linspace(-1, 1, 25, dtype=D).reshape(-1, 1)
    model = KAN([1, 1], grid_size=5, seed=0, dtype=D)
    with torch.no_grad():
        yv = model.eval()(xv)
    model.train()
    start = copy.deepcopy(model.state_dict())
    hist = fit(model, Dataset(x, y), steps=15, validation=(xv, yv), patience=5,
               update_grid=False, progress=False)
    assert hist.initial_val_loss == 0.0 and hist.best_step == 0 and hist.best_val_loss == 0.0
    assert all(v > 0 for v in hist.val_loss) and hist.stopped_early and hist.step[-1] == 5
    _assert_same_state(model.state_dict(), start, skip={"recorded_inputs"})
