"""``fit``: train a KAN with LBFGS or Adam, grid updates and a grid-extension schedule."""

from __future__ import annotations

import contextlib
import functools
import logging
import math
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from kanlab._modes import evaluating
from kanlab._validation import check_choice, check_finite, check_positive_int
from kanlab.data import Dataset
from kanlab.errors import InputError
from kanlab.grids.schedules import AdaptSchedule, EveryNSteps, ScheduleState, any_due
from kanlab.nn.model import KAN
from kanlab.training import distributed as dist_utils
from kanlab.training.lbfgs import LBFGS
from kanlab.training.regularization import (
    REG_METRICS,
    coefficient_penalty,
    edge_scales,
    sparsity_penalty,
)

__all__ = ["History", "TrainState", "fit", "grid_schedule_steps"]

log = logging.getLogger(__name__)

OPTIMIZERS = ("lbfgs", "adam")


@dataclass
class History:
    """What happened during :func:`fit`, one entry per recorded step.

    Attributes:
        step: optimiser steps completed when the entry was recorded (1-based).
        loss: the prediction loss at the start of the step (on its batch).
        reg: the regularisation penalty at the start of the step (0 without ``lamb``).
        train_rmse, test_rmse: root mean squared error on the whole train / test set after the
            step (``nan`` where there is no such set or the loss is not a regression loss).
        grid_size: each layer's grid size during the step.
        wall_time: seconds since :func:`fit` began.
        events: ``(step, text)`` for grid updates and refinements.
        grid_drift: ``(step, drift per layer)`` of every grid update: the relative change of
            each layer's outputs that the refit could not avoid (see ``KAN.update_grid``).
    """

    step: list[int] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)
    train_rmse: list[float] = field(default_factory=list)
    test_rmse: list[float] = field(default_factory=list)
    grid_size: list[list[int]] = field(default_factory=list)
    wall_time: list[float] = field(default_factory=list)
    events: list[tuple[int, str]] = field(default_factory=list)
    grid_drift: list[tuple[int, list[float]]] = field(default_factory=list)
    reg: list[float] = field(default_factory=list)

    def as_dict(self) -> dict[str, list]:
        return {name: list(getattr(self, name)) for name in self.__dataclass_fields__}

    def final_by_grid(self) -> dict[int, dict[str, float]]:
        """Last recorded train/test RMSE of each grid stage, keyed by the first layer's grid."""
        out: dict[int, dict[str, float]] = {}
        for g, tr, te in zip(self.grid_size, self.train_rmse, self.test_rmse):
            out[g[0]] = {"train_rmse": tr, "test_rmse": te}
        return out


@dataclass
class TrainState:
    """Passed to callbacks after every step; a callback returning ``True`` stops training."""

    step: int
    model: nn.Module
    loss: float
    history: History


def grid_schedule_steps(
    schedule: Sequence[int] | Mapping[int, int] | None, steps: int
) -> list[tuple[int, int]]:
    """Normalise a grid schedule to sorted ``(step, grid_size)`` pairs.

    A mapping gives the steps explicitly; a list of sizes splits ``steps`` evenly, so
    ``[3, 5, 10]`` with ``steps=600`` refines to 3, 5 and 10 at steps 0, 200 and 400.
    """
    if schedule is None:
        return []
    if isinstance(schedule, Mapping):
        pairs = sorted((int(s), int(g)) for s, g in schedule.items())
    else:
        sizes = list(schedule)
        if not sizes:
            return []
        pairs = [(round(i * steps / len(sizes)), int(g)) for i, g in enumerate(sizes)]
    for s, g in pairs:
        check_positive_int("grid size in grid_schedule", g)
        if not 0 <= s < max(steps, 1):
            raise InputError(f"grid_schedule step {s} lies outside the run's steps [0, {steps})")
    return pairs


def _adapt_schedules(
    update_grid: bool | AdaptSchedule | Sequence[AdaptSchedule], every: int, until: int | None
) -> list[AdaptSchedule]:
    if update_grid is True:
        return [EveryNSteps(every=every, until=until, after_refine=False)]
    if update_grid is False or update_grid is None:
        return []
    items = [update_grid] if isinstance(update_grid, AdaptSchedule) else list(update_grid)
    for item in items:
        if not isinstance(item, AdaptSchedule):
            raise InputError(
                "update_grid must be True, False, a kanlab.grids.schedules schedule or a list of "
                "them; "
                f"got {type(item).__name__}"
            )
    return items


