import math

import pytest
import torch

from kanlab.training import lbfgs
from kanlab.training.lbfgs import LBFGS


def _quadratic(scale):
    gen = torch.Generator().manual_seed(0)
    a = torch.randn(40, 10, generator=gen, dtype=torch.float64)
    b = torch.randn(40, generator=gen, dtype=torch.float64)
    w_star = torch.linalg.lstsq(a, b).solution
    return a, b, w_star, scale


def _run(opt_cls, scale, **kw):
    a, b, w_star, scale = _quadratic(scale)
    w = torch.zeros(10, dtype=torch.float64, requires_grad=True)
    opt = opt_cls([w], lr=1, max_iter=20, history_size=10, line_search_fn="strong_wolfe",
                  tolerance_grad=1e-32, tolerance_change=1e-32, **kw)

    def closure():
        opt.zero_grad()
        loss = scale * ((a @ w - b) ** 2).sum()
        loss.backward()
        return loss

    for _ in range(5):
        opt.step(closure)
    return (w.detach() - w_star).norm() / w_star.norm()


def test_matches_torch_on_a_well_scaled_problem():
    assert _run(LBFGS, 1.0) < 1e-8
    assert _run(torch.optim.LBFGS, 1.0) < 1e-8


def test_keeps_quasi_newton_steps_where_torch_stalls():
    # y's ~ 1e-13: torch's fixed 1e-10 threshold drops every curvature pair
    ours, theirs = _run(LBFGS, 1e-13), _run(torch.optim.LBFGS, 1e-13)
    assert ours < 1e-8
    assert theirs > 100 * ours


def test_lbfgs_backs_off_from_overflow_instead_of_writing_nan():
    # the minimum (p = 2) lies beyond a wall where the loss is infinite (p > 1)
    p = torch.nn.Parameter(torch.tensor([0.0], dtype=torch.float64))
    opt = LBFGS([p], lr=1, line_search_fn="strong_wolfe", max_iter=20)

    def closure():
        opt.zero_grad()
        loss = torch.where(p > 1, p * math.inf, (p - 2) ** 2).sum()
        loss.backward()
        return loss

    for _ in range(5):
        opt.step(closure)
    assert torch.isfinite(p).all() and float(p.detach()) <= 1.0
    assert float(closure().detach()) <= 4.0  # no worse than the start


@pytest.fixture
def torch_dot(monkeypatch):
    """LBFGS's dot products as torch.dot sums them: kanlab's LBFGS sums ``(a * b).sum()``, as
    an ensemble's rows are summed (so that members take lone models' steps to the bit); with
    torch's order it takes torch's steps to the bit."""
    monkeypatch.setattr(lbfgs, "_dot", torch.dot)


def test_dot_products_sum_as_an_ensembles_rows_do():
    a, b = torch.randn(5, 300, dtype=torch.float64), torch.randn(5, 300, dtype=torch.float64)
    rows = (a * b).sum(1)
    assert all(torch.equal(lbfgs._dot(a[e], b[e]), rows[e]) for e in range(5))


def test_takes_torchs_steps_exactly_on_a_kan_when_thresholds_agree(torch_dot):
    # same algorithm, scalars as Python floats instead of 0-d tensors: the same float64 steps
    import copy

    import kanlab

    data = kanlab.data.make_toy_dataset("exp_sin_sq", n_train=200, n_test=10, seed=0,
                                        dtype=torch.float64)
    start = kanlab.KAN([2, 3, 1], grid_size=5, seed=0, dtype=torch.float64)

    def trajectory(opt_cls, **kw):
        model = copy.deepcopy(start)
        opt = opt_cls(model.parameters(), lr=1, max_iter=20, history_size=10,
                      line_search_fn="strong_wolfe", tolerance_grad=1e-32,
                      tolerance_change=1e-32, **kw)

        def closure():
            opt.zero_grad()
            loss = torch.nn.functional.mse_loss(model(data.train_input), data.train_label)
            loss.backward()
            return loss

        points = []
        for _ in range(4):
            opt.step(closure)
            points.append(torch.cat([p.detach().reshape(-1) for p in model.parameters()]))
        return points, opt.state[opt._params[0]]["func_evals"]

    ours, n_ours = trajectory(LBFGS, tolerance_ys=1e-10)
    theirs, n_theirs = trajectory(torch.optim.LBFGS)
    assert n_ours == n_theirs > 40
    for a, b in zip(ours, theirs):
        assert torch.equal(a, b)


def test_takes_torchs_steps_with_a_short_history_and_an_evaluation_budget(torch_dot):
    # Rosenbrock from a far start: the history of 3 pairs overflows, max_eval cuts iterations
    def rosenbrock(w):
        return ((1 - w[:-1]) ** 2 + 100 * (w[1:] - w[:-1] ** 2) ** 2).sum()

    def run(opt_cls, **kw):
        w = torch.nn.Parameter(torch.full((6,), -0.5, dtype=torch.float64))
        opt = opt_cls([w], lr=1, line_search_fn="strong_wolfe", history_size=3, max_iter=20,
                      tolerance_grad=1e-32, tolerance_change=1e-32, **kw)

        def closure():
            opt.zero_grad()
            loss = rosenbrock(w)
            loss.backward()
            return loss

        points = []
        for _ in range(8):
            opt.step(closure)
            points.append(w.detach().clone())
        state = opt.state[opt._params[0]]
        return points, state["func_evals"], state["n_iter"]

    for budget in ({}, {"max_eval": 7}):
        (ours, evals, iters), (theirs, t_evals, t_iters) = (
            run(LBFGS, tolerance_ys=1e-10, **budget), run(torch.optim.LBFGS, **budget))
        assert iters == t_iters
        for a, b in zip(ours, theirs):
            assert torch.equal(a, b)
    assert evals == t_evals  # counted alike
    assert float((ours[-1] - 1).abs().max()) > 1e-2  # and the budget did cut the run short


def test_fixed_step_mode_takes_torchs_steps(torch_dot):
    a, b, w_star, _ = _quadratic(1.0)

    def run(opt_cls, **kw):
        w = torch.zeros(10, dtype=torch.float64, requires_grad=True)
        opt = opt_cls([w], lr=0.1, max_iter=20, history_size=5, **kw)

        def closure():
            opt.zero_grad()
            loss = ((a @ w - b) ** 2).sum()
            loss.backward()
            return loss

        for _ in range(10):
            opt.step(closure)
        return w.detach()

    ours, theirs = run(LBFGS, tolerance_ys=1e-10), run(torch.optim.LBFGS)
    assert torch.allclose(ours, theirs, rtol=1e-12, atol=0)
    assert (ours - w_star).norm() < 1e-3 * w_star.norm()


def test_rejects_complex_parameters():
    import pytest

    with pytest.raises(TypeError, match="real"):
        LBFGS([torch.zeros(3, dtype=torch.complex128, requires_grad=True)])
