"""``batch_jacobian`` and ``batch_hessian`` against closed forms and per-sample autograd."""

import pytest
import torch

import kanlab
from kanlab.errors import InputError
from kanlab.science.pde import batch_hessian, batch_jacobian


def _points(n=7, d=2, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return torch.rand(n, d, dtype=torch.float64, generator=gen) * 2 - 1


def test_batch_jacobian_closed_form():
    x = _points()

    def f(t):  # (N, 2) -> (N, 3)
        return torch.stack([t[:, 0] * t[:, 1], torch.sin(t[:, 0]), t[:, 1] ** 3], dim=1)

    jac = batch_jacobian(f, x)
    x0, x1 = x[:, 0], x[:, 1]
    zero = torch.zeros_like(x0)
    want = torch.stack([torch.stack([x1, x0], 1), torch.stack([torch.cos(x0), zero], 1),
                        torch.stack([zero, 3 * x1**2], 1)], dim=1)
    torch.testing.assert_close(jac, want)


def test_batch_hessian_closed_form_with_mixed_partials():
    x = _points()
    hess = batch_hessian(lambda t: t[:, 0] ** 2 * t[:, 1] + torch.sin(t[:, 1]), x)
    x0, x1 = x[:, 0], x[:, 1]
    want = torch.stack([torch.stack([2 * x1, 2 * x0], 1),
                        torch.stack([2 * x0, -torch.sin(x1)], 1)], dim=1)
    torch.testing.assert_close(hess, want)
    linear = batch_hessian(lambda t: 3 * t.sum(1), x)  # no second derivative at all
    assert torch.equal(linear, torch.zeros(7, 2, 2, dtype=x.dtype))


def test_batch_helpers_match_per_sample_autograd_on_a_kan():
    model = kanlab.KAN([3, 4, 1], seed=0, dtype=torch.float64)
    x = _points(5, 3, seed=1)
    per_sample = torch.stack([torch.autograd.functional.jacobian(lambda t: model(t[None])[0], row)
                              for row in x])  # (N, 1, 3)
    torch.testing.assert_close(batch_jacobian(model, x), per_sample)
    hess = torch.stack([torch.autograd.functional.hessian(lambda t: model(t[None])[0, 0], row)
                        for row in x])
    torch.testing.assert_close(batch_hessian(model, x), hess)


def test_create_graph_makes_them_differentiable_in_the_parameters():
    model = kanlab.KAN([2, 3, 1], seed=0, dtype=torch.float64)
    x = _points()
    assert not batch_hessian(model, x).requires_grad
    loss = batch_hessian(model, x, create_graph=True).square().sum()
    loss.backward()
    assert float(model.layers[0].coef.grad.abs().sum()) > 0


def test_bad_shapes_are_clear_errors():
    with pytest.raises(InputError, match="expected \\(N, d\\)"):
        batch_jacobian(torch.sin, torch.zeros(3))
    with pytest.raises(InputError, match="one output per sample"):
        batch_hessian(lambda t: t, torch.zeros(3, 2))
    with pytest.raises(InputError, match="\\(N, m\\) or \\(N,\\)"):
        batch_jacobian(lambda t: t.sum(), torch.zeros(3, 2))
