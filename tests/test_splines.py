"""B-spline knots and bases: properties, slow oracles, autograd, batch shapes."""

from __future__ import annotations

import pytest
import torch

from _reference import cox_de_boor, cox_de_boor_derivative, scipy_basis
from kanlab.splines import (
    KNOT_CONVENTIONS,
    bspline_basis,
    clamped_knots,
    extended_knots,
    local_basis,
    make_knots,
    n_basis,
    uniform_grid,
)

F64 = torch.float64
DTYPES = [torch.float32, torch.float64]
DEGREES = [0, 1, 2, 3, 4]


def random_grid(n_in: int, grid_size: int, seed: int, dtype=F64) -> torch.Tensor:
    """Strictly increasing, nonuniform grid points, a different range per input: ``(in, G + 1)``."""
    gen = torch.Generator().manual_seed(seed)
    steps = 0.25 + torch.rand(n_in, grid_size, generator=gen, dtype=F64)  # ratio up to 5
    pts = torch.cat([torch.zeros(n_in, 1, dtype=F64), steps.cumsum(1)], dim=1)
    scale = 0.5 + 2 * torch.rand(n_in, 1, generator=gen, dtype=F64)
    lo = -2 + 2 * torch.rand(n_in, 1, generator=gen, dtype=F64)
    return (lo + scale * pts / pts[:, -1:]).to(dtype)


def points_between_knots(knots: torch.Tensor, n: int, seed: int) -> torch.Tensor:
    """``(n, in)`` points in random non-degenerate knot intervals, away from every knot."""
    gen = torch.Generator().manual_seed(seed)
    cols = []
    for t in knots.to(F64):
        lefts = t[:-1][t[1:] > t[:-1]]
        rights = t[1:][t[1:] > t[:-1]]
        m = torch.randint(len(lefts), (n,), generator=gen)
        u = 0.05 + 0.9 * torch.rand(n, generator=gen, dtype=F64)
        cols.append(lefts[m] + u * (rights[m] - lefts[m]))
    return torch.stack(cols, dim=1).to(knots.dtype)


def tol(dtype) -> float:
    return 1e-12 if dtype == F64 else 2e-5


# ---------------------------------------------------------------- grids and knot vectors


def test_uniform_grid_shape_and_values():
    g = uniform_grid(3, 4, (-2.0, 2.0), dtype=F64)
    assert g.shape == (3, 5) and g.dtype == F64
    expected = torch.tensor([-2.0, -1.0, 0.0, 1.0, 2.0], dtype=F64)
    for row in g:
        torch.testing.assert_close(row, expected, rtol=0, atol=0)


@pytest.mark.parametrize("k", DEGREES)
def test_extended_knots_continue_the_grid(k):
    grid = random_grid(3, 5, seed=1)
    t = extended_knots(grid, k)
    assert t.shape == (3, 6 + 2 * k)
    torch.testing.assert_close(t[:, k : k + 6], grid, rtol=0, atol=0)
    h = (grid[:, -1] - grid[:, 0]) / 5
    for j in range(1, k + 1):
        torch.testing.assert_close(t[:, k - j], grid[:, 0] - j * h)
        torch.testing.assert_close(t[:, k + 5 + j], grid[:, -1] + j * h)
    assert bool((t.diff(dim=1) > 0).all())
    assert n_basis(t, k) == 5 + k


@pytest.mark.parametrize("k", DEGREES)
def test_clamped_knots_repeat_the_ends(k):
    grid = random_grid(2, 4, seed=2)
    t = clamped_knots(grid, k)
    assert t.shape == (2, 5 + 2 * k)
    torch.testing.assert_close(t[:, k : k + 5], grid, rtol=0, atol=0)
    assert bool((t[:, : k + 1] == grid[:, :1]).all())
    assert bool((t[:, -k - 1 :] == grid[:, -1:]).all())
    assert n_basis(t, k) == 4 + k


def test_make_knots_dispatch_and_unknown_convention():
    grid = random_grid(2, 3, seed=3)
    assert torch.equal(make_knots(grid, 2, "extended"), extended_knots(grid, 2))
    assert torch.equal(make_knots(grid, 2, "clamped"), clamped_knots(grid, 2))
    assert torch.equal(make_knots(grid, 2), extended_knots(grid, 2))  # default
    with pytest.raises(ValueError, match="knot convention 'periodic'"):
        make_knots(grid, 2, "periodic")


