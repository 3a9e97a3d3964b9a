"""Reading a trained KAN: edge importance, pruning, the network plot and symbolic formulas.

- :mod:`~kanlab.interpret.importance`: edge and node scores (the paper's §2.5.1).
- :mod:`~kanlab.interpret.prune`: new, smaller models without unimportant edges and nodes.
- :mod:`~kanlab.interpret.prune_validation`: pruning as far as the validation loss allows.
- :mod:`~kanlab.interpret.symbolic_model`: snapping edges to symbolic functions, and the
  network's formula.
- :mod:`~kanlab.interpret.plot`: the network picture (matplotlib, imported lazily).
- :mod:`~kanlab.interpret.lan_plot`: a LAN's weights and node activations.
- :mod:`~kanlab.interpret.hypothesis`: separability, symmetry, the modular tree and pairwise
  interaction of a model (or any function), from its derivatives.
- :mod:`~kanlab.interpret.swap`: hidden nodes reordered for a plot with fewer crossings.

Each takes a model and returns new objects; none trains. Imports: :mod:`kanlab.nn`,
:mod:`kanlab.symbolic` and below.
"""

from __future__ import annotations

from kanlab.interpret import (  # noqa: F401
    hypothesis,
    importance,
    lan_plot,
    plot,
    prune,
    prune_validation,
    swap,
    symbolic_model,
)

__all__ = ["hypothesis", "importance", "lan_plot", "plot", "prune", "prune_validation", "swap",
           "symbolic_model"]
