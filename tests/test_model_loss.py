"""Losses that see the model and the inputs (pykan's pred_fn) inside fit: the same training as
the plain loss when they compute it, the Poisson problem solved through fit with grid updates,
a grid schedule and sparsity, labels of any shape, validation, clear errors."""

import pytest
import torch

import kanlab
from kanlab.errors import InputError
from kanlab.science.pde import POISSON, l2_error, sample_boundary, sample_interior
from kanlab.training import ModelLoss

D = torch.float64


def _data(n=200, seed=0):
    gen = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 2, generator=gen, dtype=D) * 2 - 1
    return {"train_input": x, "train_label": (x[:, :1] * x[:, 1:]).sin()}


def test_a_model_loss_that_computes_the_mse_trains_exactly_as_the_default():
    data = _data()
    plain, wrapped = (kanlab.KAN([2, 3, 1], seed=0, dtype=D) for _ in range(2))
    a = kanlab.fit(plain, data, steps=6, progress=False)
    mse = ModelLoss(lambda model, x, y: (model(x) - y).square().mean())
    b = kanlab.fit(wrapped, data, steps=6, progress=False, loss_fn=mse)
    assert a.loss == pytest.approx(b.loss, rel=1e-10, abs=1e-14)
    torch.testing.assert_close(plain(data["train_input"]), wrapped(data["train_input"]))


def _poisson_data(n_interior, n_boundary):
    gen = torch.Generator().manual_seed(0)
    interior = sample_interior(n_interior, POISSON.bounds, generator=gen, dtype=D)
    boundary = sample_boundary(n_boundary, POISSON.bounds, generator=gen, dtype=D)
    x = torch.cat([interior, boundary])
    on_boundary = torch.cat([torch.zeros(n_interior, 1, dtype=D),
                             torch.ones(n_boundary, 1, dtype=D)])  # the label: which is which
    return x, on_boundary


def poisson(model, x, on_boundary):
    edge = on_boundary[:, 0] > 0.5
    return POISSON.loss(model, x[~edge], x[edge])


def test_the_poisson_problem_trains_through_fit_with_its_grid_machinery():
    x, on_boundary = _poisson_data(600, 120)
    test = sample_interior(500, POISSON.bounds, generator=torch.Generator().manual_seed(9),
                           dtype=D)
    model = kanlab.KAN([2, 5, 1], grid_size=3, seed=0, dtype=D)
    start = l2_error(model, POISSON.solution, test)
    history = kanlab.fit(model, {"train_input": x, "train_label": on_boundary}, steps=30,
                         loss_fn=ModelLoss(poisson), grid_schedule=[3, 6], lamb=1e-5,
                         progress=False)
    assert model.grid_size == [6, 6]
    assert any("update grid" in e or "undone" in e for _, e in history.events)
    assert history.loss[-1] < 0.05 * history.loss[0]
    assert l2_error(model, POISSON.solution, test) < 0.2 * start


def test_labels_of_any_shape_and_validation_with_a_model_loss():
    x, on_boundary = _poisson_data(200, 60)
    labels = on_boundary.expand(-1, 3).clone()  # (N, 3): not the model's (N, 1)
    model = kanlab.KAN([2, 3, 1], seed=0, dtype=D)
    history = kanlab.fit(model, {"train_input": x, "train_label": labels}, steps=4,
                         loss_fn=ModelLoss(poisson), validation=0.25, progress=False)
    assert all(v == v for v in history.val_loss)  # finite: evaluated with gradients on
    with pytest.raises(InputError, match="the model outputs"):
        kanlab.fit(model, {"train_input": x, "train_label": labels}, steps=1, progress=False)


def test_a_model_loss_must_be_callable_and_scalar():
    with pytest.raises(InputError, match="callable fn"):
        ModelLoss(3.0)
    data = _data()
    model = kanlab.KAN([2, 3, 1], seed=0, dtype=D)
    with pytest.raises(InputError, match="scalar tensor"):
        kanlab.fit(model, data, steps=1, progress=False,
                   loss_fn=ModelLoss(lambda m, x, y: m(x) - y))
