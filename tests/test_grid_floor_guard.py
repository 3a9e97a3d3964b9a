"""Grid adaptation that never hurts: the floor under every interval, the density exponents, the
guard that undoes a harmful grid update, and the samples fit's grid moves see."""

import copy
import itertools

import pytest
import torch

import kanlab
from kanlab import InputError
from kanlab.grids import DensityGrid, QuantileGrid, check_guard, density_exponent
from kanlab.grids.density import weighted_quantile_grid
from kanlab.grids.floor import floor_intervals, isotonic
from kanlab.nn.grid_update import best_output_fit, best_output_objective, update_network_grid
from kanlab.training.grid_events import GridSamples

D = torch.float64


def _slow_isotonic(v):
    """Pool adjacent violators, one row, in plain Python."""
    blocks = []  # [sum, count]
    for value in v:
        blocks.append([value, 1])
        while len(blocks) > 1 and blocks[-2][0] / blocks[-2][1] > blocks[-1][0] / blocks[-1][1]:
            s, c = blocks.pop()
            blocks[-1][0] += s
            blocks[-1][1] += c
    return [s / c for s, c in blocks for _ in range(c)]


def test_isotonic_matches_pool_adjacent_violators():
    gen = torch.Generator().manual_seed(0)
    for n in (1, 2, 5, 40):
        v = torch.randn(3, n, dtype=D, generator=gen)
        ours = isotonic(v)
        for row, got in zip(v.tolist(), ours):
            torch.testing.assert_close(got, torch.tensor(_slow_isotonic(row), dtype=D))


HUGE = torch.tensor(1e300, dtype=D)
WEIGHTS = {
    "all zero": lambda x: torch.zeros_like(x),
    "one spike": lambda x: (torch.arange(len(x))[:, None] == 11).to(D).expand_as(x).clone(),
    "step": lambda x: torch.where(x > 0.6, 1.0, 0.0).to(D),
    "huge step": lambda x: torch.where(x > 0.6, HUGE, 1 / HUGE),
    "extremes": lambda x: torch.where(torch.arange(len(x))[:, None] % 2 == 0, HUGE,
                                      0.0 * HUGE).expand_as(x).clone(),
    "ones": lambda x: torch.ones_like(x),
}


@pytest.mark.parametrize(("kind", "floor", "grid_size"),
                         list(itertools.product(WEIGHTS, (0.05, 0.1, 0.5, 0.99), (2, 7, 20))))
def test_no_interval_below_the_floor_whatever_the_weights(kind, floor, grid_size):
    gen = torch.Generator().manual_seed(grid_size)
    x = torch.rand(300, 3, dtype=D, generator=gen) ** torch.tensor([1.0, 3.0, 0.2], dtype=D)
    x[40:80, 1] = 0.25  # ties
    grid = floor_intervals(weighted_quantile_grid(x, WEIGHTS[kind](x), grid_size), floor)
    uniform = (x.amax(0) - x.amin(0)) / grid_size  # (in,)
    widths = grid.diff(dim=1)  # (in, G)
    assert (widths >= floor * uniform[:, None] * (1 - 1e-12)).all()
    torch.testing.assert_close(grid[:, 0], x.amin(0))  # the ends stay the batch's
    torch.testing.assert_close(grid[:, -1], x.amax(0))


def test_the_floor_leaves_a_grid_that_needs_none_as_it_is_and_zero_floor_is_the_quantile_rule():
    x = torch.randn(500, 2, dtype=D, generator=torch.Generator().manual_seed(1))
    quantile = QuantileGrid(eps=0.0).place(x, 6)
    assert torch.equal(floor_intervals(quantile, 0.05), quantile)  # every interval is wider
    assert torch.equal(DensityGrid("input", floor=0.0).place(x, 6), quantile)


def test_the_floor_is_the_nearest_floored_grid():
    grid = torch.tensor([[0.0, 0.5, 0.5, 0.5, 1.0]], dtype=D)  # a collapse onto 0.5
    out = floor_intervals(grid, 0.4)  # gap 0.1: the three knots spread evenly about 0.5
    torch.testing.assert_close(out, torch.tensor([[0.0, 0.4, 0.5, 0.6, 1.0]], dtype=D))
    with pytest.raises(InputError, match="floor"):
        floor_intervals(grid, 1.0)


