"""Ridge least squares: agreement with direct solves, robustness, exact recovery, transfer."""

from __future__ import annotations

import pytest
import torch

from _reference import lstsq_per_input
from kanlab.splines import KNOT_CONVENTIONS, bspline_basis, make_knots, n_basis
from kanlab.splines.lstsq import DEFAULT_RIDGE, fit_coefficients, ridge_solve, transfer_coefficients

F64 = torch.float64


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def random_grid(n_in: int, grid_size: int, seed: int) -> torch.Tensor:
    """Strictly increasing nonuniform grid points, a different range per input: ``(in, G + 1)``."""
    g = gen(seed)
    steps = 0.3 + torch.rand(n_in, grid_size, generator=g, dtype=F64)
    pts = torch.cat([torch.zeros(n_in, 1, dtype=F64), steps.cumsum(1)], dim=1)
    lo = -1 + torch.rand(n_in, 1, generator=g, dtype=F64)
    return lo + (1 + torch.rand(n_in, 1, generator=g, dtype=F64)) * pts / pts[:, -1:]


def samples_in_grid(grid: torch.Tensor, n: int, seed: int) -> torch.Tensor:
    """``(n, in)`` uniform samples on each input's ``[g_0, g_G]``."""
    u = torch.rand(n, grid.shape[0], generator=gen(seed), dtype=F64)
    return grid[:, 0] + u * (grid[:, -1] - grid[:, 0])


def spline_values(x, knots, coef, k):
    """Edge values ``(N, in, out)`` of coefficients ``(out, in, nb)``."""
    return torch.einsum("nib,oib->nio", bspline_basis(x, knots, k), coef.to(x.dtype))


def normal_equations(x, y, knots, k):
    """Gram ``(in, nb, nb)`` and rhs ``(in, nb, out)`` as fit_coefficients forms them."""
    a = bspline_basis(x, knots, k).transpose(0, 1)  # (in, N, nb)
    return a.transpose(1, 2) @ a, a.transpose(1, 2) @ y.transpose(0, 1)


# ---------------------------------------------------------------- ridge_solve


def test_ridge_solve_matches_a_direct_solve_when_well_conditioned():
    a = torch.randn(3, 40, 8, generator=gen(0), dtype=F64)
    gram = a.transpose(1, 2) @ a
    rhs = torch.randn(3, 8, 2, generator=gen(1), dtype=F64)
    expected = torch.linalg.solve(gram, rhs)
    got = ridge_solve(gram, rhs)
    assert got.shape == (3, 8, 2) and got.dtype == F64
    torch.testing.assert_close(got, expected, rtol=1e-10, atol=1e-10 * expected.abs().max())
    torch.testing.assert_close(ridge_solve(gram, rhs, ridge=0.0), expected, rtol=1e-10, atol=1e-12)


def test_ridge_solve_refinement_removes_the_ridge_bias():
    a = torch.randn(2, 30, 5, generator=gen(2), dtype=F64)
    gram = a.transpose(1, 2) @ a
    rhs = torch.randn(2, 5, 1, generator=gen(3), dtype=F64)
    expected = torch.linalg.solve(gram, rhs)
    biased = ridge_solve(gram, rhs, ridge=1e-3, refine_steps=0)
    refined = ridge_solve(gram, rhs, ridge=1e-3, refine_steps=4)
    err_biased = float((biased - expected).abs().max())
    err_refined = float((refined - expected).abs().max())
    assert err_biased > 1e-6  # a visible bias without refinement...
    assert err_refined < err_biased * 1e-3  # ...that refinement shrinks geometrically


