"""What the §4.4 mobility-edge experiments share: the spectra as standardised datasets, KAN
classifiers trained with cross-entropy, formulas in the raw variables and their accuracy,
crossing out a formula's small terms (the command line and the report are
``script_frame``'s).

A classifier's output is a logit: ``> 0`` means localized, so a formula ``g`` of the inputs is
a mobility edge ``g = 0`` and is scored by the accuracy of ``g > 0`` against the labels
(``D < 1/2``) of held-out Hamiltonians. The KAN trains on standardised inputs (raw energies and
parameters stall it); its formula is written back in the raw variables.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

import kanlab
from kanlab.data import Dataset
from kanlab.data.localization import Spectra

NAMES = {"E": "E", "alpha": "alpha", "lambda": "lam", "phi": "phi", "p": "p"}  # sympy names


@dataclass
class Standardized:
    """A split of spectra with standardised inputs: ``data`` (standardised), ``raw`` (the
    same rows unscaled), the columns' ``mean`` and ``std`` and sympy ``names``."""

    data: Dataset
    raw: Dataset
    mean: torch.Tensor
    std: torch.Tensor
    names: list[str]


def standardized(spectra: Spectra, columns: tuple[str, ...] | None = None,
                 seed: int = 0) -> Standardized:
    """The split by Hamiltonian of :meth:`Spectra.dataset`, standardised by the training
    rows."""
    columns = columns or spectra.columns
    raw = spectra.dataset(test_fraction=0.2, seed=seed, columns=columns)
    mean, std = raw.train_input.mean(0), raw.train_input.std(0)
    data = Dataset((raw.train_input - mean) / std, raw.train_label,
                   (raw.test_input - mean) / std, raw.test_label)
    return Standardized(data, raw, mean, std, [NAMES[c] for c in columns])


@dataclass
class SpectraBudget:
    """The budget of a GAAM or MAAM run: chain lengths (the last one is the main one),
    Hamiltonians for each, eigenstates kept of each, LBFGS steps of a classifier, sparsity,
    steps on the snapped edges' affine parameters."""

    sizes: tuple[int, ...] = (100, 200, 400)
    hamiltonians: int = 1500
    states: int = 20
    steps: int = 100
    lamb: float = 1e-3
    polish: int = 50


#: a sparse KAN's widths for the auto formulas: two sum nodes and a multiplication node
AUTO_WIDTHS = [4, [2, 1], 1]


def theory_accuracy(s: Standardized, order: Callable[..., np.ndarray]) -> float:
    """Test accuracy (%) of ``order(*first three raw columns) > 0``: a closed-form edge."""
    g = order(*s.raw.test_input[:, :3].T.numpy())
    return float(((g > 0) == (s.raw.test_label[:, 0].numpy() > 0.5)).mean()) * 100


def logistic_loss(logit: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
    return F.binary_cross_entropy_with_logits(logit, label)


def accuracy(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """Test accuracy (%) of ``model(x) > 0`` against labels ``y`` ``(N, 1)``."""
    with torch.no_grad():
        return float(((model(x) > 0).to(y.dtype) == y).double().mean()) * 100


def train(widths: list, s: Standardized, steps: int, *, lamb: float = 0.0, seed: int = 0,
          grid_size: int = 5) -> kanlab.KAN:
    model = kanlab.KAN(widths, grid_size=grid_size, spline_order=3, seed=seed,
                       dtype=torch.float64)
    kanlab.fit(model, s.data, steps=steps, loss_fn=logistic_loss, lamb=lamb, progress=False,
               log_every=steps, seed=seed)
    return model


def raw_formula(model: kanlab.KAN, s: Standardized):
    """The model's formula (all edges symbolic) in the raw variables, expanded."""
    import sympy

    symbols = sympy.symbols(s.names)
    scaled = sympy.symbols([f"{n}_z" for n in s.names])
    (formula,) = model.symbolic_formula(scaled)
    back = {z: (x - float(m)) / float(d) for z, x, m, d in zip(scaled, symbols, s.mean, s.std)}
    return sympy.expand(formula.xreplace(back))


def formula_accuracy(formula, names: list[str], x: torch.Tensor, y: torch.Tensor) -> float:
    """Accuracy (%) of ``formula > 0`` on raw inputs ``x`` ``(N, len(names))``."""
    import sympy

    f = sympy.lambdify(sympy.symbols(names), formula, "numpy")
    g = np.broadcast_to(np.asarray(f(*x.T.numpy()), dtype=float), (len(x),))
    return float(((g > 0) == (y[:, 0].numpy() > 0.5)).mean()) * 100


def term_sizes(formula, names: list[str], x: torch.Tensor) -> list[tuple[object, float]]:
    """Each term of the expanded ``formula`` with its size on the rows ``x``: the RMS of the
    term over them; largest first."""
    import sympy

    symbols = sympy.symbols(names)
    sizes = []
    for term in sympy.Add.make_args(sympy.expand(formula)):
        value = sympy.lambdify(symbols, term, "numpy")(*x.T.numpy())
        sizes.append((term, float(np.sqrt(np.mean(np.square(np.broadcast_to(value, (len(x),))
                                                              ))))))
    return sorted(sizes, key=lambda t: -t[1])


def cross_out(formula, names: list[str], x: torch.Tensor, keep: float = 0.1):
    """``formula`` without the terms smaller than ``keep`` times its largest (RMS over
    ``x``): what Alice crosses out. The constant stays."""
    import sympy

    sizes = term_sizes(formula, names, x)
    largest = sizes[0][1]
    return sympy.Add(*[t for t, size in sizes if size >= keep * largest or t.is_number])


def normalized(formula, term) -> object:
    """``formula`` divided by the coefficient of ``term`` (so that term's is 1)."""
    import sympy

    coefficient = sympy.expand(formula).coeff(term)
    return sympy.expand(formula / coefficient)


def snapped(formula, digits: int = 0):
    """Every number of ``formula`` rounded to ``digits`` decimals (0: integers)."""
    import sympy

    return formula.xreplace({n: sympy.Integer(round(float(n))) if digits == 0 else
                             sympy.Float(round(float(n), digits), 3)
                             for n in formula.atoms(sympy.Number)})


def short(formula, digits: int = 3) -> str:
    """The formula with ``digits`` significant digits, one line."""
    import sympy

    text = str(formula.xreplace({n: sympy.Float(float(n), digits)
                                 for n in formula.atoms(sympy.Float)}))
    return text.replace("lam", "λ").replace("alpha", "α").replace("phi", "φ")