def test_density_exponents_follow_the_spline_order():
    assert density_exponent("curvature", 3) == pytest.approx(4 / 9)
    assert density_exponent("curvature", 1) == pytest.approx(2 / 5)  # exact for linear splines
    assert density_exponent("curvature_network", 3) == pytest.approx(4 / 9)
    assert density_exponent("gradient", 3) == pytest.approx(8 / 9)
    assert density_exponent("loss", 3) == pytest.approx(1 / 9)
    assert density_exponent("input", 3) == 1.0
    layer = kanlab.KANLinear(2, 3, grid_size=6, spline_order=2, dtype=D,
                             generator=torch.Generator().manual_seed(2))
    x = torch.rand(50, 2, dtype=D, generator=torch.Generator().manual_seed(3))
    raw = layer.edge_derivative(x, 2).abs().sum(1)
    torch.testing.assert_close(DensityGrid("curvature").weights(x, layer=layer), raw ** (3 / 7))
    torch.testing.assert_close(DensityGrid("curvature", power=1.0).weights(x, layer=layer), raw)


def test_bad_floor_and_guard_are_clear_errors():
    with pytest.raises(InputError, match="floor"):
        DensityGrid("curvature", floor=1.0)
    with pytest.raises(InputError, match="guard"):
        DensityGrid("curvature", guard=-0.1)
    with pytest.raises(InputError, match="guard"):
        QuantileGrid(guard=True)
    check_guard(None)
    check_guard(0.0)


# ------------------------------------------------------------------------------ the guard
def _model_on(fn, grid="curvature", grid_size=20, steps=300, seed=0):
    x = torch.rand(1000, 1, dtype=D, generator=torch.Generator().manual_seed(seed)) * 2 - 1
    model = kanlab.KAN([1, 1], grid_size=grid_size, seed=seed, dtype=D, grid=grid)
    kanlab.fit(model, {"train_input": x, "train_label": fn(x)}, opt="adam", lr=1e-2,
               steps=steps, update_grid=False, progress=False, log_every=steps)
    return model, x, fn(x)


def test_guard_undoes_an_update_that_spoils_the_fit_exactly():
    model, x, y = _model_on(lambda x: torch.sin(3 * x))
    layer = model.layers[0]
    knots, coef, values = layer.knots, layer.coef, layer.coef.detach().clone()
    spoil = DensityGrid(lambda x, layer, ctx: (x > 0.9).to(D).squeeze(1), power=1.0, floor=0.0,
                        guard=0.5, fallback="keep")
    update = update_network_grid(model, x, spoil, y=y)  # every knot onto the last 5 %
    assert not update.kept and update.change > 0.5
    assert layer.knots is knots and layer.coef is coef and torch.equal(coef, values)
    kept = update_network_grid(model, x, DensityGrid(spoil.density, power=1.0, floor=0.0,
                                                     guard=None, fallback="keep"), y=y)
    assert kept.kept and kept.change is None and not torch.equal(layer.coef, values)


def test_guard_judges_by_an_objective_or_without_targets_by_the_outputs():
    model, x, y = _model_on(lambda x: torch.sin(3 * x))
    values = model.layers[0].coef.detach().clone()
    spoil = DensityGrid(lambda x, layer, ctx: (x > 0.9).to(D).squeeze(1), power=1.0, floor=0.0,
                        guard=0.5, fallback="keep")
    calls = []

    def objective(m):  # e.g. a PDE's residual loss: any function of the model
        calls.append(1)
        return float((m(x) - y).square().mean())

    update = update_network_grid(model, x, spoil, objective=objective)
    assert not update.kept and len(calls) >= 2 and torch.equal(model.layers[0].coef, values)
    outputs = update_network_grid(model, x, spoil, guard=0.01)  # no targets: the outputs
    assert not outputs.kept and outputs.change > 0.01
    kept = update_network_grid(model, x, spoil, guard=10.0)
    assert kept.kept and kept.change == pytest.approx(outputs.change)


def test_guard_of_an_extension_falls_back_to_a_plain_refinement():
    model, x, y = _model_on(lambda x: torch.sin(3 * x), grid_size=5)
    refined = model.refine(10, x)
    spoil = DensityGrid(lambda x, layer, ctx: (x > 0.9).to(D).squeeze(1), power=1.0, floor=0.0,
                        guard=0.5, fallback="keep")
    update = update_network_grid(model, x, spoil, grid_size=10, y=y)
    assert not update.kept and model.grid_size == [10]
    torch.testing.assert_close(model.layers[0].knots, refined.layers[0].knots)
    torch.testing.assert_close(model(x), refined(x))


