"""How ``fit`` runs: on one process, or on every rank of a ``torch.distributed`` process group.

``fit`` holds one of these objects for a whole run and asks it, at fixed points, for what
differs between the two: the start (broadcast the model), the checks (same settings on every
rank), the samples grid updates see, each rank's share of a batch, the backward pass, the
reductions of the records, and the progress bar. :class:`SingleProcess` does the obvious thing
(no tensor operation beyond a one-process fit's); :class:`Distributed` uses the collectives of
:mod:`kanlab.training.distributed` so that every rank takes the same steps on the same model as
one process would on the whole data.

``fit(distributed=True)`` is ``fit(distributed=Distributed())``; a subclass of either may be
handed to ``fit`` instead.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import torch
from torch import nn

from kanlab._modes import evaluating
from kanlab.errors import InputError
from kanlab.training import distributed as dist_utils
from kanlab.training.batches import TrainingData
from kanlab.training.regularization import edge_scales

__all__ = ["Distributed", "SingleProcess", "as_processes"]


@torch.no_grad()
def _squared_errors(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``(model(x) − y)²`` ``(N, out)`` in eval mode (running statistics used, never updated),
    the training flags restored."""
    with evaluating(model):
        pred = model(x)
    return (pred - y.reshape(pred.shape)) ** 2


