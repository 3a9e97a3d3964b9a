"""Grid strategies: quantile/uniform placement, validation, constant inputs, strict increase."""

from __future__ import annotations

import math

import pytest
import torch

from kanlab import GridWarning, InputError
from kanlab.grids import (
    GRID_STRATEGIES,
    GridStrategy,
    QuantileGrid,
    UniformGrid,
    get_grid_strategy,
    make_increasing,
    min_samples_for_grid,
)

F64 = torch.float64


def samples(n: int, n_in: int, seed: int, dtype=F64) -> torch.Tensor:
    """Distinct samples, a different distribution per input (skewed, so quantiles ≠ uniform)."""
    u = torch.rand(n, n_in, generator=torch.Generator().manual_seed(seed), dtype=F64)
    scale = torch.arange(1, n_in + 1, dtype=F64)
    return (u**3 * 4 * scale - scale).to(dtype)


def quantile_points(x: torch.Tensor, grid_size: int) -> torch.Tensor:
    """``x_sorted[int(N/G*j)]`` for ``j < G`` and the max, per input: ``(in, G + 1)``."""
    n = x.shape[0]
    xs = x.sort(dim=0).values
    rows = [xs[int(n / grid_size * j)] for j in range(grid_size)] + [xs[-1]]
    return torch.stack(rows, dim=1)


def uniform_points(x: torch.Tensor, grid_size: int, margin: float = 0.0) -> torch.Tensor:
    lo, hi = x.amin(0) - margin, x.amax(0) + margin
    return torch.stack([torch.linspace(float(a), float(b), grid_size + 1, dtype=x.dtype)
                        for a, b in zip(lo, hi)])


def old_grid_for(n_in: int, size: int) -> torch.Tensor:
    return torch.linspace(-5.0, 5.0, size + 1, dtype=F64).expand(n_in, -1).clone()


# ---------------------------------------------------------------- placement


@pytest.mark.parametrize("n, grid_size", [(103, 7), (100, 5), (8, 7), (50, 1)])
def test_eps_zero_gives_the_sample_quantiles(n, grid_size):
    x = samples(n, 3, seed=n)
    expected = quantile_points(x, grid_size)
    strategy = QuantileGrid(eps=0.0)
    assert torch.equal(strategy.place(x, grid_size), expected)
    got = strategy.grid_points(x, grid_size, old_grid_for(3, grid_size))
    assert got.shape == (3, grid_size + 1) and got.dtype == F64
    torch.testing.assert_close(got, expected, rtol=1e-12, atol=1e-12)
    assert torch.equal(got[:, -1], x.amax(0))


def test_eps_one_gives_linspace_over_the_data():
    x = samples(64, 2, seed=1)
    got = QuantileGrid(eps=1.0).grid_points(x, 6, old_grid_for(2, 6))
    torch.testing.assert_close(got, uniform_points(x, 6), rtol=1e-12, atol=1e-12)
    assert not torch.allclose(got, quantile_points(x, 6))  # the data really is skewed


@pytest.mark.parametrize("eps", [0.02, 0.3, 0.75])
def test_intermediate_eps_mixes_uniform_and_quantiles(eps):
    x = samples(90, 3, seed=2)
    expected = eps * uniform_points(x, 8) + (1 - eps) * quantile_points(x, 8)
    got = QuantileGrid(eps=eps).grid_points(x, 8, old_grid_for(3, 8))
    torch.testing.assert_close(got, expected, rtol=1e-12, atol=1e-12)


