"""kanlab.apps.auto: the candidates, the one-standard-error choice, and choose() end to end."""

import json
import math

import pytest
import torch

from kanlab.apps.auto import (
    CURVATURES,
    NETWORK_PENALTIES,
    RIDGES,
    VALIDATION_FRACTION,
    Candidate,
    Trial,
    candidates,
    choose,
    pick,
    row_losses,
    validation_score,
)
from kanlab.apps.pipeline import PipelineOptions, rmse_r2, run_pipeline
from kanlab.data import Dataset

D = torch.float64


def _base(n_in, **kw):
    return PipelineOptions(widths=(n_in, 1), standardize_inputs=True, standardize_target=True,
                           seed=0, fit_options={"progress": False, "seed": 0}, **kw)


def test_the_candidates_follow_the_rows():
    assert len(candidates(10, 3)) == 1 and len(candidates(1000, 3, fast=True)) == 1
    few = candidates(40, 3)
    assert len(few) == len(CURVATURES) * len(RIDGES)  # no networks below 50 rows
    assert all(c.family == "additive" and c.grids == (3,) for c in few)  # G=3 below 100 rows
    many = candidates(500, 3)
    additive = [c for c in many if c.family == "additive"]
    assert {(c.curvature, c.ridge) for c in additive} == {(a, b) for a in CURVATURES
                                                          for b in RIDGES}
    assert all(c.grids == (5,) and c.base_fn == "identity" and c.tails == "linear"
               for c in additive)
    networks = [c for c in many if c.family == "network"]
    assert len(networks) == len(NETWORK_PENALTIES) and all(
        c.grids == (3, 5, 10) and c.hidden == (5,) and c.tails == "linear" for c in networks)
    assert [c.family for c in candidates(500, 1)] == ["additive"] * len(additive)  # one input
    assert candidates(60, 3)[-1].grids == (3, 5, 10)  # a trial's 40 rows place G = 10
    # class labels: networks only from 1,000 rows
    assert {c.family for c in candidates(999, 3, classes=True)} == {"additive"}
    assert len(candidates(1000, 3, classes=True)) == len(many)


def test_simpler_candidates_sort_first():
    order = sorted(candidates(500, 3), key=lambda c: c.complexity)
    assert order[0] == Candidate("additive", (), (5,), 200, "identity", "linear",
                                 max(CURVATURES), max(RIDGES))
    assert [c.family for c in order][-1:] == ["network"]
    assert (order[-1].curvature, order[-1].ridge) == min(NETWORK_PENALTIES)  # the weakest


def _trial(candidate, losses):
    losses = torch.tensor(losses, dtype=D)
    return Trial(candidate, float(losses.mean()), None, 5, 5, 0.0, losses)


def test_pick_takes_the_simplest_within_one_paired_standard_error():
    simple = Candidate("additive", (), (5,), 50, curvature=10.0, ridge=0.1)
    middle = Candidate("additive", (), (5,), 50, curvature=1.0, ridge=0.01)
    network = Candidate("network", (5,), (3, 5), 80)
    base = [1.0, 2.0, 3.0, 4.0]
    # the network is better on every row by 0.1 +- 0.2: the mean difference 0.1 is within one
    # standard error (std 0.258 / 2 = 0.129) of the best -> the best additive trial
    noisy = [b - d for b, d in zip(base, [0.3, -0.1, 0.3, -0.1])]
    trials = [_trial(network, noisy), _trial(middle, base), _trial(simple, [b + 1 for b in base])]
    assert pick(trials).candidate == middle
    # the same improvement on every row: standard error 0, so the network wins
    steady = [b - 0.1 for b in base]
    assert pick([_trial(network, steady), _trial(middle, base)]).candidate == network
    # a failed trial (nan) is never taken
    failed = Trial(simple, math.nan, None, 1, 5, 0.0, None)
    assert pick([failed, _trial(middle, base)]).candidate == middle


def _noisy_linear(n, seed):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 3, generator=g, dtype=D)
    y = x[:, :1] - 2 * x[:, 1:2] + 0.5 * torch.randn(n, 1, generator=g, dtype=D)
    return x, y


