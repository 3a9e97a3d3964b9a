"""The pieces fit is made of: batches, grid events, the optimiser step, records, processes.

fit itself is checked against plain hand-written loops (the obvious version) bit for bit.
"""

import collections
import copy
import logging
import math

import pytest
import torch
from torch.nn.functional import mse_loss

from kanlab import KAN, InputError, fit
from kanlab.data import Dataset, make_toy_dataset
from kanlab.grids.schedules import EveryNSteps, OnRefine, RefineSchedule
from kanlab.nn.mlp import MLP
from kanlab.training.batches import TrainingData, as_dataset, batches, training_data
from kanlab.training.grid_events import GridEvent, GridEvents
from kanlab.training.lbfgs import LBFGS
from kanlab.training.parallel import Distributed, SingleProcess, as_processes
from kanlab.training.records import History, Records, default_log_every
from kanlab.training.regularization import Regulariser, edge_scales, sparsity_penalty
from kanlab.training.step import Objective, OptimizerStep, make_optimizer

D = torch.float64


@pytest.fixture(scope="module")
def data():
    return make_toy_dataset("exp_sin_sq", n_train=120, n_test=60, seed=0, dtype=D)


def _model(**kw):
    return KAN([2, 3, 1], seed=0, dtype=D, **kw)


def _lbfgs(model):
    return LBFGS(model.parameters(), lr=1, max_iter=20, history_size=10,
                 line_search_fn="strong_wolfe", tolerance_grad=1e-32, tolerance_change=1e-32)


def _params(model):
    return [p.detach().clone() for p in model.parameters()]


def _assert_same(a, b):
    assert len(a) == len(b)
    for p, q in zip(a, b):
        assert torch.equal(p, q)


# --------------------------------------------------------------- fit against plain loops
def test_fit_takes_the_steps_of_a_plain_lbfgs_loop(data):
    model = _model()
    twin = copy.deepcopy(model)
    hist = fit(model, data, steps=4, update_grid=False, progress=False)
    opt = _lbfgs(twin)
    x, y = data.train_input, data.train_label
    losses = []

    def closure():
        opt.zero_grad()
        loss = mse_loss(twin(x), y)
        loss.backward()
        return loss

    for _ in range(4):
        losses.append(float(opt.step(closure).detach()))
    _assert_same(_params(model), _params(twin))
    assert hist.loss == losses and hist.reg == [0.0] * 4
    with torch.no_grad():
        assert hist.train_rmse[-1] == float(torch.sqrt(torch.mean((twin(x) - y) ** 2)))


def test_fit_applies_grid_events_through_the_public_model_methods(data):
    model = _model()
    twin = copy.deepcopy(model)
    every = EveryNSteps(2, until=None, after_refine=True)
    hist = fit(model, data, steps=6, grid_schedule={0: 5, 3: 8}, update_grid=every,
               progress=False)
    x, y = data.train_input, data.train_label
    opt = _lbfgs(twin)

    def closure():
        opt.zero_grad()
        loss = mse_loss(twin(x), y)
        loss.backward()
        return loss

    for step in range(6):
        if step in (0, 2, 4):  # every 2 steps; step 0's size 5 is the grid's already
            twin.update_grid(x, y=y)
        if step == 3:  # a refinement alone (on the batch), then a new optimiser
            twin.refine_(8, x)  # with the batch, as fit does
            opt = _lbfgs(twin)
        opt.step(closure)
    _assert_same(_params(model), _params(twin))
    assert hist.events == [(0, "update grid"), (2, "update grid"), (3, "refine to G=8"),
                           (4, "update grid")]
    assert [s for s, _ in hist.grid_drift] == [0, 2, 4]


def test_fit_adds_the_regularisation_of_a_plain_loop(data):
    model = _model()
    twin = copy.deepcopy(model)
    hist = fit(model, data, opt="adam", steps=3, update_grid=False, lamb=0.01, lamb_coef=0.5,
               progress=False)
    opt = torch.optim.Adam(twin.parameters(), lr=1e-2)
    x, y = data.train_input, data.train_label
    regs = []
    for _ in range(3):
        opt.zero_grad()
        traces = twin.trace(x, update_statistics=True)
        scales = [edge_scales(t.inputs, t.activations, "edge_l1", layer.numeric_mask())
                  for t, layer in zip(traces, twin.layers)]
        reg = sparsity_penalty(scales) + 0.5 * sum(layer.coef.abs().mean(0).sum()
                                                   for layer in twin.layers)
        (mse_loss(traces[-1].outputs, y) + 0.01 * reg).backward()
        opt.step()
        regs.append(float(reg.detach()))
    _assert_same(_params(model), _params(twin))
    assert hist.reg == pytest.approx(regs, rel=1e-14)


