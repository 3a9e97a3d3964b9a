import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from kanlab import KAN
from kanlab.data import make_dataset
from kanlab.errors import InputError
from kanlab.nn.mlp import n_parameters
from kanlab.science.sweeps import (
    KANRun,
    MLPRun,
    SweepPoint,
    falling_part,
    fit_scaling,
    kan_runs,
    load_points,
    mlp_runs,
    pareto_frontier,
    plot_sweep,
    run_sweep,
)


def _point(n, rmse, run="r", family="kan", grid=None):
    return SweepPoint(run, family, "[2,1]", 0, grid, n, rmse, rmse, 1, 0.0)


@pytest.fixture(scope="module")
def data():
    return make_dataset(lambda x: torch.sin(x[:, 0]) * x[:, 1], 2, n_train=64, n_test=32,
                        seed=1)


def test_fit_scaling_recovers_a_power_law():
    n = [10, 30, 100, 300, 1000]
    fit = fit_scaling(n, [2.5 * v ** -4.0 for v in n])
    assert fit.alpha == pytest.approx(4.0, abs=1e-12)
    assert fit.scale == pytest.approx(2.5, rel=1e-10)
    assert fit.r2 == pytest.approx(1.0, abs=1e-12)
    assert fit.n_range == (10, 1000) and fit.n_points == 5
    assert fit.predict(100) == pytest.approx(2.5e-8)


def test_fit_scaling_least_squares_slope_on_noisy_points():
    # log e = [0, -1, -3] at log n = [0, 1, 2]: the OLS slope is -1.5
    n = [1.0, math.e, math.e ** 2]
    fit = fit_scaling(n, [1.0, math.exp(-1), math.exp(-3)])
    assert fit.alpha == pytest.approx(1.5)
    assert fit.r2 < 1.0


@pytest.mark.parametrize("n, e, match", [
    ([10], [1.0], "at least 2"),
    ([10, 10], [1.0, 0.5], "different"),
    ([10, 20], [1.0, 0.0], "positive"),
    ([10, 20], [1.0, math.nan], "positive"),
    ([10, 20], [1.0], "entries"),
])
def test_fit_scaling_rejects_bad_points(n, e, match):
    with pytest.raises(InputError, match=match):
        fit_scaling(n, e)


def test_pareto_frontier_keeps_points_no_smaller_model_beats():
    pts = [_point(10, 1.0), _point(20, 2.0), _point(20, 0.5), _point(40, 0.7),
           _point(80, 0.1), _point(5, math.nan)]
    front = pareto_frontier(pts)
    assert [(p.n_params, p.test_rmse) for p in front] == [(10, 1.0), (20, 0.5), (80, 0.1)]


def test_falling_part_stops_at_the_best_test_error():
    pts = [_point(40, 1e-3), _point(10, 1e-1), _point(20, 1e-2), _point(80, 5e-3)]
    assert [p.n_params for p in falling_part(pts)] == [10, 20, 40]
    assert falling_part([_point(10, math.nan)]) == []


def test_run_builders_make_every_combination():
    runs = mlp_runs(2, 1, depths=(2, 3), widths=(5, 10), seeds=(0, 1))
    assert len(runs) == 8
    assert MLPRun((2, 10, 10, 1), "silu", 1000, 1) in runs
    assert all(r.widths[0] == 2 and r.widths[-1] == 1 for r in runs)
    kans = kan_runs([(2, 1, 1), (2, 5, 1)], grids=(3, 5), seeds=(0, 1), spline_order=2)
    assert len(kans) == 4 and len({k.key for k in kans}) == 4
    assert kans[0].model_options == (("spline_order", 2),)
    assert "spline_order=2" in kans[0].key


def test_kan_run_gives_one_point_per_grid_stage(data, tmp_path):
    run = KANRun((2, 2, 1), grids=(3, 5), steps_per_grid=3, seed=4)
    path = tmp_path / "sweep.jsonl"
    points = run_sweep(data, [run], path=path)
    assert [p.grid_size for p in points] == [3, 5]
    assert [p.steps for p in points] == [3, 6]
    for p in points:
        expected = n_parameters(KAN([2, 2, 1], grid_size=p.grid_size))
        assert p.n_params == expected
        assert p.family == "kan" and p.shape == "[2,2,1]" and p.seed == 4
        assert math.isfinite(p.test_rmse) and p.test_rmse > 0
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert [r["grid_size"] for r in rows] == [3, 5]


def test_sweep_resumes_without_retraining(data, tmp_path, monkeypatch):
    path = tmp_path / "sweep.jsonl"
    first = run_sweep(data, [MLPRun((2, 4, 1), steps=3)], path=path)
    import kanlab.science.sweeps as sweeps

    def fail(*args, **kwargs):
        raise AssertionError("a finished run was trained again")

    monkeypatch.setattr(sweeps, "train_group", fail)
    again = run_sweep(data, [MLPRun((2, 4, 1), steps=3)], path=path)
    assert again == first
    assert load_points(path) == first
    assert first[0].n_params == 2 * 4 + 4 + 4 + 1


