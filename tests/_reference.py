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
    """Direct least squares per input.

    Shapes: basis ``(N, in, nb)``, y ``(N, in, out)`` -> ``(out, in, nb)``.
    """
    sols = []
    for i in range(basis.shape[1]):
        sol = torch.linalg.lstsq(basis[:, i, :], y[:, i, :], driver="gelsd").solution  # (nb, out)
        sols.append(sol.T)
    return torch.stack(sols, dim=1)


def cox_de_boor_derivative(x: torch.Tensor, knots: torch.Tensor, k: int, d: int) -> torch.Tensor:
    """``d``-th derivative of :func:`cox_de_boor` by the textbook recursion on the degree.

    ``B'_{i,k} = k (B_{i,k-1} / (t_{i+k} - t_i) - B_{i+1,k-1} / (t_{i+k+1} - t_{i+1}))`` with
    ``1/0 := 0``. Shapes as :func:`cox_de_boor`.
    """
    if d == 0:
        return cox_de_boor(x, knots, k)
    nb = knots.shape[1] - k - 1
    if d > k:
        return x.new_zeros(x.shape + (nb,))
    lower = cox_de_boor_derivative(x, knots, k - 1, d - 1)  # (B, in, nb + 1)
    t = knots.unsqueeze(0)
    d1 = t[..., k:-1] - t[..., : -k - 1]  # t_{i+k} - t_i, (1, in, nb)
    d2 = t[..., k + 1 :] - t[..., 1:-k]  # t_{i+k+1} - t_{i+1}
    a = torch.where(d1 > 0, lower[..., :-1] / torch.where(d1 > 0, d1, 1), 0)
    c = torch.where(d2 > 0, lower[..., 1:] / torch.where(d2 > 0, d2, 1), 0)
    return k * (a - c)


def scipy_basis(x: torch.Tensor, knots: torch.Tensor, k: int, d: int = 0) -> torch.Tensor:
    """Basis (or its ``d``-th derivative) from ``scipy.interpolate.BSpline.basis_element``.

    Each function is evaluated on its own knots, zero outside its support. Use at points away
    from knots. Shapes: x ``(B, in)``, knots ``(in, n_knots)`` -> ``(B, in, n_knots - k - 1)``,
    float64.
    """
    import numpy as np
    from scipy.interpolate import BSpline

    xs = x.detach().cpu().double().numpy()
    ts = knots.detach().cpu().double().numpy()
    nb = ts.shape[1] - k - 1
    out = np.zeros(xs.shape + (nb,))
    for i in range(ts.shape[0]):
        for j in range(nb):
            b = BSpline.basis_element(ts[i, j : j + k + 2], extrapolate=False)
            out[:, i, j] = np.nan_to_num(b(xs[:, i], nu=d), nan=0.0)
    return torch.from_numpy(out)
