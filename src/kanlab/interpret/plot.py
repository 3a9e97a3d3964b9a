"""Pictures of a KAN (the paper's Fig. 2.4, pykan's ``model.plot()``) and of a training history.

Needs matplotlib (``pip install 'kanlab[plot]'``), imported only when a function is called.
Figures are built with :class:`matplotlib.figure.Figure` directly, never through pyplot: no
window opens, no global state (backend, rcParams, the list of open figures) changes, and a
figure that is no longer referenced is simply garbage-collected. Nothing is written to disk
unless ``path`` is given.

Artists carry ids (``Artist.get_gid()``, also the element ids of an SVG) so that a figure can
be inspected or styled afterwards:

- ``"kan-edge-{l}-{i}-{j}"``: the line of edge ``i → j`` of layer ``l`` (in the main axes),
- ``"kan-inset-{l}-{i}-{j}"``: the inset axes that draws that edge's activation,
- ``"kan-curve-{l}-{i}-{j}"``: the curve inside it,
- ``"kan-nodes-{r}"``: the markers of node row ``r`` (0 = inputs; its sum nodes),
- ``"kan-product-{r}-{n}"``: product node ``n`` of row ``r`` (a ``×``), and
  ``"kan-factor-{r}-{n}"``: the points of its factors (the rows its edges end at) with the
  lines that join them to it,
- ``"kan-in-var-{i}"`` / ``"kan-out-var-{j}"``: the variable names,
- ``"kan-metric-{name}"`` and ``"kan-event"``: the lines of :func:`plot_history`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from kanlab._optional import optional_import
from kanlab._validation import check_finite
from kanlab.errors import InputError
from kanlab.interpret.importance import importance
from kanlab.symbolic.library import sympy_module

if TYPE_CHECKING:  # pragma: no cover - typing only
    from matplotlib.figure import Figure

__all__ = [
    "MAX_INSETS",
    "figure_class",
    "MIN_ALPHA",
    "NUMERIC_COLOR",
    "SYMBOLIC_COLOR",
    "plot_history",
    "plot_network",
]

#: Above this many drawn edges :func:`plot_network` draws straight lines only, no insets.
MAX_INSETS = 200
#: The least opacity of a drawn edge, so that an unimportant (but unpruned) edge stays visible.
MIN_ALPHA = 0.05
#: Colour of a numeric (spline) edge.
NUMERIC_COLOR = "black"
#: Colour of a symbolic edge.
SYMBOLIC_COLOR = "red"

# Layout, in inches (the main axes' data coordinates are inches of the figure).
_INSET = 0.55  # side of an inset at most
_SLOT = 1.3  # inset pitch / inset side
_NODE_PITCH = 0.8  # least distance between two nodes of a row
_ROW_GAP = 1.9  # distance between two node rows (the insets sit half-way)
_MARGIN_X = 0.3
_MARGIN_Y = 0.45  # room for the variable names
_MAX_WIDTH = 18.0
_MIN_WIDTH = 3.0


def figure_class():
    """:class:`matplotlib.figure.Figure`, or an ImportError that says how to get it: the one
    matplotlib loader of kanlab's figures (they are never made through pyplot)."""
    return optional_import("matplotlib.figure", "plotting").Figure


def _label(value: Any) -> str:
    """A variable name as matplotlib text: strings as they are, sympy objects as ``$latex$``."""
    if isinstance(value, str):
        return value
    module = type(value).__module__ or ""
    if module.split(".")[0] == "sympy":
        return f"${sympy_module().latex(value)}$"
    return str(value)


def _labels(name: str, values: Sequence[Any] | None, n: int, default: str) -> list[str]:
    if values is None:
        return [f"${default}_{{{k + 1}}}$" for k in range(n)]
    if isinstance(values, str) or len(values) != n:
        raise InputError(f"{name} must be a list of {n} names; got {values!r}")
    return [_label(v) for v in values]


def _inputs(model, x: torch.Tensor | None) -> torch.Tensor:
    x = model.samples(x, "plot_network (to draw the activations)")
    if x.shape[0] < 2:
        raise InputError(f"x must hold at least 2 samples to draw curves; got {x.shape[0]}")
    return x


