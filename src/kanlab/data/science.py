"""Datasets of the KAN paper's science workflows (Liu et al. 2024, §3.2-§3.3) and CSV loading.

* :data:`FEYNMAN` holds every row of the paper's Table 3 (the ``Feynman_no_units`` equations
  the paper fits) as data: the variables, the dimensionless formula as sympy-parsable text,
  a torch function of it and the sampling range of each variable; :func:`feynman_dataset`
  samples one.
* :data:`SPECIAL_FUNCTIONS` holds the 15 special functions of the paper's Table 2, evaluated
  with ``scipy.special`` (an optional dependency, imported only when a label is computed);
  :func:`special_function_dataset` samples one.
* :func:`load_csv` reads a numeric CSV file with a header row into a train/test
  :class:`~kanlab.data.Dataset` (with :mod:`kanlab.data.csv`, the one CSV reader).

Ranges. The paper gives neither the Feynman nor the special-function sampling ranges. Those
here are derived from the dimensional ranges of pykan 0.2.8's ``feynman.py`` where the
dimensionless variable is a simple ratio of its variables, and otherwise chosen to keep the
label finite and of order one (each choice is commented in the table). They are not the
paper's exact data, so compare errors with the paper's only as orders of magnitude.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from kanlab._optional import optional_import
from kanlab._validation import lookup
from kanlab.data.csv import check_split, read_csv
from kanlab.data.dataset import Dataset, make_dataset
from kanlab.errors import InputError

__all__ = [
    "FEYNMAN",
    "SPECIAL_FUNCTIONS",
    "FeynmanEquation",
    "SpecialFunction",
    "feynman_dataset",
    "load_csv",
    "special_function_dataset",
]

_PI = math.pi
_TWO_PI = 2 * math.pi


@dataclass(frozen=True)
class FeynmanEquation:
    """One equation of the Feynman dataset in the paper's dimensionless form.

    Attributes:
        name: the equation's label in the Feynman lectures, e.g. ``"I.6.2b"``.
        variables: the input names, in column order; valid Python identifiers.
        ranges: one ``(low, high)`` sampling range per variable.
        formula: the dimensionless formula as sympy-parsable text in ``variables``
            (parse it with the variables in ``local_dict``: names such as ``beta`` would
            otherwise become sympy functions).
        fn: the formula on torch tensors: maps inputs ``(N, n_var)`` to labels ``(N,)``.
    """

    name: str
    variables: tuple[str, ...]
    ranges: tuple[tuple[float, float], ...]
    formula: str
    fn: Callable[[torch.Tensor], torch.Tensor]

    @property
    def n_var(self) -> int:
        """The number of input variables."""
        return len(self.variables)


def _sinc_sq(x: torch.Tensor) -> torch.Tensor:
    # sin(x)^2 / x^2, finite at x = 0 (torch.sinc(t) = sin(pi t) / (pi t))
    return torch.sinc(x / _PI) ** 2


# (name, variables, ranges, formula, fn) for every row of the KAN paper's Table 3, in order.
# The dimensionless forms are the paper's; pykan ranges quoted are those of the dimensional
# variables in pykan 0.2.8 feynman.py.
_FEYNMAN_ROWS: tuple[tuple, ...] = (
    # pykan: theta [-1, 1], sigma [0.5, 2]
    ("I.6.2", ("theta", "sigma"), ((-1.0, 1.0), (0.5, 2.0)),
     "exp(-theta**2/(2*sigma**2))/sqrt(2*pi*sigma**2)",
     lambda x: torch.exp(-x[:, 0] ** 2 / (2 * x[:, 1] ** 2))
     / torch.sqrt(_TWO_PI * x[:, 1] ** 2)),
    # pykan: theta, theta1 [-1.5, 1.5], sigma [0.5, 2]
    ("I.6.2b", ("theta", "theta1", "sigma"), ((-1.5, 1.5), (-1.5, 1.5), (0.5, 2.0)),
     "exp(-(theta - theta1)**2/(2*sigma**2))/sqrt(2*pi*sigma**2)",
     lambda x: torch.exp(-(x[:, 0] - x[:, 1]) ** 2 / (2 * x[:, 2] ** 2))
     / torch.sqrt(_TWO_PI * x[:, 2] ** 2)),
    # a = G m1 m2 / x1^2, b = x2/x1, c..f = y1, y2, z1, z2 over x1; b <= 0.5 keeps the
    # denominator >= 0.25 (pykan has x1 < 0 < x2, i.e. b < 0)
    ("I.9.18", ("a", "b", "c", "d", "e", "f"),
     ((-1.0, 1.0), (-1.0, 0.5), (-1.0, 1.0), (-1.0, 1.0), (-1.0, 1.0), (-1.0, 1.0)),
     "a/((b - 1)**2 + (c - d)**2 + (e - f)**2)",
     lambda x: x[:, 0] / ((x[:, 1] - 1) ** 2 + (x[:, 2] - x[:, 3]) ** 2
                          + (x[:, 4] - x[:, 5]) ** 2)),
    # a = B v / E_f; pykan: [-1, 1], theta [0, 2 pi]
    ("I.12.11", ("a", "theta"), ((-1.0, 1.0), (0.0, _TWO_PI)),
     "1 + a*sin(theta)",
     lambda x: 1 + x[:, 0] * torch.sin(x[:, 1])),
    # a = G m1 m2 / r1, b = r2 / r1; pykan: [0, 1], r [0.5, 2]
    ("I.13.12", ("a", "b"), ((0.0, 1.0), (0.5, 2.0)),
     "a*(1/b - 1)",
     lambda x: x[:, 0] * (1 / x[:, 1] - 1)),
    # a = u t / x, b = u / c; |b| <= 0.9 keeps the root away from 0
    ("I.15.3x", ("a", "b"), ((-1.0, 1.0), (-0.9, 0.9)),
     "(1 - a)/sqrt(1 - b**2)",
     lambda x: (1 - x[:, 0]) / torch.sqrt(1 - x[:, 1] ** 2)),
    # a = u / c, b = v / c; pykan: u, v [-0.8, 0.8], c [1, 2]
    ("I.16.6", ("a", "b"), ((-0.8, 0.8), (-0.8, 0.8)),
     "(a + b)/(1 + a*b)",
     lambda x: (x[:, 0] + x[:, 1]) / (1 + x[:, 0] * x[:, 1])),
    # a = m2 / m1, b = r2 / r1; pykan: m [0.5, 1] (a in [0.5, 2]), r [-1, 1]
    ("I.18.4", ("a", "b"), ((0.5, 2.0), (-1.0, 1.0)),
     "(1 + a*b)/(1 + a)",
     lambda x: (1 + x[:, 0] * x[:, 1]) / (1 + x[:, 0])),
    # pykan: n [0, 0.99], theta2 [0, 2 pi]
    ("I.26.2", ("n", "theta2"), ((0.0, 0.99), (0.0, _TWO_PI)),
     "asin(n*sin(theta2))",
     lambda x: torch.asin(x[:, 0] * torch.sin(x[:, 1]))),
    # a = n, b = d1 / d2; pykan: d1 [0.5, 2], d2 [1, 2], n [0.5, 2]
    ("I.27.6", ("a", "b"), ((0.5, 2.0), (0.5, 2.0)),
     "1/(1 + a*b)",
     lambda x: 1 / (1 + x[:, 0] * x[:, 1])),
    # a = x2 / x1; pykan: x [-1, 1], theta [0, 2 pi]; the radicand is >= (1 - |a|)^2 >= 0
    ("I.29.16", ("a", "theta1", "theta2"), ((-1.0, 1.0), (0.0, _TWO_PI), (0.0, _TWO_PI)),
     "sqrt(1 + a**2 - 2*a*cos(theta1 - theta2))",
     lambda x: torch.sqrt(1 + x[:, 0] ** 2 - 2 * x[:, 0] * torch.cos(x[:, 1] - x[:, 2]))),
    # pykan: n [0, 4], theta [0.4 pi, 1.6 pi] (keeps sin(theta/2) >= sin(0.2 pi))
    ("I.30.3", ("n", "theta"), ((0.0, 4.0), (0.4 * _PI, 1.6 * _PI)),
     "sin(n*theta/2)**2/sin(theta/2)**2",
     lambda x: torch.sin(x[:, 0] * x[:, 1] / 2) ** 2 / torch.sin(x[:, 1] / 2) ** 2),
    # a = lambda / d; pykan: lambda [-1, 1], n, d [1, 1.5]
    ("I.30.5", ("a", "n"), ((-1.0, 1.0), (1.0, 1.5)),
     "asin(a/n)",
     lambda x: torch.asin(x[:, 0] / x[:, 1])),
    # a = I2 / I1; pykan: I [0.1, 1], delta [0, 2 pi]
    ("I.37.4", ("a", "delta"), ((0.1, 1.0), (0.0, _TWO_PI)),
     "1 + a + 2*sqrt(a)*cos(delta)",
     lambda x: 1 + x[:, 0] + 2 * torch.sqrt(x[:, 0]) * torch.cos(x[:, 1])),
    # a = m g x / (k T); pykan: n0 [0, 1], m, g, x [-1, 1], k, T [1, 2]
    ("I.40.1", ("n0", "a"), ((0.0, 1.0), (-1.0, 1.0)),
     "n0*exp(-a)",
     lambda x: x[:, 0] * torch.exp(-x[:, 1])),
    # a = V2 / V1; pykan: n [0, 1], V [0.5, 2]
    ("I.44.4", ("n", "a"), ((0.0, 1.0), (0.5, 2.0)),
     "n*log(a)",
     lambda x: x[:, 0] * torch.log(x[:, 1])),
    # a = omega t; pykan: alpha [0, 1], omega, t [0, 2 pi] (a restricted to one period)
    ("I.50.26", ("a", "alpha"), ((0.0, _TWO_PI), (0.0, 1.0)),
     "cos(a) + alpha*cos(a)**2",
     lambda x: torch.cos(x[:, 0]) + x[:, 1] * torch.cos(x[:, 0]) ** 2),
    # a = T2 / T1, b = k T1 A / d; chosen ranges
    ("II.2.42", ("a", "b"), ((0.5, 2.0), (0.0, 1.0)),
     "(a - 1)*b",
     lambda x: (x[:, 0] - 1) * x[:, 1]),
    # a = x / r, b = y / r, c = p z / (eps r^4) up to constants; chosen ranges
    ("II.6.15a", ("a", "b", "c"), ((0.0, 1.0), (0.0, 1.0), (0.0, 1.0)),
     "c*sqrt(a**2 + b**2)/(4*pi)",
     lambda x: x[:, 2] * torch.sqrt(x[:, 0] ** 2 + x[:, 1] ** 2) / (4 * _PI)),
    # a = p E / (k T); pykan: n0 [0, 1], p, E [-1, 1], theta [0, 2 pi], k, T [0.5, 2]
    ("II.11.7", ("n0", "a", "theta"), ((0.0, 1.0), (-1.0, 1.0), (0.0, _TWO_PI)),
     "n0*(1 + a*cos(theta))",
     lambda x: x[:, 0] * (1 + x[:, 1] * torch.cos(x[:, 2]))),
    # pykan: n [0, 1], alpha [0, 2]; the denominator stays >= 1/3
    ("II.11.27", ("n", "alpha"), ((0.0, 1.0), (0.0, 2.0)),
     "n*alpha/(1 - n*alpha/3)",
     lambda x: x[:, 0] * x[:, 1] / (1 - x[:, 0] * x[:, 1] / 3)),
    # a = mu B / (k T); chosen ranges
    ("II.35.18", ("n0", "a"), ((0.0, 1.0), (-1.0, 1.0)),
     "n0/(exp(a) + exp(-a))",
     lambda x: x[:, 0] / (torch.exp(x[:, 1]) + torch.exp(-x[:, 1]))),
    # a = mu B / (k T), b = mu M / (eps c^2 k T); pykan: [0, 1], k, T, eps, c [0.5, 2]
    ("II.36.38", ("a", "alpha", "b"), ((0.0, 1.0), (0.0, 1.0), (0.0, 1.0)),
     "a + alpha*b",
     lambda x: x[:, 0] + x[:, 1] * x[:, 2]),
    # a = Y A x, b = d; pykan: [0, 1], d [0.5, 2]
    ("II.38.3", ("a", "b"), ((0.0, 1.0), (0.5, 2.0)),
     "a/b",
     lambda x: x[:, 0] / x[:, 1]),
    # a = p E t / hbar, b = omega t, c = omega0 t; chosen ranges; the label is finite at b = c
    ("III.9.52", ("a", "b", "c"), ((0.0, 1.0), (0.0, _PI), (0.0, _PI)),
     "a*sin((b - c)/2)**2/((b - c)/2)**2",
     lambda x: x[:, 0] * _sinc_sq((x[:, 1] - x[:, 2]) / 2)),
    # a = Bx / Bz, b = By / Bz; chosen ranges
    ("III.10.19", ("a", "b"), ((-1.0, 1.0), (-1.0, 1.0)),
     "sqrt(1 + a**2 + b**2)",
     lambda x: torch.sqrt(1 + x[:, 0] ** 2 + x[:, 1] ** 2)),
    # pykan: [0, 1], theta [0, 2 pi]
    ("III.17.37", ("alpha", "beta", "theta"), ((0.0, 1.0), (0.0, 1.0), (0.0, _TWO_PI)),
     "beta*(1 + alpha*cos(theta))",
     lambda x: x[:, 1] * (1 + x[:, 0] * torch.cos(x[:, 2]))),
)

FEYNMAN: dict[str, FeynmanEquation] = {
    row[0]: FeynmanEquation(*row) for row in _FEYNMAN_ROWS
}
"""Every equation of the KAN paper's Table 3 (27), by name, in the paper's order."""


def feynman_dataset(name: str, **options: Any) -> Dataset:
    """Sample one equation of :data:`FEYNMAN` uniformly on its ranges.

    Args:
        name: the equation, e.g. ``"I.6.2"``.
        options: :func:`~kanlab.data.make_dataset`'s ``n_train``, ``n_test``, ``seed`` (of
            the local generator: the same points in every dtype), ``dtype``, ``device``.

    Returns:
        A :class:`~kanlab.data.Dataset` with inputs ``(N, n_var)`` in the order of
        ``FEYNMAN[name].variables`` and labels ``(N, 1)``, computed in float64.

    Raises:
        InputError: an unknown name (the message suggests close ones).
    """
    eq = lookup("Feynman equation", name, FEYNMAN)
    return make_dataset(eq.fn, eq.n_var, ranges=eq.ranges, **options)


def _scipy_special():
    return optional_import("scipy.special", "special-function datasets")


@dataclass(frozen=True)
class SpecialFunction:
    """A special function of the paper's Table 2, evaluated with ``scipy.special``.

    Attributes:
        name: the key in :data:`SPECIAL_FUNCTIONS`, e.g. ``"jv"`` or ``"sph_harm_1_2"``.
        n_var: number of inputs (2 for all of Table 2).
        ranges: one ``(low, high)`` sampling range per input.
        fn: maps a float64 numpy array ``(N, n_var)`` to float64 labels ``(N,)``; it imports
            scipy when called.
        description: the scipy call it computes, for display.
    """

    name: str
    n_var: int
    ranges: tuple[tuple[float, float], ...]
    fn: Callable
    description: str = ""


def _ellipj_sn(x):
    return _scipy_special().ellipj(x[:, 0], x[:, 1])[0]


def _binary(fname: str) -> Callable:
    def fn(x):
        return getattr(_scipy_special(), fname)(x[:, 0], x[:, 1])

    fn.__name__ = fname
    return fn


def _lpmv(m: int) -> Callable:
    def fn(x):
        return _scipy_special().lpmv(m, x[:, 0], x[:, 1])

    return fn


def _sph_harm_real(m: int, n: int) -> Callable:
    # Re Y_n^m(azimuth x[:, 0], polar x[:, 1]); scipy >= 1.15 has sph_harm_y(n, m, polar,
    # azimuth), older scipy sph_harm(m, n, azimuth, polar) (deprecated in 1.15)
    def fn(x):
        sp = _scipy_special()
        if hasattr(sp, "sph_harm_y"):
            return sp.sph_harm_y(n, m, x[:, 1], x[:, 0]).real
        return sp.sph_harm(m, n, x[:, 0], x[:, 1]).real

    return fn


_UNIT_M = ((-1.0, 1.0), (0.0, 1.0))  # (u or phi, parameter m): finite for 0 <= m <= 1
_BESSEL = ((0.0, 1.0), (0.1, 1.0))  # (order v, argument z): z > 0 keeps yv, kv finite
_LEGENDRE = ((0.0, 3.0), (-0.9, 0.9))  # (degree v, x): non-integer v diverges at x = -1
_SPHERE = ((0.0, _TWO_PI), (0.0, _PI))  # (azimuth, polar)

SPECIAL_FUNCTIONS: dict[str, SpecialFunction] = {
    f.name: f
    for f in (
        SpecialFunction("ellipj", 2, _UNIT_M, _ellipj_sn,
                        "ellipj(u, m)[0]: the Jacobi elliptic function sn(u|m)"),
        SpecialFunction("ellipkinc", 2, _UNIT_M, _binary("ellipkinc"), "ellipkinc(phi, m)"),
        SpecialFunction("ellipeinc", 2, _UNIT_M, _binary("ellipeinc"), "ellipeinc(phi, m)"),
        SpecialFunction("jv", 2, _BESSEL, _binary("jv"), "jv(v, z)"),
        SpecialFunction("yv", 2, _BESSEL, _binary("yv"), "yv(v, z)"),
        SpecialFunction("kv", 2, _BESSEL, _binary("kv"), "kv(v, z)"),
        SpecialFunction("iv", 2, _BESSEL, _binary("iv"), "iv(v, z)"),
        *(SpecialFunction(f"lpmv_{m}", 2, _LEGENDRE, _lpmv(m), f"lpmv({m}, v, x)")
          for m in (0, 1, 2)),
        *(SpecialFunction(f"sph_harm_{m}_{n}", 2, _SPHERE, _sph_harm_real(m, n),
                          f"Re sph_harm({m}, {n}, azimuth, polar)")
          for m, n in ((0, 1), (1, 1), (0, 2), (1, 2), (2, 2))),
    )
}
"""The 15 special functions of the KAN paper's Table 2, by name.

