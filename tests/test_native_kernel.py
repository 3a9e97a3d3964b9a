"""The optional compiled kernel (kanlab.splines.native) against the pure-PyTorch path: the same
outputs and gradients (1e-6 in float32), on every knot layout the layer meets."""

import copy

import pytest
import torch

import kanlab
from kanlab.splines import native
from kanlab.splines.kernel import _reference_forward, spline_linear

pytestmark = pytest.mark.skipif(not native.available(),
                                reason="the compiled kernel is not built (no C++ compiler?)")


def _both_paths(monkeypatch, run):
    """``run()`` on the compiled kernel, then on the pure-PyTorch path."""
    compiled = run()
    monkeypatch.setenv("KANLAB_NATIVE", "0")
    pure = run()
    monkeypatch.delenv("KANLAB_NATIVE")
    return compiled, pure


def _layer(dtype, k=3, convention="extended", adapted=False, tails="none", seed=0):
    gen = torch.Generator().manual_seed(seed)
    layer = kanlab.KANLinear(4, 3, grid_size=6, spline_order=k, knot_convention=convention,
                             tails=tails, dtype=dtype, generator=gen)
    if adapted:  # knots at the quantiles of a skewed sample: not equally spaced
        sample = torch.rand(400, 4, dtype=dtype, generator=torch.Generator().manual_seed(1))
        layer.update_grid(sample**3 * 2 - 1)
    return layer


def _points(dtype, layer):
    gen = torch.Generator().manual_seed(2)
    x = torch.rand(700, 4, dtype=dtype, generator=gen) * 3 - 1.5  # inside and outside
    knots = layer.knots
    x[:20] = knots[:, 3:23:1].t()[:20] if knots.shape[1] >= 23 else knots[:, :1].t()
    x[20] = knots[:, -1]  # the right end
    x[21] = knots[:, 0]
    x[22, 1] = float("nan")
    return x


def _run(layer, x):
    def run():
        xx = x.clone().requires_grad_()
        layer.zero_grad()
        y = layer(xx)
        y.backward(torch.linspace(-1, 1, y.numel(), dtype=y.dtype).view_as(y))
        return y.detach(), xx.grad, [p.grad.clone() for p in layer.parameters()
                                     if p.grad is not None]
    return run


LAYOUTS = [
    dict(k=3), dict(k=3, adapted=True), dict(k=1), dict(k=2, adapted=True), dict(k=5),
    dict(k=3, convention="clamped"), dict(k=2, convention="clamped", adapted=True),
    dict(k=3, tails="linear"),
]


def _close(got, want, tol):
    """Equal NaN patterns, and the finite entries within ``tol`` of the largest magnitude."""
    assert torch.equal(torch.isnan(got), torch.isnan(want))  # NaN where PyTorch has it
    finite = ~torch.isnan(want)
    scale = float(want[finite].abs().max().clamp_min(1.0))
    torch.testing.assert_close(got[finite], want[finite], rtol=0, atol=tol * scale)


@pytest.mark.parametrize("dtype, tol", [(torch.float32, 1e-6), (torch.float64, 1e-12)])
@pytest.mark.parametrize("layout", LAYOUTS, ids=lambda d: "-".join(f"{v}" for v in d.values()))
def test_compiled_kernel_equals_the_pytorch_path(monkeypatch, dtype, tol, layout):
    layer = _layer(dtype, **layout)
    x = _points(dtype, layer)
    (y, dx, dp), (y0, dx0, dp0) = _both_paths(monkeypatch, _run(layer, x))
    for got, want in [(y, y0), *zip(dp, dp0)]:
        _close(got, want, tol)
    # the input gradient at a point next to a short interval has a rounding error of its own
    # (B'' times an ulp of x over the interval): within it, as both paths are accurate
    monkeypatch.setenv("KANLAB_NATIVE", "0")
    exact = _run(copy.deepcopy(layer).double(), x.double())()[1]
    own = float((dx0.double() - exact).nan_to_num().abs().max())
    _close(dx.double(), dx0.double(), tol + 2 * own / float(exact.nan_to_num().abs().max()))
    assert torch.isnan(y[22]).all() and not torch.isnan(y[23:]).any()


def test_compiled_kernel_matches_the_dense_reference_and_gradchecks():
    gen = torch.Generator().manual_seed(3)
    knots = torch.sort(torch.rand(3, 12, dtype=torch.float64, generator=gen) * 2 - 1)[0]
    x = (torch.rand(50, 3, dtype=torch.float64, generator=gen) * 2 - 1).requires_grad_()
    extra = torch.randn(50, 2, dtype=torch.float64, generator=gen, requires_grad=True)
    weight = torch.randn(4, 3 * 8 + 2, dtype=torch.float64, generator=gen, requires_grad=True)
    bias = torch.randn(4, dtype=torch.float64, generator=gen, requires_grad=True)
    y = spline_linear(x, extra, weight, bias, knots, 3)
    torch.testing.assert_close(y, _reference_forward(x, extra, weight, bias, knots, 3))

    def f(x, extra, weight, bias):
        return spline_linear(x, extra, weight, bias, knots, 3)

    assert torch.autograd.gradcheck(f, (x, extra, weight, bias))
    grad_y = torch.randn(50, 4, dtype=torch.float64, generator=gen)  # not the global RNG's
    assert torch.autograd.gradgradcheck(f, (x, extra, weight, bias), (grad_y,))


