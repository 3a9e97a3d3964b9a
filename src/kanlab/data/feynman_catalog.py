"""The AI Feynman ``Feynman_no_units`` collection: 100 Feynman equations and 20 bonus equations.

:data:`FEYNMAN_NO_UNITS` holds, as data, every equation of the Feynman Symbolic Regression
Database (Udrescu & Tegmark 2020, "AI Feynman", arXiv:1905.11481; the files
``FeynmanEquations.csv`` and ``BonusEquations.csv`` of
https://space.mit.edu/home/tegmark/aifeynman.html) in the CSVs' row order: for each, the
variables in column order (the output excluded), the output's name, one ``(low, high)``
uniform sampling range per variable (the CSVs' ``v1_low``, ``v1_high``, ...: the ranges the
``Feynman_no_units`` data files were sampled from), and the formula as sympy-parsable text.
:func:`feynman_no_units_dataset` samples one equation.

Shapes: ``CatalogEquation.fn`` maps inputs ``(N, n_var)``, columns in the order of
``variables``, to labels ``(N,)``; a dataset has inputs ``(N, n_var)`` and labels ``(N, 1)``.

Names. The 100 main equations keep the CSV's names (``"I.6.2a"``, ..., ``"III.21.20"``),
including its ``"II.11.17"`` (the equation is n = n_0 (1 + p_d E_f cos(theta) / (k_b T)),
Feynman Lectures II.11.7, the name :data:`kanlab.data.science.FEYNMAN` uses). The bonus
equations, ``test_1`` ... ``test_20`` in ``BonusEquations.csv``, are named ``"bonus.1"`` ...
``"bonus.20"`` here (same number); their ``title`` is the CSV's ``Name`` column (e.g.
``"Rutherford scattering"``, ``"3.55 Goldstein"``).

The formula text. The CSVs' formulas are numpy-style; here ``~x`` (their unary minus) is
written ``-x``, ``arcsin``/``arccos`` are ``asin``/``acos`` and ``ln`` is ``log``; nothing else
is changed. The variables are the CSVs' names (``lambd`` for lambda, ``gamma``, ``beta``, ``I``,
``E_n``, ...): to parse a formula with sympy, pass every variable as a symbol, e.g.
``sympy.sympify(eq.formula, locals={v: sympy.Symbol(v) for v in eq.variables})``; otherwise
``gamma``, ``beta`` become functions and ``I`` the imaginary unit. The torch function is built
from the same text by a small evaluator of its Python syntax tree (``+ - * / **``, unary
minus, numbers, ``pi`` and the functions exp, log, sqrt, sin, cos, tanh, asin, acos; no
``eval``, no sympy), so text and function cannot disagree.

Data checks. The main table agrees with two independent copies of ``FeynmanEquations.csv``
(which differ only in writing ``~``/``-`` and ``gamma``/``Gamma``); the bonus table is from one
copy of ``BonusEquations.csv``, spot-checked against PMLB's ``feynman_test_12`` and
``feynman_test_19`` metadata. The CSVs' ``# variables`` column is wrong for ten rows
(commented in the table); the variables listed in the row are used.

Difference from :data:`kanlab.data.science.FEYNMAN`. That table holds the KAN paper's Table 3:
27 of these equations rewritten in dimensionless form with fewer variables (e.g. I.6.2 as a
function of ``theta`` and ``sigma`` only, I.9.18 of six ratios) and ranges chosen around zero.
The equations here are the AI Feynman originals, with all their variables and the CSVs'
positive ranges (mostly ``[1, 5]``); pykan's ``feynman.py`` has its own ranges and labels.
"""

from __future__ import annotations

import ast
import keyword
import math
import operator
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from kanlab._validation import lookup
from kanlab.data.dataset import Dataset, make_dataset
from kanlab.errors import InputError

__all__ = ["FEYNMAN_NO_UNITS", "CatalogEquation", "feynman_no_units_dataset"]

_TORCH_FUNCTIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "exp": torch.exp, "log": torch.log, "sqrt": torch.sqrt, "sin": torch.sin,
    "cos": torch.cos, "tanh": torch.tanh, "asin": torch.asin, "acos": torch.acos,
}
_MATH_FUNCTIONS: dict[str, Callable[[float], float]] = {
    "exp": math.exp, "log": math.log, "sqrt": math.sqrt, "sin": math.sin,
    "cos": math.cos, "tanh": math.tanh, "asin": math.asin, "acos": math.acos,
}
_CONSTANTS = {"pi": math.pi}
_BINARY = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
           ast.Div: operator.truediv, ast.Pow: operator.pow}
_UNARY = {ast.USub: operator.neg, ast.UAdd: operator.pos}

