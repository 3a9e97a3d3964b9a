"""The loss Hessian in the parameters: exact for a loss quadratic in them, symmetric, against
finite differences; clear errors."""

import pytest
import torch

import kanlab
from kanlab.errors import InputError
from kanlab.training.landscape import loss_hessian

D = torch.float64


def _x(n=40, d=2, seed=0):
    return torch.rand(n, d, generator=torch.Generator().manual_seed(seed), dtype=D) * 2 - 1


def test_a_loss_quadratic_in_the_coefficients_has_hessian_two_a_transpose_a_over_n():
    model = kanlab.KAN([2, 1], seed=0, dtype=D, grid_size=3, base_fn="zero", bias=False)
    for p in model.parameters():
        p.requires_grad_(False)
    model.layers[0].coef.requires_grad_(True)
    x, y = _x(), _x(d=1, seed=1)
    hessian, names = loss_hessian(model, x, y)
    basis = model.layers[0].basis(x).reshape(len(x), -1)  # (N, in·nb): y = basis @ coef
    torch.testing.assert_close(hessian, 2 * basis.T @ basis / len(x), rtol=1e-12, atol=1e-14)
    assert names[0] == "layers.0.coef[0]" and len(names) == hessian.shape[0]


def test_the_hessian_is_symmetric_and_matches_finite_differences():
    model = kanlab.KAN([2, [1, 1], 1], seed=0, dtype=D, grid_size=3)
    for p in model.parameters():
        p.requires_grad_(False)
    coef = model.layers[1].coef
    coef.requires_grad_(True)
    x, y = _x(), _x(d=1, seed=1)
    hessian, _ = loss_hessian(model, x, y)
    torch.testing.assert_close(hessian, hessian.T, rtol=1e-10, atol=1e-12)

    def grad_at(values):
        with torch.no_grad():
            coef.copy_(values)
        loss = torch.nn.functional.mse_loss(model(x), y)
        return torch.autograd.grad(loss, coef)[0].reshape(-1)

    base, h = coef.detach().clone(), 1e-6
    k = 4
    step = torch.zeros_like(base).reshape(-1)
    step[k] = h
    column = (grad_at(base + step.reshape(base.shape)) - grad_at(base - step.reshape(base.shape)))
    torch.testing.assert_close(hessian[:, k], column / (2 * h), rtol=1e-5, atol=1e-8)


def test_too_many_parameters_is_a_clear_error():
    with pytest.raises(InputError, match="trainable parameters"):
        loss_hessian(kanlab.KAN([64, 64, 1], seed=0), _x(d=64), _x(d=1))
