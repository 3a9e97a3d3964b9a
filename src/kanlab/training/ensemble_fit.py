"""``fit`` for an :class:`~kanlab.nn.ensemble.Ensemble`: its members trained side by side, each
as ``fit`` trains a lone KAN.

Every member gets what its own ``fit`` would: its batches (the same seeds, so the same
indices), its grid events (a :class:`~kanlab.training.grid_events.GridEvents` per member, on
its own losses: an update is applied to a KAN shell of the member and written back; a
refinement, which every member takes at the same step, restacks them and restarts the
optimiser), its own optimiser state (Adam elementwise over the stacked parameters;
:class:`~kanlab.training.ensemble_lbfgs.EnsembleLBFGS`), its own ``λ`` (``lamb`` may be a list),
its own early stop (:mod:`~kanlab.training.ensemble_validation`) and its own :class:`History`.
One evaluation is one pass over the members asked for: with the compiled kernel and the
default loss, each member's forward, loss (and penalty) and backward in one call
(:func:`~kanlab.nn.ensemble_layer.fused_squared_error`, ``fused_regularised``); otherwise a
batched autograd pass whose losses are summed for the backward (the members share no
parameter, so each gets its own gradient).

Members whose passes equal a lone model's to the bit (the compiled kernel; see
:mod:`~kanlab.nn.ensemble_layer`) end with a lone fit's parameters and history to the bit.

Data: a :class:`~kanlab.data.Dataset` or dict whose inputs are ``(N, in)`` (every member's)
or ``(E, N, in)`` (one set per member), labels likewise ``(N, out)`` or ``(E, N, out)``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Container, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from kanlab.data import Dataset
from kanlab.errors import InputError
from kanlab.nn.ensemble import Ensemble
from kanlab.nn.ensemble_layer import fused_regularised, fused_squared_error
from kanlab.training.batches import as_dataset, training_data
from kanlab.training.ensemble_lbfgs import EnsembleLBFGS
from kanlab.training.ensemble_validation import EnsembleValidation
from kanlab.training.grid_events import GridEvents, GridSamples
from kanlab.training.model_loss import ModelLoss
from kanlab.training.records import History, default_log_every, log, progress_bar
from kanlab.training.regularization import Regulariser
from kanlab.training.step import optimizer_settings

__all__ = ["EnsembleHistory", "fit_ensemble"]


@dataclass
class EnsembleHistory:
    """The :class:`~kanlab.training.records.History` of every member of an ensemble's run.

    Attributes:
        members: member ``i``'s history, as a lone ``fit`` of it would have recorded.
    """

    members: list[History]

    def __len__(self) -> int:
        return len(self.members)

    def __getitem__(self, i: int) -> History:
        return self.members[i]

    def final(self, metric: str = "train_rmse") -> list[float]:
        """Each member's last recorded ``metric`` (``"loss"``, ``"train_rmse"``,
        ``"test_rmse"``, ``"val_loss"``); ``nan`` where there is none."""
        if metric not in ("loss", "train_rmse", "test_rmse", "val_loss"):
            raise InputError(f"metric must be loss, train_rmse, test_rmse or val_loss; got "
                             f"{metric!r}")
        return [getattr(h, metric)[-1] if getattr(h, metric) else math.nan
                for h in self.members]

    def best_member(self, metric: str = "test_rmse") -> int:
        """The member with the lowest final ``metric`` (``nan`` counts as worst); for
        ``"val_loss"``, the lowest best validation loss (the state each member ends in).

        Raises:
            InputError: no member has a finite value of ``metric``.
        """
        values = [h.best_val_loss for h in self.members] if metric == "val_loss" \
            else self.final(metric)
        finite = [(v, i) for i, v in enumerate(values) if math.isfinite(v)]
        if not finite:
            raise InputError(f"no member has a finite {metric}; record a test set (or use "
                             "metric='train_rmse' / 'loss')")
        return min(finite)[1]


#: ``fit`` arguments an ensemble's run does not take yet (only their inactive values), and
#: those that only matter with one of them
_NOT_YET = ("distributed", "penalty", "callbacks")


def fit_ensemble(
    model: Ensemble, data: Any, *, opt: str = "lbfgs", steps: int = 100,
    lr: float | None = None, batch_size: int | None = None, update_grid: Any = True,
    grid_update_every: int = 5, grid_update_until: int | None = 50,
    grid_schedule: Sequence[int] | Mapping[int, int] | None = None, grid_samples: Any = "auto",
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
    progress: bool = True, seed: int | None = 0, log_every: int | None = None,
    optimizer_options: Mapping[str, Any] | None = None, lamb: float | Sequence[float] = 0.0,
    lamb_l1: float = 1.0, lamb_entropy: float = 2.0, lamb_coef: float = 0.0,
    lamb_coefdiff: float = 0.0, reg_metric: str = "edge_l1", validation: Any = None,
    patience: int | None = None, restore_best: bool = True, **unsupported: Any,
) -> EnsembleHistory:
    """Train every member of ``model`` in place; ``fit``'s arguments mean what they mean for
    a lone KAN (module docstring), ``lamb`` may be one ``λ`` per member (the knot study's
    ``λ ∈ {1e-2, 1e-3}`` side by side), and validation stops and restores each member on its
    own (:mod:`~kanlab.training.ensemble_validation`). Returns an :class:`EnsembleHistory`.

    Raises:
        InputError: data of another member count or shape, a ``DataLoader``, a
            :class:`~kanlab.training.model_loss.ModelLoss`, or an argument ensembles do not
            take yet (callbacks, a penalty, several processes).
    """
    for name, value in unsupported.items():
        if name not in _NOT_YET:
            raise TypeError(f"fit() got an unexpected keyword argument {name!r}")
        if name in _NOT_YET and value is not None and value is not False and value != 0:
            raise InputError(f"fit({name}=...) is not supported for an Ensemble yet; train "
                             "its members one by one (ensemble.member(i)) for it")
    if isinstance(loss_fn, ModelLoss):
        raise InputError("a ModelLoss is not supported for an Ensemble yet")
    shells = [model.member(e) for e in range(model.members)]
    dataset = as_dataset(data)
    data, held_out = EnsembleValidation.for_fit(
        model, dataset, validation, patience, restore_best, seed,
        isinstance(dataset, Dataset) and dataset.train_input.dim() == 2,
        loss_fn or nn.functional.mse_loss)
    run = _Run(model, shells, data, steps, batch_size, seed, loss_fn)
    run.regularise(_member_lambdas(lamb, model.members),
                   Regulariser(1.0, lamb_l1, lamb_entropy, lamb_coef, lamb_coefdiff, reg_metric))
    grids = [GridEvents.for_fit(shell, steps, update_grid, grid_update_every,
                                grid_update_until, grid_schedule,
                                GridSamples.of(grid_samples, d, batch_size))
             for shell, d in zip(shells, run.data)]
    settings = optimizer_settings(opt, lr, optimizer_options)
    records = _Records(run, steps, log_every, batch_size, progress, held_out.losses)
    records.stopped = held_out.frozen
    held_out.start(records.log_every, model, records.histories)
    optimizer = _optimizer(opt, model, settings)
    for i in range(steps):
        xb, yb = run.next_batch()
        moved = _grid_events(i, run, grids, records, xb, yb, held_out)
        if moved is None:  # every member stopped before a refinement
            break
        if moved:
            optimizer = _optimizer(opt, model, settings)
        losses, regs = run.step(optimizer, xb, yb)
        held_out.hold_frozen(model)
        if records.after_step(i + 1, losses, regs) and held_out.after_record(
                i + 1, model, records.histories, records.last_val):
            break
    records.close()
    held_out.finish(model, records.histories)
    return EnsembleHistory(records.histories)


def _optimizer(opt: str, model: Ensemble, settings: dict[str, Any]):
    params = [p for p in model.parameters() if p.requires_grad]
    if opt == "lbfgs":
        return EnsembleLBFGS(params, model.members, **settings)
    if opt == "adam":
        return torch.optim.Adam(params, **settings)
    raise InputError(f"optimizer must be 'lbfgs' or 'adam'; got {opt!r}")


def _grid_events(i: int, run: _Run, grids: list[GridEvents], records: _Records,
                 xb: torch.Tensor, yb: torch.Tensor, held_out: EnsembleValidation
                 ) -> bool | None:
    """Apply the grid events due before step ``i`` member by member; returns whether the
    parameters were replaced (a refinement: the optimiser restarts), None when validation
    stopped every member before a refinement."""
    model, shells = run.model, run.shells
    events = []
    for e, grid in enumerate(grids):
        x_e, y_e = run.member_batch(xb, yb, e)
        grid.observe(x_e, y_e)
        events.append(grid.due(i, shells[e], records.losses[e]))
    if not any(events):
        return False
    refine_to = next((ev.refine_to for ev in events if ev is not None and ev.refine_to), None)
    if refine_to is not None and held_out.before_refinement(i, refine_to, model,
                                                            records.histories):
        return None
    custom = None if run.loss_fn is nn.functional.mse_loss else run.loss_fn
    for e, event in enumerate(events):
        if event is not None and e in held_out.frozen and not event.replaces_parameters:
            events[e] = None  # a stopped member's grid stays (its state is written back)
        elif event is not None:
            model.copy_member_into(e, shells[e])
            history = History() if e in held_out.frozen else records.histories[e]
            event.apply(shells[e], *grids[e].samples(*run.member_batch(xb, yb, e)), history,
                        lambda t: t, custom)
    refined = [event is not None and event.replaces_parameters for event in events]
    if any(refined):
        if not all(refined):
            raise RuntimeError("members refined at different steps; an ensemble's grid "
                               "schedule is shared")
        model.restack(shells)
        held_out.hold_frozen(model, refined=True)
        return True
    for e, event in enumerate(events):
        if event is not None:
            model.load_member(e, shells[e])
    held_out.hold_frozen(model)
    return False


class _Run:
    """The data of a run (shared by the members or one set each), its batches and the
    objective of one step."""

    def __init__(self, model: Ensemble, shells: list, data: Any, steps: int,
                 batch_size: int | None, seed: int | None, loss_fn: Callable | None) -> None:
        self.model, self.shells, self.members = model, shells, model.members
        self.loss_fn = loss_fn or nn.functional.mse_loss
        self.lambdas: torch.Tensor | None = None
        self.regulariser = Regulariser()
        dataset = as_dataset(data)
        if not isinstance(dataset, Dataset):
            raise InputError("an Ensemble trains on a Dataset or dict (inputs (N, in) or "
                             "(E, N, in)), not a DataLoader")
        self.shared = dataset.train_input.dim() == 2
        parts = [dataset] if self.shared else _member_datasets(dataset, self.members)
        custom = loss_fn is not None
        self.train = [training_data(d, shell, batch_size, seed, custom_loss=custom)
                      for d, shell in zip(parts, shells)]
        self.data = self.train * self.members if self.shared else self.train

    def next_batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The step's batch: shared ``(B, in)``, ``(B, out)`` or stacked ``(E, B, ...)``."""
        if self.shared:
            return next(self.train[0].batches)
        pairs = [next(d.batches) for d in self.train]
        return torch.stack([x for x, _ in pairs]), torch.stack([y for _, y in pairs])

    def member_batch(self, xb: torch.Tensor, yb: torch.Tensor,
                     e: int) -> tuple[torch.Tensor, torch.Tensor]:
        return (xb, yb) if self.shared else (xb[e], yb[e])

    def losses(self, pred: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Each member's loss ``(E,)`` of its predictions ``(E, B, out)`` against ``y``
        (shared or per member), as a lone ``fit`` computes it."""
        if self.loss_fn is nn.functional.mse_loss:
            target = y.reshape(pred.shape[1:]).expand_as(pred) if self.shared else \
                y.reshape(pred.shape)
            return nn.functional.mse_loss(pred, target, reduction="none").flatten(1).mean(1)
        return torch.stack([self.loss_fn(pred[e], y if self.shared else y[e])
                            for e in range(self.members)])

    def regularise(self, lambdas: torch.Tensor | None, regulariser: Regulariser) -> None:
        """Add ``λ_e · penalty_e`` to member ``e``'s loss (``lambdas`` ``(E,)``; None: off)."""
        self.lambdas, self.regulariser = lambdas, regulariser

    def objective(self, xb: torch.Tensor, yb: torch.Tensor, which: torch.Tensor | None):
        """Each member's loss, penalty (None without regularisation) and objective ``(E,)``,
        the objective's gradients in the parameters."""
        if self.lambdas is not None:
            found = self._fused_regularised(xb, yb, which)
            if found is not None:
                losses, reg = found
                lambdas = self.lambdas.to(reg)
                return losses, torch.where(lambdas > 0, reg, 0.0), losses + lambdas * reg
            traces = self.model.trace(xb)
            losses = self.losses(traces[-1].outputs, yb)
            reg = self.regulariser.penalty(self.model, traces)
            lambdas = self.lambdas.to(reg)
            objective = losses + lambdas * reg
            objective.sum().backward()
            return losses, torch.where(lambdas > 0, reg, 0.0), objective  # (as lone fits record)
        losses = None
        if self.loss_fn is nn.functional.mse_loss:  # member by member, only those asked
            losses = fused_squared_error(self.model.layers, xb, yb.reshape(
                xb.shape[:-1] + (self.model.out_features,)), which)
        if losses is None:
            losses = self.losses(self.model(xb), yb)
            losses.sum().backward()
        return losses, None, losses

    def _fused_regularised(self, xb: torch.Tensor, yb: torch.Tensor,
                           which: torch.Tensor | None):
        """``(losses, penalties)`` from the compiled member-by-member pass (its gradients
        written), or None where it does not apply: another loss or metric, coefficient
        penalties (:func:`~kanlab.nn.ensemble_layer.fused_regularised`)."""
        reg = self.regulariser
        if self.loss_fn is not nn.functional.mse_loss or reg.metric != "edge_l1" or reg.coef \
                or reg.coefdiff:
            return None
        y = yb.reshape(xb.shape[:-1] + (self.model.out_features,))
        return fused_regularised(self.model.layers, xb, y, self.lambdas, reg.l1, reg.entropy,
                                 which)

    def step(self, optimizer, xb: torch.Tensor,
             yb: torch.Tensor) -> tuple[list[float], list[float]]:
        """One optimiser step; returns each member's loss and penalty at its start."""
        first: list[tuple[list[float], list[float]]] = []

        def closure(which: torch.Tensor | None = None) -> torch.Tensor:
            optimizer.zero_grad()
            losses, reg, objective = self.objective(xb, yb, which)
            if not first:
                first.append((losses.detach().tolist(), [0.0] * self.members if reg is None
                              else reg.detach().tolist()))
            return objective.detach()

        optimizer.step(closure)
        return first[0]


def _member_lambdas(lamb: float | Sequence[float], members: int) -> torch.Tensor | None:
    """``λ`` per member ``(E,)`` from one number or one per member; None when all are 0.

    Raises:
        InputError: a list of another length, or a ``λ`` negative or not finite.
    """
    values = [lamb] * members if isinstance(lamb, (int, float)) else list(lamb)
    if len(values) != members:
        raise InputError(f"lamb must be one number or one per member ({members}); got "
                         f"{len(values)}")
    for v in values:
        Regulariser(float(v))  # checks it
    if not any(values):
        return None
    return torch.tensor([float(v) for v in values], dtype=torch.float64)


def _member_datasets(data: Dataset, members: int) -> list[Dataset]:
    """Member ``e``'s dataset from tensors ``(E, N, ...)``."""
    tensors = {"train_input": data.train_input, "train_label": data.train_label,
               "test_input": data.test_input, "test_label": data.test_label}
    for name, t in tensors.items():
        if t is not None and (t.dim() < 2 or t.shape[0] != members):
            raise InputError(f"{name} has shape {tuple(t.shape)}; per-member data need a "
                             f"first axis of {members} (one set per member), or give inputs "
                             "(N, in) shared by every member")
    return [Dataset(**{name: None if t is None else t[e] for name, t in tensors.items()})
            for e in range(members)]


class _Records:
    """Every member's :class:`History`, recorded as a lone ``fit``'s records it."""

    def __init__(self, run: _Run, steps: int, log_every: int | None, batch_size: int | None,
                 progress: bool, validate: Callable[[Ensemble], list[float]]) -> None:
        n_train = run.data[0].n_train
        self.log_every = log_every or default_log_every(n_train, batch_size)
        self.run, self.steps, self.validate = run, steps, validate
        self.last_val: list[float] = []
        self.stopped: Container[int] = ()
        self.sets = self._whole_sets()
        self.histories = [History() for _ in range(run.members)]
        self.losses: list[list[float]] = [[] for _ in range(run.members)]
        self.bar = progress_bar(steps, progress)
        self.log_interval = max(steps // 10, 1)
        self.start = time.perf_counter()

    def after_step(self, done: int, losses: list[float], regs: list[float]) -> bool:
        """Take step ``done``'s losses and penalties; returns whether it was recorded."""
        for e, loss in enumerate(losses):
            self.losses[e].append(loss)
            if not math.isfinite(loss):
                raise FloatingPointError(f"member {e}'s training loss became {loss} at step "
                                         f"{done}; lower lr or check data")
        recorded = done % self.log_every == 0 or done == self.steps
        if recorded:
            self._record(done, losses, regs)
        mean = sum(losses) / len(losses)
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix(mean_loss=f"{mean:.3e}")
        elif done % self.log_interval == 0:
            log.info("step %d/%d mean member loss %.4e", done, self.steps, mean)
        return recorded

    def _rmse(self, x: torch.Tensor | None, y: torch.Tensor | None) -> list[float]:
        if x is None or y is None or not y.is_floating_point():
            return [math.nan] * self.run.members
        with torch.no_grad():
            pred = self.run.model(x)
        sq = (pred - y.reshape(pred.shape[-2:] if x.dim() == 2 else pred.shape)) ** 2
        return torch.sqrt(sq.flatten(1).mean(1)).tolist()

    def _whole_sets(self) -> list[tuple[torch.Tensor | None, torch.Tensor | None]]:
        """The whole train and test sets the records evaluate: shared, or stacked
        ``(E, N, ...)``, once for the run."""
        sets = []
        for name in ("train", "test"):
            xs = [getattr(d, f"{name}_x") for d in self.run.train]
            ys = [getattr(d, f"{name}_y") for d in self.run.train]
            if xs[0] is None or self.run.shared:
                sets.append((xs[0], ys[0]))
            else:
                sets.append((torch.stack(xs), torch.stack(ys)))
        return sets

    def _record(self, done: int, losses: list[float], regs: list[float]) -> None:
        run = self.run
        train, test = self._rmse(*self.sets[0]), self._rmse(*self.sets[1])
        self.last_val = self.validate(run.model)
        wall = time.perf_counter() - self.start
        for e, history in enumerate(self.histories):
            if e in self.stopped:  # a stopped member's history ends where it stopped
                continue
            history.train_rmse.append(train[e])
            history.test_rmse.append(test[e])
            history.step.append(done)
            history.loss.append(losses[e])
            history.reg.append(regs[e])
            history.grid_size.append(list(run.model.grid_size))
            history.val_loss.append(self.last_val[e])
            history.wall_time.append(wall)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
