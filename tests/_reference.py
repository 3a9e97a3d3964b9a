"""Slow, obvious oracles for the fast code in ``kanlab``."""

from __future__ import annotations

import torch


def cox_de_boor(x: torch.Tensor, knots: torch.Tensor, k: int) -> torch.Tensor:
    """Textbook Cox--de Boor over the whole knot vector, with 0/0 := 0.

    Degree 0 uses half-open intervals ``[t_i, t_{i+1})``. Shapes: x ``(B, in)``, knots
    ``(in, n_knots)`` -> ``(B, in, n_knots - k - 1)``.
    """
    t = knots.unsqueeze(0)  # (1, in, n)
    xe = x.unsqueeze(-1)  # (B, in, 1)
    b = ((xe >= t[..., :-1]) & (xe < t[..., 1:])).to(x.dtype)  # (B, in, n - 1)
    for q in range(1, k + 1):
        d1 = t[..., q:-1] - t[..., : -q - 1]
        d2 = t[..., q + 1 :] - t[..., 1:-q]
        a = torch.where(d1 > 0, (xe - t[..., : -q - 1]) / torch.where(d1 > 0, d1, 1), 0)
        c = torch.where(d2 > 0, (t[..., q + 1 :] - xe) / torch.where(d2 > 0, d2, 1), 0)
        b = a * b[..., :-1] + c * b[..., 1:]
    return b


def lstsq_per_input(basis: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Direct least squares per input: basis ``(N, in, nb)``, y ``(N, in, out)`` -> ``(out, in, nb)``."""
    sols = []
    for i in range(basis.shape[1]):
        sol = torch.linalg.lstsq(basis[:, i, :], y[:, i, :], driver="gelsd").solution  # (nb, out)
        sols.append(sol.T)
    return torch.stack(sols, dim=1)
