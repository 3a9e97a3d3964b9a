"""Quasiperiodic tight-binding chains of the KAN paper's §4.4: Hamiltonians, spectra, labels.

Three one-dimensional models on ``N`` sites (open chain, hopping energy ``t = 1``), each with the
quasiperiodic phase ``2π b n + φ`` of site ``n`` and ``b`` the golden ratio:

- the **mosaic model** (MM, Wang et al. 2020, the paper's eq. 4.4–4.5): nearest-neighbour
  hopping, on-site ``V_n = λ cos(2π b n + φ)`` on every ``κ``-th site and 0 elsewhere;
- the **generalized Aubry–André model** (GAAM, Ganeshan, Pixley & Das Sarma 2015, eq.
  4.6–4.7): nearest-neighbour hopping, ``V_n = 2λ cos(θ_n) / (1 − α cos(θ_n))``,
  ``α ∈ (−1, 1)``;
- the **modified Aubry–André model** (MAAM, Biddle & Das Sarma 2010, eq. 4.9–4.10): hopping
  ``t e^{−p|n−n'|}`` between every pair of sites, with the nearest-neighbour hopping
  ``t₁ = t e^{−p} = 1``, and ``V_n = λ cos(θ_n)``.

An eigenstate ``ψ`` is scored by its fractal dimension ``D = −log(IPR) / log N`` with
``IPR = Σ|ψ_n|⁴ / (Σ|ψ_n|²)²`` (eq. 4.2–4.3): near 0 for a localized state, near 1 for an
extended one; :func:`spectrum` labels a state localized when ``D < 1/2``. The chain is open,
so a few states (of order ``log N``) in the spectral gaps of an extended phase sit at its ends
and count as localized: a finite-size effect, like the states near the edge.

Each model's mobility edge in closed form is an *order parameter* ``g`` with ``g > 0`` on the
localized side (:func:`mosaic_order`, :func:`gaam_order`, :func:`maam_order`). For the mosaic
model it comes from the Lyapunov exponent of Wang et al. (the paper's ref. [47]): over one
period of ``κ`` sites the transfer matrix is ``T₀^{κ−1} T_V`` with the free matrix
``T₀ = [[E, −1], [1, 0]]``, whose powers hold ``a_m(E) = U_{m−1}(E/2)`` (Chebyshev polynomials
of the second kind: ``a_1 = 1, a_2 = E, a_{m+1} = E a_m − a_{m−1}``). Moving the phase into the
complex plane, ``φ → φ + iε``, the potential grows as ``(λ/2) e^{ε}`` and the product tends to
``(λ/2) e^{ε} a_κ(E)`` times a rank-one matrix, so by Avila's global theory (the exponent is
convex and piecewise linear in ``ε`` with quantised slopes) the Lyapunov exponent is
``γ(E) = max(0, log|λ a_κ(E) / 2|) / κ``. States are localized where ``γ > 0``: the edge is
``λ = 2 / |a_κ(E)|`` (for ``κ = 2``: ``λ = 2 / |E|``), and
``g = λ − 2/|a_κ(E)|``. (Wang et al. write ``2λ cos``; the paper's ``λ cos`` halves it.)

Imports: numpy, torch, :mod:`kanlab.errors`, :mod:`kanlab._validation`,
:mod:`kanlab.data.dataset`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from kanlab._validation import check_positive_int
from kanlab.data.dataset import Dataset
from kanlab.errors import InputError

__all__ = [
    "GOLDEN",
    "MIN_SITES",
    "MODELS",
    "Spectra",
    "chebyshev_a",
    "fractal_dimension",
    "gaam_hamiltonian",
    "gaam_order",
    "hamiltonian",
    "maam_hamiltonian",
    "maam_order",
    "mosaic_edge",
    "mosaic_hamiltonian",
    "mosaic_order",
    "sample_spectra",
    "spectrum",
]

#: the golden ratio, the paper's irrational ``b``
GOLDEN = (1 + math.sqrt(5)) / 2
#: the smallest chain :func:`hamiltonian` builds: below it "localized" means nothing
MIN_SITES = 8
#: each model's parameters besides the energy, in the order of the dataset's columns
MODELS = {"mosaic": ("lambda", "phi"), "gaam": ("alpha", "lambda", "phi"),
          "maam": ("lambda", "p", "phi")}


def _phases(n: int, phi: float) -> np.ndarray:
    return 2 * math.pi * GOLDEN * np.arange(n) + phi


def _check_sites(n: object) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < MIN_SITES:
        raise InputError(f"n_sites must be an integer of at least {MIN_SITES}; got {n!r}")
    return int(n)


def _check_real(name: str, value: object, low: float = -math.inf, high: float = math.inf,
                open_interval: bool = False) -> float:
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a real number; got {value!r}") from None
    inside = (low < x < high) if open_interval else (low <= x <= high)
    if not math.isfinite(x) or not inside:
        bounds = f"({low}, {high})" if open_interval else f"[{low}, {high}]"
        raise InputError(f"{name} must be a finite number in {bounds}; got {value!r}")
    return x


def _chain(n: int, onsite: np.ndarray) -> np.ndarray:
    """``(n, n)``: hopping 1 between neighbours, ``onsite`` on the diagonal."""
    h = np.diag(onsite.astype(np.float64))
    i = np.arange(n - 1)
    h[i, i + 1] = h[i + 1, i] = 1.0
    return h


def mosaic_hamiltonian(n_sites: int, lam: float, phi: float, kappa: int = 2) -> np.ndarray:
    """The mosaic model's ``(N, N)`` Hamiltonian: ``λ cos(2π b n + φ)`` on sites ``n ≡ 0
    (mod κ)``, nearest-neighbour hopping 1."""
    n = _check_sites(n_sites)
    lam = _check_real("lambda", lam, 0.0)
    check_positive_int("kappa", kappa)
    onsite = lam * np.cos(_phases(n, _check_real("phi", phi)))
    onsite[np.arange(n) % kappa != 0] = 0.0
    return _chain(n, onsite)


def gaam_hamiltonian(n_sites: int, alpha: float, lam: float, phi: float) -> np.ndarray:
    """The generalized Aubry–André model's ``(N, N)`` Hamiltonian (``α ∈ (−1, 1)``)."""
    n = _check_sites(n_sites)
    alpha = _check_real("alpha", alpha, -1.0, 1.0, open_interval=True)
    lam = _check_real("lambda", lam, 0.0)
    c = np.cos(_phases(n, _check_real("phi", phi)))
    return _chain(n, 2 * lam * c / (1 - alpha * c))