def _as_dataset(data: Any) -> Dataset | torch.utils.data.DataLoader:
    if isinstance(data, Dataset):
        return data
    if isinstance(data, torch.utils.data.DataLoader):
        return data
    if isinstance(data, Mapping):
        return Dataset.from_dict(data)
    raise InputError(
        "data must be a kanlab.data.Dataset, a dict with train_input/train_label (pykan style) "
        f"or a torch DataLoader; got {type(data).__name__}"
    )


def _check_pair(name: str, x: torch.Tensor, y: torch.Tensor, model: nn.Module, custom_loss: bool):
    n_in = _in_features(model)
    if x.dim() != 2 or (n_in is not None and x.shape[1] != n_in):
        raise InputError(f"{name}_input has shape {tuple(x.shape)}; expected (N, {n_in})")
    if y.shape[0] != x.shape[0]:
        raise InputError(
            f"{name}_label has {y.shape[0]} rows but {name}_input has {x.shape[0]}; they must match"
        )
    check_finite(f"{name}_input", x)
    check_finite(f"{name}_label", y)
    n_out = _out_features(model)
    if y.is_floating_point() and n_out is not None:
        if y.dim() == 1 and not custom_loss:
            raise InputError(
                f"{name}_label has shape {tuple(y.shape)} but the model outputs (N, {n_out}); "
                f"reshape the labels to (N, {n_out}) (e.g. y.reshape(-1, 1)) -- broadcasting "
                "(N,) against (N, 1) would silently fit the wrong loss"
            )
        if y.dim() == 1 and n_out == 1:
            raise InputError(
                f"{name}_label has shape {tuple(y.shape)} but the model outputs (N, 1); "
                "use labels of shape (N, 1)"
            )
        if y.dim() == 2 and y.shape[1] != n_out:
            raise InputError(
                f"{name}_label has shape {tuple(y.shape)}; the model outputs (N, {n_out})"
            )


def _in_features(model: nn.Module) -> int | None:
    return model.widths[0] if isinstance(model, KAN) else getattr(model, "in_features", None)


def _out_features(model: nn.Module) -> int | None:
    return model.widths[-1] if isinstance(model, KAN) else getattr(model, "out_features", None)