def _scores(model, x: torch.Tensor, scores: Sequence[Any] | None,
            metric: str = "attribution") -> list[np.ndarray]:
    if scores is None:
        scores = importance(model, x, metric).edges
    if isinstance(scores, torch.Tensor) or len(scores) != len(model.layers):
        raise InputError(
            f"scores must be a list of {len(model.layers)} (out, in) tensors, one per layer"
        )
    out = []
    for li, (s, layer) in enumerate(zip(scores, model.layers)):
        t = torch.as_tensor(s).detach().to("cpu", torch.float64)
        shape = (layer.out_features, layer.in_features)
        if tuple(t.shape) != shape:
            raise InputError(f"scores[{li}] has shape {tuple(t.shape)}; expected {shape}")
        check_finite(f"scores[{li}]", t)
        out.append(t.numpy())
    return out


def _alpha(score: float, beta: float) -> float:
    return float(min(1.0, max(MIN_ALPHA, math.tanh(beta * score))))


def _thin(n: int, samples: int | None) -> np.ndarray:
    """Indices of at most ``samples`` evenly spread points of ``n`` (both ends kept)."""
    if samples is None or samples >= n:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, samples).round().astype(int))


def _row_x(n: int, width: float) -> np.ndarray:
    """Centres of ``n`` evenly spread items across a row of ``width`` inches."""
    pitch = (width - 2 * _MARGIN_X) / n
    return _MARGIN_X + (np.arange(n) + 0.5) * pitch


def _check_options(samples: int | None, scale: float = 1.0) -> None:
    if samples is not None and (isinstance(samples, bool) or not isinstance(samples, int)
                                or samples < 2):
        raise InputError(f"samples must be an integer >= 2 or None; got {samples!r}")
    if not (isinstance(scale, (int, float)) and not isinstance(scale, bool) and scale > 0):
        raise InputError(f"scale must be a number > 0; got {scale!r}")


@dataclass(frozen=True)
class _Layout:
    """Where things go, in inches (the main axes' data coordinates).

    Attributes:
        width, height: the figure's size.
        row_y: height of each node row, inputs first.
        node_x: centres of each row's nodes.
        insets: whether edges get inset plots (else straight lines).
    """

    width: float
    height: float
    row_y: list[float]
    node_x: list[np.ndarray]
    insets: bool

    def slots(self, li: int, n_in: int, n_out: int) -> tuple[np.ndarray, float, float]:
        """Inset centres ``(n_in·n_out,)`` of layer ``li``, the inset side and the band's
        height (half-way between the layer's node rows)."""
        slot_x = _row_x(n_in * n_out, self.width)
        side = min(_INSET, (slot_x[1] - slot_x[0]) / _SLOT if len(slot_x) > 1 else _INSET)
        return slot_x, side, 0.5 * (self.row_y[li] + self.row_y[li + 1])


def _layout(widths: list[int], alive: list[np.ndarray], title: str | None) -> _Layout:
    """The figure's size and the node positions; insets only up to :data:`MAX_INSETS` edges."""
    insets = int(sum(a.sum() for a in alive)) <= MAX_INSETS
    slots = [a.size for a in alive]
    width = max(max(slots) * _INSET * _SLOT if insets else 0.0,
                max(widths) * _NODE_PITCH) + 2 * _MARGIN_X
    width = min(max(width, _MIN_WIDTH), _MAX_WIDTH)
    height = (len(widths) - 1) * _ROW_GAP + 2 * _MARGIN_Y + (0.35 if title else 0.0)
    row_y = [_MARGIN_Y + r * _ROW_GAP for r in range(len(widths))]
    return _Layout(width, height, row_y, [_row_x(n, width) for n in widths], insets)


