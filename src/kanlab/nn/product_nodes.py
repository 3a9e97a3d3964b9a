"""A layer's nodes: sums of edges, and products of them (pykan's multiplication nodes).

A :class:`~kanlab.nn.layer.KANLinear` computes one sum per row of its edges,
``s_r = Σ_i φ_ri(x_i) + bias_r`` (its ``out_features`` rows, pykan's *subnodes*). Its outputs,
the *nodes* the next layer sees, are made of those rows by :class:`Nodes`: the first ``n_sum``
rows are sum nodes as they are, and each following group of ``a`` rows (``a``, the node's
arity, at least 2) is one product node ``Π s_r``. Rows are laid out sums first, then each
product node's factors in turn::

    rows:   s_0 … s_{n_sum−1} | s_a s_b (node n_sum) | s_c s_d s_e (node n_sum + 1) | …
    nodes:  s_0 … s_{n_sum−1} | s_a·s_b              | s_c·s_d·s_e                  | …

An edge is still ``(i, j)`` with ``j`` a row; a node index counts outputs. Without product
nodes rows and nodes are the same and every method here is the identity.

Shapes: ``R`` rows (``out_features``), ``N`` nodes (``n_sum + len(arities)``).
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Sequence
from typing import Any

import torch

from kanlab.errors import InputError

__all__ = ["Nodes", "WidthSpec", "check_arity", "check_hidden_spec", "width_spec"]


def check_arity(name: str, arity: Any) -> int:
    """An arity: an integer of at least 2 (a product of one factor is a sum node)."""
    if isinstance(arity, bool) or not isinstance(arity, int) or arity < 2:
        raise InputError(f"{name} must be an integer >= 2 (the factors of a product node); "
                         f"got {arity!r}")
    return arity


class Nodes:
    """The nodes a layer's rows make: ``n_sum`` sums, then product nodes of the given arities.

    Args:
        n_rows: the layer's rows (``out_features``).
        arities: the number of factors of each product node, in order; ``()``: sum nodes only.

    Raises:
        InputError: an arity below 2, or more factors than rows.
    """

    def __init__(self, n_rows: int, arities: Sequence[int] = ()) -> None:
        self.arities = tuple(check_arity(f"arity of product node {k}", a)
                             for k, a in enumerate(arities))
        self.n_sum = n_rows - sum(self.arities)
        if self.n_sum < 0:
            raise InputError(f"product nodes of arities {list(self.arities)} need "
                             f"{sum(self.arities)} rows; the layer has {n_rows}")
        self.n_rows = n_rows
        self.n_nodes = self.n_sum + len(self.arities)
        starts = [self.n_sum]
        for a in self.arities:
            starts.append(starts[-1] + a)
        #: the rows of each node, ``n_nodes`` tuples
        self.groups: tuple[tuple[int, ...], ...] = (
            tuple((r,) for r in range(self.n_sum))
            + tuple(tuple(range(s, s + a)) for s, a in zip(starts, self.arities)))
        #: the node of each row, ``n_rows`` entries
        self.node_of = tuple(n for n, g in enumerate(self.groups) for _ in g)
        self._uniform = len(set(self.arities)) == 1
        self._index: dict[torch.device, torch.Tensor] = {}

    # ------------------------------------------------------------ structure
    @property
    def has_products(self) -> bool:
        return bool(self.arities)

    def is_product(self, node: int) -> bool:
        return node >= self.n_sum

    def __repr__(self) -> str:
        return f"Nodes(n_sum={self.n_sum}, arities={list(self.arities)})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Nodes) and (self.n_rows, self.arities) == (other.n_rows,
                                                                            other.arities)

    def __hash__(self) -> int:
        return hash((self.n_rows, self.arities))

    def __deepcopy__(self, memo: dict) -> Nodes:
        return self  # immutable

    def rows(self, nodes: Sequence[int]) -> list[int]:
        """The rows of the given nodes, in that order."""
        return [r for n in nodes for r in self.groups[n]]

    def select(self, nodes: Sequence[int]) -> tuple[Nodes, list[int]]:
        """The nodes ``nodes`` (sum nodes before product nodes) as a new :class:`Nodes`, and
        the rows they are made of, in the new order.

        Raises:
            InputError: a sum node after a product node (rows hold the sums first).
        """
        kinds = [self.is_product(n) for n in nodes]
        if any(a and not b for a, b in zip(kinds, kinds[1:])):
            raise InputError(f"nodes {list(nodes)}: the sum nodes must come before the product "
                             f"nodes (node {self.n_sum} is the first product node)")
        arities = [len(self.groups[n]) for n in nodes if self.is_product(n)]
        rows = self.rows(nodes)
        return Nodes(len(rows), arities), rows

    # ------------------------------------------------------------- compute
    def _factors(self, t: torch.Tensor, pad: float = 1.0) -> list[torch.Tensor]:
        """The factors of every product node, ``max arity`` tensors ``(..., n_products)``
        (``pad`` where a node has fewer factors: 1 for values, 0 for their derivatives):
        strided views for a single arity."""
        if self._uniform:
            a = self.arities[0]
            return [t[..., self.n_sum + k:: a] for k in range(a)]
        padded = torch.cat([t, t.new_full(t.shape[:-1] + (1,), pad)], dim=-1)
        index = self._factor_index(t.device)  # (max arity, n_products)
        return [padded.index_select(-1, row) for row in index]

    def _factor_index(self, device: torch.device) -> torch.Tensor:
        if device not in self._index:
            width = max(self.arities)
            groups = self.groups[self.n_sum:]
            self._index[device] = torch.tensor(
                [[g[k] if k < len(g) else self.n_rows for g in groups] for k in range(width)],
                dtype=torch.long, device=device)
        return self._index[device]

    def combine(self, y: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
        """The nodes of the rows: ``(..., R) -> (..., N)``; ``bias`` ``(n_products,)`` is added
        to the products (the layer's ``product_bias``)."""
        if not self.arities:
            return y
        factors = self._factors(y)
        p = factors[0]
        for f in factors[1:]:
            p = p * f
        if bias is not None:
            p = p + bias
        return torch.cat([y[..., : self.n_sum], p], dim=-1)

    def jet(self, y: torch.Tensor, dy: torch.Tensor, d2y: torch.Tensor,
            bias: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Nodes with first and pure second derivatives (forward mode, the product rule
        ``(uv)'' = u''v + 2u'v' + uv''`` applied factor by factor).

        Shapes: y ``(B, R)``, dy and d2y ``(B, D, R)`` -> ``(B, N)``, ``(B, D, N)`` twice.
        """
        if not self.arities:
            return y, dy, d2y
        u, du, d2u = self._factors(y), self._factors(dy, 0.0), self._factors(d2y, 0.0)
        p, dp, d2p = u[0].unsqueeze(1), du[0], d2u[0]  # p (B, 1, P) broadcasts over D
        for v, dv, d2v in zip(u[1:], du[1:], d2u[1:]):
            v = v.unsqueeze(1)
            p, dp, d2p = p * v, dp * v + p * dv, d2p * v + 2 * dp * dv + p * d2v
        s, p = self.n_sum, p.squeeze(1)
        return (torch.cat([y[:, :s], p if bias is None else p + bias], dim=-1),
                torch.cat([dy[..., :s], dp], dim=-1), torch.cat([d2y[..., :s], d2p], dim=-1))

    def reduce(self, values: torch.Tensor, how: Callable[[torch.Tensor], torch.Tensor]
               ) -> torch.Tensor:
        """Per node, ``how`` of its rows' values (e.g. ``lambda v: v.amax(-1)``):
        ``(..., R) -> (..., N)``; a sum node's value is its row's."""
        if not self.arities:
            return values
        return torch.stack([how(values[..., list(g)]) for g in self.groups], dim=-1)

    def spread(self, values: torch.Tensor) -> torch.Tensor:
        """Each row gets its node's value: ``(..., N) -> (..., R)``."""
        if not self.arities:
            return values
        index = torch.tensor(self.node_of, dtype=torch.long, device=values.device)
        return values.index_select(-1, index)

    def formula(self, rows: Sequence[Any], bias: Sequence[float] | None = None) -> list[Any]:
        """The nodes of the rows' (sympy) expressions: sums as they are, products multiplied
        (plus ``bias[k]`` after product ``k`` where it is not 0)."""
        out = list(rows[: self.n_sum])
        for k, g in enumerate(self.groups[self.n_sum:]):
            p = rows[g[0]]
            for r in g[1:]:
                p = p * rows[r]
            out.append(p if bias is None or bias[k] == 0 else p + bias[k])
        return out


class WidthSpec:
    """A network's width spec read: pykan's ``[2, [5, 2], 1]`` (a row of 5 sum nodes and 2
    product nodes) with the arity of every product node.

    Args:
        widths: one entry per node row, inputs first: ``n`` (``n`` sum nodes) or
            ``[n_sum, n_product]``; the inputs take no product nodes.
        mult_arity: the arity of every product node (an integer >= 2), or one list per node
            row (``len(widths)`` lists, inputs first) of the arities of that row's product
            nodes.

    Attributes:
        nodes: node counts per row, ``n_sum + n_product`` (what the layers see and give).
        products: per layer, the arities of its product nodes (``len(widths) − 1`` lists).

    Raises:
        InputError: a malformed spec or arity, named with what was expected.
    """

    def __init__(self, widths: Any, mult_arity: Any = 2) -> None:
        entries = _spec_entries(widths)
        counts = [_node_counts(k, e) for k, e in enumerate(entries)]
        if counts[0][1]:
            raise InputError(f"widths[0] is the inputs and takes no product nodes; got "
                             f"{entries[0]!r}")
        self.nodes = [s + m for s, m in counts]
        self.products = [list(a) for a in _arities(mult_arity, [m for _, m in counts])][1:]

    @property
    def rows(self) -> list[int]:
        """Rows (edge sums) of every layer: ``n_sum + Σ arities``."""
        return [n - len(a) + sum(a) for n, a in zip(self.nodes[1:], self.products)]


def _spec_entries(widths: Any) -> list[Any]:
    try:
        entries = None if isinstance(widths, (str, bytes)) else list(widths)
    except TypeError:
        entries = None
    if entries is None or len(entries) < 2:
        raise InputError("widths must be a list of at least two node rows, each a positive "
                         f"integer or [n_sum, n_product] (pykan's spec); got {widths!r}")
    return entries


def _is_count(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


def _node_counts(k: int, entry: Any) -> tuple[int, int]:
    """``(n_sum, n_product)`` of one entry of the spec."""
    if _is_count(entry) and entry >= 1:
        return entry, 0
    if (isinstance(entry, Sequence) and not isinstance(entry, (str, bytes)) and len(entry) == 2
            and all(_is_count(v) for v in entry) and sum(entry) >= 1):
        return int(entry[0]), int(entry[1])
    raise InputError(f"widths[{k}] must be a positive integer or a pair [n_sum, n_product] of "
                     f"non-negative integers, not both 0; got {entry!r}")


def _arities(mult_arity: Any, n_products: list[int]) -> list[list[int]]:
    """The arity of every product node of every row."""
    if not isinstance(mult_arity, Sequence) or isinstance(mult_arity, (str, bytes)):
        a = check_arity("mult_arity", mult_arity)
        return [[a] * m for m in n_products]
    if len(mult_arity) != len(n_products):
        raise InputError(f"mult_arity as a list needs one list per node row ({len(n_products)}"
                         f", inputs first); got {len(mult_arity)}")
    out = []
    for k, (row, m) in enumerate(zip(mult_arity, n_products)):
        if isinstance(row, (str, bytes)) or not isinstance(row, Sequence) or len(row) != m:
            raise InputError(f"mult_arity[{k}] must list the arities of the {m} product "
                             f"node(s) of row {k}; got {row!r}")
        out.append([check_arity(f"mult_arity[{k}][{n}]", a) for n, a in enumerate(row)])
    return out


def width_spec(layers: Sequence[Any]) -> tuple[list[Any], list[list[int]] | None]:
    """The spec of a stack of layers, and its per-row arities (None without product nodes):
    what rebuilds it (:class:`WidthSpec`); rows without product nodes are plain integers."""
    spec: list[Any] = [layers[0].in_features]
    for layer in layers:
        nodes = layer.nodes
        spec.append([nodes.n_sum, len(nodes.arities)] if nodes.has_products else nodes.n_nodes)
    if not any(layer.nodes.has_products for layer in layers):
        return spec, None
    return spec, [[]] + [list(layer.nodes.arities) for layer in layers]


def check_hidden_spec(name: str, value: Any) -> tuple[Any, ...]:
    """Hidden rows of a width spec (an estimator's ``width``): a sequence whose entries are
    positive integers or pairs ``(n_sum, n_product)``, NumPy integers allowed; returned as a
    tuple of ints and ``[n_sum, n_product]`` lists. ``()`` (no hidden layer) is allowed.

    Raises:
        InputError: anything else, named ``name``.
    """
    try:
        entries = None if isinstance(value, (str, bytes)) else list(value)
    except TypeError:
        entries = None

    def plain(v: Any) -> Any:
        if isinstance(v, numbers.Integral) and not isinstance(v, bool):
            return int(v)
        if isinstance(v, Sequence) and not isinstance(v, (str, bytes)) and all(
                isinstance(u, numbers.Integral) and not isinstance(u, bool) for u in v):
            return [int(u) for u in v]
        return v

    spec = None if entries is None else [plain(v) for v in entries]
    try:
        if spec is None:
            raise InputError("not a sequence")
        for k, entry in enumerate(spec):
            _node_counts(k, entry)
    except InputError:
        raise InputError(f"{name} must be a sequence of hidden widths, each a positive integer "
                         f"or a pair (n_sum, n_product) such as (5, 2); got {value!r}") from None
    return tuple(spec)