# ---------------------------------------------------------------- partition of unity, support


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("k", DEGREES)
@pytest.mark.parametrize("convention", KNOT_CONVENTIONS)
def test_partition_of_unity_on_the_closed_grid(convention, k, dtype):
    grid = random_grid(3, 6, seed=10 + k, dtype=dtype)
    knots = make_knots(grid, k, convention)
    u = torch.linspace(0, 1, 97, dtype=dtype)[:, None]
    x = grid[:, 0] + u * (grid[:, -1] - grid[:, 0])  # (97, 3)
    x = torch.minimum(x, grid[:, -1])  # float32 rounding may step past g_G
    x = torch.cat([x, grid.T, grid[:, -1:].T], dim=0)  # every grid point, and g_G exactly
    assert bool((x[-1] == grid[:, -1]).all())
    b = bspline_basis(x, knots, k)
    assert b.shape == (x.shape[0], 3, 6 + k) and b.dtype == dtype
    torch.testing.assert_close(b.sum(-1), torch.ones_like(x), rtol=0, atol=tol(dtype) * 10)
    assert bool((b >= -tol(dtype)).all())
    assert bool(((b != 0).sum(-1) <= k + 1).all())  # local support
    if k >= 1:  # derivatives of a constant are zero; derivatives are right-sided, so at g_G
        # (where an extended basis starts to decay) only up to order k - 1
        for d in (1, 2):
            xd = x if d < k or convention == "clamped" else x[x.ne(grid[:, -1]).all(1)]
            bd = bspline_basis(xd.to(F64), knots.to(F64), k, derivative=d)
            scale = bd.abs().amax().clamp_min(1.0)
            assert float(bd.sum(-1).abs().max()) <= 1e-11 * scale


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("k", DEGREES)
def test_extended_basis_decays_and_is_exactly_zero_outside(k, dtype):
    grid = random_grid(2, 5, seed=20 + k, dtype=dtype)
    knots = make_knots(grid, k, "extended")
    t0, tl = knots[:, 0], knots[:, -1]
    span = tl - t0
    outside = torch.stack(
        [t0 - 1e-3 * span, t0 - span, tl + 1e-3 * span, tl + span, t0 - 1e6, tl + 1e6]
    )
    b = bspline_basis(outside, knots, k)
    assert bool((b == 0).all())
    for d in (1, 2):
        assert bool((bspline_basis(outside, knots, k, derivative=d) == 0).all())
    if k >= 1:  # over the extra knots the sum falls from 1 to 0
        u = torch.linspace(0.01, 0.99, 13, dtype=dtype)[:, None]
        left = t0 + u * (grid[:, 0] - t0)
        right = grid[:, -1] + u * (tl - grid[:, -1])
        s_left = bspline_basis(left, knots, k).sum(-1)
        s_right = bspline_basis(right, knots, k).sum(-1)
        if dtype == F64:
            assert bool(((s_left > 0) & (s_left < 1)).all())
            assert bool(((s_right > 0) & (s_right < 1)).all())
            assert bool((s_left.diff(dim=0) > 0).all()) and bool((s_right.diff(dim=0) < 0).all())
        else:  # float32 rounds values next to 1 to 1
            assert bool(((s_left >= 0) & (s_left <= 1 + 1e-6)).all())
            assert bool((s_left.diff(dim=0) >= -1e-6).all())
            assert bool((s_right.diff(dim=0) <= 1e-6).all())
            assert float(s_left[0].max()) < 0.5 and float(s_right[-1].max()) < 0.5


@pytest.mark.parametrize("k", DEGREES)
def test_clamped_basis_is_zero_outside_and_interpolates_ends(k):
    grid = random_grid(2, 5, seed=30 + k)
    knots = make_knots(grid, k, "clamped")
    outside = torch.stack([grid[:, 0] - 1e-9, grid[:, -1] + 1e-9, grid[:, 0] - 5, grid[:, -1] + 5])
    assert bool((bspline_basis(outside, knots, k) == 0).all())
    ends = bspline_basis(torch.stack([grid[:, 0], grid[:, -1]]), knots, k)  # (2, in, nb)
    expected = torch.zeros_like(ends)
    expected[0, :, 0] = 1.0
    expected[1, :, -1] = 1.0
    torch.testing.assert_close(ends, expected, rtol=0, atol=1e-14)


