"""Experiment scripts run on a tiny budget, so that they do not rot."""

import importlib.util
from pathlib import Path

import torch

EXPERIMENTS = Path(__file__).resolve().parents[1] / "experiments"


def _load(name):
    spec = importlib.util.spec_from_file_location(name, EXPERIMENTS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_continual_learning_kan_leaves_earlier_regions_alone():
    cl = _load("continual_learning")
    results, grid = cl.run(steps=2, n=30, seed=0)
    kan = results["KAN [1, 1], G=200"]
    assert len(kan["own"]) == len(kan["final"]) == 5 and grid.shape == (801,)
    # splines are local and only the coefficients train: later phases cannot move the
    # prediction more than a cubic's support (4 intervals of 0.01) left of their data
    for k in range(4):
        boundary = -1.0 + 0.4 * (k + 1)  # where phase k + 1's data starts
        far = grid < boundary - 0.04
        torch.testing.assert_close(kan["curves"][4][far], kan["curves"][k][far], rtol=0, atol=0)
    mlp = results["MLP [1, 64, 64, 1]"]
    assert not torch.equal(mlp["curves"][4][grid < -0.64], mlp["curves"][0][grid < -0.64])


def test_pde_poisson_runs_and_reports_finite_errors():
    pde = _load("pde_poisson")
    results = pde.run(steps=1, n_interior=60, n_boundary=20, widths=(4,), seed=0)
    assert set(results) == {"KAN [2, 10, 1], G=5", "MLP [2, 4, 4, 1]"}
    for r in results.values():
        (l2, h1), = r["curve"]
        assert 0 < l2 < h1 < 100 and r["params"] > 0