def test_ridge_solve_computes_in_float64_from_float32():
    a = torch.randn(2, 30, 6, generator=gen(4))
    gram = a.transpose(1, 2) @ a
    rhs = torch.randn(2, 6, 3, generator=gen(5))
    got = ridge_solve(gram, rhs)
    assert got.dtype == F64
    expected = torch.linalg.solve(gram.double(), rhs.double())
    torch.testing.assert_close(got, expected, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("rhs_kind", ["zero", "random"])
def test_ridge_solve_all_zero_gram_gives_the_minimum_norm_solution(rhs_kind):
    gram = torch.zeros(3, 5, 5, dtype=F64)
    rhs = torch.zeros(3, 5, 2, dtype=F64)
    if rhs_kind == "random":
        # inconsistent; small enough that dividing by the tiny ridge floor stays finite
        rhs = 0.1 * torch.randn(3, 5, 2, generator=gen(6), dtype=F64)
    got = ridge_solve(gram, rhs)
    assert bool(torch.isfinite(got).all())
    assert torch.equal(got, torch.zeros_like(got))  # pinv(0) = 0


def test_ridge_solve_zero_gram_only_affects_its_own_entry():
    a = torch.randn(2, 30, 4, generator=gen(7), dtype=F64)
    gram = a.transpose(1, 2) @ a
    gram[1] = 0
    rhs = torch.randn(2, 4, 1, generator=gen(8), dtype=F64)
    got = ridge_solve(gram, rhs)
    torch.testing.assert_close(got[0], torch.linalg.solve(gram[0], rhs[0]), rtol=1e-10, atol=1e-12)
    assert torch.equal(got[1], torch.zeros_like(got[1]))


def _rank_deficient_case(case: str, k: int = 3):
    grid = random_grid(2, 6, seed=10)
    knots = make_knots(grid, k, "extended")
    g = gen(11)
    if case == "duplicates":  # 3 distinct points, each 20 times
        x = samples_in_grid(grid, 3, seed=12).repeat(20, 1)
    elif case == "one_interval":  # everything inside [g_2, g_3)
        u = 0.1 + 0.8 * torch.rand(50, 2, generator=g, dtype=F64)
        x = grid[:, 2] + u * (grid[:, 3] - grid[:, 2])
    elif case == "few_samples":  # 4 samples for 9 basis functions
        x = samples_in_grid(grid, 4, seed=13)
    elif case == "no_data":  # every sample beyond the knots: zero basis, zero gram
        x = knots[:, -1] + 1 + torch.rand(20, 2, generator=g, dtype=F64)
    else:  # pragma: no cover
        raise AssertionError(case)
    # a cubic: representable on one interval too, so every case is a consistent system
    y = (x**3 - 0.5 * x)[..., None] + torch.tensor([0.0, 1.0], dtype=F64)  # (N, in, 2)
    return x, y, knots, k


@pytest.mark.parametrize("case", ["duplicates", "one_interval", "few_samples", "no_data"])
def test_rank_deficient_systems_are_finite_and_fit_the_data(case):
    x, y, knots, k = _rank_deficient_case(case)
    gram, rhs = normal_equations(x, y, knots, k)
    if case != "no_data":
        assert int(torch.linalg.matrix_rank(gram[0])) < n_basis(knots, k)  # really deficient
    sol = ridge_solve(gram, rhs)
    assert bool(torch.isfinite(sol).all())
    coef = fit_coefficients(x, y, knots, k)
    assert bool(torch.isfinite(coef).all())
    if case == "no_data":
        assert torch.equal(coef, torch.zeros_like(coef))
        return
    # consistent underdetermined systems: the fit interpolates the samples
    fitted = spline_values(x, knots, coef, k)
    torch.testing.assert_close(fitted, y, rtol=0, atol=1e-6)
    # coefficients of functions with no sample on their support stay (near) zero
    support = bspline_basis(x, knots, k).abs().amax(0) > 0  # (in, nb)
    assert bool((~support).any())
    assert float((coef * ~support).abs().max()) < 1e-8
    assert float(coef.abs().max()) < 1e3


def test_rank_deficient_solve_does_not_warn_or_raise_in_float32():
    x, y, knots, k = _rank_deficient_case("few_samples")
    coef = fit_coefficients(x.float(), y.float(), knots.float(), k)
    assert coef.dtype == torch.float32 and bool(torch.isfinite(coef).all())


# ---------------------------------------------------------------- fit_coefficients


@pytest.mark.parametrize("k", [1, 2, 3])
@pytest.mark.parametrize("convention", KNOT_CONVENTIONS)
def test_fit_recovers_the_exact_coefficients(convention, k):
    grid = random_grid(3, 5, seed=20 + k)
    knots = make_knots(grid, k, convention)
    coef = torch.randn(2, 3, n_basis(knots, k), generator=gen(21), dtype=F64)
    x = samples_in_grid(grid, 200, seed=22)
    y = spline_values(x, knots, coef, k)
    got = fit_coefficients(x, y, knots, k)
    assert got.shape == coef.shape and got.dtype == F64
    torch.testing.assert_close(got, coef, rtol=0, atol=1e-9)


@pytest.mark.parametrize("convention", KNOT_CONVENTIONS)
def test_fit_equals_direct_least_squares_on_noisy_targets(convention):
    k = 3
    grid = random_grid(3, 6, seed=30)
    knots = make_knots(grid, k, convention)
    x = samples_in_grid(grid, 150, seed=31)
    noise = 0.1 * torch.randn(150, 3, 2, generator=gen(32), dtype=F64)
    y = torch.stack([torch.sin(4 * x), x**3], dim=-1) + noise  # not a spline
    got = fit_coefficients(x, y, knots, k)
    expected = lstsq_per_input(bspline_basis(x, knots, k), y)
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-9)
    # and it is a least-squares optimum: the residual is orthogonal to the basis
    residual = spline_values(x, knots, got, k) - y  # (N, in, out)
    a = bspline_basis(x, knots, k)
    assert float(torch.einsum("nib,nio->iob", a, residual).abs().max()) < 1e-9


