"""The polish of a fit ``y ≈ c·f(a·x+b)+d`` (step 4 of :mod:`kanlab.symbolic.fitting`):
Levenberg–Marquardt on ``(a, b)`` with ``c, d`` eliminated by closed-form least squares
(variable projection), on all samples, from the point the grid search found.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from kanlab.symbolic.search import Samples, call

__all__ = ["State", "polish", "state_at"]

_LM_MAX_EVALUATIONS = 30  # trial steps of one polish
_F64_EPS = float(torch.finfo(torch.float64).eps)


@dataclass
class State:
    """Values of the fit at one ``(a, b)``, with ``c, d`` by least squares."""

    a: float
    b: float
    c: float
    d: float
    sse: float
    z: Tensor  # f(a·x+b)
    residual: Tensor  # y - (c·z + d)


def _slope(fn: Callable[[Tensor], Tensor], t: Tensor) -> Tensor:
    """``f'(t)`` elementwise: autograd, else central differences; non-finite slopes are 0."""
    g = None
    try:
        with torch.enable_grad():
            tt = t.detach().requires_grad_(True)
            z = fn(tt)
            if isinstance(z, Tensor) and z.requires_grad:
                (g,) = torch.autograd.grad(z.sum(), tt, allow_unused=True)
    except RuntimeError:  # e.g. inside torch.inference_mode, or f not differentiable
        g = None
    if g is None:
        h = 1e-6 * (1 + t.abs())
        g = (call(fn, t + h) - call(fn, t - h)) / (2 * h)
    return torch.nan_to_num(g.to(t.dtype), nan=0.0, posinf=0.0, neginf=0.0)


def state_at(fn: Callable[[Tensor], Tensor], s: Samples, a: float, b: float) -> State | None:
    """Closed-form ``c, d`` at ``(a, b)``; ``None`` if ``f`` is not finite at every sample."""
    z = call(fn, s.x * a + b)
    z_mean = z.mean()
    zc = z - z_mean
    szz, szy = (torch.stack([zc, s.yc]) @ zc).tolist()
    z_mean = float(z_mean)
    if not (math.isfinite(szz) and math.isfinite(szy) and math.isfinite(z_mean)):
        return None
    if szz <= (16 * _F64_EPS) ** 2 * (szz + s.n * z_mean**2):  # constant f(a·x+b)
        c = 0.0
        residual = s.yc
    else:
        c = szy / szz
        residual = s.yc - c * zc
    sse = float(residual @ residual)
    if not math.isfinite(sse):
        return None
    return State(a, b, c, s.y_mean - c * z_mean, sse, z, residual)


def polish(
    fn: Callable[[Tensor], Tensor],
    s: Samples,
    st: State,
    a_range: tuple[float, float],
    b_range: tuple[float, float],
) -> State:
    """Levenberg–Marquardt on ``(a, b)`` with ``c, d`` projected out; SSE never increases.

    The step solves the Kaufman variable-projection normal equations (Jacobian columns of
    ``a`` and ``b`` projected orthogonal to ``span(1, z)``), Jacobi-scaled and damped, with
    Nielsen's damping update. A parameter at a bound of its range whose step points outwards
    is held there (active set). Stops when a step lowers the SSE by less than a relative
    ``1e-10``, or a nearly undamped one by less than ``1e-6`` (a flat valley), when no step
    lowers it, or after ``_LM_MAX_EVALUATIONS`` trial steps.
    """
    lo, hi = (a_range[0], b_range[0]), (a_range[1], b_range[1])
    lam, nu = 1e-3, 2.0
    evaluations = 0
    while evaluations < _LM_MAX_EVALUATIONS:
        if st.sse <= 1e-28 * s.sst or st.c == 0.0:
            break
        g = _slope(fn, s.x * st.a + st.b)
        cols = torch.stack([g * s.x, g, st.z, st.residual])
        cols = cols - cols.mean(1, keepdim=True)
        (uu, uv, uz, ur), (_, vv, vz, vr), (_, _, zz, zr), _ = (cols @ cols.T).tolist()
        if not (all(map(math.isfinite, (uu, uv, uz, ur, vv, vz, vr, zz, zr))) and zz > 0):
            break
        # projected normal equations; the model's Jacobian is c times these columns
        jtj = (uu - uz * uz / zz, uv - uz * vz / zz, vv - vz * vz / zz)  # (00, 01, 11)
        jtr = ((ur - uz * zr / zz) / st.c, (vr - vz * zr / zz) / st.c)
        diag = (jtj[0], jtj[2])
        # a direction is identifiable if projecting out span(1, z) leaves some of its norm
        identifiable = (diag[0] > 1e-12 * uu, diag[1] > 1e-12 * vv)
        p = (st.a, st.b)
        improved = False
        while lam < 1e12 and evaluations < _LM_MAX_EVALUATIONS:
            # free: identifiable, and not at a bound with the descent direction outwards
            free = [
                identifiable[k]
                and not (p[k] <= lo[k] and jtr[k] < 0)
                and not (p[k] >= hi[k] and jtr[k] > 0)
                for k in range(2)
            ]
            if not any(free):
                break
            scale = [1 / math.sqrt(diag[k]) if free[k] else 0.0 for k in range(2)]
            rhs = [jtr[k] * scale[k] for k in range(2)]
            off = jtj[1] * scale[0] * scale[1] if all(free) else 0.0
            det = (1 + lam) ** 2 - off * off  # > 0: |off| <= 1 by Cauchy-Schwarz
            step = (
                ((1 + lam) * rhs[0] - off * rhs[1]) / det * scale[0],
                ((1 + lam) * rhs[1] - off * rhs[0]) / det * scale[1],
            )
            new_p = tuple(min(max(p[k] + step[k], lo[k]), hi[k]) for k in range(2))
            if new_p == p:
                break
            new = state_at(fn, s, *new_p)
            evaluations += 1
            if new is not None and new.sse < st.sse:
                da, db = new_p[0] - p[0], new_p[1] - p[1]
                predicted = st.c**2 * (
                    2 * (da * jtr[0] + db * jtr[1])
                    - (da * da * jtj[0] + 2 * da * db * jtj[1] + db * db * jtj[2])
                )
                rho = (st.sse - new.sse) / predicted if predicted > 0 else 0.0
                gain = (st.sse - new.sse) / st.sse
                improved = gain > 1e-10 and (lam > 1e-2 or gain > 1e-6)
                lam = max(lam * max(1 / 3, 1 - (2 * rho - 1) ** 3), 1e-12)
                nu = 2.0
                st = new
                break
            lam *= nu
            nu *= 2
        if not improved:
            break
    return st
