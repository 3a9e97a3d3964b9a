"""Datasets: a small train/test container, sampling from functions, the paper's toy functions."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import torch

from kanlab._validation import check_choice, check_positive_int, check_range
from kanlab.errors import InputError

__all__ = [
    "TOY_FUNCTIONS",
    "Dataset",
    "dkan_synthetic",
    "make_dataset",
    "make_dkan_dataset",
    "make_toy_dataset",
]

_DICT_KEYS = ("train_input", "train_label", "test_input", "test_label")


@dataclass
class Dataset:
    """Train and (optional) test tensors.

    Attributes:
        train_input: ``(N, n_features)``; train_label: ``(N, n_outputs)`` (or ``(N,)`` class
        indices for classification). test_input/test_label: the same for the test set, or None.
    """

    train_input: torch.Tensor
    train_label: torch.Tensor
    test_input: torch.Tensor | None = None
    test_label: torch.Tensor | None = None

    def __post_init__(self) -> None:
        for name in _DICT_KEYS:
            value = getattr(self, name)
            if value is not None and not isinstance(value, torch.Tensor):
                raise InputError(f"{name} must be a torch.Tensor; got {type(value).__name__}")
        if (self.test_input is None) != (self.test_label is None):
            raise InputError("test_input and test_label must be given together")

    @classmethod
    def from_dict(cls, d: Mapping[str, torch.Tensor]) -> Dataset:
        """From a pykan-style dict with ``train_input``, ``train_label`` (and test keys)."""
        missing = [key for key in _DICT_KEYS[:2] if key not in d]
        if missing:
            raise InputError(f"dataset dict lacks {missing}; it has {sorted(d)}")
        return cls(*(d.get(key) for key in _DICT_KEYS))

    def to_dict(self) -> dict[str, torch.Tensor]:
        """The pykan-style dict (test keys only when there is a test set)."""
        return {key: getattr(self, key) for key in _DICT_KEYS if getattr(self, key) is not None}

    def to(self, device=None, dtype: torch.dtype | None = None) -> Dataset:
        """A copy on ``device``; floating tensors cast to ``dtype`` (integer labels kept)."""

        def move(t: torch.Tensor | None) -> torch.Tensor | None:
            if t is None:
                return None
            return t.to(device=device, dtype=dtype if t.is_floating_point() else None)

        return Dataset(*(move(getattr(self, key)) for key in _DICT_KEYS))

    @property
    def n_features(self) -> int:
        return self.train_input.shape[-1]


def _ranges(ranges, n_var: int) -> list[tuple[float, float]]:
    if len(ranges) == 2 and not isinstance(ranges[0], (list, tuple)):
        return [check_range("ranges", ranges)] * n_var
    if len(ranges) != n_var:
        raise InputError(f"ranges has {len(ranges)} entries; expected one per variable ({n_var})")
    return [check_range(f"ranges[{i}]", r) for i, r in enumerate(ranges)]


def make_dataset(
    f: Callable[[torch.Tensor], torch.Tensor],
    n_var: int,
    *,
    ranges: tuple[float, float] | Sequence[tuple[float, float]] = (-1.0, 1.0),
    n_train: int = 1000,
    n_test: int = 1000,
    seed: int = 0,
    dtype: torch.dtype | None = None,
    device: torch.device | str | None = None,
) -> Dataset:
    """Sample inputs uniformly in ``ranges`` and label them with ``f``.

    Sampling uses a local generator in float64, so a seed gives the same points in every dtype.

    Args:
        f: maps inputs ``(N, n_var)`` to labels ``(N,)`` or ``(N, n_out)``.
        n_var: number of input variables.
        ranges: one ``(low, high)`` for all variables, or one per variable.
        n_train, n_test: sample counts.
        seed: seed of the local generator.

    Returns:
        A :class:`Dataset` with labels of shape ``(N, n_out)``.
    """
    check_positive_int("n_var", n_var)
    check_positive_int("n_train", n_train)
    check_positive_int("n_test", n_test)
    bounds = torch.tensor(_ranges(ranges, n_var), dtype=torch.float64)  # (n_var, 2)
    gen = torch.Generator().manual_seed(seed)

    def sample(n: int) -> tuple[torch.Tensor, torch.Tensor]:
        u = torch.rand(n, n_var, generator=gen, dtype=torch.float64)
        x = bounds[:, 0] + (bounds[:, 1] - bounds[:, 0]) * u
        y = f(x)
        if y.dim() == 1:
            y = y.unsqueeze(1)
        if y.dim() != 2 or y.shape[0] != n:
            raise InputError(f"f must return (N,) or (N, n_out) for N = {n}; got {tuple(y.shape)}")
        return x, y

    train, test = sample(n_train), sample(n_test)
    dtype = dtype or torch.get_default_dtype()
    return Dataset(*train, *test).to(device=device, dtype=dtype)


def _exp_sin_sq(x):
    return torch.exp(torch.sin(math.pi * x[:, 0]) + x[:, 1] ** 2)


def _exp_4d(x):
    return torch.exp(
        0.5 * (torch.sin(math.pi * (x[:, 0] ** 2 + x[:, 1] ** 2))
               + torch.sin(math.pi * (x[:, 2] ** 2 + x[:, 3] ** 2)))
    )


TOY_FUNCTIONS: dict[str, tuple[int, Callable[[torch.Tensor], torch.Tensor], str]] = {
    # name: (n_var, f, formula) -- the five toy functions of the KAN paper's §3.1
    "bessel_j0": (1, lambda x: torch.special.bessel_j0(20 * x[:, 0]), "J0(20x)"),
    "exp_sin_sq": (2, _exp_sin_sq, "exp(sin(pi x) + y^2)"),
    "xy": (2, lambda x: x[:, 0] * x[:, 1], "x y"),
    "exp_sin_sq_100d": (
        100,
        lambda x: torch.exp(torch.mean(torch.sin(math.pi * x / 2) ** 2, dim=1)),
        "exp(1/100 sum_i sin^2(pi x_i / 2))",
    ),
    "exp_4d": (4, _exp_4d, "exp(1/2 (sin(pi (x1^2 + x2^2)) + sin(pi (x3^2 + x4^2))))"),
}


def make_toy_dataset(name: str, **kwargs) -> Dataset:
    """A dataset of one of :data:`TOY_FUNCTIONS` on ``[-1, 1]^n``.

    Options as :func:`make_dataset`.
    """
    check_choice("toy function", name, TOY_FUNCTIONS)
    n_var, f, _ = TOY_FUNCTIONS[name]
    return make_dataset(f, n_var, **kwargs)


DKAN_INPUTS = ("normal", "uniform")


def dkan_synthetic(
    n: int,
    *,
    inputs: str = "normal",
    half_width: float = 3.0,
    noise: float = 0.1,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """DKAN's synthetic regression (Gong 2024, §4.1): ``y = log(|x₁| + (x₂/2)² + 1) + ε``.

    Args:
        n: number of samples.
        inputs: ``"normal"`` (x ~ N(0, I), the paper's "outside" setting: many points beyond
            a KAN's [−1, 1] grid) or ``"uniform"`` (x ~ U(−half_width, half_width)², its
            "inside" setting with ``half_width = 3``).
        half_width: the uniform inputs' half range.
        noise: standard deviation of the Gaussian label noise ε.
        generator: the random source (None: the global one).

    Returns:
        ``x`` ``(n, 2)`` and ``y`` ``(n, 1)``, float64.
    """
    check_positive_int("n", n)
    check_choice("inputs", inputs, DKAN_INPUTS)
    if inputs == "uniform":
        x = (torch.rand(n, 2, generator=generator, dtype=torch.float64) * 2 - 1) * half_width
    else:
        x = torch.randn(n, 2, generator=generator, dtype=torch.float64)
    y = torch.log(x[:, 0].abs() + (x[:, 1] / 2) ** 2 + 1)
    y = y + noise * torch.randn(n, generator=generator, dtype=torch.float64)
    return x, y.unsqueeze(1)


def make_dkan_dataset(
    inputs: str = "normal",
    *,
    n_train: int = 9000,
    n_test: int = 1000,
    seed: int = 0,
    dtype: torch.dtype | None = None,
    device: torch.device | str | None = None,
    **options,
) -> Dataset:
    """:func:`dkan_synthetic` split into train and test (the paper's 90/10 of 10 000 samples).

    ``options`` go to :func:`dkan_synthetic` (``half_width``, ``noise``).
    """
    check_positive_int("n_train", n_train)
    check_positive_int("n_test", n_test)
    gen = torch.Generator().manual_seed(seed)
    x, y = dkan_synthetic(n_train + n_test, inputs=inputs, generator=gen, **options)
    dtype = dtype or torch.get_default_dtype()
    return Dataset(x[:n_train], y[:n_train], x[n_train:], y[n_train:]).to(device=device,
                                                                        dtype=dtype)