``ellipj`` is sn (scipy's first output; the paper does not say which it fit). ``lpmv_m`` is
``lpmv(m, v, x)`` with inputs (degree v, x); ``sph_harm_m_n`` is the real part of
``Y_n^m`` with inputs (azimuth, polar). The ranges (chosen here; the paper gives none) keep
every label finite.
"""


def special_function_dataset(name: str, **options: Any) -> Dataset:
    """Sample one function of :data:`SPECIAL_FUNCTIONS` uniformly on its ranges.

    Labels are computed by scipy in float64, then converted.

    Args:
        name: the function, e.g. ``"jv"``, ``"lpmv_1"``, ``"sph_harm_1_2"``.
        options: :func:`~kanlab.data.make_dataset`'s ``n_train``, ``n_test``, ``seed`` (of
            the local generator: the same points in every dtype), ``dtype``, ``device``.

    Returns:
        A :class:`~kanlab.data.Dataset` with inputs ``(N, 2)`` and labels ``(N, 1)``.

    Raises:
        InputError: an unknown name (the message suggests close ones).
        ImportError: scipy is not installed.
    """
    sf = lookup("special function", name, SPECIAL_FUNCTIONS)
    _scipy_special()  # fail early with the install hint

    def f(x: torch.Tensor) -> torch.Tensor:
        y = torch.from_numpy(sf.fn(x.detach().cpu().numpy()).astype("float64"))
        if not torch.isfinite(y).all():  # cannot happen on the stated ranges
            raise InputError(f"{name}: scipy returned non-finite values on its ranges")
        return y

    return make_dataset(f, sf.n_var, ranges=sf.ranges, **options)



def load_csv(
    path: str | os.PathLike,
    target: str | Sequence[str],
    features: Sequence[str] | None = None,
    *,
    test_fraction: float = 0.2,
    seed: int = 0,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> Dataset:
    """Read a numeric CSV file with a header row into a shuffled train/test split.

    Blank lines are skipped. Line numbers in messages count the header as line 1. The reader
    is :mod:`kanlab.data.csv` (:meth:`~kanlab.data.csv.CsvTable.dataset`).

    Args:
        path: the file.
        target: the label column, or several.
        features: the input columns, in order; default: every column not in ``target``.
        test_fraction: share of the rows for the test set, in ``[0, 1)``; 0 gives no test set.
            The test set has ``round(test_fraction * N)`` rows, at least 1 when the fraction
            is positive.
        seed: seed of the shuffle.
        dtype: floating type of the tensors.
        device: where the tensors go.

    Returns:
        A :class:`~kanlab.data.Dataset` with inputs ``(N, n_features)`` and labels
        ``(N, n_targets)``.

    Raises:
        InputError: no header, a missing or repeated column, a row of the wrong length, a
            non-numeric or non-finite cell (named by line and column), or too few rows for
            the split.
    """
    check_split(target, test_fraction, dtype)  # before the file is opened
    return read_csv(Path(path)).dataset(target, features, test_fraction=test_fraction,
                                        seed=seed, dtype=dtype, device=device)