def test_an_input_fallback_makes_the_input_rules_move_instead():
    model, x, y = _model_on(lambda x: torch.sin(3 * x), grid_size=5)
    spoil = DensityGrid(lambda x, layer, ctx: (x > 0.9).to(D).squeeze(1), power=1.0,
                        floor=0.0, guard=0.5, fallback="input")
    input_rule = spoil.fallback_strategy()
    expected = model.refine(10, x)
    update_network_grid(expected, x, input_rule, grid_size=10)
    update = update_network_grid(model, x, spoil, grid_size=10, y=y)
    assert not update.kept and model.grid_size == [10]
    torch.testing.assert_close(model.layers[0].grid, expected.layers[0].grid)
    torch.testing.assert_close(model.layers[0].grid,
                               DensityGrid("input", floor=0.0).place(x, 10))
    assert input_rule.density == "input" and input_rule.guard is None
    with pytest.raises(InputError, match="fallback"):
        DensityGrid("curvature", fallback="old")


def test_fallback_of_each_option():
    def density(strategy, exact=True):
        fallback = strategy.fallback_strategy(exact)
        return None if fallback is None else fallback.density

    assert density(DensityGrid("curvature")) is None  # "auto", the default: exact check
    assert density(DensityGrid("curvature"), exact=False) == "input"  # estimated
    assert density(DensityGrid("curvature", fallback="keep"), exact=False) is None
    assert density(DensityGrid("curvature", fallback="input")) == "input"
    assert density(DensityGrid("input"), exact=False) is None  # input keeps its own knots
    assert QuantileGrid().fallback_strategy() is None


def test_auto_fallback_keeps_knots_on_an_exact_check_and_moves_with_input_otherwise():
    spoil = DensityGrid(lambda x, layer, ctx: (x > 0.5).to(D).squeeze(1), power=1.0,
                        floor=0.0, guard=0.5)  # fallback "auto"
    step, x, y = _model_on(lambda x: torch.tanh(30 * (x + 0.2)))
    assert update_network_grid(step, x, y=y).kept  # knots gathered at the step
    adapted = step.layers[0].grid.clone()
    assert not update_network_grid(step, x, spoil, y=y).kept  # least squares: exact
    assert torch.equal(step.layers[0].grid, adapted)
    loss = lambda m: (m(x) - y).square().mean()  # noqa: E731 (estimated by LBFGS)
    assert not update_network_grid(step, x, spoil, objective=loss).kept
    torch.testing.assert_close(step.layers[0].grid, DensityGrid("input").place(x, 20))


def test_guard_keeps_a_good_grid_on_a_smooth_function_and_moves_it_to_a_step():
    smooth, x, y = _model_on(lambda x: torch.sin(torch.pi * x))
    grid = smooth.layers[0].grid.clone()
    by_default = copy.deepcopy(smooth)
    keep = DensityGrid("curvature", fallback="keep")
    assert not update_network_grid(smooth, x, keep, y=y).kept  # they fit sin less well
    assert torch.equal(smooth.layers[0].grid, grid)
    assert not update_network_grid(by_default, x, y=y).kept  # "auto": the same (exact)
    assert torch.equal(by_default.layers[0].grid, grid)
    to_input = DensityGrid("curvature", fallback="input")
    assert not update_network_grid(smooth, x, to_input, y=y).kept
    torch.testing.assert_close(smooth.layers[0].grid, DensityGrid("input").place(x, 20))
    step, x, y = _model_on(lambda x: torch.tanh(30 * (x + 0.2)))
    before = best_output_fit(step, x, y)
    assert update_network_grid(step, x, y=y).kept
    assert best_output_fit(step, x, y) < 0.5 * before
    uniform = torch.linspace(-1, 1, 21, dtype=D)
    near = int(((step.layers[0].grid - -0.2).abs() < 0.1).sum())
    assert near >= 2 * int(((uniform - -0.2).abs() < 0.1).sum())


def test_a_differentiable_objective_also_checks_that_the_new_knots_can_fit_better():
    smooth, x, y = _model_on(lambda x: torch.sin(torch.pi * x))
    grid = smooth.layers[0].grid.clone()
    loss = lambda m: (m(x) - y).square().mean()  # noqa: E731 (a tensor: LBFGS can refit)
    keep = DensityGrid("curvature", fallback="keep")
    assert not update_network_grid(smooth, x, keep, objective=loss, guard=10.0).kept
    assert torch.equal(smooth.layers[0].grid, grid)
    # LBFGS on the output splines: never below the least-squares optimum, below the start
    lbfgs = best_output_objective(smooth, loss)
    exact = best_output_fit(smooth, x, y)
    with torch.no_grad():
        start = float(loss(smooth))
    assert exact * (1 - 1e-9) <= lbfgs < start
    assert torch.equal(smooth.layers[0].grid, grid) and smooth.layers[0].coef.grad is None


