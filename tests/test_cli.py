import contextlib
import csv
import html
import io
import json
import math
import subprocess
import sys
from html.parser import HTMLParser

import numpy as np
import pytest
import torch

import kanlab
from kanlab.apps.cli import main


def test_demo_prints_the_rmse_table(capsys):
    assert main(["demo", "--steps-per-grid", "3", "--grids", "3", "5", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "| G | [2, 1, 1] train RMSE | [2, 1, 1] test RMSE" in out
    rows = [line for line in out.splitlines() if line.startswith(("| 3 |", "| 5 |"))]
    assert len(rows) == 2
    values = [float(v) for v in rows[1].strip("| ").split(" | ")[1:]]
    assert len(values) == 4 and all(0 < v < 1 for v in values)
    assert "total:" in out


def test_no_command_prints_help_and_fails(capsys):
    assert main([]) == 2
    assert "demo" in capsys.readouterr().out


def test_python_dash_m_entry_point():
    proc = subprocess.run(
        [sys.executable, "-m", "kanlab", "--help"], capture_output=True, text=True
    )
    assert proc.returncode == 0 and "demo" in proc.stdout


def test_demo_symbolic_recovers_the_formula_and_saves_the_plots(capsys, tmp_path):
    out_dir = tmp_path / "plots"
    assert main(["demo", "symbolic", "--seeds", "1", "--out", str(out_dir)]) == 0
    out = capsys.readouterr().out
    assert "recovered exactly (formula test RMSE < 1e-6): 1 of 1 seeds" in out
    assert "exp(y**2 + sin(pi*x))" in out
    assert "edge (0, 0, 0): sin" in out  # the suggestions are printed
    for name in ("seed0_trained.png", "seed0_symbolic.png"):
        assert (out_dir / name).stat().st_size > 1000
    assert "side by side (an ensemble)" in out and "the whole story: " in out


def test_demo_symbolic_as_an_ensemble_runs_every_stage_of_the_lone_story():
    from kanlab.apps.demos import symbolic_stories, symbolic_story

    together = symbolic_stories([0, 1], steps=8, max_iter=5)
    for r in together:
        alone = symbolic_story(r.seed, steps=8, max_iter=5)
        assert r.seed == alone.seed and r.stage_rmse.keys() == alone.stage_rmse.keys()
        # the sparsified training differs by round-off only (then amplified): the same kind
        # of result, not the same bits
        assert r.pruned_widths[0] == alone.pruned_widths[0] == 2
        assert r.stage_rmse["sparse"] == pytest.approx(alone.stage_rmse["sparse"], rel=0.5)


# ---------------------------------------------------------------- kanlab fit / kanlab predict
FIT_FILES = ("model/config.json", "model/state_dict.pt", "pipeline.json", "metrics.json",
             "predictions.csv", "formula.txt", "formula.tex", "network.png", "training.png",
             "report.html")


def _write_csv(path, header, rows):
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def _read_csv(path_or_text):
    text = path_or_text if isinstance(path_or_text, str) else path_or_text.read_text()
    rows = list(csv.reader(io.StringIO(text)))
    return rows[0], np.array([[float(v) for v in row] for row in rows[1:]])


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    """One small symbolic `kanlab fit` run on y = exp(sin(pi x1) + x2^2) + noise, shared."""
    tmp = tmp_path_factory.mktemp("fit")
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (300, 2))
    y = np.exp(np.sin(np.pi * x[:, 0]) + x[:, 1] ** 2) + 0.01 * rng.standard_normal(300)
    data = _write_csv(tmp / "data.csv", ["x1", "x2", "y"],
                      [[repr(float(v)) for v in row] for row in np.column_stack([x, y])])
    out = tmp / "run"
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = main(["fit", str(data), "--target", "y", "--grids", "3,5", "--steps-per-grid",
                     "5", "--symbolic", "--out", str(out), "--no-progress"])
    return {"code": code, "csv": data, "out": out, "x": x, "y": y, "stdout": stdout.getvalue(),
            "stderr": stderr.getvalue(), "tmp": tmp}


class _TagChecker(HTMLParser):
    VOID = {"meta", "img", "br", "hr", "link", "input"}

    def __init__(self):
        super().__init__()
        self.stack, self.errors, self.imgs, self.doctype = [], [], [], None

    def handle_decl(self, decl):
        self.doctype = decl

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            self.imgs.append(dict(attrs))
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if not self.stack or self.stack.pop() != tag:
            self.errors.append(tag)


def test_fit_writes_the_model_metrics_plots_formula_and_report(fitted):
    assert fitted["code"] == 0, fitted["stderr"]
    out = fitted["out"]
    for name in FIT_FILES:
        assert (out / name).stat().st_size > 0, name
    metrics = json.loads((out / "metrics.json").read_text())
    for key in ("train_rmse", "test_rmse", "train_r2", "test_r2", "seconds"):
        assert math.isfinite(metrics[key]), key
    assert metrics["target"] == "y" and metrics["features"] == ["x1", "x2"]
    assert metrics["n_train"] == 240 and metrics["n_test"] == 60
    assert metrics["widths"][0] == 2 and metrics["grid"] == [5, 5] and metrics["n_params"] > 0
    formula = (out / "formula.txt").read_text().strip()
    assert formula.startswith("y = ")
    assert (out / "formula.tex").read_text().startswith("y = ")
    assert "train RMSE" in fitted["stdout"]
    # the formula is printed with its held-out score, or -- when it fits the held-out rows
    # much worse than the model -- a message that no short formula was found
    assert metrics["formula_ok"] == (not any("formula" in w for w in metrics["warnings"]))
    if metrics["formula_ok"]:
        score = f"(validation R^2 {metrics['formula_validation_r2']:.4f})"
        assert f"{formula} {score}" in fitted["stdout"]
    else:
        assert formula not in fitted["stdout"]
        assert "no short formula fits as well as the model" in fitted["stdout"]

    page = (out / "report.html").read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and '<meta charset="utf-8">' in page
    checker = _TagChecker()
    checker.feed(page)
    assert checker.doctype == "DOCTYPE html" and not checker.errors and not checker.stack
    srcs = [img["src"] for img in checker.imgs]
    assert len(srcs) == 2 and all(s.startswith("data:image/png;base64,") for s in srcs)
    assert page.count("data:image/png;base64,") == 2
    assert html.escape(formula) in page
    assert "kanlab fit " in page and "--steps-per-grid 5" in page  # the command line
    assert f"{metrics['test_rmse']:.4g}" in page


def test_fit_formula_is_in_column_names_and_original_units(fitted):
    import sympy

    from kanlab.symbolic.formula import formula_function

    metrics = json.loads((fitted["out"] / "metrics.json").read_text())
    expr = sympy.sympify(metrics["formula"], locals={"x1": sympy.Symbol("x1"),
                                                     "x2": sympy.Symbol("x2")})
    assert expr.free_symbols <= {sympy.Symbol("x1"), sympy.Symbol("x2")}
    f = formula_function([expr], ["x1", "x2"])
    _, fit_pred = _read_csv(fitted["out"] / "predictions.csv")
    np.testing.assert_allclose(f(fitted["x"])[:, 0], fit_pred[:, 0], rtol=1e-9, atol=1e-9)


def test_predict_equals_the_saved_model_and_the_fit_time_predictions(fitted):
    out, pred_csv = fitted["out"], fitted["tmp"] / "pred.csv"
    assert main(["predict", str(out), str(fitted["csv"]), "--out", str(pred_csv)]) == 0
    header, pred = _read_csv(pred_csv)
    assert header == ["y_pred"] and pred.shape == (300, 1)

    pipe = json.loads((out / "pipeline.json").read_text())
    model = kanlab.KAN.load(out / "model").eval()
    z = (torch.tensor(fitted["x"]) - torch.tensor(pipe["x_mean"])) / torch.tensor(pipe["x_scale"])
    with torch.no_grad():
        expected = (model(z)[:, 0] * pipe["y_scale"] + pipe["y_mean"]).numpy()
    np.testing.assert_allclose(pred[:, 0], expected, rtol=0, atol=1e-12)
    _, fit_time = _read_csv(out / "predictions.csv")
    np.testing.assert_allclose(pred, fit_time, rtol=0, atol=1e-12)
    metrics = json.loads((out / "metrics.json").read_text())
    assert np.sqrt(np.mean((pred[:, 0] - fitted["y"]) ** 2)) < 2 * max(
        metrics["train_rmse"], metrics["test_rmse"])


def test_predict_reads_features_by_name_without_the_target(fitted, capsys):
    swapped = _write_csv(fitted["tmp"] / "swapped.csv", ["id", "x2", "x1"],
                         [[k, repr(float(b)), repr(float(a))]
                          for k, (a, b) in enumerate(fitted["x"][:7])])
    assert main(["predict", str(fitted["out"]), str(swapped)]) == 0
    header, pred = _read_csv(capsys.readouterr().out)
    _, fit_time = _read_csv(fitted["out"] / "predictions.csv")
    assert header == ["y_pred"]
    np.testing.assert_array_equal(pred, fit_time[:7])


def _assert_one_line_error(err, *needles):
    assert "Traceback" not in err and err.count("\n") == 1, err
    for needle in needles:
        assert needle in err, (needle, err)


@pytest.mark.parametrize("case, needles", [
    ("missing target", ("no column 'z'",)),
    ("non-numeric", ("line 3", "column 'x1'", "'abc' is not a number")),
    ("nan", ("line 4", "column 'x2'", "not finite")),
    ("empty cell", ("line 2", "column 'y'", "'' is not a number")),
])
def test_fit_input_errors_name_the_row_and_column(tmp_path, capsys, case, needles):
    rows = [["0.1", "0.2", "1.0"], ["abc", "0.3", "2.0"], ["0.5", "nan", "3.0"]] + [
        [str(k / 10), "0.0", "1.0"] for k in range(10)]
    if case == "empty cell":
        rows[0][2] = ""
    elif case != "non-numeric":
        rows[1][0] = "0.2"
    if case != "nan":
        rows[2][1] = "0.4"
    data = _write_csv(tmp_path / "d.csv", ["x1", "x2", "y"], rows)
    target = "z" if case == "missing target" else "y"
    code = main(["fit", str(data), "--target", target, "--out", str(tmp_path / "o"),
                 "--no-progress"])
    assert code == 1
    _assert_one_line_error(capsys.readouterr().err, "kanlab fit: error:", *needles)
    assert not (tmp_path / "o").exists()


def test_predict_errors(fitted, tmp_path, capsys):
    only_x1 = _write_csv(tmp_path / "x1.csv", ["x1"], [["0.5"]])
    assert main(["predict", str(fitted["out"]), str(only_x1)]) == 1
    _assert_one_line_error(capsys.readouterr().err, "kanlab predict: error:", "no column 'x2'")
    bad = _write_csv(tmp_path / "bad.csv", ["x1", "x2"], [["0.5", "0.1"], ["0.5", "x"]])
    assert main(["predict", str(fitted["out"]), str(bad)]) == 1
    _assert_one_line_error(capsys.readouterr().err, "line 3", "column 'x2'")
    assert main(["predict", str(tmp_path), str(bad)]) == 1
    _assert_one_line_error(capsys.readouterr().err, "pipeline.json")


@pytest.mark.parametrize("flags, needle", [
    (["--bogus"], "unrecognized arguments: --bogus"),
    (["--width", "0,1"], "argument --width"),
    (["--width", "5,2"], "argument --width"),
    (["--grids", "a"], "argument --grids"),
    (["--steps-per-grid", "0"], "argument --steps-per-grid"),
    (["--steps-per-grid", "x"], "argument --steps-per-grid: expected a positive integer; got 'x'"),
    (["--test-fraction", "1.5"], "argument --test-fraction"),
    (["--test-fraction", "1"], "argument --test-fraction: expected a number in [0, 1); got '1'"),
    (["--lamb", "-1"], "argument --lamb: expected a number >= 0; got '-1'"),
    (["--lamb", "inf"], "argument --lamb: expected a number >= 0; got 'inf'"),
    (["--grids", "3,0"], "expected comma-separated positive integers such as 5,1; got '3,0'"),
    (["--features", "a,,b"], "argument --features: expected comma-separated column names"),
    (["--grid-strategy", "nope"], "argument --grid-strategy"),
])
def test_bad_command_lines_exit_2(tmp_path, capsys, flags, needle):
    argv = ["fit", str(tmp_path / "d.csv"), "--target", "y", "--out", str(tmp_path / "o")]
    assert main(argv + flags) == 2
    _assert_one_line_error(capsys.readouterr().err, needle)


def test_fit_help_and_errors_through_python_dash_m(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "kanlab", "fit", "--help"],
                          capture_output=True, text=True)
    assert proc.returncode == 0 and "--target" in proc.stdout and "examples:" in proc.stdout
    bad = _write_csv(tmp_path / "bad.csv", ["a", "y"], [["1", "2"], ["oops", "3"]])
    proc = subprocess.run([sys.executable, "-m", "kanlab", "fit", str(bad), "--target", "y",
                           "--out", str(tmp_path / "o")], capture_output=True, text=True)
    assert proc.returncode == 1
    _assert_one_line_error(proc.stderr, "line 3", "column 'a'", "'oops'")


