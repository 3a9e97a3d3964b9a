"""Models saved by kanlab before the package restructure still load and give the same outputs."""

import json
from pathlib import Path

import pytest
import torch

import kanlab

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "saved_v1"
EXPECTED = torch.load(FIXTURES / "expected.pt", weights_only=True)


@pytest.mark.parametrize("name", sorted(EXPECTED["outputs"]))
def test_model_saved_before_the_restructure_loads_with_the_same_outputs(name):
    model = kanlab.KAN.load(FIXTURES / name).eval()
    with torch.no_grad():
        out = model(EXPECTED["x"])
    torch.testing.assert_close(out, EXPECTED["outputs"][name], rtol=0, atol=1e-12)


def test_csv_run_saved_before_the_restructure_predicts_the_same(tmp_path):
    from kanlab.apps.cli import main

    out = tmp_path / "pred.csv"
    main(["predict", str(FIXTURES / "csv_run"), str(FIXTURES / "csv_run_new.csv"),
          "--out", str(out)])
    old = (FIXTURES / "csv_run_predictions.csv").read_text().splitlines()
    new = out.read_text().splitlines()
    assert new[0] == old[0]
    assert len(new) == len(old) == 11
    for a, b in zip(new[1:], old[1:]):
        assert float(a) == pytest.approx(float(b), rel=1e-12, abs=1e-12)


def test_density_strategy_saved_before_floors_loads_as_the_raw_rule_it_was():
    model = kanlab.KAN.load(FIXTURES / "tails_curvature")
    strategy = model.grid_strategy
    assert (strategy.density, strategy.power, strategy.floor, strategy.guard,
            strategy.fallback) == ("curvature", 1.0, 0.0, None, "keep")


def test_density_strategy_saved_before_fallbacks_keeps_its_knots_when_undone(tmp_path):
    model = kanlab.KAN([1, 2, 1], grid="curvature", seed=0)
    path = model.save(tmp_path / "m")
    config = json.loads((path / "config.json").read_text())
    assert config["config"]["grid"]["fallback"] == "auto"  # today's default is saved
    del config["config"]["grid"]["fallback"]
    (path / "config.json").write_text(json.dumps(config))
    strategy = kanlab.KAN.load(path).grid_strategy
    assert (strategy.floor, strategy.guard, strategy.fallback) == (0.1, 0.5, "keep")