def maam_hamiltonian(n_sites: int, lam: float, p: float, phi: float) -> np.ndarray:
    """The modified Aubry–André model's ``(N, N)`` Hamiltonian: hopping
    ``e^{p} e^{−p|n−n'|}`` (1 between neighbours), ``V_n = λ cos(2π b n + φ)``; ``p > 0``."""
    n = _check_sites(n_sites)
    lam = _check_real("lambda", lam, 0.0)
    p = _check_real("p", p, 0.0, math.inf, open_interval=True)
    distance = np.abs(np.subtract.outer(np.arange(n), np.arange(n)))
    h = np.exp(-p * (distance - 1.0))
    np.fill_diagonal(h, lam * np.cos(_phases(n, _check_real("phi", phi))))
    return h


def hamiltonian(model: str, n_sites: int, params: dict[str, float], **options) -> np.ndarray:
    """The Hamiltonian of ``model`` (a key of :data:`MODELS`) with ``params`` by name
    (``lambda``, ``phi``, and ``alpha`` or ``p``)."""
    if model not in MODELS:
        raise InputError(f"unknown model {model!r}; expected one of {sorted(MODELS)}")
    missing = set(MODELS[model]) - set(params)
    if missing:
        raise InputError(f"{model} needs parameters {MODELS[model]}; missing {sorted(missing)}")
    if model == "mosaic":
        return mosaic_hamiltonian(n_sites, params["lambda"], params["phi"], **options)
    if model == "gaam":
        return gaam_hamiltonian(n_sites, params["alpha"], params["lambda"], params["phi"])
    return maam_hamiltonian(n_sites, params["lambda"], params["p"], params["phi"])


def fractal_dimension(states: np.ndarray) -> np.ndarray:
    """``D = −log(IPR) / log N`` of each column of ``states`` ``(N, M)``; ``(M,)``."""
    states = np.asarray(states)
    if states.ndim != 2 or states.shape[0] < 2:
        raise InputError(f"states must be (N sites ≥ 2, M states); got shape {states.shape}")
    weight = np.abs(states) ** 2
    ipr = (weight**2).sum(0) / weight.sum(0) ** 2
    return -np.log(ipr) / math.log(states.shape[0])