def test_seeds_of_one_shape_train_together_as_they_would_apart(data, tmp_path):
    from kanlab.science.sweep_runs import groups_of
    from kanlab.splines import native

    if not native.available():
        pytest.skip("bitwise equality with lone runs needs the compiled kernel")

    runs = kan_runs([(2, 1, 1), (2, 2, 1)], grids=(3, 5), steps_per_grid=4, seeds=(0, 1))
    runs.append(MLPRun((2, 3, 1), steps=3))
    assert [[r.key for r in g] for g in groups_of(runs)] == [
        [runs[0].key, runs[1].key], [runs[2].key, runs[3].key], [runs[4].key]]
    together = run_sweep(data, runs, path=tmp_path / "a.jsonl")
    apart = run_sweep(data, runs, path=tmp_path / "b.jsonl", ensembles=False)
    fields = ("run", "grid_size", "n_params", "train_rmse", "test_rmse", "steps")
    assert [[getattr(p, f) for f in fields] for p in together] == \
        [[getattr(p, f) for f in fields] for p in apart]
    assert len(together) == 4 * 2 + 1


def test_sweep_results_do_not_depend_on_n_jobs(data):
    runs = [MLPRun((2, 3, 1), steps=4, seed=s) for s in (0, 1)]
    serial = run_sweep(data, runs)
    parallel = run_sweep(data, runs, n_jobs=2)
    assert [p.run for p in parallel] == [p.run for p in serial]
    for a, b in zip(serial, parallel):
        assert a.test_rmse == pytest.approx(b.test_rmse, rel=1e-10)


def test_sweep_rejects_duplicates_and_bad_files(data, tmp_path):
    with pytest.raises(InputError, match="twice"):
        run_sweep(data, [MLPRun((2, 1)), MLPRun((2, 1))])
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"run": "x"}\n')
    with pytest.raises(InputError, match="line 1"):
        load_points(bad)


def test_plot_sweep_draws_runs_mlps_and_fits():
    pytest.importorskip("matplotlib")
    pts = [_point(10, 1e-1, grid=3), _point(20, 1e-2, grid=5),
           _point(30, 1e-1, run="m", family="mlp")]
    fig = plot_sweep(pts, fits={"KAN": fit_scaling([10, 20], [1e-1, 1e-2])}, title="t")
    ax = fig.axes[0]
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "MLP" in labels and any(label.startswith("KAN: α = 3.32") for label in labels)


def test_plot_sweep_without_matplotlib_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(ImportError, match=r"plotting: install matplotlib with "
                                          r"pip install 'kanlab\[plot\]'"):
        plot_sweep([_point(10, 0.1)])


@pytest.mark.parametrize("n_jobs", [0, -1, 1.5, True])
def test_run_sweep_rejects_a_bad_n_jobs(n_jobs):
    with pytest.raises(InputError, match=r"n_jobs must be a positive integer"):
        run_sweep(None, [], n_jobs=n_jobs)


SWEEP_SCRIPT = """\
from kanlab.data import make_dataset
from kanlab.science.sweeps import MLPRun, run_sweep

data = make_dataset(lambda x: x[:, :1] ** 2, 1, n_train=16, n_test=8, seed=0)
runs = [MLPRun((1, 2, 1), steps=2, seed=s) for s in (0, 1)]
{call}
"""
CALL = 'points = run_sweep(data, runs, path="sweep.jsonl", n_jobs=2)\nprint(len(points), "points")'


def _run_script(tmp_path, call):
    script = tmp_path / "sweep_script.py"
    script.write_text(SWEEP_SCRIPT.format(call=call))
    src = Path(__file__).resolve().parent.parent / "src"
    env = {**os.environ, "OMP_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join([str(src), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120, check=False)


def test_run_sweep_in_a_script_without_the_main_guard_says_to_add_it(tmp_path):
    # the README's snippet saved as a script: spawned workers re-ran it and the parent got
    # a BrokenProcessPool after multiprocessing's traceback from each worker
    proc = _run_script(tmp_path, CALL)
    assert proc.returncode == 1
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("kanlab.errors.InputError: run_sweep(n_jobs=2) starts worker"), (
        proc.stderr[-3000:])
    assert 'outside an `if __name__ == "__main__":` guard' in last
    assert f"{tmp_path / 'sweep_script.py'}, line 6," in last
    assert "bootstrapping" not in proc.stderr and "BrokenProcessPool" not in proc.stderr
    assert not (tmp_path / "sweep.jsonl").exists()


def test_run_sweep_in_a_script_with_the_main_guard_runs_in_workers(tmp_path):
    guarded = 'if __name__ == "__main__":\n' + "".join(
        f"    {line}\n" for line in CALL.splitlines())
    proc = _run_script(tmp_path, guarded)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout == "2 points\n"
    assert len(load_points(tmp_path / "sweep.jsonl")) == 2
