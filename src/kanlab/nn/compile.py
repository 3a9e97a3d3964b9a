"""Formulas compiled into KANs (pykan's ``kanpiler``): a sympy expression becomes a network of
symbolic edges that computes it exactly.

The expression tree maps onto a KAN's two kinds of node and one kind of edge:

- an edge is ``c·f(a·h + b)``, ``f`` a registered symbolic function (:mod:`kanlab.symbolic`)
  and ``h`` a node: ``3·sin(2x + 1)`` is one edge from ``x``; a function of a function is an
  edge into a node that feeds the next edge;
- a sum (``Add``) is a sum node: one edge per term, the constant term its bias;
- a product (``Mul``) is a product node (:mod:`kanlab.nn.product_nodes`) with one row per
  factor, each row a sum of edges (``(x + 1)·sin y``: rows ``x + 1`` and ``sin y``); the
  numeric coefficient scales the first row.

A node sits one layer above the deepest node it reads; an edge that would skip layers reads
a chain of identity edges instead. Equal subexpressions share one node. Every other edge is
pruned (mask 0), so the network is its formula: :func:`compile_formula`'s model gives
``symbolic_formula() == expr`` (up to floating-point constants) and its forward pass equals
the expression to round-off. It is an ordinary :class:`~kanlab.nn.model.KAN`: train it (the
affine parameters of its edges), unfix edges to splines, prune it or grow it.

Needs sympy (``pip install kanlab[symbolic]``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from kanlab.errors import InputError
from kanlab.nn.model import KAN
from kanlab.symbolic.library import function_names, get_function, sympy_module

__all__ = ["compile_formula"]


@dataclass(frozen=True)
class _Edge:
    """``c·f(a·source + b)`` into a row."""

    fn: str
    a: float
    b: float
    c: float
    source: _Node


@dataclass(eq=False)
class _Node:
    """A node: an input (``depth`` 0), a sum node (one row) or a product node (rows)."""

    depth: int
    rows: list[tuple[list[_Edge], float]] = field(default_factory=list)  # (edges, bias)
    product: bool = False
    input_index: int | None = None


class _Compiler:
    def __init__(self, variables: Sequence[Any]) -> None:
        self.sp = sp = sympy_module()
        self.variables = [sp.Symbol(v) if isinstance(v, str) else v for v in variables]
        if len(set(self.variables)) != len(self.variables) or not all(
                isinstance(v, sp.Symbol) for v in self.variables):
            raise InputError(f"variables must be distinct symbols or names; got {variables!r}")
        self.inputs = {v: _Node(0, input_index=k) for k, v in enumerate(self.variables)}
        self.nodes: dict[Any, _Node] = {}
        self.passes: dict[tuple[int, int], _Node] = {}
        self.heads, self.powers = _function_table(sp)

    # ------------------------------------------------------------ the tree
    def node(self, expr) -> _Node:
        """The node that holds ``expr`` (shared between equal subexpressions)."""
        if expr in self.inputs:
            return self.inputs[expr]
        if expr not in self.nodes:
            if expr.is_Mul:
                coeff, factors = self.split(expr, product=True)
                rows = [self.row(f) for f in factors]
                if len(rows) == 1:  # a number times one factor: a sum node
                    node = self.sum_node([self.row(expr)])
                else:
                    first, bias = rows[0]
                    rows[0] = ([_scaled(e, coeff) for e in first], bias * coeff)
                    node = self.sum_node(rows, product=True)
            else:
                node = self.sum_node([self.row(expr)])
            self.nodes[expr] = node
        return self.nodes[expr]

    def sum_node(self, rows: list[tuple[list[_Edge], float]], product: bool = False) -> _Node:
        for edges, _ in rows:  # one edge per (input, row): x + sin(x) reads sin(x) as a node
            seen: set[int] = set()
            for k, e in enumerate(edges):
                if id(e.source) in seen:
                    own = _Node(e.source.depth + 1, [([e], 0.0)])
                    edges[k] = _Edge("x", 1.0, 0.0, 1.0, own)
                seen.add(id(edges[k].source))
        depth = 1 + max(e.source.depth for edges, _ in rows for e in edges)
        return _Node(depth, rows, product)

    def row(self, expr) -> tuple[list[_Edge], float]:
        """A row: a sum of edges plus a constant."""
        const, terms = self.split(expr, product=False)
        if not terms:
            raise InputError(f"a factor or term is the constant {expr}: nothing to compute")
        return [self.edge(t) for t in terms], float(const)

    def edge(self, term) -> _Edge:
        """``c·f(a·h + b)`` of one term."""
        sp = self.sp
        coeff, factors = self.split(term, product=True)
        rest = self.sp.Mul(*factors)
        fn, arg = self.head(rest)
        if fn == "x":
            return _Edge("x", 1.0, 0.0, float(coeff), self.node(rest))
        b, terms = self.split(arg, product=False)
        a, factors = self.split(sp.Add(*terms), product=True)
        inner = sp.Mul(*factors)
        if not terms:
            raise InputError(f"{rest} is a constant: nothing to compute")
        return _Edge(fn, float(a), float(b), float(coeff), self.node(inner))

    def split(self, expr, product: bool) -> tuple[float, tuple[Any, ...]]:
        """The number and the rest of ``expr``: ``(coefficient, factors)`` of a product or
        ``(constant, terms)`` of a sum (``pi``, ``sqrt(2)`` count as numbers)."""
        sp = self.sp
        number, rest = expr.as_independent(*self.variables, as_Add=not product)
        args = sp.Mul.make_args(rest) if product else sp.Add.make_args(rest)
        args = tuple(a for a in args if a != (1 if product else 0))
        return float(number), args

    def head(self, expr) -> tuple[str, Any]:
        """The library function at the top of ``expr`` and its argument; ``("x", expr)`` for a
        symbol, a sum or a product (the node itself, through the identity)."""
        sp = self.sp
        if expr.is_Symbol or expr.is_Add or expr.is_Mul:
            return "x", expr
        if expr.is_Pow and expr.exp.is_number:
            name = self.powers.get(sp.nsimplify(expr.exp))
            if name is None:
                raise InputError(
                    f"no symbolic function computes the power {expr}: the library has the "
                    f"powers {sorted(map(str, self.powers))}; register one with "
                    "kanlab.symbolic.register_function")
            return name, expr.base
        if expr.is_Pow and expr.base == sp.E:
            return "exp", expr.exp
        name = self.heads.get(expr.func)
        if name is None or len(expr.args) != 1:
            raise InputError(
                f"no symbolic function computes {expr.func.__name__} (in {expr}); the library "
                f"has {sorted(set(self.heads.values()))} and powers; register one with "
                "kanlab.symbolic.register_function")
        return name, expr.args[0]

    # ---------------------------------------------------------- the layers
    def through(self, node: _Node, depth: int) -> _Node:
        """``node`` carried up to ``depth`` by identity edges (itself when already there)."""
        if node.depth == depth:
            return node
        key = (id(node), depth)
        if key not in self.passes:
            below = self.through(node, depth - 1)
            self.passes[key] = _Node(depth, [([_Edge("x", 1.0, 0.0, 1.0, below)], 0.0)])
        return self.passes[key]

    def layers(self, outputs: list[_Node]) -> list[list[_Node]]:
        """Every layer's nodes, sum nodes first; the last layer holds the outputs in order."""
        depth = max(n.depth for n in outputs)
        kinds = [n.product for n in outputs]
        if (len(set(map(id, outputs))) < len(outputs) or depth == 0
                or any(a and not b for a, b in zip(kinds, kinds[1:]))):
            depth += 1  # outputs need a layer of their own (repeated, or products first)
        top = [self.through(n, depth) if n.depth == depth else
               _Node(depth, [([_Edge("x", 1.0, 0.0, 1.0, self.through(n, depth - 1))], 0.0)])
               for n in outputs]
        rows: list[list[_Node]] = [[] for _ in range(depth + 1)]
        rows[depth] = top
        seen: set[int] = set()
        todo = list(top)
        while todo:
            node = todo.pop()
            for edges, _ in node.rows:
                for k, e in enumerate(edges):
                    src = self.through(e.source, node.depth - 1)
                    edges[k] = _Edge(e.fn, e.a, e.b, e.c, src)
                    if id(src) not in seen and src.input_index is None:
                        seen.add(id(src))
                        rows[src.depth].append(src)
                        todo.append(src)
        return [sorted(r, key=lambda n: n.product) for r in rows[1:]]