def spectrum(h: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Energies ``(N,)`` ascending and the fractal dimension ``(N,)`` of each eigenstate of
    the symmetric ``h`` ``(N, N)``."""
    energies, states = np.linalg.eigh(h)
    return energies, fractal_dimension(states)


def chebyshev_a(kappa: int, energy: np.ndarray) -> np.ndarray:
    """``a_κ(E) = U_{κ−1}(E/2)``: ``a_1 = 1``, ``a_2 = E``, ``a_{m+1} = E a_m − a_{m−1}``."""
    energy = np.asarray(energy, dtype=np.float64)
    previous, current = np.zeros_like(energy), np.ones_like(energy)
    for _ in range(kappa - 1):
        previous, current = current, energy * current - previous
    return current


def mosaic_edge(energy: np.ndarray, kappa: int = 2) -> np.ndarray:
    """The mosaic model's mobility edge ``λ_c(E) = 2 / |a_κ(E)|`` (inf where ``a_κ = 0``)."""
    with np.errstate(divide="ignore"):
        return 2 / np.abs(chebyshev_a(kappa, energy))


def mosaic_order(energy, lam, kappa: int = 2):
    """``g = λ − 2/|a_κ(E)|``, positive on the localized side."""
    return np.asarray(lam) - mosaic_edge(energy, kappa)


def gaam_order(energy, alpha, lam):
    """``g = αE + 2(λ − 1)`` (eq. 4.8 with ``t = 1``), positive on the localized side."""
    return np.asarray(alpha) * np.asarray(energy) + 2 * (np.asarray(lam) - 1)


def maam_order(energy, lam, p):
    """``g = λ cosh p − E − e^{p}`` (eq. 4.11 with ``t₁ = 1``), positive on the localized
    side."""
    p = np.asarray(p)
    return np.asarray(lam) * np.cosh(p) - np.asarray(energy) - np.exp(p)


@dataclass(frozen=True)
class Spectra:
    """Every eigenstate of ``H`` sampled Hamiltonians, one row each.

    Attributes:
        model: the model's name.
        columns: the input columns: ``("E", *MODELS[model])``.
        x: ``(rows, len(columns))`` float64: the energy and the Hamiltonian's parameters.
        dimension: ``(rows,)`` the fractal dimension ``D``.
        hamiltonian: ``(rows,)`` int64, which sampled Hamiltonian each row came from.
        n_sites: the chain length ``N``.
    """

    model: str
    columns: tuple[str, ...]
    x: np.ndarray
    dimension: np.ndarray
    hamiltonian: np.ndarray
    n_sites: int

    @property
    def localized(self) -> np.ndarray:
        """``(rows,)`` bool: ``D < 1/2``."""
        return self.dimension < 0.5

    def column(self, name: str) -> np.ndarray:
        if name not in self.columns:
            raise InputError(f"no column {name!r}; the columns are {self.columns}")
        return self.x[:, self.columns.index(name)]

    def dataset(self, test_fraction: float = 0.2, seed: int = 0,
                columns: tuple[str, ...] | None = None) -> Dataset:
        """A train/test split *by Hamiltonian* (no test row shares a Hamiltonian with a
        training row): inputs ``columns`` (default all), labels ``(rows, 1)`` float64, 1 for
        localized."""
        if not 0 < test_fraction < 1:
            raise InputError(f"test_fraction must be in (0, 1); got {test_fraction!r}")
        n_h = int(self.hamiltonian.max()) + 1
        order = np.random.default_rng(seed).permutation(n_h)
        test = np.isin(self.hamiltonian, order[: max(1, round(test_fraction * n_h))])
        index = [self.columns.index(c) for c in (columns or self.columns)]
        x = torch.as_tensor(self.x[:, index])
        y = torch.as_tensor(self.localized, dtype=torch.float64)[:, None]
        train, held = torch.as_tensor(~test), torch.as_tensor(test)
        return Dataset(x[train], y[train], x[held], y[held])


def sample_spectra(model: str, n_hamiltonians: int, n_sites: int,
                   ranges: dict[str, tuple[float, float]], seed: int = 0,
                   states: int | None = None, **options) -> Spectra:
    """Diagonalise ``n_hamiltonians`` Hamiltonians of ``model`` with parameters drawn
    uniformly from ``ranges`` (``{name: (low, high)}`` for each of :data:`MODELS` [model])
    by a local generator seeded ``seed``; every eigenstate is a row, or ``states`` of each
    Hamiltonian's, drawn at random (large chains with fewer rows). ``options``: the model's
    (``kappa`` of the mosaic model)."""
    if model not in MODELS:
        raise InputError(f"unknown model {model!r}; expected one of {sorted(MODELS)}")
    names = MODELS[model]
    if set(ranges) != set(names):
        raise InputError(f"{model} needs a range for each of {names}; got {sorted(ranges)}")
    check_positive_int("n_hamiltonians", n_hamiltonians)
    if states is not None:
        check_positive_int("states", states)
    rng = np.random.default_rng(seed)
    picks = np.random.default_rng([seed, 1])  # its own stream: the same Hamiltonians either way
    rows, dims, which = [], [], []
    for i in range(n_hamiltonians):
        params = {name: float(rng.uniform(*ranges[name])) for name in names}
        energies, dimension = spectrum(hamiltonian(model, n_sites, params, **options))
        if states is not None and states < len(energies):
            pick = np.sort(picks.choice(len(energies), states, replace=False))
            energies, dimension = energies[pick], dimension[pick]
        block = np.empty((len(energies), 1 + len(names)))
        block[:, 0] = energies
        block[:, 1:] = [params[name] for name in names]
        rows.append(block)
        dims.append(dimension)
        which.append(np.full(len(energies), i))
    return Spectra(model, ("E", *names), np.concatenate(rows), np.concatenate(dims),
                   np.concatenate(which), n_sites)
