"""What ensembles give users (issue 20): members ranked on held-out rows, every member's formula
and the formulas the members agree on; clear errors."""

import math

import pytest
import torch

import kanlab
from kanlab.apps.ensemble_runs import (
    MemberFormula,
    formula_agreement,
    member_formulas,
    run_ensemble,
)
from kanlab.apps.pipeline import PipelineOptions
from kanlab.errors import InputError

D = torch.float64


def _data(n=400):
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(n, 2, generator=gen, dtype=D) * 2 - 1
    xt = torch.rand(200, 2, generator=gen, dtype=D) * 2 - 1

    def f(v):
        return (v[:, :1] ** 2 + torch.sin(v[:, 1:])).to(D)

    return kanlab.data.Dataset(x, f(x), xt, f(xt))


def test_every_member_recovers_its_formula_and_the_members_agree():
    data = _data()
    ens = kanlab.Ensemble([2, 1], members=3, seeds=[0, 1, 2], dtype=D)
    kanlab.fit(ens, data, steps=20, progress=False)
    found = member_formulas(ens, data, prune=False, lib=["x", "x^2", "sin"], steps=10,
                            var_names=["a", "b"])
    assert [f.member for f in found] == [0, 1, 2]
    assert all(f.rmse < 1e-8 and f.widths == [2, 1] for f in found)
    (text, members, rmse), *others = formula_agreement(found)
    assert text == "a**2 + sin(b)" and members == [0, 1, 2] and rmse < 1e-8 and not others


def test_agreement_orders_by_count_then_accuracy():
    rows = formula_agreement([MemberFormula(0, [2, 1], None, "(numeric)", math.inf),
                              MemberFormula(1, [2, 1], None, "b", 0.2),
                              MemberFormula(2, [2, 1], None, "a", 0.1),
                              MemberFormula(3, [2, 1], None, "b", 0.3)])
    assert rows == [("b", [1, 3], 0.2), ("a", [2], 0.1), ("(numeric)", [0], math.inf)]


def test_run_ensemble_ranks_members_on_held_out_rows():
    options = PipelineOptions(widths=(2, 2, 1), grids=(3, 5), steps=6, seed=4, dtype=D,
                              validation_fraction=0.25, fit_options={"progress": False})
    run = run_ensemble(_data(), options, 3)
    assert run.ensemble.members == 3 and run.ensemble.grid_size == [5, 5]
    assert len(run.val_losses) == 3 and all(math.isfinite(v) for v in run.val_losses)
    assert run.best_member == min(range(3), key=run.val_losses.__getitem__)
    assert len(run.history) == 3 and run.history[0].step[-1] == 6
    assert len(set(run.val_losses)) == 3  # seeds 4, 5, 6: three different members
    with pytest.raises(InputError, match="act on one model"):
        run_ensemble(_data(), PipelineOptions(widths=(2, 1), prune=True), 2)
    with pytest.raises(InputError, match="members must be an integer >= 1"):
        run_ensemble(_data(), options, 0)
