"""What ``fit`` trains on: its ``data`` argument checked, moved to the model, and cut into batches.

:func:`training_data` turns a :class:`~kanlab.data.Dataset`, a pykan-style dict or a
``DataLoader`` into :class:`TrainingData`: an endless iterator of ``(input, label)`` batches and
the whole train and test sets (``None`` for a ``DataLoader``) that the records evaluate.

Inputs are cast to the model's dtype (integer inputs too); floating labels as well, integer
labels (class indices) keep their dtype. A dict's values and a ``DataLoader``'s pairs may be
NumPy arrays: they become tensors first (``torch.as_tensor``), then follow the same rules.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from kanlab._validation import check_finite
from kanlab.data import Dataset
from kanlab.errors import DataWarning, InputError
from kanlab.nn.model import KAN

__all__ = [
    "TrainingData",
    "as_dataset",
    "batches",
    "check_pair",
    "check_samples",
    "check_scale",
    "loader_batches",
    "training_data",
]

Batches = Iterator[tuple[torch.Tensor, torch.Tensor]]


@dataclass
class TrainingData:
    """The batches of a run and the whole sets it is evaluated on.

    Attributes:
        batches: endless ``(input (B, in), label (B, ...))`` pairs, one per step.
        train_x, train_y, test_x, test_y: the whole sets on the model's device and dtype;
            ``None`` where there is no such set (a ``DataLoader`` has neither).
        kind: the type name of the data (``"Dataset"`` or ``"DataLoader"``).
    """

    batches: Batches
    train_x: torch.Tensor | None = None
    train_y: torch.Tensor | None = None
    test_x: torch.Tensor | None = None
    test_y: torch.Tensor | None = None
    kind: str = "Dataset"

    @property
    def n_train(self) -> int:
        """Training samples on this process (0 when unknown, as for a ``DataLoader``)."""
        return self.train_x.shape[0] if self.train_x is not None else 0


def training_data(
    data: Any, model: nn.Module, batch_size: int | None = None, seed: int | None = 0, *,
    custom_loss: bool | str = False,
) -> TrainingData:
    """Check ``data`` against ``model`` and make the batches of a run.

    Args:
        data: a :class:`~kanlab.data.Dataset`, a pykan-style dict or a ``DataLoader`` of
            ``(input, label)`` pairs.
        model: the model trained (its first parameter gives the device and dtype).
        batch_size: ``None`` for the whole training set every step; otherwise shuffled epochs.
        seed: seed of the local generator that shuffles (``None`` means 0).
        custom_loss: whether the caller gave a ``loss_fn`` (then labels of shape ``(N,)`` are
            allowed against outputs ``(N, out)`` with ``out > 1``); ``"model"`` for a
            :class:`~kanlab.training.model_loss.ModelLoss` (labels of any shape).

    Raises:
        InputError: an unknown type of data, bad shapes, NaN or inf.
    """
    params0 = next(model.parameters())
    device, dtype = params0.device, params0.dtype
    data = as_dataset(data)
    if not isinstance(data, Dataset):
        return TrainingData(loader_batches(data, device, dtype), kind=type(data).__name__)
    data = data.to(device=device, dtype=dtype)
    data.train_input = data.train_input.to(dtype)  # integer inputs too (as a DataLoader's)
    if data.test_input is not None:
        data.test_input = data.test_input.to(dtype)
    check_pair("train", data.train_input, data.train_label, model, custom_loss)
    check_scale(data.train_input, model)
    if data.test_input is not None:
        check_pair("test", data.test_input, data.test_label, model, custom_loss)
    gen = torch.Generator().manual_seed(0 if seed is None else seed)
    return TrainingData(
        batches(data.train_input, data.train_label, batch_size, gen),
        data.train_input, data.train_label, data.test_input, data.test_label,
    )


def as_dataset(data: Any) -> Dataset | torch.utils.data.DataLoader:
    """A :class:`~kanlab.data.Dataset` or ``DataLoader`` as it is; a dict (of tensors or NumPy
    arrays) as a ``Dataset``."""
    if isinstance(data, Dataset):
        return data
    if isinstance(data, torch.utils.data.DataLoader):
        return data
    if isinstance(data, Mapping):
        return Dataset.from_dict({key: _as_tensor(key, value) for key, value in data.items()})
    raise InputError(
        "data must be a kanlab.data.Dataset, a dict with train_input/train_label (pykan style) "
        f"or a torch DataLoader; got {type(data).__name__}"
    )


def _as_tensor(name: str, value: Any) -> Any:
    """A NumPy array as a tensor (its dtype kept: the dataset's casts follow); a tensor or None
    as it is; anything else an :class:`InputError`."""
    if value is None or isinstance(value, torch.Tensor):
        return value
    if isinstance(value, np.ndarray):
        if not (np.issubdtype(value.dtype, np.number) or value.dtype == np.bool_):
            raise InputError(f"{name} is a NumPy array of dtype {value.dtype}; expected numbers")
        return torch.as_tensor(value)
    raise InputError(f"{name} must be a torch.Tensor or a NumPy array; got {type(value).__name__}")


def check_samples(data: TrainingData) -> None:
    """Raise :class:`InputError` when the training set has no rows (before any step)."""
    if data.train_x is not None and data.n_train == 0:
        raise InputError(
            f"train_input has shape {tuple(data.train_x.shape)}: no samples; fit needs at least "
            "one training row"
        )


#: inputs beyond this many times the first layer's grid extent warn (:func:`check_scale`).
#: Measured: a KAN([2, 1]) fitted for 20 LBFGS steps to ``sin(3·x0/s) + x1/s``, ``x ~ U(0, s)``,
#: grid updates on, leaves a relative MSE of 0.0009 at s = 100, 0.002 at 10^3, 0.01 at 3·10^3,
#: 0.60 (nothing learned) from 10^4 to 10^8, ~10^18 at 10^10 and nan from 10^15.
SCALE_LIMIT = 1e4


def check_scale(x: torch.Tensor, model: nn.Module) -> None:
    """Warn (:class:`~kanlab.errors.DataWarning`) when the training inputs ``x`` ``(N, in)``
    are on a scale a KAN cannot fit: ``max |x|`` above :data:`SCALE_LIMIT` times the first
    layer's grid extent (its largest ``|grid point|``, at least 1), unless that layer
    standardises what its splines and base function see. Grid updates do not rescue such
    inputs (the base function and the spline scales are sized for ``|x| ~ 1``); ordinary data,
    ``|x|`` up to a few thousand on the default grid ``[-1, 1]``, passes quietly."""
    if not isinstance(model, KAN) or x.numel() == 0:
        return
    first = model.layers[0]
    if first.standardize is not None and first.base_input == "standardized":
        return
    grid = first.grid  # (in, G + 1)
    extent = max(float(grid.abs().max()), 1.0)
    peak = x.abs().amax(0)  # (in,)
    if float(peak.max()) <= SCALE_LIMIT * extent:
        return
    column = int(peak.argmax())
    warnings.warn(
        f"train_input reaches |x| = {float(peak.max()):.3g} (column {column}), "
        f"{float(peak.max()) / extent:.3g} times the model's grid range "
        f"[{float(grid.min()):.3g}, {float(grid.max()):.3g}]: a KAN cannot fit inputs on this "
        "scale (it learns nearly nothing, or the loss becomes nan); standardise the inputs "
        "(each column minus its mean, over its standard deviation), as kanlab fit and the "
        "estimators do",
        DataWarning, stacklevel=4,
    )


def check_pair(
    name: str, x: torch.Tensor, y: torch.Tensor, model: nn.Module, custom_loss: bool | str
) -> None:
    """Raise :class:`InputError` unless ``x`` ``(N, in)`` and ``y`` ``(N, out)`` (or ``(N,)``
    integer classes, or ``(N,)`` for a custom loss) fit ``model`` and are finite.

    ``name`` (``"train"`` or ``"test"``) prefixes the tensors' names in the messages.
    """
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
    if y.is_floating_point() and n_out is not None and custom_loss != "model":
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


def batches(
    x: torch.Tensor, y: torch.Tensor, batch_size: int | None, gen: torch.Generator
) -> Batches:
    """Endless batches of ``x`` ``(N, in)`` and ``y`` ``(N, ...)``: the whole set every time, or
    shuffled epochs (by ``gen``) that see every sample once, the last batch of an epoch holding
    the ``N mod batch_size`` left over."""
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


def loader_batches(
    loader: torch.utils.data.DataLoader, device: torch.device, dtype: torch.dtype
) -> Batches:
    """Endless passes over ``loader``'s ``(input, label)`` pairs, moved to ``device``; inputs
    and floating labels cast to ``dtype`` (integer labels keep theirs); NumPy arrays become
    tensors first.

    Raises:
        InputError: a pass over ``loader`` yields no batch, or a batch is not a pair.
    """
    while True:
        empty = True
        for batch in loader:
            if not isinstance(batch, (list, tuple)) or len(batch) < 2:
                raise InputError("a DataLoader for fit must yield (input, label) pairs")
            empty = False
            xb, yb = _as_tensor("the input batch", batch[0]), _as_tensor("the label batch",
                                                                         batch[1])
            yield (
                xb.to(device=device, dtype=dtype),
                yb.to(device=device, dtype=dtype if yb.is_floating_point() else None),
            )
        if empty:  # would loop for ever
            raise InputError("the DataLoader yielded no batch in a whole pass (an empty "
                             "dataset?); fit needs at least one (input, label) pair")
