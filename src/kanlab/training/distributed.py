"""Training on several processes (``torch.distributed``) with the same grids on every rank.

A KAN has state that plain data parallelism does not keep in step: its knots are placed from the
samples of a batch (:meth:`KAN.update_grid <kanlab.nn.model.KAN.update_grid>`) and a DKAN layer
standardises with batch statistics and keeps running ones
(:class:`~kanlab.nn.standardize.RunningStandardize`). Each process (rank) seeing only its shard of
the data would place other knots and keep other statistics. This module keeps them identical:

- :func:`gather_samples`: every rank's batch, concatenated in rank order (shards of different
  sizes are fine), so that every rank places the same knots from the same samples;
- :func:`synced_statistics`: a context in which the batch mean and variance of every DKAN layer
  are those of all ranks' batches together (count-weighted, exact; like
  ``torch.nn.SyncBatchNorm``), differentiably, so the running statistics stay identical and the
  gradients are those of the whole batch;
- :func:`broadcast_model`: parameters and buffers (knots, running statistics) from one rank;
- :func:`allreduce_gradients`, :func:`all_sum`: the reductions of a training step;
- :func:`global_edge_scales`: the sparsity regulariser's edge scores over all ranks' batches.

Launch with ``torchrun --nproc_per_node=2 script.py`` (gloo on CPUs, NCCL on GPUs) and call
``torch.distributed.init_process_group(backend)`` in the script. Then either

**kanlab's loop** -- every rank passes its own shard to :func:`kanlab.fit` with
``distributed=True``; ranks take identical steps (see its docstring)::

    dist.init_process_group("gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    model = kanlab.KAN([2, 5, 1], seed=0)  # rank 0's weights are broadcast anyway
    shard = {"train_input": x[rank::world], "train_label": y[rank::world]}
    kanlab.fit(model, shard, steps=50, distributed=True)

**or the plain PyTorch loop** under ``DistributedDataParallel`` (which averages the gradients
over ranks: equal shard sizes, e.g. from ``DistributedSampler``, make that the gradient of the
whole batch)::

    model = kanlab.KAN([2, 5, 1], seed=0)
    ddp = torch.nn.parallel.DistributedDataParallel(model)  # broadcasts rank 0's state
    opt = torch.optim.Adam(ddp.parameters(), lr=1e-2)
    with synced_statistics(model):  # DKAN layers: batch statistics over all ranks
        for step in range(200):
            if step % 5 == 0 and step < 50:  # same knots on every rank
                model.update_grid(gather_samples(x_shard))
            opt.zero_grad()
            torch.nn.functional.mse_loss(ddp(x_shard), y_shard).backward()
            opt.step()

A grid update that changes the grid size replaces the coefficient parameters: build the DDP
wrapper and the optimiser again after it. Every collective here must be called by every rank of
the group in the same order, as with any ``torch.distributed`` code.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator

import torch
from torch import nn

from kanlab.errors import InputError
from kanlab.nn.standardize import RunningStandardize

__all__ = [
    "all_sum",
    "allreduce_gradients",
    "broadcast_model",
    "check_same_on_all_ranks",
    "combine_moments",
    "gather_rows",
    "gather_samples",
    "global_edge_scales",
    "global_moments",
    "is_distributed",
    "require_distributed",
    "synced_statistics",
]


def _dist():
    import torch.distributed as dist

    return dist


def is_distributed() -> bool:
    """Whether ``torch.distributed`` is available and a process group is initialised."""
    dist = _dist()
    return dist.is_available() and dist.is_initialized()


def require_distributed(what: str = "this") -> None:
    """Raise a clear :class:`InputError` unless a process group is initialised."""
    if not is_distributed():
        raise InputError(
            f"{what} needs an initialised torch.distributed process group: launch with "
            "torchrun (or torch.multiprocessing) and call "
            "torch.distributed.init_process_group('gloo' or 'nccl') first"
        )


def _group_buffers(tensors: Iterable[torch.Tensor]) -> dict[tuple, list[torch.Tensor]]:
    groups: dict[tuple, list[torch.Tensor]] = {}
    for t in tensors:
        groups.setdefault((t.device, t.dtype), []).append(t)
    return groups


@torch.no_grad()
def broadcast_model(model: nn.Module, src: int = 0, group=None) -> None:
    """Copy ``model``'s parameters and buffers (knots, running statistics) from rank ``src``.

    In place, one broadcast per device and dtype. The ranks' models must have the same
    structure (names and shapes of the tensors, and the same extra state such as symbolic
    edges' names); otherwise every rank raises :class:`InputError`.
    """
    require_distributed("broadcast_model")
    named = [*model.named_parameters(), *model.named_buffers()]
    extra = {k: v for k, v in model.state_dict().items() if not isinstance(v, torch.Tensor)}
    check_same_on_all_ranks(
        "the model's structure (tensor names, shapes, dtypes; extra state)",
        ([(name, tuple(t.shape), str(t.dtype)) for name, t in named], extra), group=group,
    )
    dist = _dist()
    for tensors in _group_buffers(t for _, t in named).values():
        flat = torch.cat([t.detach().reshape(-1) for t in tensors])
        dist.broadcast(flat, src=src, group=group)
        offset = 0
        for t in tensors:  # copy_ bumps the version, so caches keyed on it are refreshed
            t.copy_(flat[offset : offset + t.numel()].view_as(t))
            offset += t.numel()


@torch.no_grad()
def allreduce_gradients(params: Iterable[torch.Tensor], *, average: bool = False,
                        group=None) -> None:
    """Sum (or average) the gradients of ``params`` over all ranks, in place.

    One all-reduce per device and dtype. Parameters without a gradient are skipped (every rank
    must have the same ones, as it has when the ranks run the same model).
    """
    dist = _dist()
    grads = [p.grad for p in params if p.grad is not None]
    for tensors in _group_buffers(grads).values():
        flat = torch.cat([g.reshape(-1) for g in tensors])
        dist.all_reduce(flat, group=group)
        if average:
            flat /= dist.get_world_size(group)
        offset = 0
        for g in tensors:
            g.copy_(flat[offset : offset + g.numel()].view_as(g))
            offset += g.numel()


def all_sum(value: torch.Tensor | float | int, group=None) -> torch.Tensor:
    """``value`` summed over all ranks (a new tensor, not differentiable).

    A Python number travels on the GPU under NCCL (which reduces nothing else), else the CPU.
    """
    dist = _dist()
    if isinstance(value, torch.Tensor):
        t = value.detach().clone()
    else:
        on_gpu = dist.get_backend(group) == "nccl"
        device = torch.device("cuda", torch.cuda.current_device()) if on_gpu else None
        t = torch.tensor(value, device=device)
    dist.all_reduce(t, group=group)
    return t


def check_same_on_all_ranks(what: str, value, group=None) -> None:
    """Raise :class:`InputError` on every rank unless ``value`` (picklable) is equal on all."""
    dist = _dist()
    values = [None] * dist.get_world_size(group)
    dist.all_gather_object(values, value, group=group)
    if any(v != values[0] for v in values):
        raise InputError(
            f"{what} must be the same on every rank; got {values} (ranks in order)"
        )


@torch.no_grad()
def gather_samples(x: torch.Tensor, group=None) -> torch.Tensor:
    """Every rank's rows of ``x`` ``(B_r, ...)``, concatenated in rank order: ``(Σ B_r, ...)``.

    The same tensor on every rank; ``B_r`` may differ between ranks (the sizes are gathered
    first and the rows padded to the largest). Not differentiable (for grid placement).
    """
    require_distributed("gather_samples")
    dist = _dist()
    world = dist.get_world_size(group)
    size = torch.tensor([x.shape[0]], dtype=torch.long, device=x.device)
    sizes = [torch.empty_like(size) for _ in range(world)]
    dist.all_gather(sizes, size, group=group)
    counts = [int(s) for s in sizes]
    longest = max(counts)
    padded = x.new_zeros((longest, *x.shape[1:]))
    padded[: x.shape[0]] = x
    parts = [torch.empty_like(padded) for _ in range(world)]
    dist.all_gather(parts, padded.contiguous(), group=group)
    return torch.cat([p[:n] for p, n in zip(parts, counts)])


class _GatherRows(torch.autograd.Function):
    """All ranks' ``t`` stacked ``(world, ...)``; the backward sums the gradients of the stack
    over ranks and hands each rank the row of its own tensor (the adjoint of the gather)."""

    @staticmethod
    def forward(ctx, t, group):
        dist = _dist()
        ctx.group = group
        parts = [torch.empty_like(t) for _ in range(dist.get_world_size(group))]
        dist.all_gather(parts, t.contiguous(), group=group)
        return torch.stack(parts)

    @staticmethod
    def backward(ctx, grad):
        dist = _dist()
        grad = grad.contiguous().clone()
        dist.all_reduce(grad, group=ctx.group)
        return grad[dist.get_rank(ctx.group)], None


def gather_rows(t: torch.Tensor, group=None) -> torch.Tensor:
    """Every rank's ``t`` (same shape on all ranks) stacked ``(world, ...)``, differentiably."""
    require_distributed("gather_rows")
    return _GatherRows.apply(t, group)


def combine_moments(
    counts: torch.Tensor, means: torch.Tensor, m2: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Pool the moments of several parts of a sample (Chan et al.'s parallel formula).

    Args:
        counts: samples of each part ``(P,)``.
        means: each part's mean ``(P, ...)``.
        m2: each part's sum of squared deviations from its own mean ``(P, ...)``.

    Returns:
        ``(N, mean, biased variance)`` of the pooled sample: ``N = Σ n_p``,
        ``mean = Σ n_p mean_p / N``, ``M2 = Σ M2_p + Σ n_p (mean_p − mean)²``,
        ``var = M2 / N``. Exact in exact arithmetic, and as stable as the two-pass formula.
        Differentiable in ``means`` and ``m2``.
    """
    shape = (-1,) + (1,) * (means.dim() - 1)
    w = counts.reshape(shape).to(means.dtype)
    n = w.sum(0)
    mean = (w * means).sum(0) / n
    var = (m2.sum(0) + (w * (means - mean) ** 2).sum(0)) / n
    return n.reshape(()), mean, var


def global_moments(x: torch.Tensor, group=None) -> tuple[torch.Tensor, torch.Tensor, int]:
    """Mean and biased variance over the rows of every rank's ``x`` ``(B_r, ...)``, and ``Σ B_r``.

    What ``x.mean(0)`` and ``x.var(0, unbiased=False)`` of :func:`gather_samples` ``(x)`` would
    be, from one gather of ``(count, mean, M2)`` per rank (:func:`combine_moments`).
    Differentiable like ``SyncBatchNorm``: the gradient reaches every rank's samples.
    """
    flat = x.reshape(x.shape[0], -1)
    n = flat.shape[0]
    mean = flat.sum(0) / max(n, 1)
    m2 = ((flat - mean) ** 2).sum(0)
    count = flat.new_full((1,), float(n)).detach()
    rows = gather_rows(torch.cat([count, mean, m2]), group)  # (world, 1 + 2 d)
    d = mean.shape[0]
    total, g_mean, g_var = combine_moments(rows[:, 0].detach(), rows[:, 1 : 1 + d],
                                           rows[:, 1 + d :])
    shape = x.shape[1:]
    return g_mean.reshape(shape), g_var.reshape(shape), int(total.item())


@contextlib.contextmanager
def synced_statistics(model: nn.Module, group=None) -> Iterator[nn.Module]:
    """Within the context, every DKAN standardisation of ``model`` uses the batch mean and
    variance of all ranks' batches (:func:`global_moments`), like ``torch.nn.SyncBatchNorm``.

    The running statistics then stay identical on every rank (given identical starting values)
    and equal those of one process seeing the whole batch. Every rank must run the same forward
    passes in training mode. Models without DKAN layers are unaffected.
    """
    require_distributed("synced_statistics")
    modules = [m for m in model.modules() if isinstance(m, RunningStandardize)]
    saved = [m.__dict__.get("moments_fn") for m in modules]

    def moments(x: torch.Tensor):
        return global_moments(x, group)

    for m in modules:
        m.moments_fn = moments
    try:
        yield model
    finally:
        for m, fn in zip(modules, saved):
            if fn is None:
                m.__dict__.pop("moments_fn", None)
            else:
                m.moments_fn = fn


def global_edge_scales(
    inputs: torch.Tensor,
    activations: torch.Tensor,
    metric: str = "edge_l1",
    numeric_mask: torch.Tensor | None = None,
    group=None,
) -> torch.Tensor:
    """:func:`kanlab.training.regularization.edge_scales` over all ranks' batches together,
    differentiably.

    ``"edge_l1"``: the pooled mean of ``|φ|``; ``"edge_std"``: pooled (unbiased) standard
    deviations of the activations and of the inputs.
    """
    if metric == "edge_l1":
        mean, _, _ = global_moments(activations.abs(), group)
        return mean
    if metric != "edge_std":
        raise InputError(f"reg_metric must be 'edge_l1' or 'edge_std'; got {metric!r}")
    acts = activations if numeric_mask is None else activations * numeric_mask
    _, var_a, n = global_moments(acts, group)
    _, var_x, _ = global_moments(inputs, group)
    unbias = n / max(n - 1, 1)
    return torch.sqrt(var_a * unbias) / (torch.sqrt(var_x * unbias) + 0.1)