def test_fit_keeps_the_dtype_and_ridge_shrinks_towards_zero():
    k = 2
    grid = random_grid(2, 4, seed=40)
    knots = make_knots(grid, k)
    x = samples_in_grid(grid, 60, seed=41)
    y = torch.randn(60, 2, 3, generator=gen(42), dtype=F64)
    c32 = fit_coefficients(x.float(), y.float(), knots.float(), k)
    c64 = fit_coefficients(x, y, knots, k)
    assert c32.dtype == torch.float32 and c32.shape == (3, 2, n_basis(knots, k))
    torch.testing.assert_close(c32.double(), c64, rtol=0, atol=1e-4)
    strong = fit_coefficients(x, y, knots, k, ridge=10.0)
    assert float(strong.norm()) < 0.5 * float(c64.norm())
    assert DEFAULT_RIDGE > 0


# ---------------------------------------------------------------- transfer_coefficients


def _refine(grid: torch.Tensor) -> torch.Tensor:
    """Grid with every interval halved: contains the old points. ``(in, 2G + 1)``."""
    mid = (grid[:, 1:] + grid[:, :-1]) / 2
    interleaved = torch.stack([grid[:, :-1], mid], dim=-1).flatten(1)  # g_0, m_0, g_1, ...
    return torch.cat([interleaved, grid[:, -1:]], dim=1)


@pytest.mark.parametrize("k", [1, 2, 3])
@pytest.mark.parametrize("convention", KNOT_CONVENTIONS)
def test_transfer_onto_refined_knots_reproduces_the_function(convention, k):
    grid = random_grid(3, 4, seed=50 + k)
    new_grid = _refine(grid)
    assert bool((new_grid.diff(dim=1) > 0).all()) and new_grid.shape == (3, 9)
    old_knots, new_knots = make_knots(grid, k, convention), make_knots(new_grid, k, convention)
    old_coef = torch.randn(2, 3, n_basis(old_knots, k), generator=gen(51), dtype=F64)
    x = samples_in_grid(grid, 120, seed=52)
    new_coef = transfer_coefficients(x, old_knots, old_coef, new_knots, k)
    assert new_coef.shape == (2, 3, n_basis(new_knots, k)) and new_coef.dtype == F64
    x_test = samples_in_grid(grid, 300, seed=53)  # fresh points, not the fitting samples
    torch.testing.assert_close(spline_values(x_test, new_knots, new_coef, k),
                               spline_values(x_test, old_knots, old_coef, k), rtol=0, atol=1e-9)


def test_transfer_onto_the_same_knots_is_the_identity():
    k = 3
    knots = make_knots(random_grid(2, 5, seed=60), k, "clamped")
    coef = torch.randn(3, 2, n_basis(knots, k), generator=gen(61), dtype=F64)
    x = samples_in_grid(knots[:, k:-k], 100, seed=62)
    torch.testing.assert_close(transfer_coefficients(x, knots, coef, knots, k), coef, rtol=0,
                               atol=1e-9)


def test_transfer_to_a_higher_degree_reproduces_the_function():
    # Degree elevation keeps continuity only with doubled interior knots: C^1 quadratics are
    # cubics with knots of multiplicity 2 (a cubic on the same grid would be C^2).
    grid = random_grid(2, 5, seed=70)
    old_knots = make_knots(grid, 2, "clamped")
    interior = grid[:, 1:-1].repeat_interleave(2, dim=1)
    new_knots = torch.cat([grid[:, :1].expand(-1, 4), interior, grid[:, -1:].expand(-1, 4)], 1)
    old_coef = torch.randn(2, 2, n_basis(old_knots, 2), generator=gen(71), dtype=F64)
    x = samples_in_grid(grid, 150, seed=72)
    new_coef = transfer_coefficients(x, old_knots, old_coef, new_knots, 2, new_k=3)
    assert new_coef.shape == (2, 2, n_basis(new_knots, 3))
    x_test = samples_in_grid(grid, 200, seed=73)
    torch.testing.assert_close(spline_values(x_test, new_knots, new_coef, 3),
                               spline_values(x_test, old_knots, old_coef, 2), rtol=0, atol=1e-9)


def test_transfer_keeps_the_coefficient_dtype_and_has_no_grad():
    k = 3
    grid = random_grid(2, 4, seed=80)
    old_knots = make_knots(grid, k).float()
    new_knots = make_knots(_refine(grid), k).float()
    old_coef = torch.randn(1, 2, n_basis(old_knots, k), generator=gen(81)).requires_grad_(True)
    x = samples_in_grid(grid, 80, seed=82).float()
    new_coef = transfer_coefficients(x, old_knots, old_coef, new_knots, k)
    assert new_coef.dtype == torch.float32 and not new_coef.requires_grad
    x_test = samples_in_grid(grid, 100, seed=83).float()
    torch.testing.assert_close(spline_values(x_test, new_knots, new_coef, k),
                               spline_values(x_test, old_knots, old_coef.detach(), k),
                               rtol=0, atol=1e-4)