def test_the_pytorch_path_can_be_chosen_and_a_stale_build_is_not_loaded(monkeypatch):
    monkeypatch.setenv("KANLAB_NATIVE", "0")
    assert native.module() is None and not native.available()
    monkeypatch.delenv("KANLAB_NATIVE")
    assert native.available()
    monkeypatch.setattr(native, "_source_hash", lambda: "another source")
    assert native._load() is None  # built from another source (or torch): not used


FUSED = [
    dict(), dict(base_fn="zero"), dict(bias=False), dict(spline_order=2, knot_convention="clamped"),
    dict(standardize="batch", base_input="standardized"),
]


@pytest.mark.parametrize("dtype, tol", [(torch.float32, 1e-6), (torch.float64, 1e-12)])
@pytest.mark.parametrize("options", FUSED, ids=lambda d: "-".join(f"{v}" for v in d.values()))
def test_the_fused_layer_equals_the_general_path(monkeypatch, dtype, tol, options):
    gen = torch.Generator().manual_seed(4)
    layer = kanlab.KANLinear(4, 3, grid_size=6, dtype=dtype, generator=gen, **options)
    with torch.no_grad():
        layer.mask[1, 2] = 0  # a pruned edge: no value, no gradient
    x = _points(dtype, layer)
    if "standardize" in options:
        x = x[23:]  # batch statistics: one NaN would reach every point
    assert layer(x).grad_fn.name() == "_FusedLayerBackward"
    (y, dx, dp), (y0, dx0, dp0) = _both_paths(monkeypatch, _run(layer, x))
    for got, want in [(y, y0), (dx, dx0), *zip(dp, dp0)]:
        _close(got, want, tol)
    assert len(dp) == len(dp0)  # the same parameters get gradients
    assert float(dp[0][1, 2].abs().max()) == 0.0  # the pruned edge's coefficients


@pytest.mark.parametrize("options", [dict(tails="linear"), dict(base_fn="tanh"),
                                     dict(standardize="batch")])
def test_other_layers_take_the_general_path(options):
    layer = kanlab.KANLinear(4, 3, **options)
    assert layer(torch.rand(5, 4)).grad_fn.name() != "_FusedLayerBackward"


def test_the_fused_layer_gradchecks_to_second_order():
    gen = torch.Generator().manual_seed(5)
    layer = kanlab.KANLinear(3, 2, grid_size=4, dtype=torch.float64, generator=gen)
    with torch.no_grad():
        layer.coef.normal_(generator=gen)
        layer.mask[0, 1] = 0
    x = (torch.rand(20, 3, dtype=torch.float64, generator=gen) * 2.4 - 1.2).requires_grad_()
    params = [layer.coef, layer.spline_scale, layer.base_scale, layer.bias]

    def f(x, coef, spline_scale, base_scale, bias):
        values = dict(coef=coef, spline_scale=spline_scale, base_scale=base_scale, bias=bias)
        return torch.func.functional_call(layer, values, (x,))

    assert layer(x).grad_fn.name() == "_FusedLayerBackward"
    assert torch.autograd.gradcheck(f, (x, *params))
    grad_y = torch.randn(20, 2, dtype=torch.float64, generator=gen)
    assert torch.autograd.gradgradcheck(f, (x, *params), (grad_y,))


def test_the_fused_layer_under_autocast_equals_it_outside():
    layer = kanlab.KANLinear(3, 2, generator=torch.Generator().manual_seed(6))
    x = torch.rand(40, 3, generator=torch.Generator().manual_seed(7)) * 2 - 1
    with torch.autocast("cpu", dtype=torch.bfloat16):
        mixed = layer(x.bfloat16())  # a bfloat16 input is widened, not rounded further
    assert mixed.grad_fn.name() == "_FusedLayerBackward" and mixed.dtype == torch.float32
    torch.testing.assert_close(mixed, layer(x.bfloat16().float()), rtol=0, atol=0)


def test_the_fused_layer_backward_twice_through_a_retained_graph():
    layer = kanlab.KANLinear(3, 2, generator=torch.Generator().manual_seed(8))
    x = (torch.rand(30, 3, generator=torch.Generator().manual_seed(9)) * 2 - 1).requires_grad_()
    y = layer(x)
    assert y.grad_fn.name() == "_FusedLayerBackward"
    y.sum().backward(retain_graph=True)  # the first backward drops A
    first = [t.grad.clone() for t in (x, *layer.parameters())]
    y.sum().backward()  # the second builds it again: every gradient doubles
    for t, g in zip((x, *layer.parameters()), first):
        torch.testing.assert_close(t.grad, 2 * g)


def test_the_fused_silu_derivative_at_zero_tiny_and_large_inputs(monkeypatch):
    # silu'(x) comes from A's SiLU column as sigma = silu(x) / x (1/2 at x = 0): no exp
    layer = kanlab.KANLinear(1, 2, grid_range=(-100.0, 100.0), dtype=torch.float64,
                             generator=torch.Generator().manual_seed(10))
    x = torch.tensor([[0.0], [1e-30], [-1e-30], [-20.0], [20.0], [-80.0], [80.0], [0.5]],
                     dtype=torch.float64)
    (y, dx, dp), (y0, dx0, dp0) = _both_paths(monkeypatch, _run(layer, x))
    assert layer(x).grad_fn.name() == "_FusedLayerBackward"
    for got, want in [(y, y0), (dx, dx0), *zip(dp, dp0)]:
        _close(got, want, 1e-12)