# ----------------------------------------------------------------------------- batches
def test_batches_walk_shuffled_epochs_with_a_tail():
    x = torch.arange(7.0).reshape(7, 1)
    it = batches(x, x * 2, 3, torch.Generator().manual_seed(0))
    epoch = [next(it) for _ in range(3)]
    assert [b[0].shape[0] for b in epoch] == [3, 3, 1]
    rows = torch.cat([b[0] for b in epoch])[:, 0]
    assert sorted(rows.tolist()) == list(range(7))
    assert all(torch.equal(b[1], 2 * b[0]) for b in epoch)
    full = batches(x, x, None, torch.Generator())
    assert next(full)[0] is x and next(full)[0] is x


def test_data_kinds_and_their_errors(data):
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(data.train_input),
                                         batch_size=10)
    td = training_data(loader, _model())
    assert td.kind == "DataLoader" and td.train_x is None and td.n_train == 0
    with pytest.raises(InputError, match=r"\(input, label\) pairs"):
        next(td.batches)
    with pytest.raises(InputError, match="data must be"):
        as_dataset([data.train_input, data.train_label])
    as32 = training_data(data.to_dict(), KAN([2, 1], seed=0), batch_size=None)
    assert as32.train_x.dtype == torch.float32 and as32.n_train == 120
    assert as32.test_x.shape == (60, 2)


# ------------------------------------------------------------------------- grid events
def test_grid_events_say_what_is_due_at_each_step():
    model = _model()
    events = GridEvents(RefineSchedule([(0, 5), (3, 8)]),
                        [EveryNSteps(2, until=None, after_refine=True)])
    due = [events.due(step, model, []) for step in range(5)]
    assert due == [GridEvent(0, None, True), None, GridEvent(2, None, True),
                   GridEvent(3, 8, False), GridEvent(4, None, True)]
    assert events.refinements == 1  # step 0's size is the grid's already: no refinement
    assert not due[0].replaces_parameters and due[3].replaces_parameters
    # OnRefine sees the refinement of the same step
    events = GridEvents(RefineSchedule([(2, 7)]), [OnRefine(at_start=False)])
    assert [events.due(s, model, []) for s in range(3)] == [None, None, GridEvent(2, 7, True)]


def test_grid_events_for_fit():
    with pytest.raises(InputError, match="grid_schedule needs a kanlab.KAN"):
        GridEvents.for_fit(MLP([2, 4, 1], seed=0), 10, grid_schedule=[3, 5])
    assert GridEvents.for_fit(MLP([2, 4, 1], seed=0), 10).adapt == []
    assert GridEvents.for_fit(_model(grid="dkan"), 10).adapt == []  # fixed grids
    events = GridEvents.for_fit(_model(), 600, every=7, until=None, grid_schedule=[3, 5, 10])
    assert events.adapt == [EveryNSteps(7, until=None)]
    assert events.refine.pairs == [(0, 3), (200, 5), (400, 10)]
    assert GridEvents.for_fit(_model(), 10, update_grid=False).adapt == []


def test_grid_event_apply(data):
    model, history = _model(), History()
    coef = model.layers[0].coef
    GridEvent(3, refine_to=8).apply(model, data.train_input, data.train_label, history)
    assert model.grid_size == [8, 8] and model.layers[0].coef is not coef
    assert history.events == [(3, "refine to G=8")] and history.grid_drift == []
    gathered = []

    def gather(t):
        gathered.append(t.shape[0])
        return t

    GridEvent(5, refine_to=10, update=True).apply(model, data.train_input, data.train_label,
                                                  history, gather)
    assert model.grid_size == [10, 10] and gathered == [120, 120]
    assert history.events[1:] == [(5, "update grid"), (5, "refine to G=10")]
    assert history.grid_drift[0][0] == 5 and len(history.grid_drift[0][1]) == 2


# ---------------------------------------------------------------- the optimiser's step
def test_optimizer_step_records_each_evaluation_and_restarts(data):
    model = _model()
    reg = Regulariser()
    objective = Objective(model, mse_loss, reg, SingleProcess())
    step = OptimizerStep(model, objective, "lbfgs", None, {"max_iter": 3})
    x, y = data.train_input, data.train_label
    first = float(mse_loss(model(x), y).detach())
    assert step(x, y) == (first, 0.0)
    assert len(objective.evaluations) >= 3  # LBFGS evaluates more than once a step
    old = step.optimizer
    model.refine_(7)
    step.restart()
    assert step.optimizer is not old
    ids = {id(p) for g in step.optimizer.param_groups for p in g["params"]}
    assert ids == {id(p) for p in model.parameters()}
    adam = OptimizerStep(model, objective, "adam", 0.1, None)
    adam(x, y)
    assert len(objective.evaluations) == 1 and adam.optimizer.param_groups[0]["lr"] == 0.1


def test_make_optimizer_defaults_and_overrides():
    p = [torch.nn.Parameter(torch.zeros(2))]
    lbfgs = make_optimizer("lbfgs", p, None, {"history_size": 3})
    group = lbfgs.param_groups[0]
    assert isinstance(lbfgs, LBFGS) and group["lr"] == 1.0 and group["history_size"] == 3
    assert group["max_iter"] == 20 and group["line_search_fn"] == "strong_wolfe"
    assert make_optimizer("adam", p, None, None).param_groups[0]["lr"] == 1e-2


