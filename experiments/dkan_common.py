"""Shared pieces of the DKAN reproduction scripts (``dkan_synthetic.py``, ``dkan_images.py``).

A small training loop that mirrors what the DKAN authors' Lightning code does
(``SignorinoY/DKAN``: ``simulate.py``, ``train.py``, ``src/module.py``):

* Adam, constant learning rate 0.05, mini-batches (the paper's 256);
* ``ReduceLROnPlateau(patience=3)`` on the validation loss, once per epoch (in the code's
  ``configure_optimizers``; the paper does not mention it; ``plateau=False`` turns it off);
* early stopping on the validation loss with Lightning's rule (stop after ``patience`` epochs
  without ``val < best - min_delta``; the code: patience 5, ``min_delta`` 1e-4 for the synthetic
  data, 0 for the images);
* the model of the epoch with the lowest validation loss is restored and tested (the code's
  ``ModelCheckpoint(monitor="val_loss")`` + ``test(ckpt_path="best")``).

Models are put in ``train()`` for training steps and in ``eval()`` for every evaluation, so that
DKAN layers use their running statistics there. Batches are shuffled with a local
``torch.Generator``; the global RNG is never seeded.
"""

from __future__ import annotations

import copy
import math
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn

import kanlab
from kanlab.errors import GridWarning


@dataclass
class FitResult:
    """What one training run gave (the restored best-validation model is left in ``model``)."""

    best_val_loss: float
    best_epoch: int  # 1-based epoch of the restored state
    epochs: int  # epochs run
    steps: int
    seconds: float
    val_losses: list[float] = field(default_factory=list)
    grid_updates: int = 0


@torch.no_grad()
def evaluate(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    *,
    chunk: int = 4096,
    accuracy: bool = False,
) -> tuple[float, float]:
    """Mean loss (and accuracy for class labels) over ``(x, y)`` in eval mode.

    Returns ``(loss, accuracy)``; accuracy is ``nan`` unless asked for.
    """
    was_training = model.training
    model.eval()
    total, correct = 0.0, 0
    n = x.shape[0]
    for start in range(0, n, chunk):
        xb, yb = x[start : start + chunk], y[start : start + chunk]
        out = model(xb)
        total += float(loss_fn(out, yb)) * xb.shape[0]
        if accuracy:
            correct += int((out.argmax(1) == yb).sum())
    model.train(was_training)
    return total / n, (correct / n if accuracy else math.nan)


def grid_update_every(every: int, until: int, n_samples: int = 2048):
    """The fair baseline's schedule: ``model.update_grid`` at steps 0, every, ... < until.

    Each update places the grid on ``n_samples`` training inputs drawn at random (all of them if
    there are fewer), not on the 256-sample batch, so that the grid's ends reach further into
    the tails. Returns a callable ``(model, step, x_train, gen) -> bool`` (True when it updated).
    """

    def update(model: kanlab.KAN, step: int, x_train: torch.Tensor, gen: torch.Generator) -> bool:
        if step >= until or step % every:
            return False
        n = x_train.shape[0]
        idx = torch.randperm(n, generator=gen)[: min(n_samples, n)]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", GridWarning)  # constant (border) pixels keep their grid
            model.update_grid(x_train[idx])
        return True

    return update


