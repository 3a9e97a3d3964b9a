"""kanlab.interpret.plot: the network picture and the training-history plot."""

import math
import sys

import numpy as np
import pytest
import torch

import kanlab
from kanlab.errors import InputError
from kanlab.training.loop import History

pytest.importorskip("matplotlib")

from kanlab.interpret.plot import (  # noqa: E402 - after the importorskip
    MIN_ALPHA,
    NUMERIC_COLOR,
    SYMBOLIC_COLOR,
    plot_history,
    plot_network,
)


def _model():
    return kanlab.KAN([2, 3, 1], seed=0, dtype=torch.float64)


def _x():
    gen = torch.Generator().manual_seed(0)
    return torch.rand(64, 2, generator=gen, dtype=torch.float64) * 2 - 1


def _insets(fig):
    return {ax.get_gid(): ax for ax in fig.axes if (ax.get_gid() or "").startswith("kan-inset-")}


def _edges(fig):
    main = fig.axes[0]
    return {ln.get_gid(): ln for ln in main.lines if (ln.get_gid() or "").startswith("kan-edge-")}


def _texts(fig):
    from matplotlib.text import Text

    return [t.get_text() for t in fig.findobj(Text)]


def test_one_inset_and_line_per_alive_edge():
    model, x = _model(), _x()
    fig = plot_network(model, x)
    assert len(_insets(fig)) == 2 * 3 + 3 * 1
    assert len(_edges(fig)) == 9
    model.layers[0].mask[1, 0] = 0
    fig = plot_network(model, x)
    assert len(_insets(fig)) == 8
    assert "kan-inset-0-0-1" not in _insets(fig)
    assert "kan-edge-0-0-1" not in _edges(fig)


def test_alpha_is_tanh_of_beta_times_score():
    model, x = _model(), _x()
    scores = [torch.full((3, 2), 0.1, dtype=torch.float64), torch.full((1, 3), 0.5)]
    scores[0][2, 1] = 0.05
    scores[1][0, 0] = 0.0  # below the floor
    fig = plot_network(model, x, scores=scores, beta=4.0)
    edges, insets = _edges(fig), _insets(fig)
    assert edges["kan-edge-0-1-2"].get_alpha() == pytest.approx(math.tanh(4.0 * 0.05))
    assert edges["kan-edge-0-0-0"].get_alpha() == pytest.approx(math.tanh(4.0 * 0.1))
    assert edges["kan-edge-1-1-0"].get_alpha() == pytest.approx(math.tanh(4.0 * 0.5))
    assert edges["kan-edge-1-0-0"].get_alpha() == pytest.approx(MIN_ALPHA)
    curve = insets["kan-inset-0-1-2"].lines[0]
    assert curve.get_alpha() == pytest.approx(math.tanh(4.0 * 0.05))


def test_default_scores_are_attribution_importance():
    model, x = _model(), _x()
    fig = plot_network(model, x, beta=2.0)
    expected = model.importance(x).edges[0][2, 1].item()
    assert _edges(fig)["kan-edge-0-1-2"].get_alpha() == pytest.approx(
        max(MIN_ALPHA, math.tanh(2.0 * expected)))


def test_symbolic_edges_get_the_symbolic_colour():
    from matplotlib.colors import same_color

    model, x = _model(), _x()
    model.layers[0].symbolic.set_edge(1, 0, "sin", (1.0, 0.0, 1.0, 0.0))
    fig = plot_network(model, x)
    edges, insets = _edges(fig), _insets(fig)
    assert same_color(edges["kan-edge-0-1-0"].get_color(), SYMBOLIC_COLOR)
    assert same_color(insets["kan-inset-0-1-0"].lines[0].get_color(), SYMBOLIC_COLOR)
    assert same_color(edges["kan-edge-0-0-0"].get_color(), NUMERIC_COLOR)
    # the curve of the symbolic edge is sin(x) on that edge's inputs
    xs, ys = insets["kan-inset-0-1-0"].lines[0].get_data()
    np.testing.assert_allclose(ys, np.sin(xs), atol=1e-12)


def test_inset_curve_is_the_traced_activation_sorted_by_input():
    model, x = _model(), _x()
    model.train()
    fig = plot_network(model, x)
    assert model.training  # the training flag is restored
    model.eval()
    with torch.no_grad():
        traces = model.trace(x)
    for li, i, j in [(0, 1, 2), (1, 2, 0)]:
        inp = traces[li].inputs[:, i].numpy()
        act = traces[li].activations[:, j, i].numpy()
        order = np.argsort(inp, kind="stable")
        xs, ys = _insets(fig)[f"kan-inset-{li}-{i}-{j}"].lines[0].get_data()
        np.testing.assert_allclose(xs, inp[order])
        np.testing.assert_allclose(ys, act[order])
        assert np.all(np.diff(xs) >= 0)