# -------------------------------------------------------------------------- regulariser
def test_regulariser(data):
    model = _model()
    reg = Regulariser(0.1, l1=2.0, entropy=0.5, coefdiff=0.3, metric="edge_std")
    with torch.no_grad():
        traces = model.trace(data.train_input)
        scales = [edge_scales(t.inputs, t.activations, "edge_std", layer.numeric_mask())
                  for t, layer in zip(traces, model.layers)]
        want = sparsity_penalty(scales, l1=2.0, entropy=0.5, metric="edge_std") + 0.3 * sum(
            layer.coef.diff(dim=-1).abs().mean(0).sum() for layer in model.layers)
        got = reg.penalty(model, traces)
    assert float(got) == pytest.approx(float(want), rel=1e-14) and float(want) > 0
    assert reg.active and not Regulariser().active
    assert Regulariser().for_model(MLP([2, 1], seed=0)).lamb == 0.0
    with pytest.raises(InputError, match="needs a kanlab.KAN"):
        reg.for_model(MLP([2, 1], seed=0))
    with pytest.raises(InputError, match="lamb"):
        Regulariser(math.inf)
    with pytest.raises(InputError, match="reg_metric"):
        Regulariser(metric="l2")


# ------------------------------------------------------------------------------ records
def test_default_log_every():
    assert default_log_every(400, 100) == 4
    assert default_log_every(401, 100) == 5
    assert default_log_every(400, None) == 1
    assert default_log_every(50, 100) == 1


def test_records_keep_every_loss_and_record_at_log_steps(data, caplog):
    model = _model()
    td = TrainingData(iter(()), data.train_input, data.train_label)
    with caplog.at_level(logging.INFO, logger="kanlab.training.loop"):
        with Records(model, td, SingleProcess(), 20, 8, progress=False) as records:
            for done in range(1, 21):
                records.after_step(done, 1.0 / done, 0.5)
    h = records.history
    assert h.step == [8, 16, 20] and h.loss == [1 / 8, 1 / 16, 1 / 20] and h.reg == [0.5] * 3
    assert len(records.losses) == 20 and h.grid_size == [[5, 5]] * 3
    assert math.isnan(h.test_rmse[0]) and h.train_rmse[0] == SingleProcess().rmse(
        model, data.train_input, data.train_label)
    assert len([r for r in caplog.records if "loss" in r.getMessage()]) == 10  # every 2 steps
    records = Records(model, TrainingData(iter(())), SingleProcess(), 5, progress=False)
    records.after_step(1, 0.25, 0.0)
    assert records.history.train_rmse == [0.5]  # sqrt of the MSE loss without a train set
    with pytest.raises(FloatingPointError, match="at step 2"):
        records.after_step(2, math.nan, 0.0)
    with pytest.raises(InputError, match="log_every"):
        Records(model, td, SingleProcess(), 5, log_every=0)


# ---------------------------------------------------------------------------- processes
def test_single_process(data):
    one = SingleProcess()
    model, x, y = _model(), data.train_input, data.train_label
    model.train()
    with torch.no_grad():
        want = float(torch.sqrt(torch.mean((model(x) - y) ** 2)))
    assert one.rmse(model, x, y) == want and model.training
    assert math.isnan(one.rmse(model, None, None))
    assert math.isnan(one.rmse(model, x, torch.zeros(120, dtype=torch.long)))
    assert one.gather(x) is x and one.share(x) == 1.0 and one.mean_count(7) == 7
    assert one.shows_progress and one.edge_scales is edge_scales
    assert isinstance(as_processes(False), SingleProcess)
    assert isinstance(as_processes(True), Distributed)
    assert as_processes(one) is one


def test_fit_uses_the_processes_object_it_is_handed(data):
    class Counting(SingleProcess):
        def __init__(self):
            self.calls = collections.Counter()

        def share(self, xb):
            self.calls["share"] += 1
            return super().share(xb)

        def backward(self, *args):
            self.calls["backward"] += 1
            return super().backward(*args)

        def gather(self, x):
            self.calls["gather"] += 1
            return x

    counting = Counting()
    model, twin = _model(), _model()
    fit(model, data, steps=3, progress=False, distributed=counting)
    fit(twin, data, steps=3, progress=False)
    _assert_same(_params(model), _params(twin))
    assert counting.calls["share"] == 3
    assert counting.calls["backward"] >= 3  # once an evaluation; LBFGS evaluates often
    assert counting.calls["gather"] == 2 + 1  # the grid update at step 0 (x, y), the record
    assert torch.equal(model.recorded_inputs, data.train_input)


def test_fit_keeps_datasets_without_a_test_set(data):
    model = _model()
    hist = fit(model, Dataset(data.train_input, data.train_label), steps=2, progress=False)
    assert all(math.isnan(v) for v in hist.test_rmse) and len(hist.step) == 2
