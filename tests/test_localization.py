"""The §4.4 chains: Hamiltonians, fractal dimensions, the closed-form mobility edges."""

import math

import numpy as np
import pytest
import torch

from kanlab.data import localization as L
from kanlab.errors import InputError

TWO_PI = (0.0, 2 * math.pi)


def test_gaam_at_alpha_zero_is_the_aubry_andre_chain():
    h = L.gaam_hamiltonian(20, 0.0, 0.7, 0.3)
    theta = 2 * math.pi * L.GOLDEN * np.arange(20) + 0.3
    np.testing.assert_allclose(np.diag(h), 1.4 * np.cos(theta))
    np.testing.assert_array_equal(np.diag(h, 1), np.ones(19))
    np.testing.assert_array_equal(h, h.T)
    assert np.count_nonzero(np.triu(h, 2)) == 0


def test_gaam_potential_has_its_pole_factor():
    alpha, lam, phi = -0.6, 0.8, 1.1
    c = np.cos(2 * math.pi * L.GOLDEN * np.arange(10) + phi)
    np.testing.assert_allclose(np.diag(L.gaam_hamiltonian(10, alpha, lam, phi)),
                               2 * lam * c / (1 - alpha * c))


def test_mosaic_potential_sits_on_every_kappa_th_site():
    h = L.mosaic_hamiltonian(12, 2.0, 0.5, kappa=3)
    diag = np.diag(h)
    assert np.all(diag[np.arange(12) % 3 != 0] == 0)
    theta = 2 * math.pi * L.GOLDEN * np.arange(0, 12, 3) + 0.5
    np.testing.assert_allclose(diag[::3], 2.0 * np.cos(theta))


def test_maam_hopping_decays_from_one_between_neighbours():
    h = L.maam_hamiltonian(9, 1.0, 0.7, 0.0)
    for d in range(1, 9):
        np.testing.assert_allclose(np.diag(h, d), math.exp(-0.7 * (d - 1)))
    np.testing.assert_array_equal(h, h.T)


def test_fractal_dimension_of_extended_and_localized_states():
    n = 64
    uniform = np.full((n, 1), 1 / math.sqrt(n))
    delta = np.zeros((n, 1))
    delta[5] = -3.0  # normalisation does not matter
    pair = np.zeros((n, 1))
    pair[[0, 9]] = 1.0
    d = L.fractal_dimension(np.hstack([uniform, delta, pair]))
    np.testing.assert_allclose(d, [1.0, 0.0, math.log(2) / math.log(n)], atol=1e-12)


def test_chebyshev_a_is_sin_ratio_in_the_band():
    k = np.linspace(0.1, 3.0, 7)
    for kappa in (1, 2, 3, 5):
        np.testing.assert_allclose(L.chebyshev_a(kappa, 2 * np.cos(k)),
                                   np.sin(kappa * k) / np.sin(k), atol=1e-12)
    np.testing.assert_allclose(L.mosaic_edge(np.array([0.5, -4.0])), [4.0, 0.5])


def test_aubry_andre_transition_at_lambda_one():
    """α = 0: the states are extended for λ < 1 and localized for λ > 1 (self-duality). The
    open chain's ends hold a few states in the gaps of the extended phase (4 of 233 here)."""
    _, low = L.spectrum(L.gaam_hamiltonian(233, 0.0, 0.6, 0.2))
    _, high = L.spectrum(L.gaam_hamiltonian(233, 0.0, 1.5, 0.2))
    assert np.median(low) > 0.8 and (low < 0.5).sum() <= 5 and high.max() < 0.4