def _draw_inset(fig, layout: _Layout, box: tuple[float, float, float], tag: str,
                curve: tuple[np.ndarray, np.ndarray], color: str, alpha: float) -> None:
    """The inset axes of one edge at ``box = (centre x, band y, side)`` with its curve."""
    xk, band, side = box
    inset = fig.add_axes(
        ((xk - side / 2) / layout.width, (band - side / 2) / layout.height,
         side / layout.width, side / layout.height)
    )
    inset.set_gid(f"kan-inset-{tag}")
    xs, ys = curve
    ys = ys.copy()
    ys[~np.isfinite(ys)] = np.nan  # e.g. 1/x at 0: a gap, not an autoscale error
    inset.plot(xs, ys, color=color, alpha=alpha, lw=1.2, gid=f"kan-curve-{tag}")
    inset.set_xticks([])
    inset.set_yticks([])
    inset.set_facecolor("none")
    for spine in inset.spines.values():
        spine.set_edgecolor(color)
        spine.set_alpha(alpha)
        spine.set_linewidth(0.8)


def _draw_layer(fig, ax, layout: _Layout, li: int, trace, model, score: np.ndarray,
                beta: float, samples: int | None) -> None:
    """Every unpruned edge of layer ``li``: a line (through its inset, if any) and the inset.

    ``trace`` is the layer's :class:`~kanlab.nn.model.LayerTrace`; ``score`` ``(out, in)``.
    """
    layer = model.layers[li]
    alive = (layer.mask > 0).cpu().numpy()  # (out, in)
    symbolic = (layer.symbolic.active > 0).cpu().numpy()  # (out, in)
    n_out, n_in = alive.shape
    slot_x, side, band = layout.slots(li, n_in, n_out)
    inputs = trace.inputs.detach().to("cpu", torch.float64).numpy()  # (B, in)
    acts = trace.activations.detach().to("cpu", torch.float64).numpy()  # (B, out, in)
    for i in range(n_in):
        order = np.argsort(inputs[:, i], kind="stable")
        order = order[_thin(len(order), samples)]
        xs = inputs[order, i]
        for j in range(n_out):
            if not alive[j, i]:
                continue
            tag = f"{li}-{i}-{j}"
            color = SYMBOLIC_COLOR if symbolic[j, i] else NUMERIC_COLOR
            alpha = _alpha(float(score[j, i]), beta)
            x0, y0 = layout.node_x[li][i], layout.row_y[li]
            x1, y1 = _row_end(layout, li, layer.nodes, j)
            if not layout.insets:
                ax.plot([x0, x1], [y0, y1], color=color, alpha=alpha, lw=1.0,
                        gid=f"kan-edge-{tag}")
                continue
            xk = slot_x[i * n_out + j]
            ax.plot([x0, xk, np.nan, xk, x1],
                    [y0, band - side / 2, np.nan, band + side / 2, y1],
                    color=color, alpha=alpha, lw=1.0, gid=f"kan-edge-{tag}")
            _draw_inset(fig, layout, (xk, band, side), tag,
                        (xs, acts[order, j, i]), color, alpha)


#: How far below its node the factors of a product node are drawn, and their spacing (inches).
_FACTOR_DROP, _FACTOR_PITCH = 0.3, 0.14


def _row_end(layout: _Layout, li: int, nodes, row: int) -> tuple[float, float]:
    """Where the edges of layer ``li`` into ``row`` end: its node, or for a factor of a
    product node a point below that node."""
    n = nodes.node_of[row]
    x, y = layout.node_x[li + 1][n], layout.row_y[li + 1]
    if not nodes.is_product(n):
        return x, y
    group = nodes.groups[n]
    k = group.index(row)
    return x + (k - (len(group) - 1) / 2) * _FACTOR_PITCH, y - _FACTOR_DROP