# A compiled node: a float (a constant subexpression, folded) or a function of the columns.
_Node = float | Callable[[torch.Tensor], torch.Tensor]


def _compile(node: ast.AST, index: dict[str, int], formula: str) -> _Node:
    """Turn one node of a formula's syntax tree into a constant or a function of ``x``."""
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return float(node.value)
    if isinstance(node, ast.Name) and node.id in index:
        i = index[node.id]
        return lambda x: x[:, i]
    if isinstance(node, ast.Name) and node.id in _CONSTANTS:
        return _CONSTANTS[node.id]
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        op, a = _UNARY[type(node.op)], _compile(node.operand, index, formula)
        return op(a) if isinstance(a, float) else (lambda x: op(a(x)))
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        op = _BINARY[type(node.op)]
        a, b = _compile(node.left, index, formula), _compile(node.right, index, formula)
        if isinstance(a, float) and isinstance(b, float):
            return float(op(a, b))
        if isinstance(a, float):
            return lambda x: op(a, b(x))
        if isinstance(b, float):
            return lambda x: op(a(x), b)
        return lambda x: op(a(x), b(x))
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
            and node.func.id in _TORCH_FUNCTIONS and len(node.args) == 1 and not node.keywords):
        a = _compile(node.args[0], index, formula)
        if isinstance(a, float):
            return _MATH_FUNCTIONS[node.func.id](a)
        f = _TORCH_FUNCTIONS[node.func.id]
        return lambda x: f(a(x))
    raise InputError(f"unsupported expression {ast.dump(node)!r} in formula {formula!r}")


