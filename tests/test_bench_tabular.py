"""The pure parts of ``benchmarks/bench_tabular.py``: issue 16's pass/fail judgement, the KAN
models' arguments (the defaults, untouched) and the seeded subsample. No training."""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path

import numpy as np
import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture(scope="module")
def bench():
    """``bench_tabular`` loaded from its file; it and its sibling imports (``_common``,
    ``_tabular_data``, found in ``benchmarks/``) are taken out of ``sys.modules`` afterwards."""
    before = set(sys.modules)
    sys.path.insert(0, str(BENCHMARKS))
    try:
        spec = importlib.util.spec_from_file_location("bench_tabular",
                                                      BENCHMARKS / "bench_tabular.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # dataclasses look their module up while it runs
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(BENCHMARKS))
        for name in ("bench_tabular", "_common", "_tabular_data"):
            if name not in before:
                sys.modules.pop(name, None)
    return module


def test_regression_within_margin_passes(bench):
    assert bench.judge("regression", [0.50, 0.46], 0.50, 12.0, 442) == []


def test_regression_margin_boundary_is_a_pass(bench):
    # 0.03 - 0.05 is -0.020000000000000004 in floating point: the allowed gap, rounded
    assert bench.judge("regression", [0.03, 0.03], 0.05, 1.0, 442) == []


def test_regression_too_far_behind_fails(bench):
    (failure,) = bench.judge("regression", [0.45, 0.45], 0.48, 1.0, 442)
    assert "-0.030" in failure and "0.02" in failure


def test_regression_negative_fold_fails_even_when_ahead(bench):
    (failure,) = bench.judge("regression", [0.9, 0.9, -0.01], 0.3, 1.0, 442)
    assert "-0.010 < 0" in failure


def test_classification_margin_is_one_point(bench):
    assert bench.judge("classification", [0.95], 0.955, 1.0, 569) == []
    (failure,) = bench.judge("classification", [0.94], 0.955, 1.0, 569)
    assert "-0.015" in failure and "0.01" in failure


def test_classification_has_no_sign_rule(bench):
    assert bench.judge("classification", [0.0], 0.0, 1.0, 100) == []


def test_fit_time_judged_up_to_1000_rows_only(bench):
    (failure,) = bench.judge("classification", [0.99], 0.9, 30.0, 1000)
    assert "30.0 s" in failure
    assert bench.judge("classification", [0.99], 0.9, 29.9, 1000) == []
    assert bench.judge("classification", [0.99], 0.9, 300.0, 1797) == []


def test_failed_fold_fails(bench):
    (failure,) = bench.judge("regression", [0.9, math.nan], 0.3, 1.0, 442)
    assert "1 fold(s) failed" in failure


@pytest.mark.parametrize("task", ["regression", "classification"])
def test_kan_runs_with_its_defaults_but_random_state(bench, task):
    from kanlab import KANClassifier, KANRegressor

    cls = KANRegressor if task == "regression" else KANClassifier
    made = bench.make_estimator("kan", task, 3, quick=False)
    assert type(made) is cls
    assert made.get_params() == {**cls().get_params(), "random_state": 3}
    quick = bench.make_estimator("kan", task, 3, quick=True).get_params()
    changed = {k for k, v in quick.items() if v != cls().get_params()[k]}
    assert changed == {"random_state", "steps"}


def test_subsample_is_seeded_and_keeps_row_order(bench):
    X = np.arange(20.0).reshape(10, 2)
    table = bench.Table("t", "regression", X, X[:, 0] * 2, ["a", "b"], "y", "test")
    a, b = table.subsample(4, seed=0), table.subsample(4, seed=0)
    assert np.array_equal(a.X, b.X) and a.X.shape == (4, 2)
    assert np.all(np.diff(a.X[:, 0]) > 0)  # file order kept
    assert np.array_equal(a.y, a.X[:, 0] * 2)  # rows stay paired with their targets
    assert table.subsample(10, seed=0) is table
