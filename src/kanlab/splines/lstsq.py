"""Least-squares spline fits: one batched, ridge-regularised solve per input.

Every input ``i`` of a layer has its own basis matrix ``A_i`` ``(N, n_basis)``; all outputs share
it, so one solve per input takes all outputs as right-hand sides. The normal equations
``(A_iᵀA_i + λ_i I) C_i = A_iᵀ Y_i`` are formed and solved by Cholesky in float64 whatever the
model's dtype (the systems are tiny, ``n_basis × n_basis``), with ``λ_i = ridge · mean(diag
A_iᵀA_i)``. The ridge keeps systems with empty knot intervals, duplicate samples or fewer samples
than basis functions solvable, and pulls coefficients without data towards zero. Where Cholesky
still fails (a basis with no data at all), a rank-revealing least-squares solve takes over, so a
fit never raises and never returns NaN for finite input.
"""

from __future__ import annotations

import torch

from kanlab.splines.basis import bspline_basis

__all__ = [
    "DEFAULT_RIDGE",
    "fit_coefficients",
    "ridge_solve",
    "transfer_coefficients",
    "transfer_design",
]

DEFAULT_RIDGE = 1e-10


def ridge_solve(
    gram: torch.Tensor, rhs: torch.Tensor, ridge: float = DEFAULT_RIDGE, refine_steps: int = 2
) -> torch.Tensor:
    """Solve ``(gram + λ I) c = rhs`` per batch entry, robustly.

    Args:
        gram: symmetric positive semi-definite matrices, shape ``(in, n, n)``.
        rhs: right-hand sides, shape ``(in, n, out)``.
        ridge: relative ridge; ``λ = ridge * mean(diag(gram))`` per entry.
        refine_steps: steps of iterative refinement after the ridge solve.

    Returns:
        Solutions of shape ``(in, n, out)``, in float64.
    """
    gram = gram.to(torch.float64)
    rhs = rhs.to(torch.float64)
    n = gram.shape[-1]
    eye = torch.eye(n, dtype=gram.dtype, device=gram.device)
    scale = gram.diagonal(dim1=-2, dim2=-1).mean(-1).clamp_min(0)  # (in,)
    lam = (ridge * scale).clamp_min(torch.finfo(torch.float64).tiny)
    chol, info = torch.linalg.cholesky_ex(gram + lam[:, None, None] * eye)
    sol = torch.cholesky_solve(rhs, chol)
    # Iterative refinement towards the unregularised solution: the ridge's bias shrinks by
    # λ/(σ + λ) per step, so well-determined directions become exact while directions with
    # no data (σ ≪ λ) stay damped.
    for _ in range(refine_steps):
        sol = sol + torch.cholesky_solve(rhs - gram @ sol, chol)
    # An all-zero gram (zero diagonal) gets only the tiny floor as ridge: its solve divides by
    # ~1e-308 and returns huge finite values unless rhs is zero too, so it goes to pinv as well.
    bad = (info != 0) | (scale == 0) | ~torch.isfinite(sol).flatten(1).all(dim=1)
    if bool(bad.any()):
        # Rank-deficient even with the ridge (e.g. no data on this input's support).
        # pinv is rank-revealing (SVD) on every device, unlike lstsq's default CUDA driver.
        sol[bad] = torch.linalg.pinv(gram[bad], hermitian=True) @ rhs[bad]
    return sol


def fit_coefficients(
    x: torch.Tensor, y: torch.Tensor, knots: torch.Tensor, k: int, ridge: float = DEFAULT_RIDGE
) -> torch.Tensor:
    """Spline coefficients that best fit per-edge targets.

    Args:
        x: samples, shape ``(N, in)``.
        y: targets per edge, shape ``(N, in, out)``: ``y[n, i, j]`` is edge ``i -> j`` at
            ``x[n, i]``.
        knots: knot vectors, shape ``(in, n_knots)``.
        k: spline degree.

    Returns:
        Coefficients ``(out, in, n_basis)`` in ``x``'s dtype.
    """
    a = bspline_basis(x, knots, k).transpose(0, 1).to(torch.float64)  # (in, N, nb)
    gram = a.transpose(1, 2) @ a  # (in, nb, nb)
    rhs = a.transpose(1, 2) @ y.transpose(0, 1).to(torch.float64)  # (in, nb, out)
    return ridge_solve(gram, rhs, ridge).permute(2, 0, 1).to(x.dtype).contiguous()


def transfer_coefficients(
    x: torch.Tensor,
    old_knots: torch.Tensor,
    old_coef: torch.Tensor,
    new_knots: torch.Tensor,
    k: int,
    ridge: float = DEFAULT_RIDGE,
    *,
    new_k: int | None = None,
) -> torch.Tensor:
    """Coefficients on ``new_knots`` whose splines best match the old ones at the samples ``x``.

    Never forms the ``(N, in, out)`` tensor of edge values: with ``A`` the new basis and ``A₀``
    the old one, the right-hand side is ``(AᵀA₀) C₀``.

    Args:
        x: samples, shape ``(N, in)``.
        old_knots: ``(in, n_old_knots)``; old_coef: ``(out, in, n_old_basis)``.
        new_knots: ``(in, n_new_knots)``.
        k: degree of the old spline; ``new_k`` that of the new one (default ``k``).

    Returns:
        Coefficients ``(out, in, n_new_basis)`` in ``old_coef``'s dtype.
    """
    new_k = k if new_k is None else new_k
    with torch.no_grad():
        a_new = bspline_basis(x, new_knots, new_k).transpose(0, 1)  # (in, N, nb')
        a_old = bspline_basis(x, old_knots, k).transpose(0, 1)  # (in, N, nb)
        return transfer_design(a_new, a_old, old_coef, ridge)


def transfer_design(
    a_new: torch.Tensor, a_old: torch.Tensor, old_coef: torch.Tensor, ridge: float = DEFAULT_RIDGE
) -> torch.Tensor:
    """Least-squares transfer between two designs evaluated at the same samples, per input.

    Finds ``C`` minimising ``‖A C − A₀ C₀‖`` for every input and output, through the cross-Gram
    ``AᵀA₀`` (no ``(N, in, out)`` tensor). Designs may hold more than B-splines (a layer's
    linear tails, for instance).

    Shapes: a_new ``(in, N, n')``, a_old ``(in, N, n)``, old_coef ``(out, in, n)`` ->
    ``(out, in, n')`` in ``old_coef``'s dtype.
    """
    a_new = a_new.to(torch.float64)
    a_old = a_old.to(torch.float64)
    gram = a_new.transpose(1, 2) @ a_new  # (in, n', n')
    cross = a_new.transpose(1, 2) @ a_old  # (in, n', n)
    rhs = cross @ old_coef.permute(1, 2, 0).to(torch.float64)  # (in, n', out)
    return ridge_solve(gram, rhs, ridge).permute(2, 0, 1).to(old_coef.dtype).contiguous()