def _scaled(edge: _Edge, factor: float) -> _Edge:
    return _Edge(edge.fn, edge.a, edge.b, edge.c * factor, edge.source)


def _function_table(sp) -> tuple[dict[Any, str], dict[Any, str]]:
    """Registered functions by their sympy head (``sin`` -> ``"sin"``) and powers by exponent
    (``2`` -> ``"x^2"``, ``-1`` -> ``"1/x"``, ``1/2`` -> ``"sqrt"``); first registered wins."""
    t = sp.Dummy("t")
    heads: dict[Any, str] = {}
    powers: dict[Any, str] = {}
    for name in function_names():
        if name in ("x", "0"):
            continue
        s = get_function(name).sympy_fn(t)
        if s.is_Pow and s.base == t and s.exp.is_number:
            powers.setdefault(sp.nsimplify(s.exp), name)
        elif s.args == (t,):
            heads.setdefault(s.func, name)
    return heads, powers


def compile_formula(expr: Any, variables: Sequence[Any], *, dtype: torch.dtype = torch.float64,
                    numeric: bool = False, **options: Any):
    """A KAN that computes ``expr`` exactly with symbolic edges (and product nodes where the
    expression multiplies): see the module docstring.

    Args:
        expr: a sympy expression, a string sympy can parse, or a list of them (one output
            each).
        variables: the inputs, in order: sympy symbols or names.
        dtype: of the model (float64: the forward pass equals the expression to ~1e-15).
        numeric: give every edge a spline beside its formula (``'ns'`` edges,
            :meth:`~kanlab.nn.symbolic_edges.SymbolicEdges.set_edge` ``with_spline``), at zero:
            the model is still the expression, and training corrects it with splines.
        **options: more arguments of :class:`~kanlab.nn.model.KAN` (``grid_size``, ...).

    Returns:
        The :class:`~kanlab.nn.model.KAN`; its ``symbolic_formula(variables)`` is ``expr``
        with floating-point constants (:func:`~kanlab.symbolic.formula.tidy` with
        ``digits=None`` turns ``3.14159265358979`` back into ``pi``).

    Raises:
        InputError: a free symbol not in ``variables``, a function or power the symbolic
            library does not have, a constant output, or bad ``variables``.

    Example::

        >>> model = compile_formula("x*sin(y) + exp(z)", ["x", "y", "z"])
        >>> model.config["widths"]
        [3, [1, 1], 1]
    """
    compiler = _Compiler(variables)
    sp = compiler.sp
    exprs = list(expr) if isinstance(expr, (list, tuple)) else [expr]
    exprs = [sp.sympify(e) for e in exprs]
    outputs = []
    for e in exprs:
        if e.is_number:
            raise InputError(f"the expression {e} is a constant: nothing to compile")
        free = e.free_symbols - set(compiler.variables)
        if free:
            raise InputError(f"the expression has free symbols {sorted(map(str, free))} that "
                             f"are not in variables {list(map(str, compiler.variables))}")
        outputs.append(compiler.node(e))
    layers = compiler.layers(outputs)
    widths: list[Any] = [len(compiler.variables)]
    arities: list[list[int]] = [[]]
    for nodes in layers:
        n_prod = sum(n.product for n in nodes)
        widths.append([len(nodes) - n_prod, n_prod] if n_prod else len(nodes))
        arities.append([len(n.rows) for n in nodes if n.product])
    model = KAN(widths, mult_arity=arities, dtype=dtype, **options)
    _set_edges(model, [list(compiler.inputs.values())] + layers, numeric)
    return model


@torch.no_grad()
def _set_edges(model: KAN, rows_of: list[list[_Node]], numeric: bool) -> None:
    """Masks, symbolic edges and biases of ``model`` from the layered nodes; with
    ``numeric``, every edge's spline and base branch are on, at zero."""
    for li, layer in enumerate(model.layers):
        index = {id(n): k for k, n in enumerate(rows_of[li])}
        layer.mask.zero_()
        if numeric:
            layer.coef.zero_()
            for branch in layer.branches:
                getattr(layer, branch.param).zero_()
        bias = torch.zeros(layer.out_features, dtype=layer.mask.dtype)
        r = 0
        for node in rows_of[li + 1]:
            for edges, const in node.rows:
                bias[r] = const
                for e in edges:
                    i = index[id(e.source)]
                    layer.mask[r, i] = 1.0
                    layer.symbolic.set_edge(i, r, e.fn, (e.a, e.b, e.c, 0.0),
                                            with_spline=numeric)
                r += 1
        if layer.bias is not None:
            layer.bias.copy_(bias)
