"""apps.diagnostics: each warning fires past its documented threshold, not before, and names
the numbers."""

import math

import pytest
import torch

from kanlab.apps import diagnostics
from kanlab.apps.diagnostics import (
    fit_gap,
    formula_vs_model,
    input_scales,
    negative_r2,
    rows_for_grid,
)
from kanlab.errors import InputError

D = torch.float64


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


# ------------------------------------------------------------------ fit_gap
def test_fit_gap_names_both_r2_and_says_it_overfits():
    (message,) = fit_gap(0.99, 0.41)
    assert "R² 0.99 against 0.41" in message and "overfits" in message
    assert "smaller model" in message and "lamb" in message


@pytest.mark.parametrize(("train", "val", "warns"), [
    (0.6, 0.5, False),  # a gap of exactly GAP (0.1, within rounding): quiet
    (0.61, 0.5, True),
    (1.0, 0.89, True),
    (1.0, 0.9, False),  # held-out R² at GOOD_R2: a good model, quiet
    (0.95, 0.97, False),  # held-out better than train
    (1.0, -2.55, True),
    (None, 0.3, False),  # an undefined R² (one test row): nothing to judge
    (0.9, math.nan, False),
])
def test_fit_gap_thresholds(train, val, warns):
    assert bool(fit_gap(train, val)) is warns


# -------------------------------------------------------------- negative_r2
def test_negative_r2_is_said_loudly_with_the_number():
    (message,) = negative_r2("test", -2.55)
    assert "test R² is -2.55" in message and "WORSE THAN PREDICTING THE MEAN" in message


@pytest.mark.parametrize(("r2", "warns"), [(-1e-4, True), (0.0, False), (0.3, False),
                                           (None, False), (math.nan, False)])
def test_negative_r2_fires_below_zero_only(r2, warns):
    assert bool(negative_r2("validation", r2)) is warns


# ------------------------------------------------------------ rows_for_grid
def test_rows_for_grid_is_quiet_for_a_small_model_on_enough_rows():
    assert rows_for_grid(331, 10, [3], n_params=80) == []


def test_rows_for_grid_more_parameters_than_rows():
    (message,) = rows_for_grid(331, 10, [3, 5], n_params=662)
    assert "662 parameters for 331 training rows (2 per row)" in message
    assert "grid sizes [3, 5]" in message
    assert rows_for_grid(331, 10, [3, 5], n_params=331) == []  # equal: quiet


def test_rows_for_grid_too_few_rows_for_the_largest_grid():
    (message,) = rows_for_grid(10, 2, [3, 10], n_params=5)
    assert "10 training rows are fewer than the 11 a grid of 10 intervals" in message
    assert rows_for_grid(11, 2, [3, 10], n_params=5) == []  # exactly min_samples_for_grid


def test_rows_for_grid_no_more_rows_than_features():
    messages = rows_for_grid(10, 10, [3], n_params=5)
    assert len(messages) == 1 and "10 training rows for 10 input features" in messages[0]
    assert rows_for_grid(11, 10, [3], n_params=5) == []


def test_rows_for_grid_can_say_all_three():
    assert len(rows_for_grid(4, 5, (5,), n_params=1000)) == 3


@pytest.mark.parametrize(("args", "match"), [
    ((-1, 2, [3], 5), "n_rows must be a non-negative integer; got -1"),
    ((10, 2.5, [3], 5), "n_features.*2.5"),
    ((10, 2, [], 5), "grid_sizes is empty"),
    ((10, 2, [3, "5"], 5), "a grid size.*'5'"),
    ((10, 2, [3], True), "n_params.*True"),
])
def test_rows_for_grid_refuses_bad_counts(args, match):
    with pytest.raises(InputError, match=match):
        rows_for_grid(*args)


# ------------------------------------------------------------- input_scales
def test_input_scales_is_quiet_on_ordinary_columns():
    gen = _gen()
    x = torch.cat([torch.randn(500, 1, generator=gen, dtype=D) * 1000,
                   torch.rand(500, 1, generator=gen, dtype=D),
                   -torch.log(torch.rand(500, 1, generator=gen, dtype=D)),  # exponential
                   torch.randint(0, 2, (500, 1), generator=gen).to(D)], 1)  # binary
    assert input_scales(x) == []