# ---------------------------------------------------------------- against slow oracles


@pytest.mark.parametrize("k", DEGREES)
@pytest.mark.parametrize("convention", KNOT_CONVENTIONS)
def test_values_match_cox_de_boor_everywhere(convention, k):
    grid = random_grid(4, 7, seed=40 + k)
    knots = make_knots(grid, k, convention)
    at_knots = torch.where(knots == knots[:, -1:], knots[:, :1], knots).T  # all but the last
    x = torch.cat([points_between_knots(knots, 64, seed=k), at_knots])
    # knots themselves included (half-open intervals agree), right end excluded: the oracle is
    # half-open there and kanlab closes the clamped right end on purpose.
    torch.testing.assert_close(bspline_basis(x, knots, k), cox_de_boor(x, knots, k), rtol=0,
                               atol=1e-12)


@pytest.mark.parametrize("d", [0, 1, 2])
@pytest.mark.parametrize("k", DEGREES)
@pytest.mark.parametrize("convention", KNOT_CONVENTIONS)
def test_derivatives_match_recursion_and_scipy(convention, k, d):
    grid = random_grid(3, 6, seed=50 + k)
    knots = make_knots(grid, k, convention)
    x = points_between_knots(knots, 40, seed=100 + k + 10 * d)
    got = bspline_basis(x, knots, k, derivative=d)
    rec = cox_de_boor_derivative(x, knots, k, d)
    ref = scipy_basis(x, knots, k, d)
    scale = max(1.0, float(ref.abs().max()))  # second derivatives reach O(1/h^2)
    torch.testing.assert_close(rec, ref, rtol=0, atol=1e-12 * scale)  # the oracles agree
    torch.testing.assert_close(got, ref, rtol=0, atol=1e-12 * scale)
    if d <= k:
        assert float(got.abs().max()) > 0.1  # not trivially zero


@pytest.mark.parametrize("k", [0, 1, 2])
def test_derivatives_above_the_degree_are_zero(k):
    knots = make_knots(random_grid(2, 4, seed=5), k)
    x = points_between_knots(knots, 10, seed=6)
    assert bool((bspline_basis(x, knots, k, derivative=k + 1) == 0).all())
    assert bool((bspline_basis(x, knots, k, derivative=k + 2) == 0).all())


@pytest.mark.parametrize("k", [1, 3])
def test_local_basis_scatters_to_the_dense_basis(k):
    knots = make_knots(random_grid(3, 5, seed=7), k, "clamped")
    x = points_between_knots(knots, 20, seed=8)
    (v0, v1), index = local_basis(x, knots, k, (0, 1))
    assert v0.shape == v1.shape == index.shape == (20, 3, k + 1)
    assert bool((index >= 0).all()) and bool((index < n_basis(knots, k)).all())
    nb = n_basis(knots, k)
    for vals, d in ((v0, 0), (v1, 1)):
        dense = torch.zeros(20, 3, nb, dtype=F64).scatter_add_(-1, index, vals)
        torch.testing.assert_close(dense, bspline_basis(x, knots, k, derivative=d), rtol=0,
                                   atol=0)


def test_float32_agrees_with_float64():
    k = 3
    knots = make_knots(random_grid(3, 6, seed=9), k)
    x = points_between_knots(knots, 50, seed=10)
    b64 = bspline_basis(x, knots, k)
    b32 = bspline_basis(x.float(), knots.float(), k)
    assert b32.dtype == torch.float32
    torch.testing.assert_close(b32.double(), b64, rtol=0, atol=1e-5)


# ---------------------------------------------------------------- autograd


def _setup_autograd(convention, k=3, n=6, seed=11):
    knots = make_knots(random_grid(2, 5, seed=seed), k, convention)
    x = points_between_knots(knots, n, seed=seed + 1).requires_grad_(True)
    return x, knots


@pytest.mark.parametrize("convention", KNOT_CONVENTIONS)
def test_gradcheck_and_gradgradcheck(convention):
    x, knots = _setup_autograd(convention)
    fn = lambda x: bspline_basis(x, knots, 3)  # noqa: E731
    assert torch.autograd.gradcheck(fn, (x,), eps=1e-6, atol=1e-7)
    assert torch.autograd.gradgradcheck(fn, (x,), eps=1e-6, atol=1e-7)
    fn1 = lambda x: bspline_basis(x, knots, 3, derivative=1)  # noqa: E731
    assert torch.autograd.gradcheck(fn1, (x,), eps=1e-6, atol=1e-6)


