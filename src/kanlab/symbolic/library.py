"""The library of 1-D functions that symbolic edges and formulas use (a name -> function registry).

This is the numerical half of the KAN paper's ``fix_symbolic`` / ``suggest_symbolic``: given the
samples ``(x, y)`` of one learned activation, find for each library function ``f`` the affine
maps ``a, b`` (inside) and ``c, d`` (outside) that fit ``y`` best, and rank the functions by a
mix of fit quality and simplicity.

Registry
    A :class:`SymbolicFunction` holds an exact torch function, a sympy form (sympy is optional
    and only imported when a sympy form is asked for), a complexity and, for functions with
    singularities or restricted domains, a *safe* torch variant for training that is finite
    everywhere and equal to the exact function away from the singularities. The built-in
    library holds pykan 0.2.8's functions with its complexities; :data:`DEFAULT_LIBRARY` lists
    them (the aliases ``'x^0.5'`` and ``'1/x^0.5'``, and ``'cosh'`` and ``'sinh'``, which pykan
    lacks, are registered but not in the default list).
    The safe variants: ``1/x^k`` keeps ``|x| >= 1e-4^(1/k)`` (sign kept, so ``|f| <= 1e4``),
    ``1/sqrt(x)`` keeps ``x >= 1e-8``, ``sqrt`` keeps ``x >= 1e-8`` (finite slope), ``x^1.5``
    keeps ``x >= 0``, ``log`` keeps ``x >= 1e-4``, ``tan`` is ``sin x / cos x`` with
    ``|cos x| >= 1e-4`` (sign kept), ``arcsin`` / ``arccos`` keep ``|x| <= 1 - 1e-6`` and
    ``arctanh`` keeps ``|x| <= 1 - 1e-4``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from kanlab._optional import optional_import
from kanlab._validation import check_nonnegative_int
from kanlab.errors import InputError

__all__ = [
    "DEFAULT_LIBRARY",
    "SymbolicFunction",
    "default_library",
    "function_names",
    "get_function",
    "register_function",
    "resolve_library",
    "sympy_module",
]


def sympy_module() -> Any:
    """The sympy module, imported on first use, or an ImportError that names the extra that
    installs it (sympy is optional). The one sympy loader of :mod:`kanlab.symbolic`."""
    return optional_import("sympy", "symbolic formulas")


# --------------------------------------------------------------------------------------------
# Registry
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SymbolicFunction:
    """One library function ``f`` of a symbolic fit ``c·f(a·x+b)+d``.

    Attributes:
        name: the name it is registered and looked up under.
        torch_fn: the exact function, elementwise on tensors; undefined points give NaN or inf.
        sympy_fn: takes a sympy expression and returns ``f`` of it (imports sympy lazily).
        complexity: a non-negative integer; :func:`suggest` prefers low complexity.
        safe_fn: a singularity-safe torch variant for training, finite everywhere and equal to
            ``torch_fn`` away from singularities; ``None`` when ``torch_fn`` is safe already.
    """

    name: str
    torch_fn: Callable[[Tensor], Tensor]
    sympy_fn: Callable[[Any], Any]
    complexity: int
    safe_fn: Callable[[Tensor], Tensor] | None = None

    def safe(self, x: Tensor) -> Tensor:
        """``safe_fn(x)`` where there is one, else ``torch_fn(x)``: the variant for training."""
        return (self.safe_fn or self.torch_fn)(x)


_REGISTRY: dict[str, SymbolicFunction] = {}
#: names registered with ``default=True`` (see :func:`default_library`)
_REGISTRY_DEFAULTS: list[str] = []


def register_function(
    name: str,
    torch_fn: Callable[[Tensor], Tensor],
    sympy_fn: Callable[[Any], Any],
    complexity: int,
    *,
    safe_fn: Callable[[Tensor], Tensor] | None = None,
    overwrite: bool = False,
    default: bool = False,
) -> SymbolicFunction:
    """Add a function to the registry, so that it can be named in libraries.

    Args:
        name: a non-empty name.
        torch_fn: the exact function, elementwise on tensors (NaN or inf where undefined). It
            should be differentiable by autograd; otherwise fits use finite differences.
        sympy_fn: maps a sympy expression to ``f`` of it; import sympy inside it.
        complexity: non-negative integer used by :func:`suggest`.
        safe_fn: optional singularity-safe torch variant for training.
        overwrite: replace an existing function of the same name instead of raising.
        default: also search it wherever the default library is (``lib=None``): it joins
            :func:`default_library`, after :data:`DEFAULT_LIBRARY`.

    Returns:
        The registered :class:`SymbolicFunction`.

    Raises:
        InputError: on a duplicate name without ``overwrite``, an empty or non-string name, a
            non-callable function or a complexity that is not a non-negative integer.
    """
    if not isinstance(name, str) or not name:
        raise InputError(f"name must be a non-empty string; got {name!r}")
    for what, fn in (("torch_fn", torch_fn), ("sympy_fn", sympy_fn)):
        if not callable(fn):
            raise InputError(f"{what} of {name!r} must be callable; got {type(fn).__name__}")
    if safe_fn is not None and not callable(safe_fn):
        raise InputError(f"safe_fn of {name!r} must be callable or None")
    check_nonnegative_int(f"complexity of {name!r}", complexity)
    if name in _REGISTRY and not overwrite:
        raise InputError(
            f"a symbolic function named {name!r} is registered already; "
            "pass overwrite=True to replace it"
        )
    function = SymbolicFunction(name, torch_fn, sympy_fn, complexity, safe_fn)
    _REGISTRY[name] = function
    if default and name not in _REGISTRY_DEFAULTS:
        _REGISTRY_DEFAULTS.append(name)
    return function


def default_library() -> tuple[str, ...]:
    """The names searched when no library is given: :data:`DEFAULT_LIBRARY` (pykan's), then
    the functions registered with ``default=True``, in the order registered."""
    return DEFAULT_LIBRARY + tuple(n for n in _REGISTRY_DEFAULTS if n not in DEFAULT_LIBRARY)


def get_function(name: str) -> SymbolicFunction:
    """The registered function called ``name``.

    Raises:
        InputError: if no function of that name is registered; the message lists the known ones.
    """
    try:
        return _REGISTRY[name]
    except (KeyError, TypeError):
        raise InputError(
            f"unknown symbolic function {name!r}; known functions: {list(_REGISTRY)}"
        ) from None


def function_names() -> tuple[str, ...]:
    """Names of all registered functions (aliases included), in registration order."""
    return tuple(_REGISTRY)


def resolve_library(lib: Sequence[str | SymbolicFunction] | None = None) -> list[SymbolicFunction]:
    """Functions of a library given by names and/or :class:`SymbolicFunction` objects.

    Args:
        lib: names or functions; ``None`` means :func:`default_library`.

    Returns:
        The functions, in the order given.

    Raises:
        InputError: on an unknown name, an entry of another type or an empty library.
    """
    if lib is None:
        lib = default_library()
    if isinstance(lib, (str, SymbolicFunction)):
        lib = [lib]
    out = []
    for entry in lib:
        if isinstance(entry, SymbolicFunction):
            out.append(entry)
        elif isinstance(entry, str):
            out.append(get_function(entry))
        else:
            raise InputError(
                f"library entries must be names or SymbolicFunction; got {type(entry).__name__}"
            )
    if not out:
        raise InputError("the library of symbolic functions is empty")
    return out


# --- built-in functions ----------------------------------------------------------------------


def zero(x: Tensor) -> Tensor:
    return x * 0


def _away_from_zero(x: Tensor, eps: float) -> Tensor:
    """``x`` with ``|x| >= eps``, sign kept (0 goes to ``+eps``)."""
    return torch.where(x >= 0, x.clamp(min=eps), x.clamp(max=-eps))


def _power(k: int) -> Callable[[Tensor], Tensor]:
    """``x^k`` for ``k`` in 1..5 by multiplications (``torch.pow`` is slow for ``k > 3``)."""

    def fn(x: Tensor) -> Tensor:
        if k == 1:
            return x
        sq = torch.square(x)
        if k == 2:
            return sq
        if k == 3:
            return sq * x
        return torch.square(sq) if k == 4 else torch.square(sq) * x

    return fn


def _inverse_power(k: int) -> tuple[Callable[[Tensor], Tensor], Callable[[Tensor], Tensor]]:
    eps = 1e-4 ** (1.0 / k)  # |f| <= 1e4 in the safe variant
    power = _power(k)

    def exact(x: Tensor) -> Tensor:
        return torch.reciprocal(power(x))

    def safe(x: Tensor) -> Tensor:
        return exact(_away_from_zero(x, eps))

    return exact, safe


def _safe_tan(x: Tensor) -> Tensor:
    return torch.sin(x) / _away_from_zero(torch.cos(x), 1e-4)


def _gaussian(x: Tensor) -> Tensor:
    return torch.exp(torch.square(x).neg_())


def _register_builtins() -> tuple[str, ...]:
    sp = sympy_module  # called only when a sympy form is asked for

    def sp_pow(k: Any) -> Callable[[Any], Any]:
        return lambda x: x ** sp().Integer(k) if isinstance(k, int) else x ** sp().Rational(k)

    reg = register_function
    reg("x", lambda x: x, lambda x: x, 1)
    reg("x^2", _power(2), sp_pow(2), 2)
    reg("x^3", _power(3), sp_pow(3), 3)
    reg("x^4", _power(4), sp_pow(4), 3)
    reg("x^5", _power(5), sp_pow(5), 3)
    for k, complexity in ((1, 2), (2, 2), (3, 3), (4, 4), (5, 5)):
        exact, safe = _inverse_power(k)
        reg("1/x" if k == 1 else f"1/x^{k}", exact, sp_pow(-k), complexity, safe_fn=safe)

    def sqrt_safe(x: Tensor) -> Tensor:
        return torch.sqrt(x.clamp(min=1e-8))

    reg("sqrt", torch.sqrt, lambda x: sp().sqrt(x), 2, safe_fn=sqrt_safe)
    reg(
        "x^1.5",
        lambda x: x * torch.sqrt(x),
        lambda x: sp().sqrt(x) ** 3,
        4,
        safe_fn=lambda x: torch.pow(x.clamp(min=0), 1.5),
    )

    def rsqrt_safe(x: Tensor) -> Tensor:
        return torch.rsqrt(x.clamp(min=1e-8))

    reg("1/sqrt(x)", torch.rsqrt, lambda x: 1 / sp().sqrt(x), 2, safe_fn=rsqrt_safe)
    reg("exp", torch.exp, lambda x: sp().exp(x), 2)
    reg("log", torch.log, lambda x: sp().log(x), 2, safe_fn=lambda x: torch.log(x.clamp(1e-4)))
    reg("abs", torch.abs, lambda x: sp().Abs(x), 3)
    reg("sin", torch.sin, lambda x: sp().sin(x), 2)
    reg("cos", torch.cos, lambda x: sp().cos(x), 2)
    reg("tan", torch.tan, lambda x: sp().tan(x), 3, safe_fn=_safe_tan)
    reg("tanh", torch.tanh, lambda x: sp().tanh(x), 3)
    reg("sgn", torch.sign, lambda x: sp().sign(x), 3)
    one = 1 - 1e-6
    reg(
        "arcsin",
        torch.arcsin,
        lambda x: sp().asin(x),
        4,
        safe_fn=lambda x: torch.arcsin(x.clamp(-one, one)),
    )
    reg(
        "arccos",
        torch.arccos,
        lambda x: sp().acos(x),
        4,
        safe_fn=lambda x: torch.arccos(x.clamp(-one, one)),
    )
    reg("arctan", torch.arctan, lambda x: sp().atan(x), 4)
    reg(
        "arctanh",
        torch.arctanh,
        lambda x: sp().atanh(x),
        4,
        safe_fn=lambda x: torch.arctanh(x.clamp(-1 + 1e-4, 1 - 1e-4)),
    )
    reg("gaussian", _gaussian, lambda x: sp().exp(-(x**2)), 3)
    reg("0", zero, lambda x: sp().Integer(0), 0)
    library = function_names()
    # pykan's aliases: the same functions under a second name, not in the default library
    for alias, name in (("x^0.5", "sqrt"), ("1/x^0.5", "1/sqrt(x)")):
        f = get_function(name)
        reg(alias, f.torch_fn, f.sympy_fn, f.complexity, safe_fn=f.safe_fn)
    # not pykan's, so not in the default library either: name them in ``lib``
    reg("cosh", torch.cosh, lambda x: sp().cosh(x), 3)
    reg("sinh", torch.sinh, lambda x: sp().sinh(x), 3)
    return library


#: Names of the default library: pykan 0.2.8's functions, without its two aliases.
DEFAULT_LIBRARY: tuple[str, ...] = _register_builtins()