def test_report_module_keeps_the_names_it_had():
    """``kanlab.report`` (README's layout table) still holds what kanlab fit trains and writes."""
    from kanlab.apps import pipeline, report, tabular
    from kanlab.data import csv as csv_reader

    assert report.fit_csv is tabular.fit_csv and report.FitOptions is tabular.FitOptions
    assert report.FitResult is tabular.FitResult and report.Pipeline is tabular.TabularModel
    assert report.read_columns is csv_reader.read_columns
    assert report.csv_header is csv_reader.csv_header
    assert report.center_scale is pipeline.center_scale and report.rmse_r2 is pipeline.rmse_r2
    assert callable(report.write_outputs) and callable(report.render_html)


def test_grid_extension_demo_returns_the_table_the_cli_prints(capsys):
    from kanlab.apps.demos import grid_extension

    results = grid_extension((3, 5), 2, progress=False)
    assert list(results) == ["[2, 1, 1]", "[2, 5, 1]"]
    for by_grid, seconds in results.values():
        assert sorted(by_grid) == [3, 5] and seconds > 0
        assert all(0 < r["test_rmse"] < 1 for r in by_grid.values())
    assert main(["demo", "--steps-per-grid", "2", "--grids", "3", "5", "--no-progress"]) == 0
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if line.startswith("| 5 |"))
    r11, r51 = results["[2, 1, 1]"][0][5], results["[2, 5, 1]"][0][5]
    assert row == (f"| 5 | {r11['train_rmse']:.3e} | {r11['test_rmse']:.3e} | "
                   f"{r51['train_rmse']:.3e} | {r51['test_rmse']:.3e} |")