@pytest.mark.parametrize("k", [2, 3, 4])
@pytest.mark.parametrize("convention", KNOT_CONVENTIONS)
def test_autograd_derivatives_equal_analytic_derivative_bases(convention, k):
    x, knots = _setup_autograd(convention, k=k, n=30, seed=12 + k)
    c = torch.randn(2, n_basis(knots, k), dtype=F64, generator=torch.Generator().manual_seed(k))
    y = (bspline_basis(x, knots, k) * c).sum()
    (g1,) = torch.autograd.grad(y, x, create_graph=True)
    xd = x.detach()
    expected1 = (bspline_basis(xd, knots, k, derivative=1) * c).sum(-1)
    torch.testing.assert_close(g1, expected1, rtol=0, atol=1e-12 * expected1.abs().max())
    (g2,) = torch.autograd.grad(g1.sum(), x, create_graph=True)  # each x only feeds its own g1
    expected2 = (bspline_basis(xd, knots, k, derivative=2) * c).sum(-1)
    torch.testing.assert_close(g2, expected2, rtol=0, atol=1e-12 * expected2.abs().max())
    (g3,) = torch.autograd.grad(g2.sum(), x)
    expected3 = (bspline_basis(xd, knots, k, derivative=3) * c).sum(-1)
    torch.testing.assert_close(g3, expected3, rtol=0, atol=1e-12 * expected3.abs().max())
    assert float(expected2.abs().max()) > 0
    assert (float(expected3.abs().max()) > 0) == (k >= 3)


def test_gradient_without_create_graph_and_knots_untouched():
    x, knots = _setup_autograd("extended", n=8, seed=13)
    knots_before = knots.clone()
    w = torch.randn(8, 2, n_basis(knots, 3), dtype=F64, generator=torch.Generator().manual_seed(0))
    (bspline_basis(x, knots, 3) * w).sum().backward()
    expected = (bspline_basis(x.detach(), knots, 3, derivative=1) * w).sum(-1)
    torch.testing.assert_close(x.grad, expected, rtol=0, atol=1e-12 * expected.abs().max())
    assert torch.equal(knots, knots_before)


# ---------------------------------------------------------------- batch shapes


