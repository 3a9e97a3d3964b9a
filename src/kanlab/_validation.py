"""Checks at public entry points: each raises an :class:`InputError` that says what arrived."""

from __future__ import annotations

import difflib
import math
import numbers
from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

import torch

from kanlab.errors import InputError

T = TypeVar("T")

__all__ = [
    "check_choice",
    "check_dtype",
    "check_forward_input",
    "check_finite",
    "check_features",
    "check_fraction",
    "check_nonnegative",
    "check_nonnegative_int",
    "check_positive_int",
    "check_range",
    "check_sizes",
    "lookup",
    "per_layer",
]


def check_positive_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InputError(f"{name} must be a positive integer; got {value!r}")
    return value


def check_widths(value: object) -> list[int]:
    """Plain layer widths: a list of at least two positive integers (an MLP's, a LAN's)."""
    ok = isinstance(value, (list, tuple)) and len(value) >= 2 and all(
        not isinstance(w, bool) and isinstance(w, int) and w >= 1 for w in value)
    if not ok:
        raise InputError("widths must be a list of at least two positive integers (inputs, "
                         f"..., outputs); got {value!r}")
    return list(value)


def check_nonnegative_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InputError(f"{name} must be a non-negative integer; got {value!r}")
    return value


def check_range(name: str, value: object) -> tuple[float, float]:
    try:
        lo, hi = (float(v) for v in value)  # type: ignore[union-attr]
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a pair (low, high); got {value!r}") from None
    if not lo < hi:
        raise InputError(f"{name} must satisfy low < high; got {value!r}")
    return lo, hi


def check_choice(name: str, value: str, choices: Iterable[str]) -> str:
    choices = list(choices)
    if value not in choices:
        close = difflib.get_close_matches(str(value), choices, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise InputError(f"unknown {name} {value!r}; expected one of {choices}{hint}")
    return value


def lookup(kind: str, name: object, table: Mapping[str, T]) -> T:
    """``table[name]``, or an error that suggests close names and lists the known ones."""
    if isinstance(name, str) and name in table:
        return table[name]
    close = difflib.get_close_matches(str(name), list(table), n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(map(repr, close))}?" if close else "."
    raise InputError(f"unknown {kind} {name!r}{hint} Known: {', '.join(table)}")


def check_finite(name: str, t: torch.Tensor) -> None:
    if t.is_floating_point() or t.is_complex():
        bad = ~torch.isfinite(t)
        if bool(bad.any()):
            where = tuple(int(i) for i in bad.nonzero()[0])
            raise InputError(
                f"{name} contains {int(bad.sum())} NaN or inf value(s), the first at index {where}"
            )


def check_features(name: str, x: torch.Tensor, in_features: int) -> None:
    if not isinstance(x, torch.Tensor):
        raise InputError(f"{name} must be a torch.Tensor; got {type(x).__name__}")
    if x.dim() < 1 or x.shape[-1] != in_features:
        raise InputError(f"{name} has shape {tuple(x.shape)}; expected (..., {in_features})")
    if not x.is_floating_point():
        raise InputError(f"{name} must be a floating-point tensor; got dtype {x.dtype}")


def check_dtype(name: str, x: torch.Tensor, dtype: torch.dtype) -> None:
    """The input of a forward pass whose dtype is not the module's ``dtype``: allowed only for a
    floating ``x`` under ``torch.autocast`` (the spline product widens it); else an
    :class:`InputError` naming both dtypes. Callers compare the dtypes first (the hot path
    pays one comparison), so this runs only on a mismatch."""
    if x.is_floating_point() and torch.is_autocast_enabled(x.device.type):
        return
    raise InputError(
        f"{name} has dtype {x.dtype} but the model computes in {dtype}; convert the input "
        f"first: {name}.to({dtype}) (e.g. model({name}.to(model.dtype)))"
    )


def check_forward_input(name: str, x: torch.Tensor, in_features: int, dtype: torch.dtype) -> None:
    """The input ``(..., in_features)`` of a forward pass that failed its caller's quick test
    (shape or dtype): an :class:`InputError` for the shape, else :func:`check_dtype`."""
    if x.dim() == 0 or x.shape[-1] != in_features:
        raise InputError(f"{name} has shape {tuple(x.shape)}; expected (..., {in_features})")
    check_dtype(name, x, dtype)


def as_samples(name: str, x: torch.Tensor, in_features: int, dtype: torch.dtype) -> torch.Tensor:
    """Checked samples for a grid move: ``(..., in) -> (N, in)`` in ``dtype``, all finite."""
    check_features(name, x, in_features)
    x2 = x.reshape(-1, in_features).to(dtype)
    check_finite(name, x2)
    return x2


def check_sizes(name: str, value: object, *, allow_empty: bool = False) -> tuple[int, ...]:
    """A sequence of positive integers (Python or NumPy) as a tuple of ints (widths, grids)."""
    try:
        sizes = tuple(value)  # type: ignore[arg-type]
    except TypeError:
        sizes = None
    if sizes is None or any(
        isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 1 for v in sizes
    ) or (not sizes and not allow_empty):
        kind = "a tuple" if allow_empty else "a non-empty tuple"
        raise InputError(f"{name} must be {kind} of positive integers; got {value!r}")
    return tuple(int(v) for v in sizes)


def check_nonnegative(name: str, value: object) -> float:
    """A finite real number ``>= 0`` (a weight such as ``lamb``), as a float."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not (
        math.isfinite(value) and value >= 0
    ):
        raise InputError(f"{name} must be a finite number >= 0; got {value!r}")
    return float(value)


def check_fraction(name: str, value: object) -> float:
    """A share in ``[0, 1)`` (such as a test fraction), as a float."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= value < 1:
        raise InputError(f"{name} must be in [0, 1); got {value!r}")
    return float(value)


def per_layer(name: str, value: Any, n_layers: int) -> list[Any]:
    """Broadcast a per-model option to one value per layer, or check a per-layer list.

    Raises:
        InputError: a list whose length is not ``n_layers``.
    """
    is_list = isinstance(value, (list, tuple)) and not (
        name == "grid_range" and len(value) == 2 and not isinstance(value[0], (list, tuple))
    )
    if not is_list:
        return [value] * n_layers
    if len(value) != n_layers:
        raise InputError(f"{name} has {len(value)} entries; expected one per layer ({n_layers})")
    return list(value)