@pytest.mark.parametrize("new_best, kept", [(97.0, False), (94.0, True)])
def test_an_approximate_best_fit_must_win_by_the_margin(monkeypatch, new_best, kept):
    from kanlab.nn import grid_update

    model, x, y = _model_on(lambda x: torch.tanh(10 * x), steps=50)
    values = iter([100.0, new_best])  # the undone update's estimate, then the new knots'
    monkeypatch.setattr(grid_update, "best_output_objective", lambda m, objective: next(values))
    loss = lambda m: (m(x) - y).square().mean()  # noqa: E731
    keep = DensityGrid("curvature", fallback="keep")
    assert grid_update.APPROXIMATE_FIT_MARGIN == 0.05
    assert update_network_grid(model, x, keep, objective=loss, guard=10.0).kept is kept


def test_best_output_fit_is_the_least_squares_optimum():
    model, x, y = _model_on(lambda x: torch.exp(x), grid_size=6, steps=20)
    best = best_output_fit(model, x, y)
    with torch.no_grad():
        assert best <= float((model(x) - y).square().mean())
        layer = model.layers[0]
        design = layer.basis(x)[:, 0] * layer.spline_scale[0, 0]  # (N, nb): w_s·B(x)
        target = (y - model(x)).squeeze(1) + design @ layer.coef[0, 0]  # y minus the rest
        solution = torch.linalg.lstsq(design, target).solution
    torch.testing.assert_close(best, float((design @ solution - target).square().mean()),
                               rtol=1e-6, atol=1e-14)


def test_fit_records_the_guard_in_the_history():
    model = kanlab.KAN([1, 1], grid_size=10, seed=0, dtype=D, grid="curvature")
    x = torch.rand(500, 1, dtype=D, generator=torch.Generator().manual_seed(4)) * 2 - 1
    history = kanlab.fit(model, {"train_input": x, "train_label": torch.tanh(20 * x)},
                         opt="adam", steps=40, grid_update_every=10, grid_update_until=40,
                         progress=False)
    assert [s for s, _, _ in history.grid_guard] == [0, 10, 20, 30]
    undone = {s for s, e in history.events if e == "grid update undone by the guard"}
    assert undone == {s for s, _, kept in history.grid_guard if not kept}
    plain = kanlab.KAN([1, 1], grid_size=10, seed=0, dtype=D)  # the quantile rule: no guard
    history = kanlab.fit(plain, {"train_input": x, "train_label": torch.tanh(20 * x)},
                         opt="adam", steps=20, grid_update_every=10, progress=False)
    assert history.grid_guard == [] and len(history.grid_drift) == 2


# --------------------------------------------------------------------------- grid samples
class _Data:
    def __init__(self, x, y):
        self.train_x, self.train_y = x, y


def test_grid_samples_choose_batch_whole_set_or_reservoir():
    x, y = torch.arange(20.0).unsqueeze(1), torch.arange(20.0).unsqueeze(1)
    data = _Data(x, y)
    assert GridSamples.of("auto", data, None).rows is None  # full batch: the batch is the set
    assert GridSamples.of("auto", data, 4).rows == "all"
    assert GridSamples.of("batch", data, 4).rows is None
    reservoir = GridSamples.of(6, data, 4)
    for start in (0, 4, 8):
        reservoir.observe(x[start:start + 4], y[start:start + 4])
    xs, ys = reservoir(x[8:12], y[8:12])
    assert xs.squeeze(1).tolist() == [6.0, 7.0, 8.0, 9.0, 10.0, 11.0] and torch.equal(xs, ys)
    every, _ = GridSamples.of("all", data, 4)(x[:4], y[:4])
    assert every is x
    for bad in ("some", 0, True, 2.5):
        with pytest.raises(InputError, match="grid_samples"):
            GridSamples.of(bad, data, 4)
    with pytest.raises(InputError, match="DataLoader"):
        GridSamples.of("all", _Data(None, None), 4)


def test_fit_with_batches_places_knots_from_the_whole_training_set():
    gen = torch.Generator().manual_seed(5)
    x = torch.randn(2000, 1, dtype=D, generator=gen)
    data = {"train_input": x, "train_label": torch.sin(x)}
    expected = QuantileGrid(eps=0.0).place(x, 8)
    for samples, equal in (("auto", True), ("batch", False)):
        model = kanlab.KAN([1, 1], grid_size=8, seed=0, dtype=D, grid=QuantileGrid(eps=0.0))
        kanlab.fit(model, data, opt="adam", steps=1, batch_size=64, grid_update_every=1,
                   grid_samples=samples, progress=False)
        assert torch.equal(model.layers[0].grid, expected) == equal
