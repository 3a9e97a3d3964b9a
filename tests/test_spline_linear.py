"""The layer's one-GEMM autograd Function against the same map built from autograd pieces."""

import pytest
import torch
import torch.nn.functional as F

import kanlab
from kanlab.splines import bspline_basis, make_knots, n_basis, uniform_grid
from kanlab.splines.kernel import (
    _reference_forward,
    knot_tables,
    scatter_table,
    spline_linear,
    taylor_table,
)

D = torch.float64


def _tables(knots, k, with_base, closed_form=True):
    tables = knot_tables(knots, k, n_extra=knots.shape[0] if with_base else 0)
    return tables if closed_form else tables._replace(uniform=None)

D = torch.float64


def _case(k, convention, spacing, with_base, seed=0, batch=40, n_in=3, n_out=4):
    gen = torch.Generator().manual_seed(seed)
    if spacing == "uniform":
        grid = uniform_grid(n_in, 5, dtype=D)
    else:
        grid = torch.sort(torch.rand(n_in, 6, dtype=D, generator=gen) * 2 - 1, dim=1).values
    knots = make_knots(grid, k, convention)
    nb = n_basis(knots, k)
    x = torch.rand(batch, n_in, dtype=D, generator=gen) * 3.4 - 1.7  # some beyond the knots
    x[0] = knots[:, 0]  # knot-vector ends and grid ends exactly
    x[1] = knots[:, -1]
    x[2] = grid[:, 0]
    x[3] = grid[:, -1]
    x.requires_grad_()
    width = n_in * nb + (n_in if with_base else 0)
    weight = torch.randn(n_out, width, dtype=D, generator=gen).requires_grad_()
    bias = torch.randn(n_out, dtype=D, generator=gen).requires_grad_()
    return x, knots, weight, bias


CASES = [
    (k, conv, spacing, base)
    for k in (0, 1, 2, 3, 4)
    for conv in ("extended", "clamped")
    for spacing in ("uniform", "random")
    for base in (True, False)
]


@pytest.mark.parametrize(("k", "convention", "spacing", "with_base"), CASES)
def test_forward_and_gradients_match_autograd_reference(k, convention, spacing, with_base):
    x, knots, weight, bias = _case(k, convention, spacing, with_base)
    base = F.silu(x) if with_base else None
    y = spline_linear(x, base, weight, bias, knots, k, tables=_tables(knots, k, with_base))
    y_ref = _reference_forward(x, base, weight, bias, knots, k)
    torch.testing.assert_close(y, y_ref, rtol=0, atol=1e-12)
    gy = torch.randn_like(y)
    grads = torch.autograd.grad(y, (x, weight, bias), gy, retain_graph=True)
    grads_ref = torch.autograd.grad(y_ref, (x, weight, bias), gy)
    for g, g_ref in zip(grads, grads_ref, strict=True):
        torch.testing.assert_close(g, g_ref, rtol=0, atol=1e-11)


def test_closed_form_cubic_equals_general_path():
    x, knots, weight, bias = _case(3, "extended", "uniform", True)
    fast_tables, general_tables = _tables(knots, 3, True), _tables(knots, 3, True, False)
    assert fast_tables.uniform is not None
    base = F.silu(x)
    fast = spline_linear(x, base, weight, bias, knots, 3, tables=fast_tables)
    general = spline_linear(x, base, weight, bias, knots, 3, tables=general_tables)
    torch.testing.assert_close(fast, general, rtol=0, atol=1e-13)
    (gx_fast,) = torch.autograd.grad(fast.sum(), x, retain_graph=True)
    (gx_general,) = torch.autograd.grad(general.sum(), x)
    torch.testing.assert_close(gx_fast, gx_general, rtol=0, atol=1e-12)


@pytest.mark.parametrize("spacing", ["uniform", "random"])
def test_gradcheck_and_gradgradcheck(spacing):
    x, knots, weight, bias = _case(3, "extended", spacing, True, batch=6, n_in=2, n_out=2)
    def f(x, w, b):
        return spline_linear(x, torch.tanh(x), w, b, knots, 3)

    assert torch.autograd.gradcheck(f, (x, weight, bias))
    # gradgradcheck draws its output gradient from the global RNG unless given one
    grad_y = torch.randn(6, 2, dtype=D, generator=torch.Generator().manual_seed(5))
    assert torch.autograd.gradgradcheck(f, (x, weight, bias), (grad_y,))