def train_early_stopping(
    model: nn.Module,
    x_train: torch.Tensor,
    y_train: torch.Tensor,
    x_val: torch.Tensor,
    y_val: torch.Tensor,
    *,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    seed: int,
    lr: float = 0.05,
    batch_size: int = 256,
    max_epochs: int = 1000,
    patience: int = 5,
    min_delta: float = 1e-4,
    plateau: bool = True,
    grid_update=None,
    time_limit: float | None = None,
) -> FitResult:
    """Train ``model`` in place; restore the state with the lowest validation loss.

    Args:
        grid_update: ``None`` or a callable from :func:`grid_update_every`, asked before every
            step.
        time_limit: stop after the epoch during which this many seconds have passed.
    """
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, patience=3) if plateau else None
    n = x_train.shape[0]
    best_val, best_state, best_epoch = math.inf, None, 0
    es_best, wait = math.inf, 0
    step, updates = 0, 0
    val_losses: list[float] = []
    start = time.perf_counter()
    epoch = 0
    for epoch in range(1, max_epochs + 1):
        model.train()
        perm = torch.randperm(n, generator=gen)
        chunks = list(perm.split(batch_size))
        if len(chunks) > 1 and chunks[-1].numel() < 2:  # batch statistics need 2 samples
            chunks = chunks[:-1]
        for idx in chunks:
            if grid_update is not None and grid_update(model, step, x_train, gen):
                updates += 1
            xb, yb = x_train[idx], y_train[idx]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(xb), yb)
            loss.backward()
            opt.step()
            step += 1
            value = float(loss.detach())
            if not math.isfinite(value):
                raise FloatingPointError(f"training loss became {value} at step {step}")
        val, _ = evaluate(model, x_val, y_val, loss_fn)
        val_losses.append(val)
        if val < best_val:
            best_val, best_epoch = val, epoch
            best_state = copy.deepcopy(model.state_dict())
        if val < es_best - min_delta:  # Lightning's EarlyStopping(mode="min")
            es_best, wait = val, 0
        else:
            wait += 1
            if wait >= patience:
                break
        if sched is not None:
            sched.step(val)
        if time_limit is not None and time.perf_counter() - start > time_limit:
            break
    assert best_state is not None
    model.load_state_dict(best_state)
    model.eval()
    return FitResult(best_val, best_epoch, epoch, step, time.perf_counter() - start, val_losses,
                     updates)


def n_params(model: nn.Module) -> int:
    """Trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


@torch.no_grad()
def authors_init(model: kanlab.KAN, seed: int) -> kanlab.KAN:
    """Re-initialise ``model`` like the authors' code did (their models, not kanlab's defaults).

    KAN (efficient-kan, ``src/kan.py`` of ``SignorinoY/DKAN``): base weights and standalone
    spline scalers ``kaiming_uniform_(a=√5)`` = U(±1/√in); spline coefficients of the size of
    efficient-kan's initial noise, U(±0.05/G) (efficient-kan least-squares fits them to noise
    ``(rand − ½)·0.1/G`` at the grid points; drawn directly here).

    DKAN (``src/dkan.py``): ``nn.Linear`` defaults for its residual branch (weights and bias
    U(±1/√in)) and for its B-spline branch (weights, tails included, U(±1/√(in·(G + k + 2))));
    the code has no spline scale, so kanlab's ``spline_scale`` is frozen at 1.

    kanlab's own initialisation (pykan's: ``w_s = 1``, coefficients N(0, 0.1²)) makes the
    spline branch ~30x larger on a 784-input layer, and a KAN so initialised diverges at Adam
    lr 0.05 on MNIST (see the results). Uses a local generator seeded from ``seed``.
    """
    gen = torch.Generator().manual_seed(10_000 + seed)

    def uniform_(t: torch.Tensor, bound: float) -> None:
        t.copy_(torch.empty(t.shape, dtype=t.dtype).uniform_(-bound, bound, generator=gen))

    for layer in model.layers:
        fan_in = layer.in_features
        uniform_(layer.base_scale, 1 / math.sqrt(fan_in))
        if layer.standardize is None:  # a KAN
            uniform_(layer.spline_scale, 1 / math.sqrt(fan_in))
            uniform_(layer.coef, 0.05 / layer.grid_size)
            if layer.tail_coef is not None:
                uniform_(layer.tail_coef, 0.05 / layer.grid_size)
        else:  # a DKAN layer
            n_basis = layer.coef.shape[-1] + (2 if layer.tail_coef is not None else 0)
            bound = 1 / math.sqrt(fan_in * n_basis)
            uniform_(layer.coef, bound)
            if layer.tail_coef is not None:
                uniform_(layer.tail_coef, bound)
            layer.spline_scale.fill_(1.0)
            layer.spline_scale.requires_grad_(False)
            if layer.bias is not None:
                uniform_(layer.bias, 1 / math.sqrt(fan_in))
    return model