@pytest.mark.parametrize("d", [0, 1, 2])
@pytest.mark.parametrize("convention", KNOT_CONVENTIONS)
def test_results_do_not_depend_on_batch_dimensions(convention, d):
    k, n_in, batch = 3, 3, 24
    knots = make_knots(random_grid(n_in, 5, seed=14), k, convention)
    x = points_between_knots(knots, batch, seed=15)
    ref = bspline_basis(x, knots, k, derivative=d)  # (B, in, nb)
    nb = ref.shape[-1]
    for shape in [(2, batch // 2), (2, 3, batch // 6), (batch,)]:
        out = bspline_basis(x.reshape(*shape, n_in), knots, k, derivative=d)
        assert out.shape == (*shape, n_in, nb)
        assert torch.equal(out.reshape(batch, n_in, nb), ref)
    # autograd through a 4-d input
    x4 = x.reshape(2, 3, batch // 6, n_in).clone().requires_grad_(True)
    (g,) = torch.autograd.grad(bspline_basis(x4, knots, k, derivative=d).sum(), x4)
    expected = bspline_basis(x, knots, k, derivative=d + 1).sum(-1)
    torch.testing.assert_close(g.reshape(batch, n_in), expected, rtol=0,
                               atol=1e-12 * max(1.0, float(expected.abs().max())))


def test_single_point_without_batch_dimension():
    knots = make_knots(random_grid(2, 4, seed=16), 2)
    x = points_between_knots(knots, 1, seed=17)
    out = bspline_basis(x[0], knots, 2)
    assert out.shape == (2, n_basis(knots, 2))
    assert torch.equal(out, bspline_basis(x, knots, 2)[0])


# --------------------------------------------------------------------------- closed-form cubic
from kanlab.splines import uniform_spacing, window_rows  # noqa: E402


@pytest.mark.parametrize("derivative", [0, 1, 2, 3])
def test_uniform_cubic_closed_form_equals_general_path(derivative):
    grid = torch.stack([torch.linspace(-1, 1, 8, dtype=torch.float64),
                        torch.linspace(-0.3, 2.5, 8, dtype=torch.float64)])
    knots = make_knots(grid, 3, "extended")
    uniform = uniform_spacing(knots)
    assert uniform is not None
    x = torch.rand(400, 2, dtype=torch.float64) * 6 - 2.5  # inside, on the extension, outside
    x[:5] = knots[:, :5].T  # exactly on knots, including the first
    x[5] = knots[:, -1]  # the last knot
    rows = window_rows(knots, 3)[:, -8:].contiguous()
    fast = bspline_basis(x, knots, 3, derivative, rows=rows, uniform=uniform)
    slow = bspline_basis(x, knots, 3, derivative)
    scale = slow.abs().max().clamp_min(1)
    assert (fast - slow).abs().max() <= 1e-12 * scale


def test_uniform_spacing_detects_nonuniform_knots():
    knots = make_knots(torch.tensor([[0.0, 0.1, 0.5, 1.0]], dtype=torch.float64), 3)
    assert uniform_spacing(knots) is None
    assert uniform_spacing(make_knots(torch.linspace(0, 1, 5).double()[None], 3)) is not None
    assert uniform_spacing(make_knots(torch.linspace(-1, 1, 6)[None], 3)) is not None  # float32


def test_uniform_path_double_backward_matches_general_path():
    knots = make_knots(torch.linspace(-1, 1, 6, dtype=torch.float64)[None].repeat(3, 1), 3)
    uniform = uniform_spacing(knots)
    rows = window_rows(knots, 3)[:, -8:].contiguous()
    coef = torch.randn(3, 8, dtype=torch.float64)
    x = (torch.rand(50, 3, dtype=torch.float64) * 1.8 - 0.9).requires_grad_()

    def third_derivative(**kw):
        y = (bspline_basis(x, knots, 3, **kw) * coef).sum()
        (g,) = torch.autograd.grad(y, x, create_graph=True)
        (h,) = torch.autograd.grad(g.sum(), x, create_graph=True)
        (t,) = torch.autograd.grad(h.sum(), x)
        return g, h, t

    for a, b in zip(third_derivative(rows=rows, uniform=uniform), third_derivative()):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-10)
    assert local_basis(x.detach(), knots, 3, (0,), rows, uniform)[0][0].shape == (50, 3, 4)


@pytest.mark.parametrize("uniform_knots", [True, False])
def test_local_jet_scatters_to_dense_derivatives_and_differentiates_to_the_next(uniform_knots):
    from kanlab.splines import local_jet

    if uniform_knots:
        knots = make_knots(torch.linspace(-1, 1, 6, dtype=F64)[None].repeat(3, 1), 3)
        rows = window_rows(knots, 3)[:, -8:].contiguous()
        uniform = uniform_spacing(knots)
        assert uniform is not None
    else:
        knots = make_knots(random_grid(3, 5, seed=9), 3, "extended")
        rows, uniform = None, None
    x = points_between_knots(knots, 40, seed=10)
    jet, index = local_jet(x, knots, 3, rows=rows, uniform=uniform)
    assert jet.shape == (3, 40, 3, 4) and index.shape == (40, 3, 4)
    nb = n_basis(knots, 3)
    for d in range(3):
        dense = torch.zeros(40, 3, nb, dtype=F64).scatter_add_(-1, index, jet[d])
        torch.testing.assert_close(dense, bspline_basis(x, knots, 3, derivative=d),
                                   rtol=1e-12, atol=1e-12)
    # d/dx of order d is order d + 1, to the third derivative (and beyond, where it is 0)
    xr = x.clone().requires_grad_()
    weights = torch.randn(3, 40, 3, nb, dtype=F64, generator=torch.Generator().manual_seed(0))
    jet_r, _ = local_jet(xr, knots, 3, rows=rows, uniform=uniform)
    dense = torch.zeros(3, 40, 3, nb, dtype=F64).scatter_add(-1, index.expand(3, -1, -1, -1),
                                                             jet_r)
    (grad,) = torch.autograd.grad((dense * weights).sum(), xr, create_graph=True)
    for order, value in ((1, grad), (2, torch.autograd.grad(grad.sum(), xr)[0])):
        expected = sum((weights[d] * bspline_basis(x, knots, 3, derivative=d + order)).sum(-1)
                       for d in range(3))
        torch.testing.assert_close(value, expected, rtol=1e-10, atol=1e-9)
