"""The modules: the KAN layer and its parts, the network, and the MLP baseline.

- :mod:`~kanlab.nn.layer`: :class:`KANLinear`, a layer of learnable activations on edges,
  which holds the state and composes its parts:

  - :mod:`~kanlab.nn.spline_edges`: the numeric splines' knot tables, basis and jets;
  - :mod:`~kanlab.nn.branch`: the interface of an edge branch beside the spline, one more
    block of GEMM columns; :mod:`~kanlab.nn.base_branch` (``w_b·b(x)``) and
    :mod:`~kanlab.nn.tails` (linear tails beyond the grid) implement it. A new edge kind is a
    new branch;
  - :mod:`~kanlab.nn.symbolic_edges` (edges snapped to formulas) and
    :mod:`~kanlab.nn.standardize` (DKAN's running standardisation), submodules;
  - :mod:`~kanlab.nn.product_nodes`: the nodes its rows make, sums and products (pykan's
    multiplication nodes), and the width spec ``[2, [5, 2], 1]`` that asks for them;
  - :mod:`~kanlab.nn.derivatives` (edge derivatives, forward-mode jets),
    :mod:`~kanlab.nn.grid_moves` (``update_grid``, ``refine``), :mod:`~kanlab.nn.selection`
    (pruning's sub-layer) and :mod:`~kanlab.nn.initialization` (initial coefficients).
- :mod:`~kanlab.nn.presets`: what a named grid stands for beyond knots (``grid="dkan"``: DKAN's
  layers).
- :mod:`~kanlab.nn.model`: :class:`KAN`, layers of given widths, with grid moves, recorded
  inputs and save/load.
- :mod:`~kanlab.nn.grid_update`: a network's grid update, layer by layer, under the strategy's
  guard (undone when it makes the fit worse).
- :mod:`~kanlab.nn.facade`: ``KANFacade``, the pykan-style convenience methods of ``KAN``
  (``prune``, ``auto_symbolic``, ``plot``, ``fit``, ...), the one place in ``nn`` that calls a
  higher layer.
- :mod:`~kanlab.nn.compile`: sympy expressions compiled into KANs (``compile_formula``).
- :mod:`~kanlab.nn.grow`: larger models with the same function (``expand_depth``,
  ``expand_width``, ``augment_input``) and ``perturb``.
- :mod:`~kanlab.nn.checkpoints`: ``Checkpoints``, copies of models to ``rewind`` to.
- :mod:`~kanlab.nn.ensemble`: ``Ensemble``, many KANs of one shape in one batched pass
  (:mod:`~kanlab.nn.ensemble_layer`: one layer of every member).
- :mod:`~kanlab.nn.mlp`: :class:`MLP`, the paper's baseline.
- :mod:`~kanlab.nn.lan`: :class:`LAN`, the learnable-activation network of the paper's
  Appendix B (spline activations on nodes, after linear maps).

Imports: :mod:`kanlab.splines`, :mod:`kanlab.symbolic`, :mod:`kanlab.grids` and below
(the facade's methods: :mod:`kanlab.interpret` and :mod:`kanlab.training`, inside the methods).

Edge order: an edge is named ``(l, i, j)`` -- layer ``l``, input ``i``, output ``j`` -- as in the
KAN paper and pykan, in every signature and key (``fix_symbolic(l, i, j, ...)``,
``SymbolicEdges.set_edge(i, j, ...)``, ``SymbolicEdges.names[(i, j)]``,
``KANLinear.select(in_index, out_index)``). Per-edge tensors are laid out ``(out, in, ...)``
like ``nn.Linear.weight``: edge ``(i, j)`` of a layer is ``coef[j, i]``, ``mask[j, i]``, and
``edge_activations(x)[:, j, i]``. With product nodes, ``j`` counts a layer's rows (each a sum of
edges; a product node multiplies several), and ``select``'s ``out_index`` counts its nodes.
"""

from __future__ import annotations

from kanlab.nn.lan import (  # noqa: F401
    LAN,
)
from kanlab.nn.layer import (  # noqa: F401
    BASE_FUNCTIONS,
    TAILS,
    KANLinear,
)
from kanlab.nn.mlp import (  # noqa: F401
    ACTIVATIONS,
    MLP,
    n_parameters,
)
from kanlab.nn.model import (  # noqa: F401
    KAN,
    LayerTrace,
)
from kanlab.nn.standardize import (  # noqa: F401
    STANDARDIZE_MODES,
    RunningStandardize,
)
from kanlab.nn.symbolic_edges import (  # noqa: F401
    SymbolicEdges,
)

__all__ = [
    "ACTIVATIONS",
    "BASE_FUNCTIONS",
    "KAN",
    "KANLinear",
    "LAN",
    "LayerTrace",
    "MLP",
    "RunningStandardize",
    "STANDARDIZE_MODES",
    "SymbolicEdges",
    "TAILS",
    "n_parameters",
]
