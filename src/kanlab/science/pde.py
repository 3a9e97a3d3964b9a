"""Physics-informed losses: a model's derivatives in its inputs, collocation points, and the
KAN paper's Poisson problem (§3.4).

For a :class:`~kanlab.nn.model.KAN`, :func:`derivatives` uses forward-mode jets
(:meth:`~kanlab.nn.model.KAN.forward_derivatives`, one pass for value, gradient and the pure
second derivatives); for any other module it uses autograd. Both are differentiable, so the
results can go into a loss.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from kanlab._autodiff import batch_hessian, batch_jacobian, column_gradients
from kanlab._validation import check_positive_int
from kanlab.errors import InputError
from kanlab.nn.model import KAN

__all__ = ["POISSON", "PoissonProblem", "batch_hessian", "batch_jacobian", "derivatives",
           "h1_error", "l2_error", "sample_boundary", "sample_interior"]


def derivatives(model: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Value, gradient and pure second derivatives of a scalar-output model.

    Args:
        model: a module ``(N, d) -> (N, 1)``.
        x: points ``(N, d)``.

    Returns:
        ``u`` ``(N,)``, ``∇u`` ``(N, d)``, ``(∂²u/∂x_i²)_i`` ``(N, d)`` (their sum is the
        Laplacian). Differentiable in the model's parameters.
    """
    if x.dim() != 2:
        raise InputError(f"x has shape {tuple(x.shape)}; expected (N, d)")
    if isinstance(model, KAN):
        if model.widths[-1] != 1:
            raise InputError(f"derivatives need one output; the model has {model.widths[-1]}")
        u, du, d2u = model.forward_derivatives(x)  # (N, 1), (N, d, 1), (N, d, 1)
        return u[:, 0], du[..., 0], d2u[..., 0]
    xr = x.detach().requires_grad_()
    u = model(xr)
    if u.dim() != 2 or u.shape[1] != 1:
        raise InputError(f"derivatives need outputs (N, 1); got {tuple(u.shape)}")
    grad = column_gradients(u, xr, create_graph=True)[:, 0]  # (N, d)
    second = column_gradients(grad, xr, create_graph=True)  # (N, d, d)
    return u[:, 0], grad, second.diagonal(dim1=1, dim2=2)


def _box(bounds: Sequence[tuple[float, float]]) -> torch.Tensor:
    b = torch.as_tensor(bounds, dtype=torch.float64)
    if b.dim() != 2 or b.shape[1] != 2 or not bool((b[:, 1] > b[:, 0]).all()):
        raise InputError(f"bounds must be [(low, high), ...] with low < high; got {bounds!r}")
    return b


def sample_interior(n: int, bounds: Sequence[tuple[float, float]], *,
                    generator: torch.Generator | None = None,
                    dtype: torch.dtype | None = None) -> torch.Tensor:
    """``n`` points uniform in the box ``bounds`` (one ``(low, high)`` per dimension):
    ``(n, d)``, drawn in float64 from ``generator`` (default: a fixed seed, never the global
    RNG)."""
    check_positive_int("n", n)
    b = _box(bounds)
    gen = generator if generator is not None else torch.Generator().manual_seed(0)
    u = torch.rand(n, b.shape[0], generator=gen, dtype=torch.float64)
    return (b[:, 0] + u * (b[:, 1] - b[:, 0])).to(dtype or torch.get_default_dtype())


def sample_boundary(n: int, bounds: Sequence[tuple[float, float]], *,
                    generator: torch.Generator | None = None,
                    dtype: torch.dtype | None = None) -> torch.Tensor:
    """``n`` points on the faces of the box, the same number on each face (``n`` rounded up
    to a multiple of ``2d``): ``(n', d)``."""
    check_positive_int("n", n)
    b = _box(bounds)
    d = b.shape[0]
    per_face = math.ceil(n / (2 * d))
    gen = generator if generator is not None else torch.Generator().manual_seed(1)
    faces = []
    for i in range(d):
        for side in (0, 1):
            u = torch.rand(per_face, d, generator=gen, dtype=torch.float64)
            pts = b[:, 0] + u * (b[:, 1] - b[:, 0])
            pts[:, i] = b[i, side]
            faces.append(pts)
    return torch.cat(faces).to(dtype or torch.get_default_dtype())


@dataclass(frozen=True)
class PoissonProblem:
    """``Δu = f`` on a box with Dirichlet data ``u = g`` on its boundary, and the solution.

    Attributes:
        bounds: the box. solution: ``u(x)`` ``(N, d) -> (N,)``. source: ``f(x)``.
        alpha: weight of the interior residual in :meth:`loss` (the paper: 0.01).
    """

    bounds: tuple[tuple[float, float], ...]
    solution: Callable[[torch.Tensor], torch.Tensor]
    source: Callable[[torch.Tensor], torch.Tensor]
    alpha: float = 0.01

    def loss(self, model: nn.Module, interior: torch.Tensor,
             boundary: torch.Tensor) -> torch.Tensor:
        """``alpha · mean((Δu − f)²) + mean((u − g)²)`` (the paper's ``α·ℓ_i + ℓ_b``)."""
        _, _, d2u = derivatives(model, interior)
        residual = d2u.sum(1) - self.source(interior)
        u_b = model(boundary)[:, 0]
        return self.alpha * residual.pow(2).mean() + (u_b - self.solution(boundary)).pow(2).mean()


def _poisson_solution(x: torch.Tensor) -> torch.Tensor:
    return torch.sin(math.pi * x[:, 0]) * torch.sin(math.pi * x[:, 1] ** 2)


def _poisson_source(x: torch.Tensor) -> torch.Tensor:
    a, b = x[:, 0], x[:, 1]
    pi = math.pi
    return (-(pi**2) * (1 + 4 * b**2) * torch.sin(pi * a) * torch.sin(pi * b**2)
            + 2 * pi * torch.sin(pi * a) * torch.cos(pi * b**2))


#: the KAN paper's §3.4 problem: ``u = sin(πx)·sin(πy²)`` on ``[−1, 1]²``
POISSON = PoissonProblem(((-1.0, 1.0), (-1.0, 1.0)), _poisson_solution, _poisson_source, 0.01)


@torch.no_grad()
def l2_error(model: nn.Module, solution: Callable, x: torch.Tensor) -> float:
    """Root mean square of ``u_model − u`` at ``x`` (the paper's L2 error)."""
    return float((model(x)[:, 0] - solution(x)).pow(2).mean().sqrt())


def h1_error(model: nn.Module, solution: Callable, x: torch.Tensor) -> float:
    """``sqrt(mean((u_model − u)² + |∇u_model − ∇u|²))`` at ``x`` (the paper's H1 error);
    the exact gradient comes from autograd on ``solution``."""
    u, grad, _ = derivatives(model, x)
    xr = x.detach().requires_grad_()
    exact = solution(xr)
    (exact_grad,) = torch.autograd.grad(exact.sum(), xr)
    err = (u.detach() - exact.detach()).pow(2) + (grad.detach() - exact_grad).pow(2).sum(1)
    return float(err.mean().sqrt())
