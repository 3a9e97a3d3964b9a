"""Warnings for real data: what to tell a user whose table, model or formula went wrong.

Each function takes numbers (or an input table) and returns a list of warnings: plain English
sentences that name the numbers and say what to do, empty when all is well. They decide and
word; the CLI, the report and the estimators choose where the sentences go (``metrics.json``'s
``warnings``, the terminal, ``warnings.warn``). None of them prints or raises a warning.

The thresholds, each a module constant:

- :func:`fit_gap`: train R² above held-out R² by more than :data:`GAP` (0.1) while the held-out
  R² is below :data:`GOOD_R2` (0.9). Sampling alone moves the R² of a few hundred rows by a few
  hundredths, so a gap of 0.1 is more than chance; above a held-out R² of 0.9 a gap is the
  expected small loss of a good model, not a problem worth a warning.
- :func:`negative_r2`: any held-out R² below 0 -- worse than predicting the mean.
- :func:`rows_for_grid`: more parameters than training rows (the model can interpolate the
  noise); fewer rows than the largest grid is placed from
  (:func:`~kanlab.grids.base.min_samples_for_grid`); no more rows than features.
- :func:`input_scales`: per column, in this order (one warning per column, the first that
  holds): not finite; constant; ``max |x|`` above :data:`HUGE` (10⁸: a KAN's grid covers
  ``|x| ~ 1``, fit learns nothing from inputs beyond ~10⁴ times it unstandardised, and squares
  of such values overflow float32 near 10¹⁹); a spread (standard deviation) below
  :data:`TINY_SPREAD` (10⁻⁸) of the column's magnitude (below float32's resolution, 1.2·10⁻⁷,
  and half of float64's digits: an offset column, like timestamps or ids); a heavy tail, its
  farthest value more than :data:`TAIL_IQRS` (20) interquartile ranges from the median. The
  tail test is not ``max |z| > 20`` on standardised values because ``max |z|`` of ``n`` rows
  can never exceed ``√(n − 1)`` (Samuelson's inequality): under 401 rows it would never fire.
  A normal column's farthest value lies ~3 IQRs from its median at 10⁵ rows, an exponential
  one's ~10; measured on one draw each of 100, 442 and 10⁵ rows, normal, exponential and
  uniform columns never warn, a log-normal one with σ = 2 (``exp(2z)``) always does, with
  σ = 1 only at 10⁵ rows, and a normal over a uniform (a tail like Cauchy's) from 442 rows.
- :func:`formula_vs_model`: a formula R² of at most 0, or below the model's by more than
  :data:`FORMULA_GAP` (0.1).

An R² that is ``None`` or NaN (a test set of one row, a constant target) gives no warning here:
the caller says why there is no R².
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from kanlab.errors import InputError
from kanlab.grids.base import min_samples_for_grid

__all__ = [
    "FORMULA_GAP", "GAP", "GOOD_R2", "HUGE", "TAIL_IQRS", "TINY_SPREAD",
    "fit_gap", "formula_vs_model", "input_scales", "negative_r2", "rows_for_grid",
    "rows_for_largest_grid",
]

#: train R² minus held-out R² above this is a gap worth a warning (if held-out R² < GOOD_R2)
GAP = 0.1
#: a held-out R² at or above this is good whatever the training R²
GOOD_R2 = 0.9
#: a formula R² below the model's by more than this: no short formula fits well
FORMULA_GAP = 0.1
#: an input column reaching |x| above this is on a wild scale
HUGE = 1e8
#: an input column whose standard deviation is below this share of its magnitude
TINY_SPREAD = 1e-8
#: an input column with a value farther than this many IQRs from its median has a heavy tail
TAIL_IQRS = 20.0
_EPS = 1e-9  # thresholds compared with this slack, so that 0.6 - 0.5 counts as 0.1


def _known(r2: float | None) -> bool:
    return r2 is not None and not math.isnan(float(r2))


def fit_gap(train_r2: float | None, val_r2: float | None) -> list[str]:
    """A warning when the model fits its training rows much better than held-out rows.

    Args:
        train_r2: R² on the training rows.
        val_r2: R² on held-out rows (validation or test).

    Returns:
        One warning when ``train_r2 - val_r2 > GAP`` and ``val_r2 < GOOD_R2``; else none.
    """
    if not (_known(train_r2) and _known(val_r2)):
        return []
    if train_r2 - val_r2 <= GAP + _EPS or val_r2 >= GOOD_R2:
        return []
    return [
        f"the model fits the training rows much better than held-out rows (R² {train_r2:.3g} "
        f"against {val_r2:.3g}): it overfits, learning the noise of the training rows; use a "
        "smaller model (fewer hidden nodes, smaller grids), more regularisation (lamb), early "
        "stopping on a validation set, or more rows"
    ]


def negative_r2(name: str, r2: float | None) -> list[str]:
    """A loud warning when a held-out R² is negative.

    Args:
        name: what the rows are, e.g. ``"test"`` or ``"validation"``.
        r2: their R².

    Returns:
        One warning when ``r2 < 0``; else none.
    """
    if not _known(r2) or r2 >= 0:
        return []
    return [
        f"the {name} R² is {r2:.3g}, below 0: on the {name} rows the model predicts WORSE THAN "
        "PREDICTING THE MEAN of the target; do not use its predictions. It most likely "
        "overfits: use a smaller model (fewer hidden nodes, smaller grids), more "
        "regularisation (lamb) or more rows"
    ]


def rows_for_grid(n_rows: int, n_features: int, grid_sizes: Sequence[int],
                  n_params: int) -> list[str]:
    """Warnings when the training rows are too few for the model's grids or parameters.

    Args:
        n_rows: training rows.
        n_features: input features.
        grid_sizes: the grid sizes the model is trained with (a schedule, or one size).
        n_params: trainable parameters of the model.

    Returns:
        Up to three warnings: no more rows than features; fewer rows than the largest grid is
        placed from; more parameters than rows.

    Raises:
        InputError: a count that is not a non-negative integer, or no grid sizes.
    """
    for name, value in (("n_rows", n_rows), ("n_features", n_features), ("n_params", n_params)):
        _check_count(name, value)
    sizes = list(grid_sizes)
    if not sizes:
        raise InputError("grid_sizes is empty; expected the grid sizes of the run, e.g. [3, 5]")
    for size in sizes:
        _check_count("a grid size", size)
    out = []
    if n_rows <= n_features:
        out.append(
            f"{n_rows} training rows for {n_features} input features: with no more rows than "
            "features any model can fit the rows exactly and none can be trusted; add rows or "
            "drop features"
        )
    out += rows_for_largest_grid(n_rows, sizes)
    if n_params > n_rows:
        out.append(
            f"the model has {n_params} parameters for {n_rows} training rows "
            f"({n_params / max(n_rows, 1):.3g} per row): it can interpolate the noise (training "
            "R² near 1, poor held-out R²); use fewer hidden nodes or smaller grids (grid sizes "
            f"{sizes}), regularise (lamb), or add rows"
        )
    return out


def rows_for_largest_grid(n_rows: int, grid_sizes: Sequence[int]) -> list[str]:
    """One warning when ``n_rows`` are fewer than the largest of ``grid_sizes`` is placed from
    (:func:`~kanlab.grids.base.min_samples_for_grid`); else none."""
    largest = max(grid_sizes)
    need = min_samples_for_grid(largest)
    if n_rows >= need:
        return []
    return [
        f"{n_rows} training rows are fewer than the {need} a grid of {largest} intervals is "
        f"placed from: the grids are not adapted to the data; use grid sizes below {n_rows} or "
        "add rows"
    ]


def _check_count(name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InputError(f"{name} must be a non-negative integer; got {value!r}")


def input_scales(x: torch.Tensor, names: Sequence[str] | None = None) -> list[str]:
    """Warnings for input columns on scales a KAN fits badly (see the module docstring).

    Args:
        x: the inputs ``(N, d)``, raw (before any standardisation).
        names: the ``d`` column names; default ``x0, x1, ...``.

    Returns:
        At most one warning per column.

    Raises:
        InputError: ``x`` is not ``(N, d)`` or ``names`` does not have ``d`` entries.
    """
    if not isinstance(x, torch.Tensor) or x.dim() != 2:
        raise InputError(f"x must be an (N, d) tensor; got "
                         f"{tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__}")
    names = [f"x{i}" for i in range(x.shape[1])] if names is None else list(names)
    if len(names) != x.shape[1]:
        raise InputError(f"names has {len(names)} entries; x has {x.shape[1]} columns")
    if x.shape[0] == 0:
        return []
    x = x.to(torch.float64)
    out = []
    for i, name in enumerate(names):
        problem = _column_problem(x[:, i])
        if problem:
            out.append(f"input '{name}' {problem}")
    return out


def _column_problem(col: torch.Tensor) -> str | None:
    """What is wrong with one column ``(N,)`` of float64, or None."""
    if not bool(torch.isfinite(col).all()):
        return "has NaN or infinite values; remove or fill them before fitting"
    peak, low, high = float(col.abs().max()), float(col.min()), float(col.max())
    if low == high:
        return (f"is constant (every row {low:.6g}): it carries no information; drop it")
    if peak > HUGE:
        return (f"reaches |x| = {peak:.3g}, beyond {HUGE:.0e}: a KAN cannot use it unscaled; "
                "standardise it (kanlab fit and the estimators do) or change its units")
    spread = float(col.std()) if col.numel() > 1 else 0.0
    if spread < TINY_SPREAD * peak:
        return (f"varies by only {spread:.3g} around {float(col.mean()):.10g} ({spread / peak:.2g}"
                " of its magnitude): the variation is lost in float32 and half lost in float64; "
                "subtract a reference value (e.g. its first row) before fitting")
    median = float(col.median())
    q1, q3 = (float(q) for q in torch.quantile(col, torch.tensor([0.25, 0.75],
                                                                 dtype=torch.float64)))
    iqr = q3 - q1
    farthest = high if high - median >= median - low else low
    far = abs(farthest - median)
    if iqr > 0 and far > TAIL_IQRS * iqr:
        fix = ("take its log (every value is positive)" if low > 0 else
               "transform it (e.g. asinh) or clip its extremes")
        return (f"has a heavy tail: its farthest value ({farthest:.3g}) lies {far / iqr:.3g} "
                f"interquartile ranges from its median ({median:.3g}); a few rows then take up "
                f"most of the grid; {fix}")
    return None


def formula_vs_model(formula_r2: float | None, model_r2: float | None) -> list[str]:
    """A warning when the symbolic formula is much worse than the model it came from.

    Args:
        formula_r2: held-out R² of the formula.
        model_r2: held-out R² of the (numeric) model.

    Returns:
        One warning when ``formula_r2 <= 0`` or ``model_r2 - formula_r2 > FORMULA_GAP``.
    """
    if not _known(formula_r2):
        return []
    if formula_r2 <= 0:
        return [
            f"no short formula fits well: the formula's R² is {formula_r2:.3g} (no better than "
            "predicting the mean); use the model's predictions, not the formula, or prune less "
            "and allow a richer function library"
        ]
    if not _known(model_r2) or model_r2 - formula_r2 <= FORMULA_GAP + _EPS:
        return []
    return [
        f"no short formula fits well: the formula's R² is {formula_r2:.3g} against the model's "
        f"{model_r2:.3g}; use the model's predictions, not the formula, or prune less and "
        "allow a richer function library"
    ]
