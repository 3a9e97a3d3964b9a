"""The knot table of the KAN paper's §4.3: the generator (experiments/knot_data.py, with SnapPy
from the optional ``knots`` extra) on named knots and on an interrupted run, and the loader
(kanlab.data.knots) on the committed sample and on broken folders."""

import importlib.util
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from kanlab.data.knots import GEODESIC, NUMERIC, SYMMETRY_GROUPS, load_knots
from kanlab.errors import InputError

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "tests" / "fixtures" / "knots"  # 48 knots, made by experiments/knot_data.py


def _generator():
    """experiments/knot_data.py, which needs SnapPy (the optional 'knots' extra, which make
    test installs): its tests skip without it, the loader's do not."""
    pytest.importorskip("snappy")
    path = ROOT / "experiments" / "knot_data.py"
    spec = importlib.util.spec_from_file_location("knot_data", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["knot_data"] = module
    spec.loader.exec_module(module)
    return module


def test_the_sample_loads_with_even_signatures_that_follow_the_slope():
    table = load_knots(SAMPLE)
    assert len(table) == table.manifest["knots"] == 48 and table.failed == 0
    assert (table.signature % 2 == 0).all()
    mu = table.numeric["meridional_translation_real"] + 1j * table.numeric[
        "meridional_translation_imag"]
    slope = (table.numeric["longitudinal_translation"] / mu).real
    # Davies et al.'s relation, and the table's sign convention: signature ~ slope / 2
    assert np.corrcoef(slope, table.signature)[0, 1] > 0.9
    assert np.abs(table.signature - slope / 2).mean() < 1.5
    assert (table.numeric["volume"] > 2.0).all()  # the figure-eight's 2.0298 is the least


def test_features_labels_and_split():
    table = load_knots(SAMPLE)
    x = table.features()
    assert x.shape == (48, len(NUMERIC) + len(SYMMETRY_GROUPS)) and x.dtype == torch.float64
    assert table.feature_names()[:len(NUMERIC)] == list(NUMERIC)
    onehot = x[:, len(NUMERIC):]
    assert set(onehot.unique().tolist()) <= {0.0, 1.0} and (onehot.sum(1) <= 1).all()
    torch.testing.assert_close(x[:, 0], torch.as_tensor(table.numeric["volume"]))
    labels = table.labels()
    assert torch.equal(torch.as_tensor(table.classes()[labels.numpy()]),
                       torch.as_tensor(table.signature))
    data = table.dataset(("meridional_translation_real",), symmetry=False, test_fraction=0.25,
                         seed=3)
    assert data.train_input.shape == (36, 1) and data.test_input.shape == (12, 1)
    assert data.train_label.dtype == torch.long
    together = torch.cat([data.train_input, data.test_input]).flatten().sort().values
    assert torch.equal(together, torch.as_tensor(table.numeric[
        "meridional_translation_real"]).sort().values)  # a split: every knot once
    with pytest.raises(InputError, match="no knot invariant"):
        table.features(("volume", "torsion"))


def _copy(tmp_path: Path) -> Path:
    folder = tmp_path / "knots"
    shutil.copytree(SAMPLE, folder)
    return folder


def test_a_missing_or_corrupt_folder_names_make_knot_data(tmp_path):
    with pytest.raises(InputError, match="make knot-data"):
        load_knots(tmp_path / "nowhere")
    folder = _copy(tmp_path)
    lines = (folder / "knots.csv").read_text().splitlines()
    (folder / "knots.csv").write_text("\n".join(lines[:30]) + "\n")  # cut short
    with pytest.raises(InputError, match="29 rows, its manifest says 48.*make knot-data"):
        load_knots(folder)
    (folder / "knots.csv").write_text("\n".join(lines[:-1] + [lines[-1][:25]]) + "\n")
    with pytest.raises(InputError, match="make knot-data"):  # a row cut off mid-way
        load_knots(folder)
    rows = [line.split(",") for line in lines]
    rows[5][3] = "abc"  # a volume
    (folder / "knots.csv").write_text("\n".join(",".join(r) for r in rows) + "\n")
    with pytest.raises(InputError, match="not a number.*make knot-data"):
        load_knots(folder)
    (folder / "knots.csv").write_text("\n".join(lines) + "\n")
    (folder / "manifest.json").write_text("{not json")
    with pytest.raises(InputError, match="manifest.*make knot-data"):
        load_knots(folder)
    (folder / "manifest.json").unlink()
    with pytest.raises(InputError, match="manifest.json is missing.*make knot-data"):
        load_knots(folder)


def test_named_knots_have_their_published_invariants():
    gen = _generator()
    import snappy

    eight = gen.invariants(gen.census()["K4a1"])  # the figure-eight knot
    assert eight["volume"] == pytest.approx(2.029883212819307, abs=1e-9)
    assert eight["signature"] == 0 and eight["chern_simons"] == pytest.approx(0, abs=1e-9)
    # its maximal cusp: meridian 1, longitude 2*sqrt(3), cusp volume sqrt(3)
    assert abs(complex(eight["meridional_translation_real"], eight["meridional_translation_imag"])
               ) == pytest.approx(1.0, abs=1e-9)
    assert eight["longitudinal_translation"] == pytest.approx(2 * 3**0.5, abs=1e-9)
    assert eight["cusp_volume"] == pytest.approx(3**0.5, abs=1e-9)
    # the standard convention (the manifest's sign_convention): the positive trefoil, the
    # closure of the braid s1^3, has signature -2; the (2, 5) torus knot s1^5 has -4
    assert gen.signature(snappy.Link(braid_closure=[1, 1, 1])) == -2
    assert gen.signature(snappy.Link(braid_closure=[-1, -1, -1])) == 2
    assert gen.signature(snappy.Link(braid_closure=[1] * 5)) == -4
    assert gen.signature(snappy.Link("4_1")) == 0
    left = snappy.Link("3_1")  # Rolfsen's trefoil in SnapPy: negative crossings
    assert {c.sign for c in left.crossings} == {-1} and gen.signature(left) == 2
    assert gen.signature(left.mirror()) == -2  # a diagram spherogram redraws from its PD code


def test_torsion_degrees_are_four_genus_minus_two():
    # Dunfield-Friedl-Jackson (2012): the hyperbolic torsion polynomial has degree 4g - 2 for
    # every knot of at most 15 crossings; the figure-eight (genus 1), Kinoshita-Terasaka
    # K11n42 (genus 2, trivial Alexander polynomial) and its mutant the Conway knot K11n34
    # (genus 3): the torsion tells the mutants apart
    gen = _generator()
    knots = gen.census()
    assert [gen.torsion_degree(knots[name]) for name in ("K4a1", "K11n42", "K11n34")] == [
        2, 6, 10]
    # SnapPy's SL(2, C) lift of K15n9864's holonomy sends a relator to -I (signs flipped
    # here), and double precision cannot read its coefficients (mpmath does): 4g - 2 again
    assert gen.torsion_degree(knots["K15n9864"]) % 4 == 2


def test_the_sample_has_torsion_degrees_of_the_form_four_genus_minus_two():
    table = load_knots(SAMPLE)
    degrees = table.numeric["torsion_degree"]
    assert (degrees % 4 == 2).all() and degrees.min() >= 2


def test_an_interrupted_run_resumes(tmp_path):
    gen = _generator()
    out = tmp_path / "knots"
    said = []
    run = {"seed": 5, "workers": 1, "shard_size": 2, "geodesics_every": 3,
           "geodesic_seconds": 2.0, "say": said.append}
    gen.generate(out, 6, **run)
    first = (out / "knots.csv").read_text()
    statuses = [line.rsplit(",", 1)[1] for line in first.splitlines()[1:]]
    assert [s == "not attempted" for s in statuses] == [False, True, True] * 2
    assert json.loads((out / "manifest.json").read_text())["knots"] == 6
    kept = (out / "shards" / "00000.csv").stat().st_mtime_ns
    # an interruption: shard 1 never written, shard 2 cut short, no table yet
    (out / "shards" / "00001.csv").unlink()
    text = (out / "shards" / "00002.csv").read_text()
    (out / "shards" / "00002.csv").write_text(text[: len(text) // 2])
    (out / "knots.csv").unlink()
    said.clear()
    gen.generate(out, 6, **run)
    assert "4 already there, 2 to compute" in said[0]  # 3 shards of each pass
    assert (out / "knots.csv").read_text() == first
    assert (out / "shards" / "00000.csv").stat().st_mtime_ns == kept
    # a shard of an older table (a column fewer) is computed again, not reused
    lines = (out / "shards" / "00001.csv").read_text().splitlines()
    (out / "shards" / "00001.csv").write_text(
        "\n".join(",".join(line.split(",")[:-2] + line.split(",")[-1:]) for line in lines))
    said.clear()
    gen.generate(out, 6, **run)
    assert "5 already there, 1 to compute" in said[0]
    assert (out / "knots.csv").read_text() == first
    assert load_knots(out).names == [line.split(",")[0] for line in first.splitlines()[1:]]


def test_the_figure_eight_knot_has_its_published_short_geodesic():
    gen = _generator()
    eight = gen.geodesics(gen.census()["K4a1"])
    # its shortest closed geodesics: complex length 1.0870701449957 +- 1.7227684499 i (a
    # mirror pair: the knot is amphichiral; the table keeps the larger torsion)
    assert eight["short_geodesic_real"] == pytest.approx(1.0870701449957, abs=1e-9)
    assert eight["short_geodesic_imag"] == pytest.approx(1.7227684498701, abs=1e-9)
    # the in-radius is the injectivity radius at the domain's basepoint: a loop of length 2r
    # there, so the shortest geodesic is no longer
    assert 0.5 < eight["injectivity_radius"] and eight["short_geodesic_real"] <= 2 * eight[
        "injectivity_radius"]
    row = gen.geodesic_row(0, attempt=False, seconds=1.0)
    assert row["geodesic_status"] == "not attempted" and row["injectivity_radius"] == ""


def test_the_time_cap_kills_a_slow_computation_and_reports_a_failing_one():
    gen = _generator()
    import time

    assert gen.with_time_cap(lambda: {"x": 1.5}, 5.0) == ({"x": 1.5}, "ok")
    start = time.perf_counter()
    assert gen.with_time_cap(lambda: time.sleep(30), 0.3) == (None, "timed out")
    assert time.perf_counter() - start < 5
    assert gen.with_time_cap(lambda: 1 / 0, 5.0) == (None, "failed: ZeroDivisionError")


def test_the_samples_geodesics_obey_the_injectivity_bound():
    table = load_knots(SAMPLE)
    done = table.has_geodesics()
    statuses = table.manifest["geodesics"]["status"]
    assert done.sum() == statuses["ok"] >= 24 and sum(statuses.values()) == 48
    # the shortest geodesic is at most twice the injectivity radius at any point whose
    # shortest loop is not peripheral (the relation the paper's third group rediscovers)
    g, r = (table.numeric[c][done] for c in ("short_geodesic_real", "injectivity_radius"))
    assert (g <= 2 * r + 1e-9).all() and (g > 0.3).all()
    assert (np.abs(table.numeric["short_geodesic_imag"][done]) <= np.pi + 1e-9).all()
    with pytest.raises(InputError, match="computed for only .* table.subset"):
        table.features(GEODESIC)
    part = table.subset(done)
    assert len(part) == done.sum() and part.names == [n for n, k in zip(table.names, done) if k]
    x = part.features((*GEODESIC, "volume"), symmetry=False)
    assert x.shape == (done.sum(), 4) and torch.isfinite(x).all()
    torch.testing.assert_close(x[:, 3], torch.as_tensor(table.numeric["volume"][done]))


def test_a_table_without_geodesics_loads_and_broken_geodesics_are_named(tmp_path):
    folder = _copy(tmp_path)
    text = (folder / "knots.csv").read_text()
    lines = text.splitlines()
    header = lines[0].split(",")
    keep = [i for i, c in enumerate(header) if c not in (*GEODESIC, "geodesic_status")]
    (folder / "knots.csv").write_text(  # a table made before the geodesics (session 22)
        "\n".join(",".join(line.split(",")[i] for i in keep) for line in lines) + "\n")
    old = load_knots(folder)
    assert len(old) == 48 and not old.has_geodesics().any() and GEODESIC[0] not in old.numeric
    ok_row = next(i for i, line in enumerate(lines) if line.endswith(",ok") and i > 0)
    column = header.index("injectivity_radius")
    broken = lines[ok_row].split(",")
    broken[column] = "wide"
    lines[ok_row] = ",".join(broken)
    (folder / "knots.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError, match="geodesic columns are broken.*make knot-data"):
        load_knots(folder)