def test_samples_thins_the_curves():
    fig = plot_network(_model(), _x(), samples=10)
    xs, _ = _insets(fig)["kan-inset-0-0-0"].lines[0].get_data()
    assert len(xs) == 10
    assert xs[0] == pytest.approx(float(_x()[:, 0].min()))
    assert xs[-1] == pytest.approx(float(_x()[:, 0].max()))


def test_recorded_inputs_are_the_default_and_missing_inputs_raise():
    model = _model()
    with pytest.raises(InputError, match="recorded_inputs"):
        plot_network(model)
    model.record(_x())
    assert len(_insets(plot_network(model))) == 9


def test_bad_arguments_raise():
    model, x = _model(), _x()
    with pytest.raises(InputError, match="scores"):
        plot_network(model, x, scores=[torch.ones(3, 2)])
    with pytest.raises(InputError, match=r"scores\[1\]"):
        plot_network(model, x, scores=[torch.ones(3, 2), torch.ones(3, 1)])
    with pytest.raises(InputError, match="in_vars"):
        plot_network(model, x, in_vars=["a"])
    with pytest.raises(InputError, match="2 samples"):
        plot_network(model, x[:1])


def test_variable_names_and_title_are_written():
    sympy = pytest.importorskip("sympy")
    fig = plot_network(_model(), _x(), in_vars=["speed", sympy.Symbol("theta")],
                       out_vars=["energy"], title="my kan")
    texts = _texts(fig)
    assert {"speed", r"$\theta$", "energy", "my kan"} <= set(texts)


def test_path_writes_the_file_and_none_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    plot_network(_model(), _x())
    plot_history(History(step=[1, 2], train_rmse=[1.0, 0.5], test_rmse=[1.1, 0.6]))
    assert list(tmp_path.iterdir()) == []
    png = tmp_path / "net.png"
    fig = plot_network(_model(), _x(), path=png)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    svg = tmp_path / "net.svg"
    fig.savefig(svg)
    assert "kan-inset-0-0-0" in svg.read_text()


def test_no_pyplot_figure_is_opened():
    plt = sys.modules.get("matplotlib.pyplot")
    before = plt.get_fignums() if plt is not None else []
    plot_network(_model(), _x())
    plt = sys.modules.get("matplotlib.pyplot")
    assert (plt.get_fignums() if plt is not None else []) == before


def test_many_edges_skip_the_insets():
    model = kanlab.KAN([15, 15, 1], seed=0, dtype=torch.float64)
    x = torch.rand(8, 15, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    fig = plot_network(model, x)
    assert _insets(fig) == {}
    assert len(_edges(fig)) == 15 * 15 + 15


def test_plot_history_draws_metrics_and_events():
    h = History(step=[1, 2, 3, 4], loss=[1.0, 0.5, 0.2, 0.1], train_rmse=[1.0, 0.7, 0.3, 0.2],
                test_rmse=[1.2, 0.8, 0.4, 0.3], events=[(2, "refine to G=10"), (3, "update grid")])
    fig = plot_history(h)
    ax = fig.axes[0]
    metric_lines = [ln for ln in ax.lines if (ln.get_gid() or "").startswith("kan-metric-")]
    event_lines = [ln for ln in ax.lines if ln.get_gid() == "kan-event"]
    assert [ln.get_gid() for ln in metric_lines] == [
        "kan-metric-train_rmse", "kan-metric-test_rmse"]
    np.testing.assert_allclose(metric_lines[1].get_ydata(), h.test_rmse)
    assert [ln.get_xdata()[0] for ln in event_lines] == [2, 3]
    assert all(ln.get_linestyle() == ":" for ln in event_lines)
    assert "refine to G=10" in " ".join(_texts(fig))
    assert ax.get_yscale() == "log"

    fig = plot_history(h.as_dict(), metrics=["loss"], logy=False)
    assert len(fig.axes[0].lines) == 1 + 2
    assert fig.axes[0].get_yscale() == "linear"


def test_plot_history_skips_empty_series_and_rejects_unknown():
    h = History(step=[1, 2], train_rmse=[1.0, 0.5], test_rmse=[float("nan")] * 2)
    fig = plot_history(h)
    assert [ln.get_gid() for ln in fig.axes[0].lines] == ["kan-metric-train_rmse"]
    with pytest.raises(InputError, match="nope"):
        plot_history(h, metrics=["nope"])
    with pytest.raises(InputError, match="entries"):
        plot_history(History(step=[1, 2, 3], train_rmse=[1.0]), metrics=["train_rmse"])


def test_missing_matplotlib_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(ImportError, match=r"kanlab\[plot\]"):
        plot_network(_model(), _x())
    with pytest.raises(ImportError, match=r"kanlab\[plot\]"):
        plot_history(History())
