"""One optimiser step of ``fit``: the objective of a batch and the LBFGS or Adam step on it.

- :class:`Objective`: the optimiser's closure. One evaluation: the prediction loss of the
  step's batch (plus ``λ·penalty`` with regularisation, plus a parameter penalty such as
  :class:`~kanlab.training.spline_penalty.SplinePenalty`), its gradients, and the
  ``(loss, penalty)`` it saw.
- :class:`OptimizerStep`: the optimiser (:func:`make_optimizer`) and the step it takes on a
  batch -- LBFGS evaluates the objective many times (its line search), Adam once. After a grid
  refinement replaces the parameters, :meth:`OptimizerStep.restart` builds a new optimiser.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import torch
from torch import nn

from kanlab.errors import InputError
from kanlab.training.lbfgs import LBFGS
from kanlab.training.model_loss import batch_loss
from kanlab.training.parallel import SingleProcess
from kanlab.training.regularization import Regulariser

__all__ = ["OPTIMIZERS", "Objective", "OptimizerStep", "make_optimizer", "optimizer_settings",
           "trainable_parameters"]

OPTIMIZERS = ("lbfgs", "adam")


def trainable_parameters(model: nn.Module) -> list[nn.Parameter]:
    """``model``'s parameters that require gradients, in ``model.parameters()`` order."""
    return [p for p in model.parameters() if p.requires_grad]


def optimizer_settings(name: str, lr: float | None,
                       options: Mapping[str, Any] | None) -> dict[str, Any]:
    """``fit``'s settings of the optimiser ``name``: ``"lbfgs"`` (strong Wolfe, history 10, 20
    iterations, lr 1) or ``"adam"`` (lr 1e-2), overridden by ``options``."""
    if name == "lbfgs":
        settings = {
            "lr": 1.0 if lr is None else lr,
            "max_iter": 20,
            "history_size": 10,
            "line_search_fn": "strong_wolfe",
            "tolerance_grad": 1e-32,
            "tolerance_change": 1e-32,
        }
    else:
        settings = {"lr": 1e-2 if lr is None else lr}
    settings.update(options or {})
    return settings


def make_optimizer(
    name: str, params: Iterable[nn.Parameter], lr: float | None,
    options: Mapping[str, Any] | None,
) -> torch.optim.Optimizer:
    """``fit``'s optimiser: :class:`~kanlab.training.lbfgs.LBFGS` or ``torch.optim.Adam``
    with :func:`optimizer_settings`."""
    settings = optimizer_settings(name, lr, options)
    return LBFGS(params, **settings) if name == "lbfgs" else torch.optim.Adam(params, **settings)


class Objective:
    """The loss of the current batch and its gradients, one call per evaluation.

    Args:
        model: the model trained.
        loss_fn: ``loss_fn(pred, label) -> scalar``, a mean over the batch, or a
            :class:`~kanlab.training.model_loss.ModelLoss` (``(model, x, label)``).
        regulariser: adds ``λ·penalty`` on the batch's traces when active.
        processes: :class:`~kanlab.training.parallel.SingleProcess` or ``Distributed``: the
            backward pass and, on several processes, the global loss.
        penalty: ``penalty(model) -> scalar`` added to the objective of every evaluation (a
            function of the parameters only, e.g. a
            :class:`~kanlab.training.spline_penalty.SplinePenalty`); one process only.

    Attributes:
        evaluations: ``(loss, penalty)`` of every evaluation on the current batch (the
            penalty is 0 without regularisation).
    """

    def __init__(self, model: nn.Module, loss_fn: Callable[..., torch.Tensor],
                 regulariser: Regulariser, processes: SingleProcess,
                 penalty: Callable[[nn.Module], torch.Tensor] | None = None) -> None:
        if penalty is not None and type(processes) is not SingleProcess:
            raise InputError("fit(penalty=...) runs on one process; it is not supported with "
                             "distributed=True yet")
        self.model, self.loss_fn, self.processes = model, loss_fn, processes
        self.penalty = penalty
        self.regulariser = regulariser
        self.lamb = regulariser.lamb if regulariser.active else 0.0
        self.evaluations: list[tuple[float, float]] = []

    def set_batch(self, xb: torch.Tensor, yb: torch.Tensor) -> None:
        """The batch of the next evaluations: inputs ``(B, in)`` and labels ``(B, ...)``."""
        self.xb, self.yb = xb, yb
        self.share = self.processes.share(xb)
        self.evaluations = []

    def __call__(self) -> torch.Tensor:
        """Evaluate: gradients into the parameters (they must have been zeroed); returns the
        objective, detached."""
        model = self.model
        if self.lamb > 0:
            traces = model.trace(self.xb, update_statistics=True)
            loss = batch_loss(self.loss_fn, model, self.xb, self.yb, traces[-1].outputs)
            reg = self.regulariser.penalty(model, traces)
            objective = loss + self.lamb * reg
        else:
            loss = objective = batch_loss(self.loss_fn, model, self.xb, self.yb)
            reg = None
        if self.penalty is not None:
            objective = objective + self.penalty(model)
        loss, objective = self.processes.backward(model, self.share, loss, objective,
                                                  self.lamb, reg)
        self.evaluations.append((float(loss.detach()),
                                 0.0 if reg is None else float(reg.detach())))
        return objective.detach()


class OptimizerStep:
    """The optimiser of a run and its step on a batch.

    Args:
        model: the model trained (its parameters that require gradients are optimised).
        objective: the closure.
        opt: ``"lbfgs"`` or ``"adam"``; lr, options: see :func:`make_optimizer`.

    Attributes:
        optimizer: the current ``torch.optim.Optimizer``.
    """

    def __init__(self, model: nn.Module, objective: Objective, opt: str, lr: float | None,
                 options: Mapping[str, Any] | None) -> None:
        self.model, self.objective = model, objective
        self.opt, self.lr, self.options = opt, lr, options
        self.restart()

    def restart(self) -> None:
        """A new optimiser on the model's current parameters (its state is forgotten)."""
        self.optimizer = make_optimizer(self.opt, trainable_parameters(self.model), self.lr,
                                        self.options)

    def __call__(self, xb: torch.Tensor, yb: torch.Tensor) -> tuple[float, float]:
        """One step on the batch ``xb`` ``(B, in)``, ``yb`` ``(B, ...)``; returns
        ``(loss, penalty)`` at the start of the step."""
        self.objective.set_batch(xb, yb)
        self.optimizer.step(self._closure)
        return self.objective.evaluations[0]

    def _closure(self) -> torch.Tensor:
        self.optimizer.zero_grad()
        return self.objective()