def _torch_function(formula: str, variables: tuple[str, ...]) -> Callable:
    """The formula text as a function of inputs ``(N, n_var)`` returning ``(N,)``."""
    tree = ast.parse(formula, mode="eval")
    body = _compile(tree.body, {v: i for i, v in enumerate(variables)}, formula)
    n_var = len(variables)

    def fn(x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 2 or x.shape[1] != n_var:
            raise InputError(f"expected inputs (N, {n_var}); got {tuple(x.shape)}")
        if isinstance(body, float):
            return torch.full((x.shape[0],), body, dtype=x.dtype, device=x.device)
        return body(x)

    return fn


@dataclass(frozen=True)
class CatalogEquation:
    """One equation of the ``Feynman_no_units`` collection, as the AI Feynman CSVs give it.

    Attributes:
        name: e.g. ``"I.6.2"`` or ``"bonus.1"`` (the CSV's ``test_1``).
        output: the output variable's name in the CSV, e.g. ``"f"``.
        variables: the input names, in column order; valid Python identifiers, no keywords.
        ranges: one ``(low, high)`` uniform sampling range per variable.
        formula: the formula as sympy-parsable text in ``variables`` (see the module
            docstring for parsing it).
        title: the CSV's ``Name`` column for a bonus equation, ``""`` for a main one.
        fn: the formula on torch tensors, built from ``formula``: maps inputs
            ``(N, n_var)`` to labels ``(N,)`` in the inputs' dtype.
    """

    name: str
    output: str
    variables: tuple[str, ...]
    ranges: tuple[tuple[float, float], ...]
    formula: str
    title: str = ""
    fn: Callable[[torch.Tensor], torch.Tensor] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for v in self.variables:
            if not v.isidentifier() or keyword.iskeyword(v):
                raise InputError(f"{self.name}: variable {v!r} is not a valid identifier")
        if len(self.ranges) != len(self.variables):
            raise InputError(f"{self.name}: {len(self.ranges)} ranges for "
                             f"{len(self.variables)} variables")
        if any(not low < high for low, high in self.ranges):
            raise InputError(f"{self.name}: every range needs low < high; got {self.ranges}")
        object.__setattr__(self, "fn", _torch_function(self.formula, self.variables))

    @property
    def n_var(self) -> int:
        """The number of input variables."""
        return len(self.variables)


# (name, output, ((variable, low, high), ...), formula) for every row of FeynmanEquations.csv,
# in its order.
_MAIN_ROWS: tuple[tuple, ...] = (
    ("I.6.2a", "f", (("theta", 1, 3),),
     "exp(-theta**2/2)/sqrt(2*pi)"),
    ("I.6.2", "f", (("sigma", 1, 3), ("theta", 1, 3)),
     "exp(-(theta/sigma)**2/2)/(sqrt(2*pi)*sigma)"),
    ("I.6.2b", "f", (("sigma", 1, 3), ("theta", 1, 3), ("theta1", 1, 3)),
     "exp(-((theta-theta1)/sigma)**2/2)/(sqrt(2*pi)*sigma)"),
    ("I.8.14", "d", (("x1", 1, 5), ("x2", 1, 5), ("y1", 1, 5), ("y2", 1, 5)),
     "sqrt((x2-x1)**2+(y2-y1)**2)"),
    ("I.9.18", "F", (("m1", 1, 2), ("m2", 1, 2), ("G", 1, 2), ("x1", 3, 4), ("x2", 1, 2),
      ("y1", 3, 4), ("y2", 1, 2), ("z1", 3, 4), ("z2", 1, 2)),
     "G*m1*m2/((x2-x1)**2+(y2-y1)**2+(z2-z1)**2)"),
    ("I.10.7", "m", (("m_0", 1, 5), ("v", 1, 2), ("c", 3, 10)),
     "m_0/sqrt(1-v**2/c**2)"),
    ("I.11.19", "A", (("x1", 1, 5), ("x2", 1, 5), ("x3", 1, 5), ("y1", 1, 5), ("y2", 1, 5),
      ("y3", 1, 5)),
     "x1*y1+x2*y2+x3*y3"),
    ("I.12.1", "F", (("mu", 1, 5), ("Nn", 1, 5)),
     "mu*Nn"),
    ("I.12.2", "F", (("q1", 1, 5), ("q2", 1, 5), ("epsilon", 1, 5), ("r", 1, 5)),
     "q1*q2*r/(4*pi*epsilon*r**3)"),
    ("I.12.4", "Ef", (("q1", 1, 5), ("epsilon", 1, 5), ("r", 1, 5)),
     "q1*r/(4*pi*epsilon*r**3)"),
    ("I.12.5", "F", (("q2", 1, 5), ("Ef", 1, 5)),
     "q2*Ef"),
    ("I.12.11", "F", (("q", 1, 5), ("Ef", 1, 5), ("B", 1, 5), ("v", 1, 5), ("theta", 1, 5)),
     "q*(Ef+B*v*sin(theta))"),
    ("I.13.4", "K", (("m", 1, 5), ("v", 1, 5), ("u", 1, 5), ("w", 1, 5)),
     "1/2*m*(v**2+u**2+w**2)"),
    ("I.13.12", "U", (("m1", 1, 5), ("m2", 1, 5), ("r1", 1, 5), ("r2", 1, 5), ("G", 1, 5)),
     "G*m1*m2*(1/r2-1/r1)"),
    ("I.14.3", "U", (("m", 1, 5), ("g", 1, 5), ("z", 1, 5)),
     "m*g*z"),
    ("I.14.4", "U", (("k_spring", 1, 5), ("x", 1, 5)),
     "1/2*k_spring*x**2"),
    ("I.15.3x", "x1", (("x", 5, 10), ("u", 1, 2), ("c", 3, 20), ("t", 1, 2)),
     "(x-u*t)/sqrt(1-u**2/c**2)"),
    ("I.15.3t", "t1", (("x", 1, 5), ("c", 3, 10), ("u", 1, 2), ("t", 1, 5)),
     "(t-u*x/c**2)/sqrt(1-u**2/c**2)"),
    ("I.15.1", "p", (("m_0", 1, 5), ("v", 1, 2), ("c", 3, 10)),
     "m_0*v/sqrt(1-v**2/c**2)"),
    ("I.16.6", "v1", (("c", 1, 5), ("v", 1, 5), ("u", 1, 5)),
     "(u+v)/(1+u*v/c**2)"),
    ("I.18.4", "r", (("m1", 1, 5), ("m2", 1, 5), ("r1", 1, 5), ("r2", 1, 5)),
     "(m1*r1+m2*r2)/(m1+m2)"),
    # the CSV's '# variables' column says 2
    ("I.18.12", "tau", (("r", 1, 5), ("F", 1, 5), ("theta", 0, 5)),
     "r*F*sin(theta)"),
    # the CSV's '# variables' column says 3
    ("I.18.14", "L", (("m", 1, 5), ("r", 1, 5), ("v", 1, 5), ("theta", 1, 5)),
     "m*r*v*sin(theta)"),
    ("I.24.6", "E_n", (("m", 1, 3), ("omega", 1, 3), ("omega_0", 1, 3), ("x", 1, 3)),
     "1/2*m*(omega**2+omega_0**2)*1/2*x**2"),
    ("I.25.13", "Volt", (("q", 1, 5), ("C", 1, 5)),
     "q/C"),
    ("I.26.2", "theta1", (("n", 0, 1), ("theta2", 1, 5)),
     "asin(n*sin(theta2))"),
    ("I.27.6", "foc", (("d1", 1, 5), ("d2", 1, 5), ("n", 1, 5)),
     "1/(1/d1+n/d2)"),
    ("I.29.4", "k", (("omega", 1, 10), ("c", 1, 10)),
     "omega/c"),
    ("I.29.16", "x", (("x1", 1, 5), ("x2", 1, 5), ("theta1", 1, 5), ("theta2", 1, 5)),
     "sqrt(x1**2+x2**2-2*x1*x2*cos(theta1-theta2))"),
    ("I.30.3", "Int", (("Int_0", 1, 5), ("theta", 1, 5), ("n", 1, 5)),
     "Int_0*sin(n*theta/2)**2/sin(theta/2)**2"),
    ("I.30.5", "theta", (("lambd", 1, 2), ("d", 2, 5), ("n", 1, 5)),
     "asin(lambd/(n*d))"),
    ("I.32.5", "Pwr", (("q", 1, 5), ("a", 1, 5), ("epsilon", 1, 5), ("c", 1, 5)),
     "q**2*a**2/(6*pi*epsilon*c**3)"),
    ("I.32.17", "Pwr", (("epsilon", 1, 2), ("c", 1, 2), ("Ef", 1, 2), ("r", 1, 2), ("omega", 1, 2),
      ("omega_0", 3, 5)),
     "(1/2*epsilon*c*Ef**2)*(8*pi*r**2/3)*(omega**4/(omega**2-omega_0**2)**2)"),
    ("I.34.8", "omega", (("q", 1, 5), ("v", 1, 5), ("B", 1, 5), ("p", 1, 5)),
     "q*v*B/p"),
    ("I.34.1", "omega", (("c", 3, 10), ("v", 1, 2), ("omega_0", 1, 5)),
     "omega_0/(1-v/c)"),
    ("I.34.14", "omega", (("c", 3, 10), ("v", 1, 2), ("omega_0", 1, 5)),
     "(1+v/c)/sqrt(1-v**2/c**2)*omega_0"),
    ("I.34.27", "E_n", (("omega", 1, 5), ("h", 1, 5)),
     "(h/(2*pi))*omega"),
    ("I.37.4", "Int", (("I1", 1, 5), ("I2", 1, 5), ("delta", 1, 5)),
     "I1+I2+2*sqrt(I1*I2)*cos(delta)"),
    # the CSV's '# variables' column says 3
    ("I.38.12", "r", (("m", 1, 5), ("q", 1, 5), ("h", 1, 5), ("epsilon", 1, 5)),
     "4*pi*epsilon*(h/(2*pi))**2/(m*q**2)"),
    ("I.39.1", "E_n", (("pr", 1, 5), ("V", 1, 5)),
     "3/2*pr*V"),
    ("I.39.11", "E_n", (("gamma", 2, 5), ("pr", 1, 5), ("V", 1, 5)),
     "1/(gamma-1)*pr*V"),
    ("I.39.22", "pr", (("n", 1, 5), ("T", 1, 5), ("V", 1, 5), ("kb", 1, 5)),
     "n*kb*T/V"),
    ("I.40.1", "n", (("n_0", 1, 5), ("m", 1, 5), ("x", 1, 5), ("T", 1, 5), ("g", 1, 5),
      ("kb", 1, 5)),
     "n_0*exp(-m*g*x/(kb*T))"),
    ("I.41.16", "L_rad", (("omega", 1, 5), ("T", 1, 5), ("h", 1, 5), ("kb", 1, 5), ("c", 1, 5)),
     "h/(2*pi)*omega**3/(pi**2*c**2*(exp((h/(2*pi))*omega/(kb*T))-1))"),
    ("I.43.16", "v", (("mu_drift", 1, 5), ("q", 1, 5), ("Volt", 1, 5), ("d", 1, 5)),
     "mu_drift*q*Volt/d"),
    ("I.43.31", "D", (("mob", 1, 5), ("T", 1, 5), ("kb", 1, 5)),
     "mob*kb*T"),
    ("I.43.43", "kappa", (("gamma", 2, 5), ("kb", 1, 5), ("A", 1, 5), ("v", 1, 5)),
     "1/(gamma-1)*kb*v/A"),
    ("I.44.4", "E_n", (("n", 1, 5), ("kb", 1, 5), ("T", 1, 5), ("V1", 1, 5), ("V2", 1, 5)),
     "n*kb*T*log(V2/V1)"),
    ("I.47.23", "c", (("gamma", 1, 5), ("pr", 1, 5), ("rho", 1, 5)),
     "sqrt(gamma*pr/rho)"),
    ("I.48.2", "E_n", (("m", 1, 5), ("v", 1, 2), ("c", 3, 10)),
     "m*c**2/sqrt(1-v**2/c**2)"),
    ("I.50.26", "x", (("x1", 1, 3), ("omega", 1, 3), ("t", 1, 3), ("alpha", 1, 3)),
     "x1*(cos(omega*t)+alpha*cos(omega*t)**2)"),
    ("II.2.42", "Pwr", (("kappa", 1, 5), ("T1", 1, 5), ("T2", 1, 5), ("A", 1, 5), ("d", 1, 5)),
     "kappa*(T2-T1)*A/d"),
    ("II.3.24", "flux", (("Pwr", 1, 5), ("r", 1, 5)),
     "Pwr/(4*pi*r**2)"),
    ("II.4.23", "Volt", (("q", 1, 5), ("epsilon", 1, 5), ("r", 1, 5)),
     "q/(4*pi*epsilon*r)"),
    ("II.6.11", "Volt", (("epsilon", 1, 3), ("p_d", 1, 3), ("theta", 1, 3), ("r", 1, 3)),
     "1/(4*pi*epsilon)*p_d*cos(theta)/r**2"),
    ("II.6.15a", "Ef", (("epsilon", 1, 3), ("p_d", 1, 3), ("r", 1, 3), ("x", 1, 3), ("y", 1, 3),
      ("z", 1, 3)),
     "p_d/(4*pi*epsilon)*3*z/r**5*sqrt(x**2+y**2)"),
    ("II.6.15b", "Ef", (("epsilon", 1, 3), ("p_d", 1, 3), ("theta", 1, 3), ("r", 1, 3)),
     "p_d/(4*pi*epsilon)*3*cos(theta)*sin(theta)/r**3"),
    ("II.8.7", "E_n", (("q", 1, 5), ("epsilon", 1, 5), ("d", 1, 5)),
     "3/5*q**2/(4*pi*epsilon*d)"),
    ("II.8.31", "E_den", (("epsilon", 1, 5), ("Ef", 1, 5)),
     "epsilon*Ef**2/2"),
    ("II.10.9", "Ef", (("sigma_den", 1, 5), ("epsilon", 1, 5), ("chi", 1, 5)),
     "sigma_den/epsilon*1/(1+chi)"),
    ("II.11.3", "x", (("q", 1, 3), ("Ef", 1, 3), ("m", 1, 3), ("omega_0", 3, 5), ("omega", 1, 2)),
     "q*Ef/(m*(omega_0**2-omega**2))"),
    ("II.11.17", "n", (("n_0", 1, 3), ("kb", 1, 3), ("T", 1, 3), ("theta", 1, 3), ("p_d", 1, 3),
      ("Ef", 1, 3)),
     "n_0*(1+p_d*Ef*cos(theta)/(kb*T))"),
    ("II.11.20", "Pol", (("n_rho", 1, 5), ("p_d", 1, 5), ("Ef", 1, 5), ("kb", 1, 5), ("T", 1, 5)),
     "n_rho*p_d**2*Ef/(3*kb*T)"),
    ("II.11.27", "Pol", (("n", 0, 1), ("alpha", 0, 1), ("epsilon", 1, 2), ("Ef", 1, 2)),
     "n*alpha/(1-(n*alpha/3))*epsilon*Ef"),
    ("II.11.28", "theta", (("n", 0, 1), ("alpha", 0, 1)),
     "1+n*alpha/(1-(n*alpha/3))"),
    ("II.13.17", "B", (("epsilon", 1, 5), ("c", 1, 5), ("I", 1, 5), ("r", 1, 5)),
     "1/(4*pi*epsilon*c**2)*2*I/r"),
    ("II.13.23", "rho_c", (("rho_c_0", 1, 5), ("v", 1, 2), ("c", 3, 10)),
     "rho_c_0/sqrt(1-v**2/c**2)"),
    ("II.13.34", "j", (("rho_c_0", 1, 5), ("v", 1, 2), ("c", 3, 10)),
     "rho_c_0*v/sqrt(1-v**2/c**2)"),
    ("II.15.4", "E_n", (("mom", 1, 5), ("B", 1, 5), ("theta", 1, 5)),
     "-mom*B*cos(theta)"),
    ("II.15.5", "E_n", (("p_d", 1, 5), ("Ef", 1, 5), ("theta", 1, 5)),
     "-p_d*Ef*cos(theta)"),
    ("II.21.32", "Volt", (("q", 1, 5), ("epsilon", 1, 5), ("r", 1, 5), ("v", 1, 2), ("c", 3, 10)),
     "q/(4*pi*epsilon*r*(1-v/c))"),
    ("II.24.17", "k", (("omega", 4, 6), ("c", 1, 2), ("d", 2, 4)),
     "sqrt(omega**2/c**2-pi**2/d**2)"),
    ("II.27.16", "flux", (("epsilon", 1, 5), ("c", 1, 5), ("Ef", 1, 5)),
     "epsilon*c*Ef**2"),
    ("II.27.18", "E_den", (("epsilon", 1, 5), ("Ef", 1, 5)),
     "epsilon*Ef**2"),
    ("II.34.2a", "I", (("q", 1, 5), ("v", 1, 5), ("r", 1, 5)),
     "q*v/(2*pi*r)"),
    ("II.34.2", "mom", (("q", 1, 5), ("v", 1, 5), ("r", 1, 5)),
     "q*v*r/2"),
    ("II.34.11", "omega", (("g_", 1, 5), ("q", 1, 5), ("B", 1, 5), ("m", 1, 5)),
     "g_*q*B/(2*m)"),
    ("II.34.29a", "mom", (("q", 1, 5), ("h", 1, 5), ("m", 1, 5)),
     "q*h/(4*pi*m)"),
    ("II.34.29b", "E_n", (("g_", 1, 5), ("h", 1, 5), ("Jz", 1, 5), ("mom", 1, 5), ("B", 1, 5)),
     "g_*mom*B*Jz/(h/(2*pi))"),
    ("II.35.18", "n", (("n_0", 1, 3), ("kb", 1, 3), ("T", 1, 3), ("mom", 1, 3), ("B", 1, 3)),
     "n_0/(exp(mom*B/(kb*T))+exp(-mom*B/(kb*T)))"),
    ("II.35.21", "M", (("n_rho", 1, 5), ("mom", 1, 5), ("B", 1, 5), ("kb", 1, 5), ("T", 1, 5)),
     "n_rho*mom*tanh(mom*B/(kb*T))"),
    ("II.36.38", "f", (("mom", 1, 3), ("H", 1, 3), ("kb", 1, 3), ("T", 1, 3), ("alpha", 1, 3),
      ("epsilon", 1, 3), ("c", 1, 3), ("M", 1, 3)),
     "mom*H/(kb*T)+(mom*alpha)/(epsilon*c**2*kb*T)*M"),
    # the CSV's '# variables' column says 6
    ("II.37.1", "E_n", (("mom", 1, 5), ("B", 1, 5), ("chi", 1, 5)),
     "mom*(1+chi)*B"),
    ("II.38.3", "F", (("Y", 1, 5), ("A", 1, 5), ("d", 1, 5), ("x", 1, 5)),
     "Y*A*x/d"),
    ("II.38.14", "mu_S", (("Y", 1, 5), ("sigma", 1, 5)),
     "Y/(2*(1+sigma))"),
    ("III.4.32", "n", (("h", 1, 5), ("omega", 1, 5), ("kb", 1, 5), ("T", 1, 5)),
     "1/(exp((h/(2*pi))*omega/(kb*T))-1)"),
    ("III.4.33", "E_n", (("h", 1, 5), ("omega", 1, 5), ("kb", 1, 5), ("T", 1, 5)),
     "(h/(2*pi))*omega/(exp((h/(2*pi))*omega/(kb*T))-1)"),
    ("III.7.38", "omega", (("mom", 1, 5), ("B", 1, 5), ("h", 1, 5)),
     "2*mom*B/(h/(2*pi))"),
    ("III.8.54", "prob", (("E_n", 1, 2), ("t", 1, 2), ("h", 1, 4)),
     "sin(E_n*t/(h/(2*pi)))**2"),
    ("III.9.52", "prob", (("p_d", 1, 3), ("Ef", 1, 3), ("t", 1, 3), ("h", 1, 3), ("omega", 1, 5),
      ("omega_0", 1, 5)),
     "(p_d*Ef*t/(h/(2*pi)))*sin((omega-omega_0)*t/2)**2/((omega-omega_0)*t/2)**2"),
    # the CSV's '# variables' column says 3
    ("III.10.19", "E_n", (("mom", 1, 5), ("Bx", 1, 5), ("By", 1, 5), ("Bz", 1, 5)),
     "mom*sqrt(Bx**2+By**2+Bz**2)"),
    ("III.12.43", "L", (("n", 1, 5), ("h", 1, 5)),
     "n*(h/(2*pi))"),
    ("III.13.18", "v", (("E_n", 1, 5), ("d", 1, 5), ("k", 1, 5), ("h", 1, 5)),
     "2*E_n*d**2*k/(h/(2*pi))"),
    ("III.14.14", "I", (("I_0", 1, 5), ("q", 1, 2), ("Volt", 1, 2), ("kb", 1, 2), ("T", 1, 2)),
     "I_0*(exp(q*Volt/(kb*T))-1)"),
    ("III.15.12", "E_n", (("U", 1, 5), ("k", 1, 5), ("d", 1, 5)),
     "2*U*(1-cos(k*d))"),
    ("III.15.14", "m", (("h", 1, 5), ("E_n", 1, 5), ("d", 1, 5)),
     "(h/(2*pi))**2/(2*E_n*d**2)"),
    ("III.15.27", "k", (("alpha", 1, 5), ("n", 1, 5), ("d", 1, 5)),
     "2*pi*alpha/(n*d)"),
    ("III.17.37", "f", (("beta", 1, 5), ("alpha", 1, 5), ("theta", 1, 5)),
     "beta*(1+alpha*cos(theta))"),
    # the CSV's '# variables' column says 4
    ("III.19.51", "E_n", (("m", 1, 5), ("q", 1, 5), ("h", 1, 5), ("n", 1, 5), ("epsilon", 1, 5)),
     "-m*q**4/(2*(4*pi*epsilon)**2*(h/(2*pi))**2)*(1/n**2)"),
    ("III.21.20", "j", (("rho_c_0", 1, 5), ("q", 1, 5), ("A_vec", 1, 5), ("m", 1, 5)),
     "-rho_c_0*q*A_vec/m"),
)

# (name, output, ((variable, low, high), ...), formula, title) for every row of
# BonusEquations.csv, in its order; "bonus.N" is the CSV's "test_N".
_BONUS_ROWS: tuple[tuple, ...] = (
    ("bonus.1", "A", (("Z_1", 1, 2), ("Z_2", 1, 2), ("alpha", 1, 2), ("hbar", 1, 2), ("c", 1, 2),
      ("E_n", 1, 3), ("theta", 1, 3)),
     "(Z_1*Z_2*alpha*hbar*c/(4*E_n*sin(theta/2)**2))**2",
     "Rutherford scattering"),
    ("bonus.2", "k", (("m", 1, 3), ("k_G", 1, 3), ("L", 1, 3), ("E_n", 1, 3), ("theta1", 0, 6),
      ("theta2", 0, 6)),
     "m*k_G/L**2*(1+sqrt(1+2*E_n*L**2/(m*k_G**2))*cos(theta1-theta2))",
     "3.55 Goldstein"),
    ("bonus.3", "r", (("d", 1, 3), ("alpha", 2, 4), ("theta1", 4, 5), ("theta2", 4, 5)),
     "d*(1-alpha**2)/(1+alpha*cos(theta1-theta2))",
     "3.64 Goldstein"),
    ("bonus.4", "v", (("m", 1, 3), ("E_n", 8, 12), ("U", 1, 3), ("L", 1, 3), ("r", 1, 3)),
     "sqrt(2/m*(E_n-U-L**2/(2*m*r**2)))",
     "3.16 Goldstein"),
    ("bonus.5", "t", (("d", 1, 3), ("G", 1, 3), ("m1", 1, 3), ("m2", 1, 3)),
     "2*pi*d**(3/2)/sqrt(G*(m1+m2))",
     "3.74 Goldstein"),
    ("bonus.6", "alpha", (("epsilon", 1, 3), ("L", 1, 3), ("m", 1, 3), ("Z_1", 1, 3), ("Z_2", 1, 3),
      ("q", 1, 3), ("E_n", 1, 3)),
     "sqrt(1+2*epsilon**2*E_n*L**2/(m*(Z_1*Z_2*q**2)**2))",
     "3.99 Goldstein"),
    ("bonus.7", "H_G", (("G", 1, 3), ("rho", 1, 3), ("alpha", 1, 2), ("c", 1, 2), ("d", 1, 3)),
     "sqrt(8*pi*G*rho/3-alpha*c**2/d**2)",
     "Friedman Equation"),
    ("bonus.8", "K", (("E_n", 1, 3), ("m", 1, 3), ("c", 1, 3), ("theta", 1, 3)),
     "E_n/(1+E_n/(m*c**2)*(1-cos(theta)))",
     "Compton Scattering"),
    ("bonus.9", "Pwr", (("G", 1, 2), ("c", 1, 2), ("m1", 1, 5), ("m2", 1, 5), ("r", 1, 2)),
     "-32/5*G**4/c**5*(m1*m2)**2*(m1+m2)/r**5",
     "Gravitational wave radiated power"),
    ("bonus.10", "theta1", (("c", 4, 6), ("v", 1, 3), ("theta2", 1, 3)),
     "acos((cos(theta2)-v/c)/(1-v/c*cos(theta2)))",
     "Relativistic aberration"),
    ("bonus.11", "I", (("I_0", 1, 3), ("alpha", 1, 3), ("delta", 1, 3), ("n", 1, 2)),
     "I_0*(sin(alpha/2)*sin(n*delta/2)/(alpha/2*sin(delta/2)))**2",
     "N-slit diffraction"),
    # the CSV's '# variables' column says 4
    ("bonus.12", "F", (("q", 1, 5), ("y", 1, 3), ("Volt", 1, 5), ("d", 4, 6), ("epsilon", 1, 5)),
     "q/(4*pi*epsilon*y**2)*(4*pi*epsilon*Volt*d-q*d*y**3/(y**2-d**2)**2)",
     "2.11 Jackson"),
    # the CSV's '# variables' column says 4
    ("bonus.13", "Volt", (("q", 1, 5), ("r", 1, 3), ("d", 4, 6), ("alpha", 0, 6),
      ("epsilon", 1, 5)),
     "1/(4*pi*epsilon)*q/sqrt(r**2+d**2-2*r*d*cos(alpha))",
     "3.45 Jackson"),
    ("bonus.14", "Volt", (("Ef", 1, 5), ("theta", 0, 6), ("r", 1, 5), ("d", 1, 5), ("alpha", 1, 5)),
     "Ef*cos(theta)*(-r+d**3/r**2*(alpha-1)/(alpha+2))",
     "4.60' Jackson"),
    ("bonus.15", "omega_0", (("c", 5, 20), ("v", 1, 3), ("omega", 1, 5), ("theta", 0, 6)),
     "sqrt(1-v**2/c**2)*omega/(1+v/c*cos(theta))",
     "11.38 Jackson"),
    ("bonus.16", "E_n", (("m", 1, 5), ("c", 1, 5), ("p", 1, 5), ("q", 1, 5), ("A_vec", 1, 5),
      ("Volt", 1, 5)),
     "sqrt((p-q*A_vec)**2*c**2+m**2*c**4)+q*Volt",
     "8.56 Goldstein"),
    ("bonus.17", "E_n", (("m", 1, 5), ("omega", 1, 5), ("p", 1, 5), ("y", 1, 5), ("x", 1, 5),
      ("alpha", 1, 5)),
     "1/(2*m)*(p**2+m**2*omega**2*x**2*(1+alpha*x/y))",
     "12.80' Goldstein"),
    # the CSV's '# variables' column says 4
    ("bonus.18", "rho_0", (("G", 1, 5), ("k_f", 1, 5), ("r", 1, 5), ("H_G", 1, 5), ("c", 1, 5)),
     "3/(8*pi*G)*(c**2*k_f/r**2+H_G**2)",
     "15.2.1 Weinberg"),
    # the CSV's '# variables' column says 5
    ("bonus.19", "pr", (("G", 1, 5), ("k_f", 1, 5), ("r", 1, 5), ("H_G", 1, 5), ("alpha", 1, 5),
      ("c", 1, 5)),
     "-1/(8*pi*G)*(c**4*k_f/r**2+H_G**2*c**2*(1-2*alpha))",
     "15.2.2 Weinberg"),
    ("bonus.20", "A", (("omega", 1, 5), ("omega_0", 1, 5), ("alpha", 1, 5), ("h", 1, 5),
      ("m", 1, 5), ("c", 1, 5), ("beta", 0, 6)),
     "1/(4*pi)*alpha**2*h**2/(m**2*c**2)*(omega_0/omega)**2"
     "*(omega_0/omega+omega/omega_0-sin(beta)**2)",
     "Klein-Nishina (13.132 Schwarz)"),
)


def _build() -> dict[str, CatalogEquation]:
    table: dict[str, CatalogEquation] = {}
    for name, output, columns, formula, *title in _MAIN_ROWS + _BONUS_ROWS:
        table[name] = CatalogEquation(
            name=name, output=output, variables=tuple(c[0] for c in columns),
            ranges=tuple((float(c[1]), float(c[2])) for c in columns), formula=formula,
            title=title[0] if title else "")
    return table


#: Every equation of the collection by name: the 100 of ``FeynmanEquations.csv`` then the
#: 20 of ``BonusEquations.csv`` (``"bonus.1"`` ... ``"bonus.20"``), in the CSVs' order.
FEYNMAN_NO_UNITS: dict[str, CatalogEquation] = _build()


def feynman_no_units_dataset(name: str, **options: Any) -> Dataset:
    """Sample one equation of :data:`FEYNMAN_NO_UNITS` uniformly on its ranges.

    Args:
        name: the equation, e.g. ``"I.6.2"`` or ``"bonus.7"``.
        options: :func:`~kanlab.data.make_dataset`'s ``n_train``, ``n_test``, ``seed`` (of
            the local generator: the same points in every dtype), ``dtype``, ``device``.

    Returns:
        A :class:`~kanlab.data.Dataset` with inputs ``(N, n_var)`` in the order of
        ``FEYNMAN_NO_UNITS[name].variables`` and labels ``(N, 1)``, computed in float64 and
        then cast to ``dtype``.

    Raises:
        InputError: an unknown name (the message suggests close ones and lists the known).
    """
    eq = lookup("Feynman_no_units equation", name, FEYNMAN_NO_UNITS)
    return make_dataset(eq.fn, eq.n_var, ranges=eq.ranges, **options)