def test_second_derivative_in_x_is_the_splines_second_derivative():
    # y = Σ_j w_j B_j(x) for one input: d²y/dx² must be Σ_j w_j B''_j(x)
    x, knots, weight, _ = _case(3, "extended", "random", False, n_in=1, n_out=1)
    y = spline_linear(x, None, weight, None, knots, 3)
    (dy,) = torch.autograd.grad(y.sum(), x, create_graph=True)
    (d2y,) = torch.autograd.grad(dy.sum(), x)
    expected = bspline_basis(x.detach(), knots, 3, 2)[:, 0] @ weight[0]
    torch.testing.assert_close(d2y[:, 0], expected, rtol=0, atol=1e-10)


@pytest.mark.parametrize("uniform_path", [True, False])
def test_nan_and_inf_inputs_reach_the_output(uniform_path):
    knots = make_knots(uniform_grid(2, 5, dtype=D), 3)
    x = torch.tensor([[float("nan"), 0.5], [0.1, float("inf")], [0.2, 0.3]], dtype=D)
    weight = torch.randn(3, 2 * 8 + 2, dtype=D)
    tables = _tables(knots, 3, True, closed_form=uniform_path)
    y = spline_linear(x, F.silu(x), weight, None, knots, 3, tables=tables)
    assert torch.isnan(y[0]).all()
    assert torch.isinf(y[1]).all()  # silu(inf) = inf on the base branch; the spline is 0 there
    assert torch.isfinite(y[2]).all()
    # without a base branch NaN still propagates
    tables = _tables(knots, 3, False, closed_form=uniform_path)
    y = spline_linear(x, None, weight[:, :16], None, knots, 3, tables=tables)
    assert torch.isnan(y[0]).all() and torch.isfinite(y[1:]).all()


def test_scatter_table_sends_missing_functions_and_outside_points_to_the_trash():
    k, n_in = 2, 2
    knots = make_knots(uniform_grid(n_in, 3, dtype=D), k)  # 10 knots, 5 functions per input
    table = scatter_table(knots, k, n_extra=n_in)  # (in·(n_knots + 1), k + 1)
    nb, n_knots = n_basis(knots, k), knots.shape[1]
    trash = n_in * nb + n_in
    assert table.shape == (n_in * (n_knots + 1), k + 1)
    for i in range(n_in):
        rows = table[i * (n_knots + 1) : (i + 1) * (n_knots + 1)]
        assert (rows[0] == trash).all() and (rows[-1] == trash).all()  # outside the knots
        for m in range(n_knots - 1):
            for r in range(k + 1):
                j = m - k + r
                expected = i * nb + j if 0 <= j < nb else trash
                assert rows[m + 1, r] == expected
    assert (scatter_table(knots, k) <= n_in * nb).all()


def test_layer_output_has_no_nan_from_uninitialised_padding():
    # the padding columns of A weigh zero; memory that held NaN must not leak into the output
    layer = kanlab.KANLinear(5, 3)
    for _ in range(3):
        junk = torch.full((64, 80), float("nan"))  # freed memory likely to be reused
        del junk
        assert torch.isfinite(layer(torch.rand(64, 5) * 2 - 1)).all()


@pytest.mark.parametrize("k", [0, 1, 2, 3, 5])
def test_taylor_table_reproduces_the_basis_inside_every_interval(k):
    gen = torch.Generator().manual_seed(1)
    grid = torch.sort(torch.rand(2, 7, dtype=D, generator=gen), dim=1).values
    knots = make_knots(grid, k, "clamped")
    table = taylor_table(knots, k).view(2, knots.shape[1] + 1, -1)
    for i in range(2):
        for m in range(knots.shape[1] - 1):
            lo, hi = knots[i, m], knots[i, m + 1]
            if hi <= lo:
                continue
            x = lo + (hi - lo) * torch.tensor([0.0, 0.3, 0.99], dtype=D)
            coef = table[i, m + 1, 1 : 1 + (k + 1) ** 2].view(k + 1, k + 1)  # (p, r)
            s = (x - table[i, m + 1, 0]).unsqueeze(-1) ** torch.arange(k + 1)  # (3, p)
            ours = s.to(D) @ coef  # (3, r)
            dense = bspline_basis(x.unsqueeze(-1).expand(-1, 2).contiguous(), knots, k)[:, i]
            for r in range(k + 1):
                j = m - k + r
                if 0 <= j < dense.shape[1]:
                    torch.testing.assert_close(ours[:, r], dense[:, j], rtol=0, atol=1e-12)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("convention", ["extended"])
