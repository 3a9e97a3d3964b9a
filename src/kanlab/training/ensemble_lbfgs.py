"""LBFGS for ``E`` independent problems at once: each member of an ensemble takes the steps
:class:`~kanlab.training.lbfgs.LBFGS` would take on it alone, and every evaluation is one
batched pass over all members.

The parameters are stacked tensors ``(E, ...)``; member ``e``'s flat vector is row ``e`` of
``X`` ``(E, n)``. Per member, as :class:`~kanlab.training.lbfgs.LBFGS` does:

- the curvature memory: pairs ``(s, y)`` in slots ``(E, m, n)`` aligned by age (slot
  ``m − 1`` the newest); a member with fewer pairs has zeros and ``ρ = 0`` in its oldest slots,
  which leave the two-loop recursion's vectors exactly as they are, so one batched recursion
  gives every member its own direction;
- the strong-Wolfe line search: :func:`~kanlab.training.lbfgs.line_search`, the same code, one
  generator per member; each round the members still searching propose a step, all are
  evaluated at ``X₀ + t·D`` together (``t = 0`` for the others), and each is sent its row;
- the stopping rules: a member whose iterations end (converged, stalled, ``max_iter``) stops
  moving while the others go on.

The closure returns the members' objectives ``(E,)`` and leaves each member's gradient in its
rows of the parameters' gradients (the gradient of their sum: members share no parameter). It
may take a mask ``which`` ``(E,)``: in a line search, only the members still searching need
values, and the closure may skip the others (their values are not read).
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Sequence

import torch

from kanlab.training.lbfgs import line_search

__all__ = ["EnsembleLBFGS"]


class _Memories:
    """Every member's curvature pairs, aligned by age: ``S``, ``Y`` ``(E, m, n)``, ``rho``
    ``(E, m)`` (0 in an empty slot) and ``h_diag`` ``(E,)``."""

    def __init__(self, members: int, n: int, history_size: int, like: torch.Tensor) -> None:
        self.S = like.new_zeros(members, history_size, n)
        self.Y = like.new_zeros(members, history_size, n)
        self.rho = like.new_zeros(members, history_size)
        self.h_diag = like.new_ones(members)

    def clear(self, which: torch.Tensor) -> None:
        """Forget the pairs of the members where ``which`` ``(E,)`` is True."""
        if not bool(which.any()):
            return
        gone = which[:, None, None]
        self.S.masked_fill_(gone, 0.0), self.Y.masked_fill_(gone, 0.0)
        self.rho.masked_fill_(which[:, None], 0.0)
        self.h_diag.masked_fill_(which, 1.0)

    def push(self, s: torch.Tensor, y: torch.Tensor, ys: torch.Tensor,
             accept: torch.Tensor) -> None:
        """Store the pair ``(s, y)`` ``(E, n)`` with curvature ``ys`` ``(E,)`` for the members
        where ``accept`` ``(E,)`` is True (their oldest pair drops out when full)."""
        if not bool(accept.any()):
            return
        a = accept[:, None, None]
        self.S.copy_(torch.where(a, torch.cat([self.S[:, 1:], s[:, None]], 1), self.S))
        self.Y.copy_(torch.where(a, torch.cat([self.Y[:, 1:], y[:, None]], 1), self.Y))
        safe = torch.where(accept, ys, torch.ones_like(ys))
        self.rho.copy_(torch.where(accept[:, None],
                                   torch.cat([self.rho[:, 1:], (1.0 / safe)[:, None]], 1),
                                   self.rho))
        yy = (y * y).sum(1)
        self.h_diag.copy_(torch.where(accept, ys / torch.where(accept, yy, 1.0), self.h_diag))

    def direction(self, g: torch.Tensor) -> torch.Tensor:
        """``−H g`` for every member (the two-loop recursion, ``H₀ = h_diag·I``); ``g``
        ``(E, n)``."""
        q = g.neg()
        m = self.rho.shape[1]
        alphas = [None] * m
        for i in range(m - 1, -1, -1):
            alphas[i] = (self.S[:, i] * q).sum(1) * self.rho[:, i]
            q = torch.addcmul(q, self.Y[:, i], -alphas[i][:, None])
        r = q.mul_(self.h_diag[:, None])
        for i in range(m):
            beta = (self.Y[:, i] * r).sum(1) * self.rho[:, i]
            r = torch.addcmul(r, self.S[:, i], (alphas[i] - beta)[:, None])
        return r


class EnsembleLBFGS:
    """LBFGS with strong-Wolfe line search on ``E`` members whose parameters are stacked.

    Args:
        params: the stacked parameters, each ``(E, ...)``.
        members: ``E``.
        lr, max_iter, max_eval, tolerance_grad, tolerance_change, history_size,
        tolerance_ys: as :class:`~kanlab.training.lbfgs.LBFGS` (``max_eval`` default
            ``1.25·max_iter``), the same for every member. Only ``line_search_fn=
            "strong_wolfe"`` is supported.
    """

    def __init__(self, params: Sequence[torch.nn.Parameter], members: int, *, lr: float = 1.0,
                 max_iter: int = 20, max_eval: int | None = None, tolerance_grad: float = 1e-7,
                 tolerance_change: float = 1e-9, history_size: int = 100,
                 line_search_fn: str | None = "strong_wolfe",
                 tolerance_ys: float = 1e-32) -> None:
        if line_search_fn != "strong_wolfe":
            raise ValueError("an ensemble's LBFGS runs the strong-Wolfe line search only "
                             f"(line_search_fn='strong_wolfe'); got {line_search_fn!r}")
        self.params = list(params)
        self.members = members
        self.lr, self.max_iter = lr, max_iter
        self.max_eval = max_eval if max_eval is not None else max_iter * 5 // 4
        self.tol_grad, self.tol_change = tolerance_grad, tolerance_change
        self.tol_ys, self.history_size = tolerance_ys, history_size
        self.n_iter = [0] * members
        self.evaluations = 0  # batched passes
        self.memory: _Memories | None = None
        self.d = self.t = self.prev_g = None  # (E, n), (E,), (E, n)
        self.prev_loss: list[float] = [math.nan] * members

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    def _flat(self) -> torch.Tensor:
        return torch.cat([p.detach().reshape(self.members, -1) for p in self.params], 1)

    def _flat_grad(self) -> torch.Tensor:
        return torch.cat([p.grad.reshape(self.members, -1) if p.grad is not None
                          else p.new_zeros(self.members, p[0].numel()) for p in self.params], 1)

    def _set(self, flat: torch.Tensor) -> None:
        numels = [p[0].numel() for p in self.params]
        views = [v.reshape(p.shape) for v, p in zip(flat.split(numels, 1), self.params)]
        torch._foreach_copy_(self.params, views)

    def _evaluate(self, closure: Callable[..., torch.Tensor],
                  which: torch.Tensor | None = None) -> tuple[list[float], torch.Tensor]:
        with torch.enable_grad():
            losses = closure() if which is None or not self._masked else closure(which)
        self.evaluations += 1
        return losses.detach().tolist(), self._flat_grad()

    @torch.no_grad()
    def step(self, closure: Callable[[], torch.Tensor]) -> torch.Tensor:
        """Up to ``max_iter`` iterations for every member; returns the members' objectives
        ``(E,)`` before the first. ``closure()`` zeroes the gradients, evaluates every member
        and returns their objectives ``(E,)``; ``closure(which)`` (when it takes an argument)
        need only evaluate the members where the mask ``which`` ``(E,)`` is True."""
        self._masked = bool(inspect.signature(closure).parameters)
        losses, g = self._evaluate(closure)
        orig = g.new_tensor(losses)
        if self.memory is None:
            self.memory = _Memories(self.members, g.shape[1], self.history_size, g)
            self.d, self.t, self.prev_g = torch.zeros_like(g), g.new_zeros(self.members), g
        active = [float(v) > self.tol_grad for v in g.abs().amax(1).tolist()]
        n_local = [0] * self.members
        evals = [1] * self.members
        while any(active):
            losses, g = self._iteration(closure, active, n_local, evals, losses, g)
        return orig

    def _iteration(self, closure, active: list[bool], n_local: list[int], evals: list[int],
                   losses: list[float], g: torch.Tensor) -> tuple[list[float], torch.Tensor]:
        """One iteration of the members still ``active`` (updated in place)."""
        mem, E = self.memory, self.members
        act = torch.tensor(active, device=g.device)
        first = [False] * E
        for e in range(E):
            if active[e]:
                n_local[e] += 1
                self.n_iter[e] += 1
                first[e] = self.n_iter[e] == 1
        first_t = torch.tensor(first, device=g.device)
        # the pair of the last step, then the direction (frozen for inactive members)
        y, s = g - self.prev_g, self.d * self.t[:, None]
        ys = (y * s).sum(1)
        mem.push(s, y, ys, act & ~first_t & (ys > self.tol_ys))
        mem.clear(first_t)
        self.d = torch.where(act[:, None], mem.direction(g), self.d)
        self.prev_g = torch.where(act[:, None], g, self.prev_g)
        l1 = g.abs().sum(1).tolist()
        t0 = [min(1.0, 1.0 / l1[e]) * self.lr if first[e] else self.lr for e in range(E)]
        self.t = torch.where(act, g.new_tensor(t0), self.t)
        gtd = (g * self.d).sum(1).tolist()
        d_norm = self.d.abs().amax(1).tolist()
        searching = {}
        for e in range(E):
            if not active[e]:
                continue
            self.prev_loss[e] = losses[e]
            if gtd[e] > -self.tol_change:
                active[e] = False
                continue
            searching[e] = line_search(t0[e], d_norm[e], losses[e], (0, True), gtd[e],
                                       self.tol_change, _row_finite)
        if not searching:
            return losses, g
        return self._after_search(self._search(closure, searching, g), active, n_local, evals,
                                  losses, g, d_norm)

    def _search(self, closure, searching: dict, g: torch.Tensor
                ) -> tuple[dict, torch.Tensor, list[torch.Tensor]]:
        """Drive the members' line searches together. Returns each one's result (its gradient
        a handle ``(evaluation, finite)``), the start ``X₀`` ``(E, n)`` and every evaluation's
        gradients (evaluation 0: ``g``, the start of the line)."""
        x0 = self._flat()
        grads = [g]
        trials, results = {}, {}
        for e, search in searching.items():
            trials[e] = next(search)
        while trials:
            t = [0.0] * self.members
            flags = [False] * self.members
            for e, te in trials.items():
                t[e], flags[e] = te, True
            t, which = g.new_tensor(t), torch.tensor(flags, device=g.device)
            self._set(torch.addcmul(x0, self.d, t[:, None]))
            losses, grad = self._evaluate(closure, None if bool(which.all()) else which)
            k = len(grads)
            grads.append(grad)
            gtd = (grad * self.d).sum(1).tolist()
            finite = torch.isfinite(grad).all(1).tolist()
            sent = {}
            for e in trials:
                try:
                    sent[e] = searching[e].send((losses[e], (k, finite[e]), gtd[e]))
                except StopIteration as stop:
                    results[e] = stop.value
            trials = sent
        return results, x0, grads

    def _after_search(self, found: tuple[dict, torch.Tensor, list[torch.Tensor]], active,
                      n_local, evals, losses, g, d_norm):
        """Move every searched member to its accepted point; apply the stopping rules."""
        results, x0, grads = found
        E = self.members
        t_new, k_idx, misled = [0.0] * E, [0] * E, [False] * E
        searched, ts = [False] * E, [0.0] * E
        new_losses = list(losses)
        for e, (loss_e, handle, t_e, n_ev, moved, mis) in results.items():
            k_idx[e], misled[e], searched[e], ts[e] = handle[0], mis, True, t_e
            if moved:
                t_new[e] = t_e
                new_losses[e] = loss_e
            evals[e] += n_ev
            if not moved:
                active[e] = False
        device = g.device
        self.memory.clear(torch.tensor(misled, device=device))
        self._set(torch.addcmul(x0, self.d, g.new_tensor(t_new)[:, None]))
        searched_t = torch.tensor(searched, device=device)
        g_new = torch.stack(grads)[torch.tensor(k_idx, device=device),
                                   torch.arange(E, device=device)]
        g_new = torch.where(searched_t[:, None], g_new, g)
        self.t = torch.where(searched_t, g.new_tensor(ts), self.t)
        g_max = g_new.abs().amax(1).tolist()
        for e, r in results.items():
            if not active[e]:
                continue
            if (n_local[e] == self.max_iter or evals[e] >= self.max_eval
                    or g_max[e] <= self.tol_grad
                    or d_norm[e] * abs(r[2]) <= self.tol_change
                    or abs(new_losses[e] - self.prev_loss[e]) < self.tol_change):
                active[e] = False
        return new_losses, g_new


def _row_finite(loss: float, handle: tuple[int, bool], t: float) -> bool:
    """Whether a member's point is usable: finite loss, step and gradient row."""
    return math.isfinite(loss) and math.isfinite(t) and handle[1]