def test_version_prints_kanlab_version(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out == f"kanlab {kanlab.__version__}\n"
    proc = subprocess.run([sys.executable, "-m", "kanlab", "--version"], capture_output=True,
                          text=True)
    assert proc.returncode == 0 and proc.stdout == f"kanlab {kanlab.__version__}\n"


def test_fit_and_predict_read_excel_csv_with_bom_and_semicolons(fitted, tmp_path, capsys):
    """Excel's "CSV UTF-8" (a byte-order mark) with ; separators: the same fit and the same
    predictions as the comma file."""
    text = fitted["csv"].read_text()
    excel = tmp_path / "excel.csv"
    excel.write_bytes(("\ufeff" + text.replace(",", ";").replace("\n", "\r\n")).encode())
    pred = tmp_path / "pred.csv"
    assert main(["predict", str(fitted["out"]), str(excel), "--out", str(pred)]) == 0
    _, fit_time = _read_csv(fitted["out"] / "predictions.csv")
    np.testing.assert_array_equal(_read_csv(pred)[1], fit_time)
    assert "against column 'y'" in capsys.readouterr().out
    small = "\ufeff" + "".join(line.replace(",", "\t") + "\n"
                               for line in text.splitlines()[:41])
    tab = tmp_path / "tab.csv"
    tab.write_bytes(small.encode())
    comma = _write_csv(tmp_path / "comma.csv", *_rows(text.splitlines()[:41]))
    for path, out in ((tab, "o_tab"), (comma, "o_comma")):
        assert main(["fit", str(path), "--target", "y", "--grids", "3", "--steps-per-grid",
                     "2", "--out", str(tmp_path / out), "--no-progress"]) == 0, \
            capsys.readouterr().err
    m_tab, m_comma = (json.loads((tmp_path / o / "metrics.json").read_text())
                      for o in ("o_tab", "o_comma"))
    assert m_tab["features"] == ["x1", "x2"] and m_tab["n_train"] == 32
    assert m_tab["train_rmse"] == m_comma["train_rmse"]
    assert m_tab["test_rmse"] == m_comma["test_rmse"]


def _rows(lines):
    rows = list(csv.reader(lines))
    return rows[0], rows[1:]


@pytest.mark.parametrize("damage, file, needle", [
    ("truncated", "state_dict.pt", "truncated or damaged"),
    ("empty", "state_dict.pt", "empty or ends too early (truncated)"),
    ("garbage", "state_dict.pt", "truncated or damaged"),
    ("other model", "state_dict.pt", "does not hold the state of the model that config.json"),
    ("truncated", "config.json", "not valid JSON, truncated or damaged"),
    ("key missing", "config.json", "incomplete or damaged model configuration (KeyError"),
])
def test_predict_with_a_damaged_model_is_a_one_line_error(fitted, tmp_path, capsys, damage,
                                                          file, needle):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(fitted["out"], run)
    path = run / "model" / file
    data = path.read_bytes()
    if damage == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif damage == "empty":
        path.write_bytes(b"")
    elif damage == "garbage":
        path.write_bytes(b"not a torch file\n")
    elif damage == "other model":
        kanlab.KAN([2, 3, 1]).save(tmp_path / "other")
        shutil.copy(tmp_path / "other" / "state_dict.pt", path)
    else:
        doc = json.loads(data)
        del doc["config"]["widths"]
        path.write_text(json.dumps(doc))
    assert main(["predict", str(run), str(fitted["csv"])]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    _assert_one_line_error(captured.err, "kanlab predict: error:", str(path), needle,
                           "run `kanlab fit` again")


def _rows_csv(tmp_path, n):
    """``d<n>.csv``: y = x1 - x2^2 on n random rows (the same rows each time)."""
    x = np.random.default_rng(1).uniform(-1, 1, (n, 2))
    return _write_csv(tmp_path / f"d{n}.csv", ["x1", "x2", "y"],
                      [[repr(float(v)) for v in row]
                       for row in np.column_stack([x, x[:, 0] - x[:, 1] ** 2])])


def _fit_rows(tmp_path, n, *flags):
    return main(["fit", str(_rows_csv(tmp_path, n)), "--target", "y", "--steps-per-grid", "2",
                 "--no-progress", *flags])


def test_fit_on_too_few_rows_fails_before_training_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / "new" / "run"
    assert _fit_rows(tmp_path, 2, "--out", str(out)) == 1
    captured = capsys.readouterr()
    _assert_one_line_error(captured.err, "kanlab fit: error:", "d2.csv: 2 data rows give 1 "
                           "training and 1 test rows", "at least 4 training rows are needed "
                           "to place a grid of 3 intervals", "--grids")
    assert "train RMSE" not in captured.out  # nothing trained
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d2.csv"]
    # the first grid size sets the minimum: 4 training rows for G = 3, 3 for G = 2
    assert _fit_rows(tmp_path, 4, "--out", str(out), "--grids", "3,5") == 1
    assert "at least 4 training rows" in capsys.readouterr().err
    assert not (tmp_path / "new").exists()


def test_fit_on_five_rows_says_the_test_set_cannot_score(tmp_path, capsys):
    out = tmp_path / "run"
    assert _fit_rows(tmp_path, 5, "--out", str(out), "--grids", "3") == 0
    captured = capsys.readouterr()
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["n_train"] == 4 and metrics["n_test"] == 1
    assert metrics["test_r2"] is None and math.isfinite(metrics["test_rmse"])
    assert "(R^2 undefined: one row)" in captured.out
    [warning] = [w for w in metrics["warnings"] if "test set" in w]
    assert "the test set has 1 row" in warning and "R² is undefined" in warning
    assert f"kanlab fit: warning: {warning}" in captured.err
    # with the paper's schedule (up to G = 20) the grids cannot be placed from 4 rows either
    assert _fit_rows(tmp_path, 5, "--out", str(out), "--width", "5,1") == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert any("4 training rows are fewer than the 21 a grid of 20 intervals" in w
               for w in metrics["warnings"])
    # a small test set: a warning; a large one: none
    assert _fit_rows(tmp_path, 30, "--out", str(out), "--grids", "3") == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["n_test"] == 6 and metrics["test_r2"] is not None
    assert any("the test set has 6 rows" in w and "unreliable" in w for w in metrics["warnings"])
    assert _fit_rows(tmp_path, 60, "--out", str(out)) == 0
    warnings = json.loads((out / "metrics.json").read_text())["warnings"]
    assert not any("test set" in w for w in warnings), warnings


@pytest.mark.parametrize("existing", [False, True])
def test_fit_failing_while_writing_leaves_no_partial_output(tmp_path, capsys, monkeypatch,
                                                           existing):
    """A failure after training (here: while plotting) leaves --out as it was: no new
    folder, or the earlier run's files untouched; no temporary folder left beside it."""
    from kanlab.apps import report
    from kanlab.errors import KanlabError

    out = tmp_path / "runs" / "run"
    if existing:
        assert _fit_rows(tmp_path, 30, "--out", str(out), "--grids", "3") == 0
        capsys.readouterr()
    _rows_csv(tmp_path, 30)
    before = {p.relative_to(tmp_path): p.read_bytes() for p in tmp_path.rglob("*")
              if p.is_file()}

    def broken(result, directory):
        (directory / "network.png").write_bytes(b"half a picture")
        raise KanlabError("plotting failed")

    monkeypatch.setattr(report, "_write_plots", broken)
    assert _fit_rows(tmp_path, 30, "--out", str(out), "--grids", "3", "--seed", "1") == 1
    _assert_one_line_error(capsys.readouterr().err, "kanlab fit: error: plotting failed")
    after = {p.relative_to(tmp_path): p.read_bytes() for p in tmp_path.rglob("*")
             if p.is_file()}
    assert after == before
    assert [p.name for p in tmp_path.rglob("*partial*")] == []
    assert (tmp_path / "runs").exists() == existing


def test_fit_into_an_existing_directory_replaces_the_earlier_run(tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    (out / "formula.txt").write_text("y = stale")
    assert _fit_rows(tmp_path, 30, "--out", str(out), "--grids", "3") == 0
    assert (out / "notes.txt").read_text() == "mine"
    assert not (out / "formula.txt").exists()  # not a symbolic run
    assert sorted(p.name for p in out.iterdir()) == sorted(
        {"notes.txt", "model", *(n for n in FIT_FILES if "/" not in n and "formula" not in n)})
    assert [p.name for p in tmp_path.glob(".*")] == []


@pytest.mark.parametrize(("flags", "expected"), [([], 1), (["--threads", "2"], 2),
                                                 (["--threads", "0"], None)])
def test_threads_are_set_for_the_command_and_restored(monkeypatch, flags, expected):
    """kanlab runs its command on --threads torch threads (default 1; 0: torch's own) and gives
    an in-process caller its thread count back."""
    import torch

    from kanlab.apps import cli

    before = torch.get_num_threads()
    seen = []
    monkeypatch.setattr(cli, "_predict", lambda args: seen.append(torch.get_num_threads()) or 0)
    assert cli.main([*flags, "predict", "run", "new.csv", "--out", "p.csv"]) == 0
    assert seen == [before if expected is None else expected]
    assert torch.get_num_threads() == before


def test_threads_must_be_a_nonnegative_integer(capsys):
    from kanlab.apps import cli

    assert cli.main(["--threads", "-1", "predict", "run", "new.csv"]) == 2
    assert "argument --threads: expected an integer >= 0; got '-1'" in capsys.readouterr().err


def _table_csv(path, columns, target):
    """A CSV of ``columns`` (name -> values) and the ``target`` values, named y."""
    header = [*columns, "y"]
    rows = np.column_stack([*columns.values(), target])
    return _write_csv(path, header, [[repr(float(v)) for v in row] for row in rows])


def test_fit_by_default_chooses_the_model_and_reports_the_search(tmp_path, capsys):
    rng = np.random.default_rng(3)
    x = rng.normal(size=(120, 3))
    data = _table_csv(tmp_path / "lin.csv", {"a": x[:, 0], "b": x[:, 1], "c": x[:, 2]},
                      x[:, 0] - 2 * x[:, 1] + 0.3 * rng.normal(size=120))
    out = tmp_path / "run"
    assert main(["fit", str(data), "--target", "y", "--out", str(out), "--no-progress"]) == 0
    captured = capsys.readouterr()
    metrics = json.loads((out / "metrics.json").read_text())
    choice = metrics["model_choice"]
    assert choice["chosen"].startswith("additive") and len(choice["trials"]) == 10
    assert {t["model"] for t in choice["trials"]} >= {choice["chosen"]}
    assert f"model: {choice['chosen']} (" in captured.out
    assert metrics["validation_r2"] > 0.9 and metrics["test_r2"] > 0.9
    assert f"validation R^2 {metrics['validation_r2']:.4f}" in captured.out
    assert metrics["n_edges"] == 3 and metrics["grid_schedule"] is None
    assert "Model choice" in (out / "report.html").read_text()


def test_fit_on_noise_says_the_test_r2_is_negative(tmp_path, capsys):
    # a target independent of the inputs: any prediction, the training mean included, scores
    # below 0 on the test rows; the user must be told, on stderr and in metrics.json
    rng = np.random.default_rng(0)
    x = rng.normal(size=(80, 2))
    data = _table_csv(tmp_path / "noise.csv", {"a": x[:, 0], "b": x[:, 1]},
                      rng.normal(size=80))
    out = tmp_path / "run"
    assert main(["fit", str(data), "--target", "y", "--out", str(out), "--no-progress",
                 "--fast"]) == 0
    captured = capsys.readouterr()
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["test_r2"] < 0
    [warning] = [w for w in metrics["warnings"] if "the test R² is" in w]
    assert "WORSE THAN PREDICTING THE MEAN" in warning and f"{metrics['test_r2']:.3g}" in warning
    assert f"kanlab fit: warning: {warning}" in captured.err
    assert "one additive model" in metrics["model_choice"]["reason"]  # --fast: no search


def test_fit_warns_about_an_input_on_a_wild_scale(tmp_path, capsys):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(60, 2))
    data = _table_csv(tmp_path / "wild.csv", {"small": x[:, 0], "huge": x[:, 1] * 1e12},
                      x[:, 0] + x[:, 1])
    out = tmp_path / "run"
    assert main(["fit", str(data), "--target", "y", "--out", str(out), "--no-progress",
                 "--fast"]) == 0
    warnings = json.loads((out / "metrics.json").read_text())["warnings"]
    assert any("huge" in w for w in warnings) and not any("'small'" in w for w in warnings)
    assert any("huge" in line for line in capsys.readouterr().err.splitlines())


def test_fast_and_an_explicit_width_do_not_go_together(tmp_path, capsys):
    out = tmp_path / "run"
    assert _fit_rows(tmp_path, 30, "--out", str(out), "--fast", "--width", "3,1") == 1
    _assert_one_line_error(capsys.readouterr().err, "kanlab fit: error:", "fast (--fast) "
                           "chooses one quick model itself; it does not go with an explicit "
                           "width ([3, 1])")
    assert not out.exists()
