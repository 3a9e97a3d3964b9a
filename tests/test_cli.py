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
