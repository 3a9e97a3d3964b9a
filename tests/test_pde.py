"""PDE helpers: derivatives against autograd, collocation points, the Poisson problem."""

import math

import pytest
import torch

import kanlab
from kanlab.errors import InputError
from kanlab.nn.mlp import MLP
from kanlab.science.pde import (
    POISSON,
    derivatives,
    h1_error,
    l2_error,
    sample_boundary,
    sample_interior,
)

D = torch.float64


def _autograd_derivatives(model, x):
    xr = x.clone().requires_grad_()
    u = model(xr)[:, 0]
    (g,) = torch.autograd.grad(u.sum(), xr, create_graph=True)
    h = torch.stack([torch.autograd.grad(g[:, i].sum(), xr, retain_graph=True)[0][:, i]
                     for i in range(x.shape[1])], 1)
    return u, g, h


@pytest.mark.parametrize("model", [kanlab.KAN([2, 4, 1], seed=0, dtype=D),
                                   MLP([2, 8, 1], seed=0, dtype=D)])
def test_derivatives_equal_autograd(model):
    x = sample_interior(20, [(-1, 1), (-1, 1)], dtype=D)
    for got, want in zip(derivatives(model, x), _autograd_derivatives(model, x)):
        torch.testing.assert_close(got, want, rtol=1e-9, atol=1e-10)
    u, _, d2u = derivatives(model, x)  # differentiable in the parameters
    d2u.sum().backward()
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad
               and p.dim() > 1)


def test_collocation_points_lie_where_they_should():
    box = [(-1.0, 1.0), (0.0, 2.0)]
    inside = sample_interior(100, box, dtype=D)
    assert inside.shape == (100, 2) and (inside[:, 0].abs() <= 1).all()
    assert ((inside[:, 1] >= 0) & (inside[:, 1] <= 2)).all()
    edge = sample_boundary(10, box, dtype=D)  # rounded up to 3 per face
    assert edge.shape == (12, 2)
    on_face = (edge[:, 0].abs() == 1) | (edge[:, 1] == 0) | (edge[:, 1] == 2)
    assert on_face.all()
    state = torch.random.get_rng_state()
    torch.testing.assert_close(sample_interior(5, box), sample_interior(5, box))
    assert torch.equal(torch.random.get_rng_state(), state)
    with pytest.raises(InputError, match="bounds"):
        sample_interior(5, [(1.0, -1.0)])


def test_poisson_source_is_the_laplacian_of_the_solution():
    x = sample_interior(50, POISSON.bounds, dtype=D)
    xr = x.clone().requires_grad_()
    u = POISSON.solution(xr)
    (g,) = torch.autograd.grad(u.sum(), xr, create_graph=True)
    lap = sum(torch.autograd.grad(g[:, i].sum(), xr, retain_graph=True)[0][:, i]
              for i in range(2))
    torch.testing.assert_close(lap, POISSON.source(x), rtol=1e-12, atol=1e-10)
    edge = sample_boundary(40, POISSON.bounds, dtype=D)
    assert POISSON.solution(edge).abs().max() < 1e-12  # sin(±π) = 0 and sin(π·1) = 0


def test_loss_and_errors_of_an_exact_model_are_zero():
    class Exact(torch.nn.Module):
        def forward(self, x):
            return POISSON.solution(x)[:, None]

    model = Exact()
    x = sample_interior(30, POISSON.bounds, dtype=D)
    edge = sample_boundary(20, POISSON.bounds, dtype=D)
    assert float(POISSON.loss(model, x, edge).detach()) < 1e-20
    assert l2_error(model, POISSON.solution, x) == 0.0
    assert h1_error(model, POISSON.solution, x) < 1e-12
    kan = kanlab.KAN([2, 3, 1], seed=0, dtype=D)
    assert h1_error(kan, POISSON.solution, x) > l2_error(kan, POISSON.solution, x) > 0
    assert math.isfinite(float(POISSON.loss(kan, x, edge).detach()))