def test_bucket_search_equals_searchsorted(dtype, convention):
    from kanlab.splines.kernel import _bucket_search, interval_search_table

    gen = torch.Generator().manual_seed(3)
    grid = torch.sort(torch.rand(4, 9, generator=gen, dtype=D) * 4 - 2, dim=1).values.to(dtype)
    knots = make_knots(grid, 3, convention)
    tables = knot_tables(knots, 3)
    x = torch.randn(2000, 4, generator=gen, dtype=D).to(dtype) * 2
    x[:50] = knots[:, 5]  # exactly on knots
    x[50:60] = knots[:, -1]  # the closed right end
    x[60:70] = torch.nextafter(knots[:, 0], torch.full_like(knots[:, 0], -10))
    ours = _bucket_search(x, interval_search_table(tables.edges))
    assert ours is not None
    ref = torch.searchsorted(tables.edges, x.t().contiguous(), right=True).t()
    assert torch.equal(ours, ref)


def test_bucket_search_declines_clustered_knots_and_the_layer_path_agrees(monkeypatch):
    from kanlab import spline_linear as sl

    grid = torch.cat([torch.linspace(-1, -0.999, 20), torch.tensor([1.0])]).to(D).expand(2, -1)
    for knots in (make_knots(grid.contiguous(), 3), make_knots(uniform_grid(2, 5), 3, "clamped")):
        tables = sl.knot_tables(knots, 3)
        assert sl._bucket_search(torch.zeros(5, 2, dtype=knots.dtype), tables.search) is None
    # with the table forced on, a layer on adapted knots gives the reference output and grads
    monkeypatch.setattr(sl, "BUCKET_SEARCH_MIN_POINTS", 0)
    x, knots, weight, bias = _case(3, "extended", "random", True)
    y = spline_linear(x, F.silu(x), weight, bias, knots, 3)
    torch.testing.assert_close(y, _reference_forward(x, F.silu(x), weight, bias, knots, 3))


@pytest.mark.parametrize("spacing", ["uniform", "random"])
def test_work_split_into_row_blocks_gives_the_same_values_and_gradients(monkeypatch, spacing):
    # blocks of a few rows (A is filled, and ∂L/∂A formed, block by block) against one block
    x, knots, weight, bias = _case(3, "extended", spacing, True, batch=37)
    results = []
    for chunk in (1 << 30, 7):
        monkeypatch.setattr("kanlab.splines.kernel.CHUNK_VALUES", chunk)
        x.grad = weight.grad = None
        base = F.silu(x)
        y = spline_linear(x, base, weight, bias, knots, 3, tables=_tables(knots, 3, True))
        (y * torch.arange(1.0, 5.0, dtype=D)).sum().backward()
        results.append((y.detach(), x.grad.clone(), weight.grad.clone()))
    for one, blocks in zip(*results):
        torch.testing.assert_close(blocks, one, rtol=0, atol=1e-13)


@pytest.mark.parametrize("spacing", ["uniform", "random"])
@pytest.mark.parametrize("k", [1, 3])
def test_dense_basis_from_the_tables_equals_the_reference_with_its_derivatives(spacing, k):
    from kanlab.splines.kernel import dense_basis

    x, knots, _, _ = _case(k, "extended", spacing, True)
    tables = knot_tables(knots, k, n_extra=knots.shape[0])
    dense = dense_basis(x, knots, k, tables)
    torch.testing.assert_close(dense, bspline_basis(x, knots, k), rtol=0, atol=1e-13)
    w = torch.randn(dense.shape, dtype=D, generator=torch.Generator().manual_seed(3))
    (g,) = torch.autograd.grad((dense * w).sum(), x, create_graph=True)
    (g_ref,) = torch.autograd.grad((bspline_basis(x, knots, k) * w).sum(), x, create_graph=True)
    torch.testing.assert_close(g, g_ref, rtol=0, atol=1e-11)
    (h,) = torch.autograd.grad(g.sum(), x)
    (h_ref,) = torch.autograd.grad(g_ref.sum(), x)
    torch.testing.assert_close(h, h_ref, rtol=0, atol=1e-9)