def _draw_nodes(ax, layout: _Layout, model, in_labels: list[str],
                out_labels: list[str], title: str | None) -> None:
    """The node markers (sum nodes as dots, product nodes as ``×`` over their factors),
    the variable names and the title."""
    sums = [model.widths[0]] + [layer.nodes.n_sum for layer in model.layers]
    for r, n in enumerate(sums):
        ax.plot(layout.node_x[r][:n], [layout.row_y[r]] * n, "o", color="black", ms=5,
                zorder=3, gid=f"kan-nodes-{r}")
    for li, layer in enumerate(model.layers):
        nodes, r = layer.nodes, li + 1
        for n in range(nodes.n_sum, nodes.n_nodes):
            x, y = layout.node_x[r][n], layout.row_y[r]
            ends = [_row_end(layout, li, nodes, row) for row in nodes.groups[n]]
            fx = [v for e in ends for v in (e[0], x, np.nan)]
            fy = [v for e in ends for v in (e[1], y, np.nan)]
            ax.plot(fx, fy, color="black", lw=0.8, marker="o", ms=2, markevery=3, zorder=3,
                    gid=f"kan-factor-{r}-{n}")
            ax.plot([x], [y], "X", color="black", ms=8, zorder=4, gid=f"kan-product-{r}-{n}")
    for i, text in enumerate(in_labels):
        ax.text(layout.node_x[0][i], layout.row_y[0] - 0.12, text, ha="center", va="top",
                fontsize=11, gid=f"kan-in-var-{i}")
    for j, text in enumerate(out_labels):
        ax.text(layout.node_x[-1][j], layout.row_y[-1] + 0.12, text, ha="center",
                va="bottom", fontsize=11, gid=f"kan-out-var-{j}")
    if title:
        ax.text(layout.width / 2, layout.height - 0.1, title, ha="center", va="top",
                fontsize=12, gid="kan-title")


def plot_network(
    model,
    x: torch.Tensor | None = None,
    *,
    path: str | Path | None = None,
    beta: float = 3.0,
    in_vars: Sequence[Any] | None = None,
    out_vars: Sequence[Any] | None = None,
    scores: Sequence[Any] | None = None,
    title: str | None = None,
    samples: int | None = None,
    metric: str = "attribution",
    scale: float = 1.0,
) -> Figure:
    """Draw a KAN: nodes in rows, and on every edge its learned activation ``φ_ji``.

    Inputs are the bottom row and outputs the top row. Between two rows sits a band of small
    inset plots, one slot per edge ``i → j`` of that layer, ordered by input node ``i`` and then
    by output node ``j`` (pykan's layout); each edge is a line from node ``i`` up to its inset
    and on from the inset to node ``j``. A product node is drawn as a ``×`` joined to the
    points of its factors, where the edges into them end. An inset draws the edge's activation
    ``φ_ji(x_i)`` against its input ``x_i`` on the samples that ``x`` produces at that layer.

    An edge's opacity (line, inset frame and curve) is ``tanh(beta · score)``, raised to
    :data:`MIN_ALPHA` so that no unpruned edge vanishes. Symbolic edges are drawn in
    :data:`SYMBOLIC_COLOR`, numeric ones in :data:`NUMERIC_COLOR`. An edge is drawn when it is
    not pruned (``mask`` 1); pruned edges leave their slot empty.

    Above :data:`MAX_INSETS` drawn edges, each is a straight line (same colour and opacity).

    Args:
        model: a :class:`~kanlab.nn.model.KAN`.
        x: network inputs ``(B, widths[0])``, at least 2 samples; default
            ``model.recorded_inputs`` (:meth:`~kanlab.nn.model.KAN.record`).
        path: where to save the figure (format from the suffix: ``.png``, ``.svg``, ``.pdf``;
            ``bbox_inches="tight"``). None writes nothing.
        beta: opacity sharpness: ``alpha = tanh(beta · score)``.
        in_vars, out_vars: names written under the inputs and above the outputs: strings
            (matplotlib mathtext such as ``"$x_1$"`` allowed) or sympy expressions (drawn as
            ``$latex$``). Default ``$x_{1}$, ...`` and ``$y_{1}$, ...``; pass empty strings to
            write nothing.
        scores: edge scores ``>= 0``, one ``(out, in)`` tensor (or array) per layer; default
            ``importance(model, x, metric).edges`` (:mod:`kanlab.interpret.importance`).
        metric: the default scores: ``"attribution"`` (backward) or ``"l1"`` (forward, mean |φ|).
        scale: the figure's size relative to the default (text keeps its size).
        title: written above the network.
        samples: at most this many points per curve (evenly thinned from the sorted samples,
            both ends kept); None draws every sample.

    Returns:
        The :class:`matplotlib.figure.Figure` (not registered with pyplot).

    Raises:
        ImportError: without matplotlib.
        InputError: without samples (no ``x``, nothing recorded), fewer than 2, or with
            ``scores``, ``in_vars``, ``out_vars`` of the wrong size or a bad ``scale``.
    """
    Figure = figure_class()  # an ImportError first, before any other check
    _check_options(samples, scale)
    widths = list(model.widths)
    in_labels = _labels("in_vars", in_vars, widths[0], "x")
    out_labels = _labels("out_vars", out_vars, widths[-1], "y")
    x = _inputs(model, x)
    score = _scores(model, x, scores, metric)
    traces = model.eval_trace(x)
    layout = _layout(widths, [(layer.mask > 0).cpu().numpy() for layer in model.layers], title)

    fig = Figure(figsize=(layout.width, layout.height))
    ax = fig.add_axes((0.0, 0.0, 1.0, 1.0))
    ax.set_xlim(0.0, layout.width)
    ax.set_ylim(0.0, layout.height)
    ax.set_axis_off()
    for li, trace in enumerate(traces):
        _draw_layer(fig, ax, layout, li, trace, model, score[li], beta, samples)
    _draw_nodes(ax, layout, model, in_labels, out_labels, title)

    fig.set_size_inches(layout.width * scale, layout.height * scale)
    if path is not None:
        fig.savefig(path, bbox_inches="tight")
    return fig


