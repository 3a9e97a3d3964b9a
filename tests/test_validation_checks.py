"""kanlab._validation's checks of sizes, weights and fractions (the CLI, the estimators, the
pipeline and the CSV reader use them)."""

import math

import numpy as np
import pytest

from kanlab._validation import check_fraction, check_nonnegative, check_sizes
from kanlab.errors import InputError


def test_check_sizes_accepts_python_and_numpy_integers():
    assert check_sizes("grids", [3, 5]) == (3, 5)
    assert check_sizes("grids", (np.int64(3), np.int32(10))) == (3, 10)
    assert all(type(v) is int for v in check_sizes("grids", np.array([1, 2])))
    assert check_sizes("width", (), allow_empty=True) == ()


@pytest.mark.parametrize("value, allow_empty, match", [
    ((), False, r"grids must be a non-empty tuple of positive integers; got \(\)"),
    ((3, 0), False, "non-empty tuple"),
    ((3, 2.0), False, "non-empty tuple"),
    ((True,), False, "non-empty tuple"),
    (5, False, "got 5"),
    ("35", True, r"grids must be a tuple of positive integers; got '35'"),
])
def test_check_sizes_rejects(value, allow_empty, match):
    with pytest.raises(InputError, match=match):
        check_sizes("grids", value, allow_empty=allow_empty)


def test_check_nonnegative():
    assert check_nonnegative("lamb", 0) == 0.0 and check_nonnegative("lamb", 1e-3) == 1e-3
    assert check_nonnegative("lamb", np.float32(0.5)) == 0.5
    for bad in (-1e-9, math.inf, math.nan, True, "1"):
        with pytest.raises(InputError, match="lamb must be a finite number >= 0"):
            check_nonnegative("lamb", bad)


def test_check_fraction():
    assert check_fraction("f", 0) == 0.0 and check_fraction("f", 0.999) == 0.999
    for bad in (1, 1.0, -0.1, math.nan, False, None):
        with pytest.raises(InputError, match=r"f must be in \[0, 1\)"):
            check_fraction("f", bad)
