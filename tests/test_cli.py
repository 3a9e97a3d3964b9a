import subprocess
import sys

from kanlab.cli import main


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
