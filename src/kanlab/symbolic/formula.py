"""A fully symbolic KAN as sympy formulas, and their exports (LaTeX, numpy and torch callables).

Needs sympy (``pip install kanlab[symbolic]``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from kanlab.errors import InputError
from kanlab.symbolic.library import sympy_module

__all__ = [
    "formula_function", "formula_in_units", "formula_latex", "symbolic_formula", "sympy_module",
    "tidy",
]


def _symbols(sp, names: Sequence[Any]) -> list[Any]:
    """Names as sympy symbols; sympy symbols and expressions as they are."""
    return [sp.Symbol(v) if isinstance(v, str) else v for v in names]


def _variables(sp, names: Sequence[Any] | None, n: int) -> list[Any]:
    if names is None:
        return list(sp.symbols(f"x_1:{n + 1}"))
    names = list(names)
    if len(names) != n:
        raise InputError(f"var_names has {len(names)} entries; the model has {n} inputs")
    return _symbols(sp, names)


@torch.no_grad()
def symbolic_formula(model, var_names: Sequence[Any] | None = None, *,
                     precision: int | None = None, simplify: bool = False) -> list[Any]:
    """Every output of a fully symbolic ``model`` as a sympy expression.

    Row ``j`` of layer ``l`` is ``Σ_i c·f(a·h_i + b) + d`` over its unpruned incoming
    edges, plus its bias; a node of layer ``l + 1`` is its row, or the product of its rows (a
    product node). The expression equals the model's forward pass in evaluation
    mode (exact functions, not the training-time safe ones).

    Args:
        model: a :class:`~kanlab.nn.model.KAN` whose unpruned edges are all symbolic.
        var_names: names (or sympy symbols) of the inputs; default ``x_1 ... x_n``.
        precision: round every number to this many significant digits (for reading; the
            rounded formula no longer equals the model exactly).
        simplify: run ``sympy.simplify`` on each output.

    Returns:
        One sympy expression per output.

    Raises:
        InputError: when an unpruned edge is still numeric (the error lists them).
    """
    sp = sympy_module()
    numeric = [
        (l, i, j)
        for l, layer in enumerate(model.layers)
        for j, i in (layer.numeric_mask() > 0).nonzero().tolist()  # unpruned, not symbolic
    ]
    if numeric:
        shown = ", ".join(str(e) for e in numeric[:8]) + (" ..." if len(numeric) > 8 else "")
        raise InputError(
            f"{len(numeric)} edge(s) (l, i, j) are still numeric: {shown}; fix them with "
            "fix_symbolic/auto_symbolic or prune them before asking for a formula"
        )
    nodes = _variables(sp, var_names, model.widths[0])
    for layer in model.layers:
        affine = layer.symbolic.affine
        out = []
        for j in range(layer.out_features):
            expr = sp.Float(float(layer.bias[j])) if layer.bias is not None else sp.Integer(0)
            for i in range(layer.in_features):
                fn = layer.symbolic.function(i, j)
                if fn is None or layer.mask[j, i] == 0:
                    continue
                a, b, c, d = (float(v) for v in affine[j, i])
                expr = expr + _affine(sp, c, d, fn.sympy_fn(_affine(sp, a, b, nodes[i])))
            out.append(expr)
        bias = None if layer.product_bias is None else layer.product_bias.tolist()
        nodes = layer.nodes.formula(out, bias)  # product nodes multiply their rows
    if precision is not None:
        nodes = [_round(sp, e, precision) for e in nodes]
    if simplify:
        nodes = [sp.simplify(e) for e in nodes]
    return nodes


def _affine(sp, scale: float, shift: float, expr):
    """``scale·expr + shift`` without the factors 1 and the terms 0 (an exact 1 or 0 only)."""
    if scale != 1.0:
        expr = sp.Float(scale) * expr
    return expr if shift == 0.0 else expr + sp.Float(shift)


def _round(sp, expr, digits: int):
    if digits < 1:
        raise InputError(f"precision must be a positive number of digits; got {digits}")
    return expr.xreplace({f: sp.Float(f, digits) for f in expr.atoms(sp.Float)})


def tidy(expr, *, tolerance: float = 1e-8, digits: int | None = 4):
    """A readable copy of ``expr``: numbers within ``tolerance`` (relative, and absolute for
    0) of 0, an integer or a small multiple of π become exact; the rest are rounded to
    ``digits`` significant digits (None: kept).

    For reading only: the tidied formula no longer equals the model to round-off.

    Example::

        >>> tidy(1.0000000001 * exp(0.99999999999 * y**2 + sin(3.14159265358979 * x) + 1e-17))
        exp(y**2 + sin(pi*x))
    """
    sp = sympy_module()

    def snap(f):
        v = float(f)
        if abs(v) < tolerance:
            return sp.Integer(0)
        for unit, exact in ((1.0, sp.Integer(1)), (math.pi, sp.pi)):
            k = round(v / unit)
            if k != 0 and abs(k) <= 12 and abs(v - k * unit) < tolerance * abs(v):
                return k * exact
        return sp.Float(f, digits) if digits is not None else f

    return expr.xreplace({f: snap(f) for f in expr.atoms(sp.Float)})


def formula_in_units(model, var_names: Sequence[Any], x_mean: Sequence[float],
                     x_scale: Sequence[float], y_mean: Sequence[float] | None = None,
                     y_scale: Sequence[float] | None = None) -> list[Any]:
    """:func:`symbolic_formula` of a model trained on standardised data, in the data's units.

    The model maps ``z = (x − x_mean) / x_scale`` to ``(y − y_mean) / y_scale``; the formulas
    returned map ``x`` to ``y``. Without ``y_mean``/``y_scale`` the outputs are left as the
    model gives them.

    Args:
        model: a fully symbolic :class:`~kanlab.nn.model.KAN`.
        var_names: the raw inputs' names (or sympy symbols), one per input.
        x_mean, x_scale: per input.
        y_mean, y_scale: per output, or None.

    Returns:
        One sympy expression per output.
    """
    sp = sympy_module()
    xs = _variables(sp, var_names, model.widths[0])
    zs = [sp.Dummy(f"z{i}") for i in range(len(xs))]
    subs = {}
    for z, x, m, s in zip(zs, xs, x_mean, x_scale):
        m, s = float(m), float(s)
        shifted = x if m == 0 else x - sp.Float(m)
        subs[z] = shifted if s == 1 else sp.Float(1.0 / s) * shifted
    exprs = [e.xreplace(subs) for e in symbolic_formula(model, zs)]
    if y_scale is None:
        return exprs
    return [sp.Float(float(s)) * e + sp.Float(float(m))
            for e, m, s in zip(exprs, y_mean, y_scale)]


def formula_latex(exprs: Sequence[Any]) -> list[str]:
    """LaTeX of each expression."""
    sp = sympy_module()
    return [sp.latex(e) for e in exprs]


_TORCH_FUNCTIONS = {
    "sin": torch.sin, "cos": torch.cos, "tan": torch.tan, "exp": torch.exp, "log": torch.log,
    "sqrt": torch.sqrt, "Abs": torch.abs, "sign": torch.sign, "tanh": torch.tanh,
    "asin": torch.asin, "acos": torch.acos, "atan": torch.atan, "atanh": torch.atanh,
    "pi": math.pi, "E": math.e,
}


def formula_function(exprs: Sequence[Any], variables: Sequence[Any], *,
                     backend: str = "numpy") -> Callable[..., Any]:
    """A callable ``f(x) -> (N, n_out)`` evaluating the expressions on rows of ``x`` ``(N, n)``.

    Args:
        exprs: the expressions (e.g. from :func:`symbolic_formula`).
        variables: their input symbols in column order.
        backend: ``"numpy"`` (numpy arrays) or ``"torch"`` (tensors, differentiable).
    """
    sp = sympy_module()
    if backend not in ("numpy", "torch"):
        raise InputError(f"backend must be 'numpy' or 'torch'; got {backend!r}")
    variables = _symbols(sp, variables)
    modules = "numpy" if backend == "numpy" else [_TORCH_FUNCTIONS]
    funcs = [sp.lambdify(variables, e, modules=modules) for e in exprs]
    n = len(variables)

    def evaluate(x):
        if x.ndim != 2 or x.shape[1] != n:
            raise InputError(f"x has shape {tuple(x.shape)}; expected (N, {n})")
        cols = [x[:, k] for k in range(n)]
        outs = []
        for f in funcs:
            v = f(*cols)
            if backend == "numpy":
                outs.append(np.broadcast_to(np.asarray(v, dtype=float), (x.shape[0],)))
            else:
                v = torch.as_tensor(v, dtype=x.dtype, device=x.device)
                outs.append(v.expand(x.shape[0]))
        return np.stack(outs, 1) if backend == "numpy" else torch.stack(outs, 1)

    return evaluate