@pytest.mark.parametrize("model, ranges, order", [
    ("gaam", {"alpha": (-0.8, 0.8), "lambda": (0.5, 1.5), "phi": TWO_PI},
     lambda s: L.gaam_order(s.column("E"), s.column("alpha"), s.column("lambda"))),
    ("maam", {"lambda": (0.5, 3.0), "p": (0.5, 2.0), "phi": TWO_PI},
     lambda s: L.maam_order(s.column("E"), s.column("lambda"), s.column("p"))),
    ("mosaic", {"lambda": (0.0, 5.0), "phi": TWO_PI},
     lambda s: L.mosaic_order(s.column("E"), s.column("lambda"))),
])
def test_closed_form_edges_label_the_states(model, ranges, order):
    """Each model's order parameter agrees with the ``D < 1/2`` label on almost every state
    (finite-size states near the edge are the exceptions), and both phases occur."""
    s = L.sample_spectra(model, 12, 120, ranges, seed=1)
    assert s.x.shape == (12 * 120, len(s.columns)) and s.columns == ("E", *L.MODELS[model])
    assert 0.2 < s.localized.mean() < 0.8
    assert ((order(s) > 0) == s.localized).mean() > 0.95


def test_dataset_splits_by_hamiltonian_and_is_seeded():
    ranges = {"alpha": (-0.5, 0.5), "lambda": (0.5, 1.5), "phi": TWO_PI}
    s = L.sample_spectra("gaam", 10, 16, ranges, seed=3)
    again = L.sample_spectra("gaam", 10, 16, ranges, seed=3)
    np.testing.assert_array_equal(s.x, again.x)
    data = s.dataset(test_fraction=0.2, seed=0)
    assert len(data.test_input) == 2 * 16 and len(data.train_input) == 8 * 16
    train_params = {tuple(r) for r in data.train_input[:, 1:].tolist()}
    assert not train_params & {tuple(r) for r in data.test_input[:, 1:].tolist()}
    assert set(data.train_label.flatten().tolist()) <= {0.0, 1.0}
    fewer = L.sample_spectra("gaam", 10, 16, ranges, seed=3, states=5)
    assert fewer.x.shape == (50, 4) and np.bincount(fewer.hamiltonian).tolist() == [5] * 10
    np.testing.assert_array_equal(np.unique(fewer.x[:, 1:], axis=0), np.unique(s.x[:, 1:], axis=0))
    assert set(fewer.x[:, 0]) <= set(s.x[:, 0])  # a subset of each spectrum
    two = s.dataset(columns=("E", "lambda"))
    assert two.train_input.shape[1] == 2 and two.train_input.dtype == torch.float64


@pytest.mark.parametrize("call, match", [
    (lambda: L.gaam_hamiltonian(16, 1.0, 1.0, 0.0), "alpha must be .* in \\(-1.0, 1.0\\)"),
    (lambda: L.gaam_hamiltonian(16, -1.2, 1.0, 0.0), "alpha"),
    (lambda: L.gaam_hamiltonian(7, 0.0, 1.0, 0.0), "n_sites must be an integer of at least 8"),
    (lambda: L.maam_hamiltonian(16, 1.0, 0.0, 0.0), "p must be"),
    (lambda: L.mosaic_hamiltonian(16, -1.0, 0.0), "lambda must be"),
    (lambda: L.mosaic_hamiltonian(16, 1.0, 0.0, kappa=0), "kappa"),
    (lambda: L.gaam_hamiltonian(16, "x", 1.0, 0.0), "alpha must be a real number"),
    (lambda: L.hamiltonian("anderson", 16, {}), "unknown model 'anderson'"),
    (lambda: L.hamiltonian("gaam", 16, {"lambda": 1.0}), "missing \\['alpha', 'phi'\\]"),
    (lambda: L.sample_spectra("gaam", 2, 16, {"lambda": (0, 1)}), "a range for each"),
    (lambda: L.sample_spectra("gaam", 2, 16, {"alpha": (0, .5), "lambda": (0, 1), "phi": TWO_PI},
                              states=0), "states must be"),
    (lambda: L.sample_spectra("gaam", 0, 16, {"alpha": (0, .5), "lambda": (0, 1),
                                               "phi": TWO_PI}), "n_hamiltonians"),
])
def test_bad_parameters_are_named(call, match):
    with pytest.raises(InputError, match=match):
        call()
