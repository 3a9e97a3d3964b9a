"""``KANFacade``: the pykan-style convenience methods of :class:`~kanlab.nn.model.KAN`.

Reading and training a KAN is done by functions of higher layers that take the model as their
first argument (:mod:`kanlab.interpret`, :mod:`kanlab.training`). For pykan users ``KAN`` also
offers them as methods -- ``model.prune()``, ``model.auto_symbolic(...)``, ``model.plot()``,
``model.fit(data)``. Those methods are this facade, and this module is the one place in
:mod:`kanlab.nn` that calls a higher layer. Each method imports its function inside its body,
so importing :mod:`kanlab.nn` loads no higher layer and no import cycle exists at load time;
``tests/test_layering.py`` lists exactly these imports as ``FACADE``, and no other module of
:mod:`kanlab.nn` may import upwards.

Each method forwards its arguments unchanged; where a function needs samples and ``x`` is
None, the function (or, for :meth:`~KANFacade.importance`, the method) takes the model's
recorded inputs (:meth:`KAN.samples <kanlab.nn.model.KAN.samples>`). The methods and the
functions they forward to:

- ``importance``: :func:`kanlab.interpret.importance.importance`
- ``attribute``: :func:`kanlab.interpret.importance.attribute`
- ``prune``: :func:`kanlab.interpret.prune.prune`
- ``prune_nodes``: :func:`kanlab.interpret.prune.prune_nodes`
- ``prune_edges``: :func:`kanlab.interpret.prune.prune_edges`
- ``prune_inputs``: :func:`kanlab.interpret.prune.prune_inputs`
- ``fix_symbolic``: :func:`kanlab.interpret.symbolic_model.fix_symbolic`
- ``unfix_symbolic``: :func:`kanlab.interpret.symbolic_model.unfix_symbolic`
- ``suggest_symbolic``: :func:`kanlab.interpret.symbolic_model.suggest_symbolic`
- ``auto_symbolic``: :func:`kanlab.interpret.symbolic_model.auto_symbolic`
- ``plot``: :func:`kanlab.interpret.plot.plot_network`
- ``fit``: :func:`kanlab.training.loop.fit`
- ``symbolic_formula``: :func:`kanlab.symbolic.formula.symbolic_formula` (a lower layer, imported
  at the top of this module like any downward import)

:class:`LANFacade` does the same for :class:`~kanlab.nn.lan.LAN`: ``plot``
(:func:`kanlab.interpret.lan_plot.plot_lan`) and ``fit``.

A new convenience method goes here, with its import inside the method and a line in this
list and in ``FACADE``; new functionality goes into the layer where it belongs, never here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch

from kanlab.symbolic.formula import symbolic_formula

if TYPE_CHECKING:  # pragma: no cover - typing only
    from typing_extensions import Self

__all__ = ["KANFacade"]


class KANFacade:
    """The convenience methods of :class:`~kanlab.nn.model.KAN` (see the module docstring).

    A mixin: it holds no state and relies on the model's ``samples`` (checked network inputs,
    the recorded ones by default). Every method is a one-line call of the function named in
    its docstring; read that function for the details.
    """

    # ------------------------------------------------------------- interpret.importance
    def importance(self, x: torch.Tensor | None = None, method: str = "attribution"):
        """Edge and node scores on ``x`` (default the recorded inputs):
        :func:`kanlab.interpret.importance.importance`."""
        from kanlab.interpret.importance import importance

        return importance(self, self.samples(x, "importance"), method)

    def attribute(self, layer: int, node: int, x: torch.Tensor | None = None):
        """Scores of everything below one node, on ``x`` (default the recorded inputs):
        :func:`kanlab.interpret.importance.attribute`."""
        from kanlab.interpret.importance import attribute

        return attribute(self, self.samples(x, "attribute"), layer, node)

    # ------------------------------------------------------------------ interpret.prune
    def prune(self, x: torch.Tensor | None = None, node_threshold: float = 1e-2,
              edge_threshold: float = 3e-2, *, method: str = "attribution") -> Self:
        """A new, smaller model: :func:`kanlab.interpret.prune.prune` (nodes, then edges; the
        mean of what a removed edge contributed is kept as bias)."""
        from kanlab.interpret.prune import prune

        return prune(self, x, node_threshold, edge_threshold, method=method)

    def prune_nodes(self, x: torch.Tensor | None = None, threshold: float = 1e-2,
                    **kw: Any) -> Self:
        """A new model without unimportant hidden nodes:
        :func:`kanlab.interpret.prune.prune_nodes`."""
        from kanlab.interpret.prune import prune_nodes

        return prune_nodes(self, x, threshold, **kw)

    def prune_edges(self, x: torch.Tensor | None = None, threshold: float = 3e-2,
                    **kw: Any) -> Self:
        """A new model without unimportant edges: :func:`kanlab.interpret.prune.prune_edges`."""
        from kanlab.interpret.prune import prune_edges

        return prune_edges(self, x, threshold, **kw)

    def prune_inputs(self, x: torch.Tensor | None = None, threshold: float = 1e-2,
                     **kw: Any) -> tuple[Self, list[int]]:
        """``(new model, kept input indices)``: :func:`kanlab.interpret.prune.prune_inputs`."""
        from kanlab.interpret.prune import prune_inputs

        return prune_inputs(self, x, threshold, **kw)

    # --------------------------------------------------------- interpret.symbolic_model
    # (l, i, j) names an edge as in the KAN paper: layer, input node, output node
    def fix_symbolic(self, l: int, i: int, j: int, name, **kw: Any):  # noqa: E741
        """Snap edge ``(l, i, j)`` to ``c·f(a·x+b)+d`` and return the fit (with ``r2``):
        :func:`kanlab.interpret.symbolic_model.fix_symbolic`."""
        from kanlab.interpret.symbolic_model import fix_symbolic

        return fix_symbolic(self, l, i, j, name, **kw)

    def unfix_symbolic(self, l: int, i: int, j: int) -> None:  # noqa: E741
        """Make edge ``(l, i, j)`` numeric again:
        :func:`kanlab.interpret.symbolic_model.unfix_symbolic`."""
        from kanlab.interpret.symbolic_model import unfix_symbolic

        unfix_symbolic(self, l, i, j)

    def suggest_symbolic(self, l: int, i: int, j: int, **kw: Any):  # noqa: E741
        """Ranked candidate functions for an edge:
        :func:`kanlab.interpret.symbolic_model.suggest_symbolic`."""
        from kanlab.interpret.symbolic_model import suggest_symbolic

        return suggest_symbolic(self, l, i, j, **kw)

    def auto_symbolic(self, **kw: Any):
        """Snap every numeric edge to its best function:
        :func:`kanlab.interpret.symbolic_model.auto_symbolic`."""
        from kanlab.interpret.symbolic_model import auto_symbolic

        return auto_symbolic(self, **kw)

    # ------------------------------------------------------------------ symbolic.formula
    def symbolic_formula(self, var_names=None, **kw: Any):
        """Sympy expressions of the outputs: :func:`kanlab.symbolic.formula.symbolic_formula`."""
        return symbolic_formula(self, var_names, **kw)

    # ------------------------------------------------------------------- interpret.plot
    def plot(self, x: torch.Tensor | None = None, *, path=None, beta: float = 3.0,
             in_vars=None, out_vars=None, **kw: Any):
        """The paper's network picture (needs matplotlib):
        :func:`kanlab.interpret.plot.plot_network`.

        Each edge's curve on ``x`` (default the recorded inputs), transparency
        ``tanh(β·score)``, symbolic edges in red. Saved to ``path`` if given; returns the
        matplotlib figure.
        """
        from kanlab.interpret.plot import plot_network

        return plot_network(self, x, path=path, beta=beta, in_vars=in_vars,
                            out_vars=out_vars, **kw)

    # -------------------------------------------------------------------- training.loop
    def fit(self, data, **kwargs: Any):
        """Shortcut for :func:`kanlab.fit(self, data, ...) <kanlab.training.loop.fit>`."""
        from kanlab.training.loop import fit

        return fit(self, data, **kwargs)


class LANFacade:
    """The convenience methods of :class:`~kanlab.nn.lan.LAN`: ``plot`` and ``fit``."""

    def plot(self, x: torch.Tensor, *, path=None, max_nodes: int = 8):
        """Weights and node activations on ``x`` (needs matplotlib):
        :func:`kanlab.interpret.lan_plot.plot_lan`."""
        from kanlab.interpret.lan_plot import plot_lan

        return plot_lan(self, x, path=path, max_nodes=max_nodes)

    def fit(self, data, **kwargs: Any):
        """Shortcut for :func:`kanlab.fit(self, data, ...) <kanlab.training.loop.fit>`."""
        from kanlab.training.loop import fit

        return fit(self, data, **kwargs)