def test_input_scales_constant_column():
    x = torch.cat([torch.rand(20, 1, generator=_gen(), dtype=D), torch.full((20, 1), 5.0)], 1)
    (message,) = input_scales(x, ["age", "site"])
    assert message.startswith("input 'site' is constant (every row 5)") and "drop it" in message


def test_input_scales_huge_values_at_the_boundary():
    base = torch.rand(50, 1, generator=_gen(), dtype=D)
    assert input_scales(base * 1e8) == []  # |x| <= 1e8: quiet
    (message,) = input_scales(base * 1e8 + 1e8)
    assert "input 'x0' reaches |x| = 2e+08" in message and "standardise" in message


def test_input_scales_tiny_spread():
    offsets = torch.arange(50, dtype=D)[:, None]
    (message,) = input_scales(1.7e7 + offsets * 1e-3)  # std 0.0146 around 1.7e7: 8.6e-10
    assert "varies by only 0.0146" in message and "subtract a reference value" in message
    assert input_scales(1.7e7 + offsets) == []  # std 14.6: 8.6e-7 of the magnitude, quiet


def test_input_scales_heavy_tail_suggests_a_log_for_positive_columns():
    z = torch.randn(442, 1, generator=_gen(), dtype=D)
    (message,) = input_scales(torch.exp(2 * z), ["income"])
    assert "input 'income' has a heavy tail" in message and "take its log" in message
    assert "interquartile ranges from its median" in message
    (message,) = input_scales(torch.exp(2 * z) - 2, ["shifted"])
    assert "asinh" in message


def test_input_scales_tail_boundary_is_20_interquartile_ranges():
    # quartiles 0 and 1 (IQR 1, median 0.5) with one outlier: 20 IQRs from the median is quiet
    body = torch.linspace(0, 1, 101, dtype=D)
    x = torch.cat([body - 0.5 + 0.5, torch.tensor([20.5], dtype=D)])[:, None]
    q1, q3 = torch.quantile(x[:, 0], torch.tensor([0.25, 0.75], dtype=D))
    median = float(x[:, 0].median())
    limit = median + 20 * float(q3 - q1)
    x[-1, 0] = limit
    assert input_scales(x) == []
    x[-1, 0] = limit + 0.05
    assert len(input_scales(x)) == 1


def test_input_scales_non_finite_and_one_warning_per_column():
    x = torch.tensor([[1.0, math.nan], [2.0, 3.0], [3.0, 4.0]], dtype=D)
    (message,) = input_scales(x, ["a", "b"])
    assert message.startswith("input 'b' has NaN or infinite values")


@pytest.mark.parametrize(("x", "names", "match"), [
    (torch.zeros(5), None, r"x must be an \(N, d\) tensor; got \(5,\)"),
    ([[1.0]], None, "got list"),
    (torch.zeros(5, 2), ["a"], "names has 1 entries; x has 2 columns"),
])
def test_input_scales_refuses_bad_inputs(x, names, match):
    with pytest.raises(InputError, match=match):
        input_scales(x, names)


# --------------------------------------------------------- formula_vs_model
def test_formula_vs_model_names_both_r2():
    (message,) = formula_vs_model(0.31, 0.52)
    assert "no short formula fits well" in message and "0.31 against the model's 0.52" in message


@pytest.mark.parametrize(("formula", "model", "warns"), [
    (0.42, 0.52, False),  # 0.1 lower (within rounding): quiet
    (0.41, 0.52, True),
    (0.0, 0.05, True),  # a formula no better than the mean, whatever the model
    (-0.3, None, True),
    (0.5, 0.45, False),
    (None, 0.5, False),
    (0.3, None, False),
])
def test_formula_vs_model_thresholds(formula, model, warns):
    assert bool(formula_vs_model(formula, model)) is warns


def test_the_documented_thresholds_are_the_constants():
    assert (diagnostics.GAP, diagnostics.GOOD_R2, diagnostics.FORMULA_GAP) == (0.1, 0.9, 0.1)
    assert (diagnostics.HUGE, diagnostics.TINY_SPREAD, diagnostics.TAIL_IQRS) == (1e8, 1e-8, 20)