def test_margin_widens_the_uniform_part():
    x = samples(40, 2, seed=3)
    got = QuantileGrid(eps=1.0, margin=0.5).place(x, 4)
    torch.testing.assert_close(got, uniform_points(x, 4, margin=0.5), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(got[:, 0], x.amin(0) - 0.5, rtol=0, atol=1e-12)
    uni = UniformGrid(margin=0.5)
    torch.testing.assert_close(uni.grid_points(x, 4, old_grid_for(2, 4)), got, rtol=1e-12,
                               atol=1e-12)
    torch.testing.assert_close(UniformGrid().place(x, 4), uniform_points(x, 4), rtol=1e-12,
                               atol=1e-12)


def test_end_margin_moves_only_the_end_points_out():
    x = samples(40, 2, seed=5)
    plain = QuantileGrid().place(x, 6)
    wide = QuantileGrid(end_margin=0.01).place(x, 6)
    span = x.amax(0) - x.amin(0)
    torch.testing.assert_close(wide[:, 1:-1], plain[:, 1:-1], rtol=0, atol=0)
    torch.testing.assert_close(wide[:, 0], plain[:, 0] - 0.01 * span, rtol=0, atol=1e-15)
    torch.testing.assert_close(wide[:, -1], plain[:, -1] + 0.01 * span, rtol=0, atol=1e-15)


@pytest.mark.parametrize("end_margin", [-0.01, 1.0, math.nan])
def test_bad_end_margin_raises(end_margin):
    with pytest.raises(InputError, match="end_margin"):
        QuantileGrid(end_margin=end_margin)


def test_float32_samples_give_float32_grids():
    x = samples(50, 2, seed=4, dtype=torch.float32)
    got = QuantileGrid().grid_points(x, 5, old_grid_for(2, 5).float())
    assert got.dtype == torch.float32 and got.shape == (2, 6)
    assert bool((got.diff(dim=1) > 0).all())


# ---------------------------------------------------------------- validation


@pytest.mark.parametrize("eps", [-0.1, 1.5, math.nan, math.inf])
def test_bad_eps_raises_a_value_error_naming_eps(eps):
    with pytest.raises(InputError, match=r"eps must lie in \[0, 1\]") as info:
        QuantileGrid(eps=eps)
    assert isinstance(info.value, ValueError)
    assert issubclass(InputError, ValueError)


def test_negative_margin_raises():
    with pytest.raises(ValueError, match="margin"):
        QuantileGrid(margin=-1.0)


def test_too_few_samples_raises_about_samples():
    assert min_samples_for_grid(5) == 6
    strategy = QuantileGrid()
    with pytest.raises(InputError, match=r"at least 6 samples; got 5"):
        strategy.grid_points(samples(5, 2, seed=5), 5, old_grid_for(2, 5))
    got = strategy.grid_points(samples(6, 2, seed=5), 5, old_grid_for(2, 5))  # G + 1 is enough
    assert got.shape == (2, 6) and bool((got.diff(dim=1) > 0).all())


# ---------------------------------------------------------------- constant inputs


def test_constant_column_warns_and_keeps_its_old_grid():
    x = samples(60, 3, seed=6)
    x[:, 1] = 0.7
    old = old_grid_for(3, 5)
    with pytest.warns(GridWarning, match=r"input\(s\) \[1\] are constant"):
        got = QuantileGrid(eps=0.0).grid_points(x, 5, old)
    torch.testing.assert_close(got[1], old[1], rtol=0, atol=1e-12)
    moved = quantile_points(x, 5)
    for i in (0, 2):  # the other columns move to their quantiles
        torch.testing.assert_close(got[i], moved[i], rtol=1e-12, atol=1e-12)
        assert not torch.allclose(got[i], old[i])


def test_constant_column_with_a_new_grid_size_resamples_the_old_range():
    x = samples(60, 2, seed=7)
    x[:, 0] = -3.0
    old = torch.tensor([[-2.0, -1.0, 0.5, 4.0], [0.0, 1.0, 2.0, 3.0]], dtype=F64)  # G_old = 3
    with pytest.warns(GridWarning, match=r"\[0\]"):
        got = QuantileGrid().grid_points(x, 8, old)
    assert got.shape == (2, 9)
    torch.testing.assert_close(got[0], torch.linspace(-2.0, 4.0, 9, dtype=F64), rtol=0,
                               atol=1e-12)
    torch.testing.assert_close(got[1], QuantileGrid().place(x, 8)[1], rtol=1e-12, atol=1e-12)


def test_no_warning_for_varying_columns():
    # filterwarnings = error: any GridWarning here would fail the test
    got = QuantileGrid().grid_points(samples(30, 4, seed=8), 3, old_grid_for(4, 3))
    assert got.shape == (4, 4)


# ---------------------------------------------------------------- strictly increasing


def test_make_increasing_leaves_separated_points_alone():
    grid = torch.tensor([[0.0, 0.1, 0.5, 2.0], [-3.0, -1.0, 0.0, 10.0]], dtype=F64)
    torch.testing.assert_close(make_increasing(grid), grid, rtol=0, atol=1e-14)


def test_make_increasing_separates_duplicates_by_the_relative_gap():
    grid = torch.tensor([[0.0, 0.0, 0.0, 1.0, 1.0]], dtype=F64)
    got = make_increasing(grid, rel_gap=1e-2)
    gap = 1e-2 * 1.0 / 4
    assert bool((got.diff(dim=1) >= gap * (1 - 1e-9)).all())
    assert bool((got >= grid).all())  # points only move right
    torch.testing.assert_close(got, torch.tensor([[0.0, gap, 2 * gap, 1.0, 1.0 + gap]],
                                                 dtype=F64), rtol=0, atol=1e-14)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("offset", [0.0, 1000.0, -3.0e5])
def test_quantile_grid_is_strictly_increasing_with_many_duplicates(dtype, offset):
    g = torch.Generator().manual_seed(9)
    # 200 samples, only 3 distinct values per input (mostly the middle one), plus an offset that
    # dwarfs the span in float32
    x = torch.randint(0, 3, (200, 2), generator=g).to(F64)
    x[:150] = 1.0
    x = (offset + 0.1 * x).to(dtype)
    for grid_size in (3, 10, 40):
        got = QuantileGrid(eps=0.0).grid_points(x, grid_size, old_grid_for(2, grid_size).to(dtype))
        assert got.shape == (2, grid_size + 1)
        assert bool((got.diff(dim=1) > 0).all()), got
        assert bool(torch.isfinite(got).all())
        # still the data's range, up to the pushes (at most G gaps of a few ulps or 1e-4 span)
        push = grid_size * (1e-4 * 0.2 + 8 * torch.finfo(dtype).eps * (abs(offset) + 1))
        assert torch.equal(got[:, 0], x.amin(0))
        assert bool((got[:, -1] >= x.amax(0)).all())
        assert float((got[:, -1] - x.amax(0)).max()) <= push


# ---------------------------------------------------------------- lookup


def test_get_grid_strategy_by_name_with_options():
    assert isinstance(get_grid_strategy(None), QuantileGrid)
    q = get_grid_strategy("quantile", eps=0.5, margin=0.1)
    assert isinstance(q, QuantileGrid) and q.eps == 0.5 and q.margin == 0.1
    u = get_grid_strategy("uniform", margin=0.2)
    assert isinstance(u, UniformGrid) and u.margin == 0.2
    for name, make in GRID_STRATEGIES.items():
        strategy = make()  # the paper's rules are saved under their density's name
        assert isinstance(strategy, GridStrategy)
        assert strategy.name == name.removesuffix("_paper")


def test_get_grid_strategy_misspelled_name_suggests():
    with pytest.raises(InputError, match=r"did you mean 'quantile'"):
        get_grid_strategy("quantle")
    with pytest.raises(ValueError, match="unknown grid strategy 'zzz'"):
        get_grid_strategy("zzz")


def test_get_grid_strategy_passes_instances_through():
    inst = QuantileGrid(eps=0.1)
    assert get_grid_strategy(inst) is inst
    with pytest.raises(InputError, match="only accepted with a strategy name"):
        get_grid_strategy(inst, eps=0.2)
    with pytest.raises(InputError, match="got int"):
        get_grid_strategy(3)  # type: ignore[arg-type]
    with pytest.raises(InputError, match="eps"):
        get_grid_strategy("quantile", eps=2.0)
