"""LBFGS that keeps learning at high accuracy.

``torch.optim.LBFGS`` only stores a curvature pair when ``yᵀs > 1e-10`` (a constant in its code),
and its strong-Wolfe line search stops bracketing at ``1e-9``. Near the optimum of a KAN fit in
float64 (RMSE around 1e-5, so ``yᵀs`` around 1e-10) it then stops storing pairs, falls back to
gradient steps and stalls; the KAN paper's scaling laws (test RMSE ∝ G⁻³ … G⁻⁴) need the fit to go
on. This subclass runs the same algorithm (two-loop recursion, strong-Wolfe line search from
``torch.optim.lbfgs``) with both thresholds as arguments.

It also survives overflow: when the line search ends at a point where the loss or gradient is
not finite (an ``exp`` edge stepped too far, say), the step is shrunk tenfold until they are,
and the curvature memory that proposed it is dropped. torch's LBFGS writes NaN into the
parameters instead.
"""

from __future__ import annotations

import math

import torch
from torch.optim.lbfgs import _strong_wolfe

__all__ = ["LBFGS"]


def _finite(loss: float, grad: torch.Tensor, t: float) -> bool:
    return math.isfinite(loss) and math.isfinite(t) and bool(torch.isfinite(grad).all())


def _finite_step(obj, x0, t: float, d: torch.Tensor, shrink: float = 0.1, tries: int = 12):
    """Shrink the step ``t`` until loss and gradient are finite: ``(loss, grad, t, evals)``;
    ``t = 0`` when none of ``tries`` steps is."""
    t = t if math.isfinite(t) and t > 0 else 1.0
    for n in range(1, tries + 1):
        t *= shrink
        loss, grad = obj(x0, t, d)
        if _finite(loss, grad, t):
            return loss, grad, t, n
    return math.nan, grad, 0.0, tries


class LBFGS(torch.optim.LBFGS):
    """``torch.optim.LBFGS`` with a settable curvature threshold ``tolerance_ys``.

    Args:
        params: parameters to optimise.
        tolerance_ys: a curvature pair ``(s, y)`` enters the history when ``yᵀs`` exceeds it
            (torch: 1e-10 fixed; here 1e-32 by default, as pykan's vendored copy).
        **kwargs: ``torch.optim.LBFGS``'s options (``lr``, ``max_iter``, ``max_eval``,
            ``tolerance_grad``, ``tolerance_change``, ``history_size``, ``line_search_fn``);
            ``tolerance_change`` also bounds the line search's bracket.
    """

    def __init__(self, params, *, tolerance_ys: float = 1e-32, **kwargs) -> None:
        super().__init__(params, **kwargs)
        self.tolerance_ys = tolerance_ys

    @torch.no_grad()
    def step(self, closure):  # type: ignore[override]
        """Up to ``max_iter`` quasi-Newton iterations; returns the loss before the first."""
        group = self.param_groups[0]
        lr, max_iter, max_eval = group["lr"], group["max_iter"], group["max_eval"]
        tol_grad, tol_change = group["tolerance_grad"], group["tolerance_change"]
        history_size = group["history_size"]
        closure = torch.enable_grad()(closure)
        state = self.state[self._params[0]]
        state.setdefault("func_evals", 0)
        state.setdefault("n_iter", 0)

        orig_loss = closure()
        loss = float(orig_loss)
        evals = 1
        state["func_evals"] += 1
        g = self._gather_flat_grad()
        if g.abs().max() <= tol_grad:
            return orig_loss

        d, t = state.get("d"), state.get("t")
        old_dirs = state.setdefault("old_dirs", [])
        old_stps = state.setdefault("old_stps", [])
        ro = state.setdefault("ro", [])
        h_diag = state.get("H_diag", 1.0)
        prev_g, prev_loss = state.get("prev_flat_grad"), state.get("prev_loss")

        n_local = 0
        while n_local < max_iter:
            n_local += 1
            state["n_iter"] += 1
            if state["n_iter"] == 1:
                d = g.neg()
                old_dirs.clear(), old_stps.clear(), ro.clear()
                h_diag = 1.0
            else:
                y = g.sub(prev_g)
                s = d.mul(t)
                ys = y.dot(s)
                if ys > self.tolerance_ys:
                    if len(old_dirs) == history_size:
                        old_dirs.pop(0), old_stps.pop(0), ro.pop(0)
                    old_dirs.append(y)
                    old_stps.append(s)
                    ro.append(1.0 / ys)
                    h_diag = ys / y.dot(y)
                # two-loop recursion: d = -H g
                alphas = [None] * len(old_dirs)
                q = g.neg()
                for i in range(len(old_dirs) - 1, -1, -1):
                    alphas[i] = old_stps[i].dot(q) * ro[i]
                    q.add_(old_dirs[i], alpha=-alphas[i])
                d = r = q.mul(h_diag)
                for i in range(len(old_dirs)):
                    beta = old_dirs[i].dot(r) * ro[i]
                    r.add_(old_stps[i], alpha=alphas[i] - beta)

            prev_g = g.clone(memory_format=torch.contiguous_format)
            prev_loss = loss
            t = min(1.0, 1.0 / float(g.abs().sum())) * lr if state["n_iter"] == 1 else lr
            gtd = g.dot(d)
            if gtd > -tol_change:
                break

            if group["line_search_fn"] == "strong_wolfe":
                x0 = self._clone_param()

                def obj(x, t, d):
                    return self._directional_evaluate(closure, x, t, d)

                new_loss, new_g, new_t, ls_evals = _strong_wolfe(
                    obj, x0, t, d, loss, g, gtd, tolerance_change=tol_change
                )
                if not _finite(new_loss, new_g, new_t):  # stepped into overflow: back off
                    new_loss, new_g, new_t, more = _finite_step(obj, x0, t, d)
                    ls_evals += more
                    old_dirs.clear(), old_stps.clear(), ro.clear()  # the memory misled us
                    h_diag = 1.0
                    if new_t == 0.0:  # no finite point along d: stop here, parameters unchanged
                        evals += ls_evals
                        state["func_evals"] += ls_evals
                        break
                loss, g, t = new_loss, new_g, new_t
                self._add_grad(t, d)
                opt_cond = g.abs().max() <= tol_grad
            else:
                self._add_grad(t, d)
                ls_evals = 0
                opt_cond = False
                if n_local != max_iter:
                    with torch.enable_grad():
                        loss = float(closure())
                    g = self._gather_flat_grad()
                    opt_cond = g.abs().max() <= tol_grad
                    ls_evals = 1
            evals += ls_evals
            state["func_evals"] += ls_evals

            if n_local == max_iter or evals >= max_eval or opt_cond:
                break
            if d.mul(t).abs().max() <= tol_change or abs(loss - prev_loss) < tol_change:
                break

        state.update(d=d, t=t, H_diag=h_diag, prev_flat_grad=prev_g, prev_loss=prev_loss)
        return orig_loss
