"""The picture of a LAN (:class:`kanlab.nn.lan.LAN`, the KAN paper's Figure B.1): each hidden
layer's weight matrix and each of its nodes' learnt activation.

One row per hidden layer: the weights into it as a heat map, then its nodes' functions
``φ_j(z)`` over the range of their pre-activations on ``x`` (the samples as ticks below). A KAN
plot shows the whole function edge by edge; a LAN's functions only make sense together with the
weight matrices, which is what Appendix B.2 found hard to read.

Imports: torch, :mod:`kanlab.nn.lan`, :mod:`kanlab.interpret.plot` (the figure class).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import torch

from kanlab.errors import InputError
from kanlab.interpret.plot import figure_class
from kanlab.nn.lan import LAN

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["plot_lan"]


def plot_lan(model: LAN, x: torch.Tensor, *, path: str | Path | None = None,
             max_nodes: int = 8) -> Figure:
    """Draw ``model``'s hidden layers: weights and node activations on the samples ``x``.

    Args:
        model: the LAN.
        x: samples of its inputs ``(N, widths[0])``; they set each activation's range.
        path: where to save the figure (format from the suffix), or None.
        max_nodes: at most this many nodes a layer are drawn (the first ones).

    Returns:
        The :class:`matplotlib.figure.Figure` (not registered with pyplot).
    """
    Figure = figure_class()
    if not isinstance(model, LAN):
        raise InputError(f"model must be a kanlab LAN; got {type(model).__name__}")
    if not model.activations_:
        raise InputError("the LAN has no hidden layer, so no activation to draw")
    curves = model.activations(x)
    n_cols = 1 + min(max_nodes, max(model.widths[1:-1]))
    fig = Figure(figsize=(1.6 * n_cols, 1.6 * len(curves)))
    axes = fig.subplots(len(curves), n_cols, squeeze=False)
    for row, (linear, curve) in enumerate(zip(model.linears, curves)):
        weight = linear.weight.detach().cpu().numpy()
        bound = float(abs(weight).max())
        axes[row, 0].imshow(weight, cmap="RdBu", vmin=-bound, vmax=bound)
        axes[row, 0].set_title(f"W{row + 1} {tuple(weight.shape)}", fontsize=7)
        for col in range(1, n_cols):
            ax, j = axes[row, col], col - 1
            if j >= curve["z"].shape[1]:
                ax.set_axis_off()
                continue
            z, phi = curve["z"][:, j].cpu().numpy(), curve["phi"][:, j].cpu().numpy()
            ax.plot(z, phi, lw=1.2)
            samples = curve["samples"][:, j].cpu().numpy()
            ax.plot(samples, [phi.min()] * len(samples), "|", ms=3, alpha=0.2, color="gray")
            ax.set_title(f"layer {row + 1}, node {j}", fontsize=7)
        for ax in axes[row]:
            ax.set_xticks([])
            ax.set_yticks([])
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, bbox_inches="tight")
    return fig
