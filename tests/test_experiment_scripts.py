"""Experiment scripts run on a tiny budget, so that they do not rot."""

import importlib.util
import math
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

EXPERIMENTS = Path(__file__).resolve().parents[1] / "experiments"


def _load(name):
    spec = importlib.util.spec_from_file_location(name, EXPERIMENTS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up there
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


def test_scaling_toy_fits_an_exponent_for_kan_and_mlp():
    st = _load("scaling_toy")
    settings = {"grids": (3, 6), "steps_per_grid": 4, "mlp_depths": (2,), "mlp_widths": (3, 8),
                "mlp_steps": 4}
    points, kan_fit, mlp_fit = st.run("xy", settings, n_train=100)
    kan = [p for p in points if p.family == "kan"]
    assert [p.grid_size for p in kan] == [3, 6] and kan[0].n_params < kan[1].n_params
    assert sum(p.family == "mlp" for p in points) == 2
    for fit in (kan_fit, mlp_fit):
        assert fit is None or (math.isfinite(fit.alpha) and fit.n_points >= 2)


def test_paper_tables_report_compares_with_the_paper():
    pt = _load("paper_tables")
    settings = {"kan_hidden": ((2,),), "grids": (3,), "steps_per_grid": 3, "seeds": (0,),
                "mlp_depths": (2,), "mlp_width": 4, "mlp_steps": 3}
    result = pt.run("feynman", "II.38.3", settings, n_train=60)
    assert result["kan"].shape == "[2,2,1]" and result["mlp"].shape == "[2,4,1]"
    text = pt.report("feynman", {"II.38.3": result}, settings, 0.1, quick=True)
    ratio = result["kan"].test_rmse / pt.PAPER_FEYNMAN["II.38.3"][1]
    assert f"| {ratio:.2g} |" in text and "of 1**" in text
    assert set(pt.PAPER_FEYNMAN) == set(pt.FEYNMAN)  # every Table 3 row has the paper's numbers
    assert set(pt.PAPER_SPECIAL) == set(pt.SPECIAL_FUNCTIONS)


def test_reference_rerun_statistics():
    rr = _load("idf_reference_rerun")
    # the published runs give back the paper's mean reductions (25.3 %; 9.2 % on our 10)
    assert round(rr.mean_reduction(rr.paper_pairs("synthetic")), 1) == 25.3
    assert round(rr.mean_reduction(rr.paper_pairs("feynman")), 1) == 9.2
    halved = {f"f{i}": ([1.0, 1.1, 0.9], [0.5, 0.55, 0.45]) for i in range(6)}
    assert math.isclose(rr.mean_reduction(halved), 50.0)
    lo, hi = rr.bootstrap_interval(halved, draws=500)
    assert lo <= 50.0 <= hi
    assert rr.permutation_p(halved, draws=500) < 0.01
    same = {f"f{i}": ([1.0, 2.0, 3.0], [3.0, 2.0, 1.0]) for i in range(6)}
    assert rr.permutation_p(same, draws=500) > 0.3
    # a failed (NaN) run counts as the worst, not as missing
    assert rr._finite(float("nan")) == math.inf


def test_grid_rule_1d_runs_every_arm_and_summarises_both_families():
    gr = _load("grid_rule_1d")
    runs = [gr.train_run(name, arm, 0, grid_size=8, steps=20)
            for name in ("step_quad", "sin") for arm in gr.ARMS]
    assert all(math.isfinite(r.error) and r.error > 0 and r.adapt_s >= 0 for r in runs)
    text = gr.markdown(runs, ["step_quad", "sin"], list(gr.ARMS), 8, 20, [0], "1 s")
    assert "| sharp | median over the family of the medians |" in text
    assert "| smooth | worst ratio to input |" in text
    batched = gr.train_run("sin", "curvature", 0, grid_size=8, steps=20, batch_size=50,
                           grid_samples="batch")
    assert math.isfinite(batched.error)


def test_product_feynman_runs_the_loop_and_reads_the_formula():
    pf = _load("product_feynman")
    r = pf.discover("I.12.11", [2, [0, 1]], 1e-2, seed=0, steps=2)
    assert math.isfinite(r["rmse"]) and r["widths"][0] == 2 and r["seconds"] > 0


def test_knot_signature_runs_on_the_sample_and_reports_every_table():
    ks = _load("knot_signature")
    table = ks.load_knots(ks.SAMPLE)
    budget = ks.Budget(kan_steps=2, mlp_steps=2, mlp_batch=16, seeds=1, mlp_seeds=1,
                       curve=(1.0,))
    out = ks.run(table, budget, say=lambda line: None)
    assert [k["widths"][1] for k in out["kans"].values()] == [1, 4]
    assert all(k["params"] < 1000 for k in out["kans"].values())
    assert out["mlp"]["params"] > 2.5e5  # DeepMind's shape
    accs = [*out["kans"][1]["acc"], *out["mlp"]["acc"], *sum(out["alone"].values(), [])]
    assert all(0 <= a <= 100 for a in accs)
    for scores in (out["kan_scores"], out["mlp_scores"]):
        assert len(scores) == len(out["names"]) and abs(scores.sum() - 1) < 1e-12
    assert out["balance"].sum() == out["curve"][-1][0]  # every training row has a class
    assert out["human"] > 50  # slope / 2 follows the signature on the sample too
    text = ks.report(out, "cmd", 1.0)
    assert "| KAN on μ_r alone |" in text and "Learning curve" in text


def test_knot_symbolic_scores_the_human_formula_and_a_kan_formula():
    ks = _load("knot_symbolic")
    table = ks.load_knots(ks.SAMPLE)
    data, human = ks.regression_split(table)
    # the human formula's own row: r² with itself is 1, and slope/2 follows the signature
    acc, r2s, r2h = ks.scores(human / 2, data.test_label, human)
    assert r2h == pytest.approx(1.0) and r2s > 0.8 and 0 <= acc <= 100
    x = torch.tensor([[0.5, 1.0, 10.0]], dtype=torch.float64)
    assert float(ks.slope(x)) == pytest.approx(10 * 0.5 / 1.25)
    got = ks.symbolic_run(data, [3, 1], 0, ks.Budget(steps=2, polish=1, grids=(3,), seeds=1))
    assert got["finite"] and got["pred"].shape == (len(data.test_input),)
    assert {str(s) for s in got["formula"].free_symbols} <= set(ks.NAMES)


def test_knot_unsupervised_counts_the_groups_of_every_member():
    ku = _load("knot_unsupervised")
    table = ku.load_knots(ku.SAMPLE)
    x, names = ku.features(table)  # the knots with geodesics, and those columns
    with_geodesics = int(table.has_geodesics().sum())
    assert names[-1] == "signature" and x.shape == (with_geodesics, len(names))
    assert {"short_geodesic_real", "injectivity_radius", "volume"} <= set(names)
    torch.testing.assert_close(x.mean(0), torch.zeros(len(names), dtype=x.dtype))
    # dummy coding: the commonest symmetry group is the reference, without a column
    kept = sorted(n.removeprefix("symmetry_") for n in names if n.startswith("symmetry_"))
    geodesic_groups = table.symmetry_group[table.has_geodesics()]
    groups, counts = np.unique(geodesic_groups, return_counts=True)
    assert kept == sorted(g for g, c in zip(groups, counts) if c >= 10 and c < counts.max())
    budget = ku.Budget(seeds=2, knots=30, steps=2, sparsify_steps=1)
    out = ku.run(table, budget, say=lambda line: None)
    assert out["knots"] == 30 and len(out["members"]) == 4  # 2 seeds × 2 λ
    counted = sum(len(who) for _, who in out["groups"])
    assert counted <= 4 and all(0 <= e < 4 for _, who in out["groups"] for e in who)
    first = next(iter(ku.PAPER_GROUPS))
    for key, found in out["found"].items():  # a member counted for a group holds its features
        wanted = ([ku.PAPER_GROUPS[key]] if key in ku.PAPER_GROUPS
                  else [ku.PAPER_GROUPS[first], ku.GROUP_1_THROUGH_V])
        for group, who in out["groups"]:
            if set(who) & set(found):
                assert any(w <= {out["names"][i] for i in group} for w in wanted)
    assert set(out["found"][first]) <= set(out["found"]["1 through V"])
    bound = out["bound"]  # g_r <= 2r on every knot of the sample (see test_knot_data)
    assert bound["holds"] == 1.0 and 0 <= bound["shuffled_violations"] < 0.5
    assert 0 < bound["median_ratio"] <= 1 and -1 <= bound["corr"] <= 1
    assert set(out["alone"]) == set(ku.PAPER_GROUPS)
    assert all(0 <= a <= 1 for a in out["alone"].values())
    text = ku.report(out, "cmd", 1.0)
    assert "| 3: g_r with r |" in text and "of 2 (" in text and "g_r ≤ 2r holds for 100.0%" in text


def test_a_groups_accuracy_alone_tells_a_relation_from_independence():
    ku = _load("knot_unsupervised")
    g = torch.Generator().manual_seed(3)
    a, c = torch.randn(600, 2, generator=g, dtype=torch.float64).unbind(1)
    b = a**2 + 0.05 * torch.randn(600, generator=g, dtype=torch.float64)
    x = torch.stack([a, b, c], 1)
    x = (x - x.mean(0)) / x.std(0)
    names = ["a", "b", "c"]
    assert ku.alone(x, names, {"a", "b"}, steps=20) > 0.8
    assert ku.alone(x, names, {"a", "c"}, steps=20) < 0.6
    assert np.isnan(ku.alone(x, names, {"a", "missing"}, steps=20))


def test_mobility_common_crosses_out_normalises_and_snaps():
    sympy = pytest.importorskip("sympy")
    mc = _load("mobility_common")
    E, alpha, lam = sympy.symbols(["E", "alpha", "lam"])
    g = torch.Generator().manual_seed(0)
    x = torch.stack([torch.rand(500, generator=g, dtype=torch.float64) * 8 - 4,
                     torch.rand(500, generator=g, dtype=torch.float64) - 0.5,
                     torch.rand(500, generator=g, dtype=torch.float64) + 0.5], 1)
    formula = 3.02 * alpha * E + 6.1 * lam - 5.95 + 0.01 * E**2 + 0.02 * alpha
    crossed = mc.cross_out(formula, ["E", "alpha", "lam"], x)
    assert set(sympy.Add.make_args(crossed)) == {3.02 * alpha * E, 6.1 * lam, -5.95}
    unit = mc.normalized(crossed, alpha * E)
    assert float(unit.coeff(alpha * E)) == pytest.approx(1.0)
    assert mc.snapped(unit) == alpha * E + 2 * lam - 2
    # a formula's accuracy is that of its sign against the labels
    y = ((x[:, 0] * x[:, 1] + 2 * x[:, 2] - 2) > 0).double()[:, None]
    assert mc.formula_accuracy(alpha * E + 2 * lam - 2, ["E", "alpha", "lam"], x, y) == 100.0
    assert mc.formula_accuracy(-(alpha * E + 2 * lam - 2), ["E", "alpha", "lam"], x, y) == 0.0


def test_mobility_mosaic_reads_the_edge_where_the_logit_vanishes():
    sympy = pytest.importorskip("sympy")
    import kanlab

    mm = _load("mobility_mosaic")
    E, lam = sympy.symbols(["E", "lam"])  # a symbol: the string "E" is Euler's number
    model = kanlab.compile_formula(lam * E - 2, [E, lam])  # g = 0 at λ = 2/E
    np.testing.assert_allclose(mm.learnt_edge(model, np.array([0.5, 1.0, 2.0])),
                               [4.0, 2.0, 1.0], rtol=1e-12)
    out = mm.run(mm.QUICK, say=lambda line: None)
    first = out["sizes"][0]
    assert [r["n"] for r in out["sizes"]] == list(mm.QUICK.sizes)
    assert 50 < first["theory"] <= 100 and 0 <= first["kan"] <= 100
    # the bins compared straddle the closed-form edge, which lives in [0.5, 3.5]
    assert len(first["energies"]) and np.all(2 / np.abs(first["energies"]) < 3.5 * 1.1)
    text = mm.report(out, "cmd", 1.0)
    assert "| N | Hamiltonians × states | theory (%)" in text and " of " in text


def test_mobility_maam_tiny_run_scores_every_formula():
    pytest.importorskip("sympy")
    mm = _load("mobility_maam")
    budget = mm.Budget(sizes=(16,), hamiltonians=30, states=8, steps=2, polish=1)
    out = mm.run(budget, say=lambda line: None)
    assert 0 <= out["auto"]["acc"] <= 100 and out["sizes"][0][0] == 16
    assert {str(s) for s in out["auto"]["formula"].free_symbols} <= {"E", "lam", "p", "phi"}
    for got in out["manual"].values():  # p's edges snapped as Alice asked
        assert 0 <= got["acc"] <= 100
    text = mm.report(out, "cmd", 1.0)
    assert "| theory | λ cosh p − E − e^p = 0 |" in text


def test_lan_examples_count_readable_activations():
    le = _load("lan_examples")
    import kanlab

    assert le.readable_share([0.999, 0.5, 0.995, 0.2]) == 0.5
    lan = kanlab.LAN([2, 3, 1], seed=0, dtype=torch.float64)
    with torch.no_grad():
        lan.linears[0].weight.copy_(torch.tensor([[1.0, 0.05], [0.0, 0.5], [-0.2, 0.3]]))
        lan.linears[1].weight.copy_(torch.tensor([[2.0, 0.1, -0.3]]))
    assert le.weights_that_matter(lan) == 4 + 2  # |w| ≥ 10 % of the layer's largest
    out = le.run(le.Budget(steps=2, story_steps=1, samples=60, examples=1),
                 say=lambda line: None)
    (row,) = out["rows"]
    assert row["lan_functions"] == 5 and 0 <= row["lan_readable"] <= 1
    assert row["kan_params"] > row["lan_params"]  # activations on 10 edges against 5 nodes
    assert "## Readability" in le.report(out, "cmd", 1.0)


def test_lan_image_fits_keep_the_mlp_a_siren():
    pytest.importorskip("sklearn")
    li = _load("lan_image")
    picture = li.image(8)
    assert picture.shape == (8, 8) and 0 <= picture.min() and picture.max() <= 1
    data = li.pixels(picture)
    assert data.train_input.abs().max() < 1 and data.train_label.shape == (64, 1)
    out = li.run(li.QUICK, say=lambda line: None)
    mlp, lan = out["rows"]["MLP (SIREN)"]["model"], out["rows"]["LAN"]["model"]
    assert all(float(a.coef.detach().abs().max()) == 0 for a in mlp.activations_)  # SIREN
    assert any(float(a.coef.detach().abs().max()) > 0 for a in lan.activations_)
    assert out["rows"]["LAN"]["params"] > out["rows"]["MLP (SIREN)"]["params"]
    assert "LAN less MLP at equal steps" in li.report(out, "cmd", 1.0)


def test_mobility_gaam_alice_snaps_a_noisy_formula_to_the_theory():
    sympy = pytest.importorskip("sympy")
    mg = _load("mobility_gaam")
    from kanlab.data import Dataset

    g = torch.Generator().manual_seed(0)
    n = 2000
    x = torch.stack([torch.rand(n, generator=g, dtype=torch.float64) * 8 - 4,
                     torch.rand(n, generator=g, dtype=torch.float64) * 1.2 - 0.6,
                     torch.rand(n, generator=g, dtype=torch.float64) + 0.5,
                     torch.rand(n, generator=g, dtype=torch.float64) * 6], 1)
    y = ((x[:, 0] * x[:, 1] + 2 * x[:, 2] - 2) > 0).double()[:, None]  # the theory's labels
    raw = Dataset(x[:1600], y[:1600], x[1600:], y[1600:])
    mean, std = raw.train_input.mean(0), raw.train_input.std(0)
    s = mg.Standardized(Dataset((raw.train_input - mean) / std, raw.train_label,
                                (raw.test_input - mean) / std, raw.test_label), raw, mean, std,
                        ["E", "alpha", "lam", "phi"])
    E, alpha, lam, phi = sympy.symbols(s.names)
    auto = 12.7 * alpha * E + 25.3 * lam - 25.0 + 0.026 * E**2 - 0.29 * alpha**2 + 0.01 * phi
    out = mg.manual(auto, s, mg.Budget(polish=30), say=lambda line: None)
    assert not out["crossed"].has(phi) and out["crossed"].coeff(E**2) == 0
    assert out["exact"] and out["snapped"] == alpha * E + 2 * lam - 2
    assert out["snapped_acc"] == 100.0  # the theory's labels, the theory's formula


def test_mobility_gaam_tiny_run_reports_every_stage():
    pytest.importorskip("sympy")
    mg = _load("mobility_gaam")
    budget = mg.Budget(sizes=(16,), hamiltonians=30, states=8, steps=2, polish=1, seeds=1)
    out = mg.run(budget, say=lambda line: None)
    (row,) = out["sizes"]
    assert row[:3] == (16, 192, 48) and 0 <= row[3] <= 100  # 24 + 6 Hamiltonians × 8 states
    assert {str(v) for v in out["auto"]["formula"].free_symbols} <= {"E", "alpha", "lam", "phi"}
    assert isinstance(out["manual"]["exact"], bool)
    assert "| theory | αE + 2λ − 2 = 0 |" in mg.report(out, "cmd", 1.0)