def _batches(
    x: torch.Tensor, y: torch.Tensor, batch_size: int | None, gen: torch.Generator
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Endless batches: the whole set, or shuffled epochs that see every sample once."""
    n = x.shape[0]
    if batch_size is None or batch_size >= n:
        while True:
            yield x, y
    while True:
        perm = torch.randperm(n, generator=gen).to(x.device)
        for start in range(0, n - batch_size + 1, batch_size):
            idx = perm[start : start + batch_size]
            yield x[idx], y[idx]
        rest = n % batch_size
        if rest:  # the tail of the epoch, so that no sample is skipped
            idx = perm[n - rest :]
            yield x[idx], y[idx]


def _loader_batches(loader, device, dtype) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    while True:
        for batch in loader:
            if not isinstance(batch, (list, tuple)) or len(batch) < 2:
                raise InputError("a DataLoader for fit must yield (input, label) pairs")
            xb, yb = batch[0], batch[1]
            yield (
                xb.to(device=device, dtype=dtype),
                yb.to(device=device, dtype=dtype if yb.is_floating_point() else None),
            )


def _make_optimizer(name: str, params, lr: float | None, options: Mapping[str, Any] | None):
    options = dict(options or {})
    if name == "lbfgs":
        settings = {
            "lr": 1.0 if lr is None else lr,
            "max_iter": 20,
            "history_size": 10,
            "line_search_fn": "strong_wolfe",
            "tolerance_grad": 1e-32,
            "tolerance_change": 1e-32,
        }
        settings.update(options)
        return LBFGS(params, **settings)
    settings = {"lr": 1e-2 if lr is None else lr}
    settings.update(options)
    return torch.optim.Adam(params, **settings)


@torch.no_grad()
def _rmse(
    model: nn.Module, x: torch.Tensor | None, y: torch.Tensor | None, distributed: bool = False
) -> float:
    """RMSE in eval mode (running statistics used, never updated), training mode restored.

    ``distributed``: over every rank's ``x`` (squared errors and counts summed over ranks).
    """
    if x is None or y is None or not y.is_floating_point():
        return math.nan
    with evaluating(model):
        pred = model(x)
    sq = (pred - y.reshape(pred.shape)) ** 2
    if distributed:
        total = dist_utils.all_sum(torch.stack([sq.sum(), sq.new_tensor(sq.numel())]))
        return float(torch.sqrt(total[0] / total[1]))
    return float(torch.sqrt(torch.mean(sq)))


def _progress_bar(total: int, enabled: bool):
    if not enabled:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:  # progress falls back to logging
        return None
    return tqdm(total=total, desc="fit", leave=False)


def fit(
    model: nn.Module,
    data: Dataset | Mapping[str, torch.Tensor] | torch.utils.data.DataLoader,
    *,
    opt: str = "lbfgs",
    steps: int = 100,
    lr: float | None = None,
    batch_size: int | None = None,
    update_grid: bool | AdaptSchedule | Sequence[AdaptSchedule] = True,
    grid_update_every: int = 5,
    grid_update_until: int | None = 50,
    grid_schedule: Sequence[int] | Mapping[int, int] | None = None,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
    callbacks: Sequence[Callable[[TrainState], bool | None]] | None = None,
    progress: bool = True,
    seed: int | None = 0,
    log_every: int | None = None,
    optimizer_options: Mapping[str, Any] | None = None,
    lamb: float = 0.0,
    lamb_l1: float = 1.0,
    lamb_entropy: float = 2.0,
    lamb_coef: float = 0.0,
    lamb_coefdiff: float = 0.0,
    reg_metric: str = "edge_l1",
    distributed: bool = False,
) -> History:
    """Train ``model`` in place and return its :class:`History`.

    Args:
        model: a :class:`~kanlab.nn.model.KAN` (or any module; grid options need a KAN).
        data: a :class:`~kanlab.data.Dataset`, a pykan-style dict (``train_input``,
            ``train_label``, ``test_input``, ``test_label``) or a ``DataLoader`` of
            ``(input, label)`` pairs. Floating tensors are cast to the model's dtype and moved
            to its device.
        opt: ``"lbfgs"`` (the paper's: strong-Wolfe line search, history 10, up to 20
            iterations per step, curvature pairs kept down to ``yᵀs > 1e-32`` -- see
            :mod:`kanlab.training.lbfgs`) or ``"adam"``.
        steps: optimiser steps.
        lr: learning rate (default 1 for LBFGS, 1e-2 for Adam).
        batch_size: ``None`` for full batch; otherwise steps walk the training set in shuffled
            epochs (every sample is seen once per epoch).
        update_grid: when to adapt the grids to the data (:meth:`KAN.update_grid`, on the
            step's batch): ``True`` adapts at steps ``0, every, 2·every, ...`` below
            ``grid_update_until`` and only while the grid has not yet been refined by
            ``grid_schedule`` (an update on a refined grid would undo part of what the
            refinement gained); ``False`` never; or a schedule from :mod:`kanlab.grids.schedules`
            (``EveryNSteps``, ``OnRefine``, ``OnPlateau``) or a list of them (adapt when any is
            due). Fixed grids (DKAN) are never adapted.
        grid_update_every, grid_update_until: the ``True`` schedule (pykan's 5 and 50).
            ``grid_update_until=None`` means "until the first refinement".
        grid_schedule: grid extension (paper §2.4): a list of sizes, spread evenly over
            ``steps`` (``[3, 5, 10, 20, 50]`` with ``steps=1000`` refines every 200 steps), or a
            mapping ``{step: size}``. The optimiser restarts on the refined parameters.
        loss_fn: ``loss_fn(pred, label) -> scalar``; default mean squared error.
        callbacks: called with a :class:`TrainState` after every step; ``True`` stops.
        progress: show a tqdm progress bar (if tqdm is installed); otherwise log at INFO.
        seed: seed of the local generator that shuffles batches (the global RNG is untouched).
        log_every: record the history every this many steps (and at the last step); each
            record evaluates the whole train and test sets. Default: every step in full-batch
            training, once per epoch with ``batch_size``.
        optimizer_options: extra keyword arguments for the optimiser.
        lamb: weight ``λ`` of the sparsity regularisation (paper eq. 2.20); 0 turns it off
            (and then nothing of it is computed). Needs a KAN.
        lamb_l1, lamb_entropy: ``μ₁`` and ``μ₂``: weights of the L1 and entropy terms.
        lamb_coef, lamb_coefdiff: weights of pykan's coefficient magnitude and smoothness
            penalties (inside ``λ``).
        reg_metric: ``"edge_l1"`` (the paper: mean ``|φ|`` per edge) or ``"edge_std"``
            (pykan 0.2.8's default); see :mod:`kanlab.training.regularization`.
        distributed: train on every rank of the initialised ``torch.distributed`` process
            group (launched by ``torchrun``; see :mod:`kanlab.training.distributed`). Call ``fit``
            on every rank with the same arguments except ``data``: each rank passes its own shard
            (shards may differ in size; a test set on every rank or on none; a ``DataLoader``
            with a ``DistributedSampler``). Rank 0's model is broadcast first; grid updates
            place the knots from all ranks' batches
            (:func:`~kanlab.training.distributed.gather_samples`); DKAN batch and running
            statistics are pooled over ranks like ``SyncBatchNorm``;
            each rank's loss is weighted by its share of the global batch and the gradients
            summed, and the loss given to the optimiser is the global one, so every rank takes
            the same steps on the same model as one process would on the whole data (up to
            rounding). ``loss_fn`` must be a mean over samples; the history's losses and RMSEs
            are global; callbacks run on every rank and must decide alike; only rank 0 shows
            progress. With ``batch_size`` each rank shuffles its own shard. The model records
            the training inputs of all ranks.

    Returns:
        The :class:`History` of the run.

    Raises:
        InputError: bad shapes, NaN/inf in the data, labels ``(N,)`` against outputs ``(N, 1)``,
            unknown optimiser, too few samples for a grid update.
    """
    check_choice("optimizer", opt, OPTIMIZERS)
    check_positive_int("steps", steps)
    check_positive_int("grid_update_every", grid_update_every)
    if batch_size is not None:
        check_positive_int("batch_size", batch_size)
    is_kan = isinstance(model, KAN)
    schedule = grid_schedule_steps(grid_schedule, steps)
    if schedule and not is_kan:
        raise InputError("grid_schedule needs a kanlab.KAN model")
    adapt = _adapt_schedules(update_grid, grid_update_every, grid_update_until)
    check_choice("reg_metric", reg_metric, REG_METRICS)
    if lamb < 0 or not math.isfinite(lamb):
        raise InputError(f"lamb must be a finite non-negative number; got {lamb!r}")
    if lamb > 0 and not is_kan:
        raise InputError("sparsity regularisation (lamb > 0) needs a kanlab.KAN model")
    regularise = functools.partial(
        _regularisation, l1=lamb_l1, entropy=lamb_entropy, coef=lamb_coef,
        coefdiff=lamb_coefdiff, metric=reg_metric,
    )
    if not (is_kan and model.grid_strategy.adaptive):
        adapt = []
    if distributed:
        dist_utils.require_distributed("fit(distributed=True)")
        dist_utils.broadcast_model(model)
        regularise = functools.partial(regularise, scales_fn=dist_utils.global_edge_scales)

    params0 = next(model.parameters())
    device, dtype = params0.device, params0.dtype
    data = _as_dataset(data)
    custom_loss = loss_fn is not None
    loss_fn = loss_fn or nn.functional.mse_loss
    gen = torch.Generator().manual_seed(0 if seed is None else seed)
    if isinstance(data, Dataset):
        data = data.to(device=device, dtype=dtype)
        _check_pair("train", data.train_input, data.train_label, model, custom_loss)
        if data.test_input is not None:
            _check_pair("test", data.test_input, data.test_label, model, custom_loss)
        batches = _batches(data.train_input, data.train_label, batch_size, gen)
        train_x, train_y = data.train_input, data.train_label
        test_x, test_y = data.test_input, data.test_label
    else:
        batches = _loader_batches(data, device, dtype)
        train_x = train_y = test_x = test_y = None

    if distributed:  # a mismatch would hang a collective later
        dist_utils.check_same_on_all_ranks("fit's settings", {
            "opt": opt, "steps": steps, "lr": lr, "batch_size": batch_size,
            "schedule": schedule, "lamb": lamb, "log_every": log_every,
            "data": type(data).__name__, "test set": test_x is not None,
        })
        if train_x is not None and train_x.shape[0] == 0:
            raise InputError("fit(distributed=True) needs training samples on every rank")
    if log_every is None:
        n_train = train_x.shape[0] if train_x is not None else 0
        if distributed:  # every rank must record at the same steps
            n_train = int(dist_utils.all_sum(n_train)) // torch.distributed.get_world_size()
        log_every = -(-n_train // batch_size) if batch_size and n_train > batch_size else 1
    check_positive_int("log_every", log_every)

    refine_at = dict(schedule)
    losses: list[float] = []
    refinements = 0
    for s in adapt:
        s.reset()

    def params():
        return [p for p in model.parameters() if p.requires_grad]

    optimizer = _make_optimizer(opt, params(), lr, optimizer_options)
    history = History()
    bar = _progress_bar(steps, progress and not (distributed and torch.distributed.get_rank()))
    start = time.perf_counter()
    contexts = contextlib.ExitStack()
    if distributed:  # DKAN batch statistics pooled over ranks
        contexts.enter_context(dist_utils.synced_statistics(model))
    try:
        for step in range(steps):
            xb, yb = next(batches)
            refine_to = refine_at.get(step)
            if refine_to is not None and refine_to == model.grid_size[0]:
                refine_to = None
            refinements += refine_to is not None
            sched = ScheduleState(step, losses, refinements, refine_to is not None)
            if adapt and any_due(adapt, sched):
                # Extending and adapting at once is one fit (it keeps the function better than
                # a refinement followed by an update). Otherwise the optimiser keeps its state
                # (as pykan's does): the refit keeps the function, and restarting LBFGS every
                # few steps would throw its curvature history away.
                if distributed:  # the same samples, hence the same knots, on every rank
                    drift = model.update_grid(dist_utils.gather_samples(xb), grid_size=refine_to,
                                              y=dist_utils.gather_samples(yb))
                else:
                    drift = model.update_grid(xb, y=yb, grid_size=refine_to)
                history.events.append((step, "update grid"))
                history.grid_drift.append((step, drift))
            elif refine_to is not None:
                model.refine_(refine_to)
            if refine_to is not None:
                optimizer = _make_optimizer(opt, params(), lr, optimizer_options)
                history.events.append((step, f"refine to G={refine_to}"))

            # distributed: this rank's share of the global batch (its loss is a mean over it)
            share = xb.shape[0] / int(dist_utils.all_sum(xb.shape[0])) if distributed else 1.0

            def closure(xb=xb, yb=yb, share=share):
                optimizer.zero_grad()
                if lamb > 0:
                    traces = model.trace(xb, update_statistics=True)
                    loss = loss_fn(traces[-1].outputs, yb)
                    reg = regularise(model, traces)
                    objective = loss + lamb * reg
                else:
                    loss = objective = loss_fn(model(xb), yb)
                    reg = loss.new_zeros(())
                if distributed:  # Σ_r share_r · objective_r is the objective of the global batch
                    (share * objective).backward()
                    dist_utils.allreduce_gradients(params())
                    loss = dist_utils.all_sum(share * loss.detach())  # reg is global already
                    objective = loss + lamb * reg.detach()
                else:
                    objective.backward()
                evaluations.append((float(loss.detach()), float(reg.detach())))
                return objective.detach()

            evaluations: list[tuple[float, float]] = []  # (loss, reg) of each evaluation
            optimizer.step(closure)
            loss, reg = evaluations[0]  # at the start of the step
            losses.append(loss)
            if not math.isfinite(loss):
                raise FloatingPointError(
                    f"the training loss became {loss} at step {step + 1}; lower lr or check data"
                )
            done = step + 1
            if done % log_every == 0 or done == steps:
                if train_x is not None:
                    history.train_rmse.append(_rmse(model, train_x, train_y, distributed))
                else:
                    history.train_rmse.append(math.sqrt(loss) if not custom_loss else math.nan)
                history.test_rmse.append(_rmse(model, test_x, test_y, distributed))
                history.step.append(done)
                history.loss.append(loss)
                history.reg.append(reg)
                history.grid_size.append(list(model.grid_size) if is_kan else [])
                history.wall_time.append(time.perf_counter() - start)
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{loss:.3e}")
            elif done % max(steps // 10, 1) == 0:
                log.info("step %d/%d loss %.4e", done, steps, loss)
            state = TrainState(done, model, loss, history)
            if any(cb(state) for cb in (callbacks or ())):
                break
    finally:
        contexts.close()
        if bar is not None:
            bar.close()
    if is_kan and train_x is not None:
        model.record(dist_utils.gather_samples(train_x) if distributed else train_x)
    return history


def _regularisation(model: KAN, traces, *, l1, entropy, coef, coefdiff, metric,
                    scales_fn=edge_scales) -> torch.Tensor:
    """The sparsity penalty of a batch's traces plus the coefficient penalties."""
    scales = [
        scales_fn(t.inputs, t.activations, metric, layer.numeric_mask())
        for t, layer in zip(traces, model.layers)
    ]
    reg = sparsity_penalty(scales, l1=l1, entropy=entropy, metric=metric)
    if coef or coefdiff:
        reg = reg + coefficient_penalty([layer.coef for layer in model.layers],
                                        magnitude=coef, smoothness=coefdiff)
    return reg