def test_choose_on_a_noisy_linear_table_takes_an_additive_model_as_good_as_least_squares():
    x, y = _noisy_linear(240, 0)
    xt, yt = _noisy_linear(400, 1)
    run, selection = choose(Dataset(x, y), _base(3))
    n_trials = len(candidates(240, 3))
    assert selection.chosen.family == "additive" and len(selection.trials) == n_trials
    # trained again on every row (nothing held out) for the steps its validation chose
    assert run.validation is None and run.model.recorded_inputs.shape[0] == 240
    assert run.histories["train"].step[-1] == selection.steps
    pred = run.model.eval()(run.scaling.inputs(xt)) * run.scaling.y_scale + run.scaling.y_mean
    ols = torch.linalg.lstsq(torch.cat([x, torch.ones(240, 1, dtype=D)], 1), y).solution
    pred_ols = torch.cat([xt, torch.ones(400, 1, dtype=D)], 1) @ ols
    r2_kan, r2_ols = rmse_r2(yt[:, 0], pred[:, 0].detach())[1], rmse_r2(yt[:, 0], pred_ols[:, 0])[1]
    assert r2_kan > r2_ols - 0.01
    doc = selection.as_dict()
    json.dumps(doc)  # JSON-ready
    assert doc["chosen"] == selection.chosen.label and len(doc["trials"]) == n_trials
    assert {t["model"] for t in doc["trials"]} == {c.label for c in candidates(240, 3)}


def test_choose_on_a_clean_formula_takes_a_network():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(300, 2, generator=g, dtype=D) * 2 - 1
    y = torch.exp(torch.sin(math.pi * x[:, :1]) + x[:, 1:] ** 2)
    run, selection = choose(Dataset(x, y), _base(2))
    assert selection.chosen.family == "network"
    assert selection.val_score > 0.999
    best_additive = max(t.val_score for t in selection.trials if t.candidate.family == "additive")
    assert best_additive < 0.99  # exp of a sum is not a sum of functions


def test_with_pruning_or_a_formula_the_final_model_keeps_its_held_out_rows():
    x, y = _noisy_linear(100, 2)
    run, selection = choose(Dataset(x, y), _base(3, prune=True))
    assert run.validation is not None
    assert run.validation[0].shape[0] == round(VALIDATION_FRACTION * 100)
    assert run.model.recorded_inputs.shape[0] == 100 - round(VALIDATION_FRACTION * 100)
    assert "pruning" in selection.reason


def test_fast_trains_one_model_early_stopped_on_held_out_rows():
    x, y = _noisy_linear(100, 3)
    run, selection = choose(Dataset(x, y), _base(3), fast=True)
    assert selection.trials == [] and selection.chosen == candidates(100, 3, fast=True)[0]
    assert run.validation is not None and selection.val_score == validation_score(run)


def test_row_losses_and_the_validation_score_against_slow_versions():
    x, y = _noisy_linear(80, 4)
    run = run_pipeline(Dataset(x, y), _base(3, grids=(3,), steps=5, validation_fraction=0.25))
    xv, yv = run.validation
    model = run.model.eval()
    with torch.no_grad():
        slow = [float((model(xv[i:i + 1]) - yv[i:i + 1]).pow(2).mean()) for i in range(len(xv))]
    assert row_losses(run).tolist() == pytest.approx(slow, rel=1e-12)
    with torch.no_grad():
        pred = model(xv)[:, 0]
    r2 = 1 - float(((yv[:, 0] - pred) ** 2).sum() / ((yv[:, 0] - yv[:, 0].mean()) ** 2).sum())
    assert validation_score(run) == pytest.approx(r2, rel=1e-12)
    # class labels: the per-row cross-entropy and the accuracy
    labels = (y[:, 0] > 0).long()
    run = run_pipeline(Dataset(x, labels), PipelineOptions(
        widths=(3, 2), grids=(3,), steps=5, standardize_inputs=True, seed=0,
        validation_fraction=0.25, fit_options={"progress": False,
                                               "loss_fn": torch.nn.functional.cross_entropy}))
    xv, yv = run.validation
    logits = run.model.eval()(xv).detach()
    slow = [float(-torch.log_softmax(logits[i], 0)[yv[i]]) for i in range(len(yv))]
    assert row_losses(run).tolist() == pytest.approx(slow, rel=1e-12)
    assert validation_score(run) == pytest.approx(float((logits.argmax(1) == yv).double().mean()))