class SingleProcess:
    """``fit`` on one process: the model, the data and every number are this process's own.

    Attributes:
        edge_scales: scores a layer's edges for the sparsity penalty
            (:func:`~kanlab.training.regularization.edge_scales`).
    """

    edge_scales: Callable[..., torch.Tensor] = staticmethod(edge_scales)

    def start(self, model: nn.Module) -> None:
        """Prepare ``model`` before anything else of the run (nothing on one process)."""

    def check(self, settings: dict[str, Any], data: TrainingData) -> None:
        """Raise :class:`InputError` where ``fit``'s ``settings`` (its arguments by name) and
        ``data`` cannot run on these processes (one process runs anything)."""

    def mean_count(self, n: int) -> int:
        """The number of samples ``n`` a process has, averaged over processes."""
        return n

    @property
    def shows_progress(self) -> bool:
        """Whether this process shows the progress bar."""
        return True

    def synced(self, model: nn.Module) -> AbstractContextManager[Any]:
        """A context for the training steps (nothing on one process)."""
        return contextlib.nullcontext()

    def gather(self, x: torch.Tensor) -> torch.Tensor:
        """The samples ``(N, ...)`` the whole run sees: ``x`` itself on one process."""
        return x

    def share(self, xb: torch.Tensor) -> float:
        """This process's share of the step's batch ``xb`` ``(B, in)``: 1 on one process."""
        return 1.0

    def backward(
        self, model: nn.Module, share: float, loss: torch.Tensor, objective: torch.Tensor,
        lamb: float, reg: torch.Tensor | None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Gradients of ``objective = loss + lamb·reg`` (``reg`` None: ``objective = loss``) of
        the batch into the parameters; returns the run's ``(loss, objective)``, here the
        arguments themselves."""
        objective.backward()
        return loss, objective

    def rmse(self, model: nn.Module, x: torch.Tensor | None, y: torch.Tensor | None) -> float:
        """Root mean squared error of ``model`` on ``x`` ``(N, in)``, ``y`` ``(N, out)``;
        ``nan`` without a set or for non-floating labels (classes)."""
        if x is None or y is None or not y.is_floating_point():
            return math.nan
        return float(torch.sqrt(torch.mean(_squared_errors(model, x, y))))


class Distributed(SingleProcess):
    """``fit`` on every rank of the default ``torch.distributed`` process group
    (``fit(distributed=True)``).

    Launch with ``torchrun`` (see :mod:`kanlab.training.distributed`) and call ``fit`` on every
    rank with the same arguments except ``data``: each rank passes its own shard (shards may
    differ in size; a test set on every rank or on none; a ``DataLoader`` with a
    ``DistributedSampler``). Rank 0's model is broadcast first; grid updates place the knots
    from all ranks' batches (:func:`~kanlab.training.distributed.gather_samples`); DKAN batch
    and running statistics are pooled over ranks like ``SyncBatchNorm``; each rank's loss is
    weighted by its share of the global batch and the gradients summed, and the loss given to
    the optimiser is the global one, so every rank takes the same steps on the same model as one
    process would on the whole data (up to rounding). ``loss_fn`` must be a mean over samples;
    the history's losses and RMSEs are global; callbacks run on every rank and must decide
    alike; only rank 0 shows progress. With ``batch_size`` each rank shuffles its own shard. The
    model records the training inputs of all ranks.

    Attributes:
        edge_scales: :func:`~kanlab.training.distributed.global_edge_scales`, the edge
            scores of all ranks' batches together.
    """

    edge_scales = staticmethod(dist_utils.global_edge_scales)

    def start(self, model: nn.Module) -> None:
        """Check for a process group and broadcast rank 0's parameters and buffers."""
        dist_utils.require_distributed("fit(distributed=True)")
        dist_utils.broadcast_model(model)

    def check(self, settings: dict[str, Any], data: TrainingData) -> None:
        """Raise :class:`InputError` on every rank unless ``settings``, the kind of data and
        whether there is a test set agree on all ranks (a mismatch would hang a collective
        later), and every rank has training samples."""
        settings = {**settings, "data": data.kind, "test set": data.test_x is not None}
        dist_utils.check_same_on_all_ranks("fit's settings", settings)
        if data.train_x is not None and data.train_x.shape[0] == 0:
            raise InputError("fit(distributed=True) needs training samples on every rank")

    def mean_count(self, n: int) -> int:
        return int(dist_utils.all_sum(n)) // torch.distributed.get_world_size()

    @property
    def shows_progress(self) -> bool:
        return torch.distributed.get_rank() == 0

    def synced(self, model: nn.Module) -> AbstractContextManager[Any]:
        """DKAN batch statistics pooled over ranks (:func:`~kanlab.training.distributed.
        synced_statistics`)."""
        return dist_utils.synced_statistics(model)

    def gather(self, x: torch.Tensor) -> torch.Tensor:
        """Every rank's ``x``, in rank order: the same samples, hence knots, on every rank."""
        return dist_utils.gather_samples(x)

    def share(self, xb: torch.Tensor) -> float:
        """``B_r / Σ B``: this rank's share of the global batch (its loss is a mean over it)."""
        return xb.shape[0] / int(dist_utils.all_sum(xb.shape[0]))

    def backward(
        self, model: nn.Module, share: float, loss: torch.Tensor, objective: torch.Tensor,
        lamb: float, reg: torch.Tensor | None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``Σ_r share_r · objective_r`` is the objective of the global batch: its gradients
        summed over ranks; returns the global ``(loss, objective)`` (``reg`` is global
        already)."""
        (share * objective).backward()
        dist_utils.allreduce_gradients([p for p in model.parameters() if p.requires_grad])
        loss = dist_utils.all_sum(share * loss.detach())
        return loss, loss + lamb * (0.0 if reg is None else reg.detach())

    def rmse(self, model: nn.Module, x: torch.Tensor | None, y: torch.Tensor | None) -> float:
        """Over every rank's ``x`` (squared errors and counts summed over ranks)."""
        if x is None or y is None or not y.is_floating_point():
            return math.nan
        sq = _squared_errors(model, x, y)
        total = dist_utils.all_sum(torch.stack([sq.sum(), sq.new_tensor(sq.numel())]))
        return float(torch.sqrt(total[0] / total[1]))


def as_processes(distributed: bool | SingleProcess) -> SingleProcess:
    """``fit``'s ``distributed`` argument as an object: a :class:`SingleProcess` (or subclass)
    as it is, else :class:`Distributed` when true and :class:`SingleProcess` when false."""
    if isinstance(distributed, SingleProcess):
        return distributed
    return Distributed() if distributed else SingleProcess()