def _series(history: Any, name: str) -> list[float] | None:
    if isinstance(history, Mapping):
        return None if name not in history else list(history[name])
    value = getattr(history, name, None)
    return None if value is None else list(value)


def plot_history(
    history: Any,
    *,
    path: str | Path | None = None,
    metrics: Sequence[str] = ("train_rmse", "test_rmse"),
    logy: bool = True,
) -> Figure:
    """Draw training curves against the step, with grid events as vertical dotted lines.

    Args:
        history: a :class:`~kanlab.training.loop.History`, or a mapping like ``History.as_dict()``
            (``"step"`` and ``"events"`` optional: steps default to ``1, 2, ...``).
        path: where to save the figure (format from the suffix; ``bbox_inches="tight"``).
            None writes nothing.
        metrics: names of the per-step series to draw (e.g. ``"loss"``, ``"train_rmse"``,
            ``"test_rmse"``, ``"reg"``). A series with no finite value (``test_rmse`` without a
            test set is all ``nan``) is left out.
        logy: a logarithmic y axis, used when every finite value drawn is positive.

    Returns:
        The :class:`matplotlib.figure.Figure` (not registered with pyplot).

    Raises:
        ImportError: without matplotlib.
        InputError: for an unknown metric, or a series whose length differs from ``step``.
    """
    Figure = figure_class()  # an ImportError first, before any other check
    if isinstance(metrics, str):
        metrics = (metrics,)
    series = {}
    for name in metrics:
        values = _series(history, name)
        if values is None or name in ("step", "events", "grid_size", "grid_drift", "grid_guard"):
            raise InputError(f"history has no per-step series {name!r}")
        series[name] = np.asarray(values, dtype=float)
    steps = _series(history, "step")
    events = _series(history, "events") or []

    fig = Figure(figsize=(6.4, 4.0))
    ax = fig.add_subplot()
    finite_values = []
    for name, values in series.items():
        x = np.arange(1, len(values) + 1) if steps is None else np.asarray(steps, dtype=float)
        if len(x) != len(values):
            raise InputError(
                f"history.{name} has {len(values)} entries but history.step has {len(x)}"
            )
        ok = np.isfinite(values)
        if not ok.any():
            continue
        finite_values.append(values[ok])
        ax.plot(x, values, label=name, gid=f"kan-metric-{name}")
    for step, text in events:
        ax.axvline(step, ls=":", color="0.4", lw=1.0, gid="kan-event")
        ax.text(step, 0.98, f" {text}", transform=ax.get_xaxis_transform(), rotation=90,
                ha="right", va="top", fontsize=7, color="0.3")
    if finite_values:
        everything = np.concatenate(finite_values)
        if logy and bool((everything > 0).all()):
            ax.set_yscale("log")
        ax.legend(loc="best", fontsize=8)
    ax.set_xlabel("step")
    ax.set_ylabel(next(iter(series)) if len(series) == 1 else "value")
    fig.tight_layout()

    if path is not None:
        fig.savefig(path, bbox_inches="tight")
    return fig
