"""LBFGS that keeps learning at high accuracy, with little overhead per evaluation.

``torch.optim.LBFGS`` only stores a curvature pair when ``yᵀs > 1e-10`` (a constant in its code),
and its strong-Wolfe line search stops bracketing at ``1e-9``. Near the optimum of a KAN fit in
float64 (RMSE around 1e-5, so ``yᵀs`` around 1e-10) it then stops storing pairs, falls back to
gradient steps and stalls; the KAN paper's scaling laws (test RMSE ∝ G⁻³ … G⁻⁴) need the fit to go
on. :class:`LBFGS` runs the same algorithm (two-loop recursion; the bracketing and zoom strong-Wolfe
line search with cubic interpolation of minFunc, which torch ports) with both thresholds as
arguments, and takes the same steps as torch's where those thresholds agree (to the bit with
``torch.dot`` for its dot products; it sums them as ``(a * b).sum()``, as an ensemble's batched
LBFGS sums its members' rows, so that a member takes a lone model's steps to the bit).

It is also cheaper per evaluation: the line search's scalars are Python floats (torch's are 0-d
tensors, a dispatcher call per arithmetic operation), and a trial point is written into the
parameters by one fused copy of ``x₀ + t·d``, with no restore afterwards. On a small KAN, where one
loss-and-gradient evaluation takes about a millisecond, that overhead was a fifth of the fit.

It also survives overflow: when the line search ends at a point where the loss or gradient is
not finite (an ``exp`` edge stepped too far, say), the step is shrunk tenfold until they are,
and the curvature memory that proposed it is dropped. torch's LBFGS writes NaN into the
parameters instead.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator
from typing import Any

import torch

__all__ = ["LBFGS", "drive", "line_search", "strong_wolfe_search"]

#: ``evaluate(t) -> (loss, flat gradient, gradient · d)`` at ``x₀ + t·d``
Evaluate = Callable[[float], tuple[float, torch.Tensor, float]]


def _cubic_min(x1: float, f1: float, g1: float, x2: float, f2: float, g2: float,
               lo: float | None = None, hi: float | None = None) -> float:
    """Minimiser of the cubic through ``(x1, f1, f'=g1)`` and ``(x2, f2, f'=g2)``, clipped to
    ``[lo, hi]`` (default: the interval between ``x1`` and ``x2``); the middle of that interval
    when the cubic has no minimiser (or the data are degenerate)."""
    if lo is None or hi is None:
        lo, hi = min(x1, x2), max(x1, x2)
    try:
        d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
        disc = d1 * d1 - g1 * g2
        if not disc >= 0:  # also NaN
            return (lo + hi) / 2
        d2 = math.sqrt(disc)
        if x1 <= x2:
            t = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
        else:
            t = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
    except (ZeroDivisionError, OverflowError):
        return (lo + hi) / 2
    if math.isnan(t):
        return (lo + hi) / 2
    return min(max(t, lo), hi)


def drive(search: Generator[float, tuple, Any], evaluate: Evaluate) -> Any:
    """Run a line search written as a generator (it yields trial steps ``t`` and is sent
    ``evaluate(t)``) to its end; returns what it returns. An ensemble drives many such
    searches at once, one per member, evaluating their trial steps in one batched pass."""
    try:
        t = next(search)
        while True:
            t = search.send(evaluate(t))
    except StopIteration as stop:
        return stop.value


def strong_wolfe_search(
    t: float, d_norm: float, f: float, g: Any, gtd: float, *,
    c1: float = 1e-4, c2: float = 0.9, tolerance_change: float = 1e-9, max_ls: int = 25,
) -> Generator[float, tuple[float, Any, float], tuple[float, Any, float, int]]:
    """A step ``t`` along ``d`` meeting the strong Wolfe conditions (bracketing, then zoom),
    as a generator: it yields each trial step and is sent ``(loss, gradient, gradient · d)``
    there (:func:`drive`). The gradients are only passed along, never computed with: a
    caller may send any handle for them.

    Args:
        t: the first trial step; d_norm: ``max |d|`` (the bracket's stopping scale).
        f, g, gtd: loss, gradient and directional derivative at ``t = 0``.

    Returns:
        ``(loss, gradient, t, evaluations)`` at the accepted step.
    """
    f_new, g_new, gtd_new = yield t
    evals = 1
    t_prev, f_prev, g_prev, gtd_prev = 0.0, f, g, gtd
    done = False
    ls_iter = 0
    bracket: list[float] = []
    b_f: list[float] = []
    b_g: list[torch.Tensor] = []
    b_gtd: list[float] = []
    while ls_iter < max_ls:
        if f_new > f + c1 * t * gtd or (ls_iter > 1 and f_new >= f_prev):
            bracket, b_f, b_g, b_gtd = [t_prev, t], [f_prev, f_new], [g_prev, g_new], [gtd_prev,
                                                                                     gtd_new]
            break
        if abs(gtd_new) <= -c2 * gtd:
            bracket, b_f, b_g, done = [t], [f_new], [g_new], True
            break
        if gtd_new >= 0:
            bracket, b_f, b_g, b_gtd = [t_prev, t], [f_prev, f_new], [g_prev, g_new], [gtd_prev,
                                                                                     gtd_new]
            break
        # extrapolate: the cubic's minimiser within [t + 0.01 (t − t_prev), 10 t]
        t_next = _cubic_min(t_prev, f_prev, gtd_prev, t, f_new, gtd_new,
                            t + 0.01 * (t - t_prev), t * 10)
        t_prev, f_prev, g_prev, gtd_prev = t, f_new, g_new, gtd_new
        t = t_next
        f_new, g_new, gtd_new = yield t
        evals += 1
        ls_iter += 1
    if ls_iter == max_ls:
        bracket, b_f, b_g = [0.0, t], [f, f_new], [g, g_new]

    # zoom: shrink the bracket around a point meeting the conditions
    insufficient = False
    low, high = (0, 1) if b_f[0] <= b_f[-1] else (1, 0)
    while not done and ls_iter < max_ls:
        if abs(bracket[1] - bracket[0]) * d_norm < tolerance_change:
            break
        t = _cubic_min(bracket[0], b_f[0], b_gtd[0], bracket[1], b_f[1], b_gtd[1])
        b_lo, b_hi = min(bracket), max(bracket)
        eps = 0.1 * (b_hi - b_lo)
        if min(b_hi - t, t - b_lo) < eps:  # too close to an end: progress may stall
            if insufficient or t >= b_hi or t <= b_lo:
                t = b_hi - eps if abs(t - b_hi) < abs(t - b_lo) else b_lo + eps
                insufficient = False
            else:
                insufficient = True
        else:
            insufficient = False
        f_new, g_new, gtd_new = yield t
        evals += 1
        ls_iter += 1
        if f_new > f + c1 * t * gtd or f_new >= b_f[low]:
            bracket[high], b_f[high], b_g[high], b_gtd[high] = t, f_new, g_new, gtd_new
            low, high = (0, 1) if b_f[0] <= b_f[1] else (1, 0)
        else:
            if abs(gtd_new) <= -c2 * gtd:
                done = True
            elif gtd_new * (bracket[high] - bracket[low]) >= 0:  # the old low becomes high
                bracket[high], b_f[high] = bracket[low], b_f[low]
                b_g[high], b_gtd[high] = b_g[low], b_gtd[low]
            bracket[low], b_f[low], b_g[low], b_gtd[low] = t, f_new, g_new, gtd_new
    return b_f[low], b_g[low], bracket[low], evals


def _finite(loss: float, grad: torch.Tensor, t: float) -> bool:
    return math.isfinite(loss) and math.isfinite(t) and bool(torch.isfinite(grad).all())


#: ``finite(loss, gradient, t)``: whether a line search's point is usable
Finite = Callable[[float, Any, float], bool]


def _finite_search(t: float, finite: Finite, shrink: float = 0.1, tries: int = 12):
    """Shrink the step ``t`` until loss and gradient are finite (a generator, as
    :func:`strong_wolfe_search`): ``(loss, grad, t, evals)``; ``t = 0`` when none of
    ``tries`` steps is."""
    t = t if math.isfinite(t) and t > 0 else 1.0
    grad = None
    for n in range(1, tries + 1):
        t *= shrink
        loss, grad, _ = yield t
        if finite(loss, grad, t):
            return loss, grad, t, n
    return math.nan, grad, 0.0, tries


def line_search(t: float, d_norm: float, loss: float, g: Any, gtd: float,
                tolerance_change: float, finite: Finite = _finite):
    """The strong-Wolfe search from step ``t``, backing off from overflow (a generator, as
    :func:`strong_wolfe_search`).

    Returns:
        ``(loss, gradient, t, evaluations, moved, misled)``: the accepted point; ``moved``
        False when no finite point was found (then the given ``loss``, ``g``, ``t``);
        ``misled`` when the search stepped into overflow (the curvature memory that proposed
        the direction should be dropped).
    """
    new_loss, new_g, new_t, evals = yield from strong_wolfe_search(
        t, d_norm, loss, g, gtd, tolerance_change=tolerance_change)
    if finite(new_loss, new_g, new_t):
        return new_loss, new_g, new_t, evals, True, False
    new_loss, new_g, new_t, more = yield from _finite_search(t, finite)
    if new_t == 0.0:
        return loss, g, t, evals + more, False, True
    return new_loss, new_g, new_t, evals + more, True, True


def _dot(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``a · b`` as ``(a * b).sum()``: to the bit what a row of an ensemble's batched
    ``(A * B).sum(1)`` gives (``torch.dot`` sums in another order), so that a member trained in
    an ensemble (:mod:`~kanlab.training.ensemble_lbfgs`) takes a lone model's steps exactly.
    (``x.add(y, alpha=a)`` is to the bit a row of the ensemble's ``torch.addcmul``.)"""
    return (a * b).sum()


def _two_loop(g: torch.Tensor, dirs: list, steps: list, rho: list, h_diag: float) -> torch.Tensor:
    """The quasi-Newton direction ``−H g`` from the stored pairs (``y`` in ``dirs``, ``s`` in
    ``steps``, ``rho = 1/yᵀs``) with ``H₀ = h_diag · I``."""
    q = g.neg()
    alphas = [0.0] * len(dirs)
    for i in range(len(dirs) - 1, -1, -1):
        alphas[i] = float(_dot(steps[i], q)) * rho[i]
        q.add_(dirs[i], alpha=-alphas[i])
    r = q.mul_(h_diag)
    for i in range(len(dirs)):
        beta = float(_dot(dirs[i], r)) * rho[i]
        r.add_(steps[i], alpha=alphas[i] - beta)
    return r


class _Memory:
    """The curvature pairs of the two-loop recursion, in the optimiser's state as torch keeps
    them (``old_dirs`` = ``y``, ``old_stps`` = ``s``, ``ro`` = ``1/yᵀs``, at most
    ``history_size``), and the scale ``h_diag`` of ``H₀``."""

    def __init__(self, state: dict, history_size: int) -> None:
        self.dirs = state.setdefault("old_dirs", [])
        self.stps = state.setdefault("old_stps", [])
        self.ro = state.setdefault("ro", [])
        self.h_diag = float(state.get("H_diag", 1.0))
        self.history_size = history_size

    def clear(self) -> None:
        self.dirs.clear(), self.stps.clear(), self.ro.clear()
        self.h_diag = 1.0

    def direction(self, g: torch.Tensor, first: bool, prev_g: torch.Tensor | None,
                  d: torch.Tensor | None, t: float | None, tolerance_ys: float) -> torch.Tensor:
        """The next search direction at gradient ``g`` ``(n,)``: ``−g`` on the ``first``
        iteration (the memory is cleared), else ``−H g`` after storing the pair of the last
        step ``t·d`` (``y = g − prev_g``, ``s = t·d``) if its curvature ``yᵀs`` exceeds
        ``tolerance_ys``."""
        if first:
            self.clear()
            return g.neg()
        y = g.sub(prev_g)
        s = d.mul(t)
        ys = float(_dot(y, s))
        if ys > tolerance_ys:
            if len(self.dirs) == self.history_size:
                self.dirs.pop(0), self.stps.pop(0), self.ro.pop(0)
            self.dirs.append(y)
            self.stps.append(s)
            self.ro.append(1.0 / ys)
            self.h_diag = ys / float(_dot(y, y))
        return _two_loop(g, self.dirs, self.stps, self.ro, self.h_diag)


class LBFGS(torch.optim.LBFGS):
    """``torch.optim.LBFGS`` with a settable curvature threshold ``tolerance_ys``, less overhead
    per evaluation, and a back-off from overflow.

    Args:
        params: parameters to optimise (real tensors).
        tolerance_ys: a curvature pair ``(s, y)`` enters the history when ``yᵀs`` exceeds it
            (torch: 1e-10 fixed; here 1e-32 by default, as pykan's vendored copy).
        **kwargs: ``torch.optim.LBFGS``'s options (``lr``, ``max_iter``, ``max_eval``,
            ``tolerance_grad``, ``tolerance_change``, ``history_size``, ``line_search_fn``);
            ``tolerance_change`` also bounds the line search's bracket.
    """

    def __init__(self, params, *, tolerance_ys: float = 1e-32, **kwargs) -> None:
        super().__init__(params, **kwargs)
        self.tolerance_ys = tolerance_ys
        if any(torch.is_complex(p) for p in self._params):
            raise TypeError("kanlab.training.lbfgs.LBFGS takes real parameters only")

    def _flat_params(self) -> torch.Tensor:
        return torch.cat([p.reshape(-1) for p in self._params])

    def _gather_flat_grad(self) -> torch.Tensor:
        """The gradients as one new vector ``(n,)`` (zeros for a parameter without one)."""
        return torch.cat([
            p.grad.reshape(-1) if p.grad is not None else p.new_zeros(p.numel())
            for p in self._params
        ])

    def _set_flat_params(self, flat: torch.Tensor) -> None:
        """Write ``flat`` ``(n,)`` into the parameters: one fused copy."""
        numels = [p.numel() for p in self._params]
        views = [v.view_as(p) for v, p in zip(flat.split(numels), self._params)]
        torch._foreach_copy_(self._params, views)

    @torch.no_grad()
    def step(self, closure):  # type: ignore[override]
        """Up to ``max_iter`` quasi-Newton iterations; returns the loss before the first."""
        group = self.param_groups[0]
        closure = torch.enable_grad()(closure)
        state = self.state[self._params[0]]
        state.setdefault("func_evals", 0)
        state.setdefault("n_iter", 0)

        orig_loss = closure()
        state["func_evals"] += 1
        g = self._gather_flat_grad()
        if float(g.abs().max()) <= group["tolerance_grad"]:
            return orig_loss
        self._iterate(closure, group, state, float(orig_loss), g)
        return orig_loss

    def _iterate(self, closure, group: dict, state: dict, loss: float, g: torch.Tensor) -> None:
        """The iterations of one :meth:`step` from loss ``loss`` and flat gradient ``g``
        ``(n,)``; the direction, step length and last point are kept in ``state``."""
        lr, max_iter, max_eval = group["lr"], group["max_iter"], group["max_eval"]
        tol_grad, tol_change = group["tolerance_grad"], group["tolerance_change"]
        memory = _Memory(state, group["history_size"])
        d, t = state.get("d"), state.get("t")
        prev_g, prev_loss = state.get("prev_flat_grad"), state.get("prev_loss")
        evals = 1
        n_local = 0
        while n_local < max_iter:
            n_local += 1
            state["n_iter"] += 1
            first = state["n_iter"] == 1
            d = memory.direction(g, first, prev_g, d, t, self.tolerance_ys)
            prev_g = g  # never modified in place: every evaluation makes a new gradient
            prev_loss = loss
            t = min(1.0, 1.0 / float(g.abs().sum())) * lr if first else lr
            gtd = float(_dot(g, d))
            if gtd > -tol_change:
                break
            d_norm = float(d.abs().max())
            if group["line_search_fn"] == "strong_wolfe":
                loss, g, t, ls_evals, moved = self._line_search(
                    closure, memory, d, t, d_norm, loss, g, gtd, tol_change)
                opt_cond = moved and float(g.abs().max()) <= tol_grad
            else:
                loss, g, ls_evals, opt_cond = self._fixed_step(
                    closure, d, t, loss, g, n_local == max_iter, tol_grad)
                moved = True
            evals += ls_evals
            state["func_evals"] += ls_evals
            if not moved:  # no finite point along d: stopped, parameters unchanged
                break
            if n_local == max_iter or evals >= max_eval or opt_cond:
                break
            if d_norm * abs(t) <= tol_change or abs(loss - prev_loss) < tol_change:
                break
        state.update(d=d, t=t, H_diag=memory.h_diag, prev_flat_grad=prev_g, prev_loss=prev_loss)

    def _line_search(
        self, closure, memory: _Memory, d: torch.Tensor, t: float, d_norm: float, loss: float,
        g: torch.Tensor, gtd: float, tol_change: float,
    ) -> tuple[float, torch.Tensor, float, int, bool]:
        """Move the parameters to a strong-Wolfe point along ``d`` ``(n,)`` (first trial step
        ``t``), backing off from overflow.

        Returns:
            ``(loss, gradient, t, evaluations, moved)`` at the new point; ``moved`` is False
            (and the given ``loss``, ``g``, ``t`` are returned, the parameters unchanged) when
            no finite point was found.
        """
        x0 = self._flat_params()

        def evaluate(step: float) -> tuple[float, torch.Tensor, float]:
            self._set_flat_params(x0.add(d, alpha=step))
            value = float(closure())
            grad = self._gather_flat_grad()
            return value, grad, float(_dot(grad, d))

        new_loss, new_g, new_t, ls_evals, moved, misled = drive(
            line_search(t, d_norm, loss, g, gtd, tol_change), evaluate)
        if misled:  # stepped into overflow: the memory misled us
            memory.clear()
        self._set_flat_params(x0.add(d, alpha=new_t) if moved else x0)
        return new_loss, new_g, new_t, ls_evals, moved

    def _fixed_step(
        self, closure, d: torch.Tensor, t: float, loss: float, g: torch.Tensor, last: bool,
        tol_grad: float,
    ) -> tuple[float, torch.Tensor, int, bool]:
        """Step ``t·d`` without a line search; evaluate there unless it is the ``last``
        iteration. Returns ``(loss, gradient, evaluations, optimal)``."""
        self._add_grad(t, d)
        if last:
            return loss, g, 0, False
        loss = float(closure())  # (the closure enables grad itself)
        g = self._gather_flat_grad()
        return loss, g, 1, float(g.abs().max()) <= tol_grad
