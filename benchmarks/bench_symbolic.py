"""Speed of symbolic regression: one edge against a library, and auto-symbolic of a model.

kanlab: ``kanlab.symbolic.fit_library`` on one edge's 1000 samples against the whole default
library (27 functions), and ``auto_symbolic`` of a trained [2, 5, 1] KAN (15 edges, default
library). pykan 0.2.8 (when installed): ``suggest_symbolic`` of one edge of a trained
[2, 5, 1] model against its 10-function ``lib`` of the hellokan tutorial (each function
fitted by its 101² grid with 3 zooms), timed the same way.

Usage: ``python benchmarks/bench_symbolic.py``; writes ``benchmarks/results/symbolic.md``.
"""

from __future__ import annotations

import statistics
import time

import torch
from _common import LoadWatch, header_lines, markdown_table, write_result

HELLOKAN_LIB = ["x", "x^2", "x^3", "x^4", "exp", "log", "sqrt", "tanh", "sin", "abs"]


def _median_time(fn, repeats: int = 5) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def kanlab_rows() -> list[list[object]]:
    import kanlab
    from kanlab.data import make_toy_dataset
    from kanlab.interpret.symbolic_model import edge_samples
    from kanlab.symbolic import DEFAULT_LIBRARY, fit_library

    data = make_toy_dataset("exp_sin_sq", seed=0, dtype=torch.float64)
    model = kanlab.KAN([2, 5, 1], seed=0, dtype=torch.float64)
    kanlab.fit(model, data, steps=20, progress=False)
    u, v = edge_samples(model, 0, 0, 0)
    one_edge = _median_time(lambda: fit_library(u, v))
    ten = _median_time(lambda: fit_library(u, v, HELLOKAN_LIB))

    def auto():
        m = kanlab.KAN([2, 5, 1], seed=0, dtype=torch.float64)
        m.load_state_dict(model.state_dict())
        m.record(model.recorded_inputs)
        m.auto_symbolic()

    auto_s = _median_time(auto, repeats=3)
    n = len(DEFAULT_LIBRARY)
    return [
        ["kanlab", f"1 edge x {n} functions (default library)", f"{one_edge:.3f}"],
        ["kanlab", "1 edge x 10 functions (hellokan lib)", f"{ten:.3f}"],
        ["kanlab", f"auto_symbolic, [2, 5, 1]: 15 edges x {n} functions", f"{auto_s:.2f}"],
    ]


def pykan_rows() -> list[list[object]]:
    try:
        from kan import KAN, create_dataset
    except ImportError:
        return [["pykan", "not installed", "n/a"]]
    import contextlib
    import io
    import os
    import tempfile

    state = torch.random.get_rng_state()
    dtype = torch.get_default_dtype()
    old = os.getcwd()
    with tempfile.TemporaryDirectory() as tmp:
        os.chdir(tmp)
        try:
            torch.set_default_dtype(torch.float64)

            def f(x):
                return torch.exp(torch.sin(torch.pi * x[:, [0]]) + x[:, [1]] ** 2)

            dataset = create_dataset(f, n_var=2)
            model = KAN(width=[2, 5, 1], grid=5, k=3, seed=1, auto_save=False)
            with contextlib.redirect_stdout(io.StringIO()):
                model.fit(dataset, opt="LBFGS", steps=20, display_metrics=[])
                model(dataset["train_input"])
                t0 = time.perf_counter()
                model.suggest_symbolic(0, 0, 0, lib=HELLOKAN_LIB, verbose=False)
                one = time.perf_counter() - t0
        finally:
            os.chdir(old)
            torch.set_default_dtype(dtype)
            torch.random.set_rng_state(state)
    return [["pykan 0.2.8", "1 edge x 10 functions (hellokan lib), suggest_symbolic",
             f"{one:.2f}"]]


def main() -> None:
    with LoadWatch() as load:
        rows = kanlab_rows() + pykan_rows()
    table = markdown_table(["library", "task", "seconds (median of 5; pykan: one run)"], rows)
    text = (
        "# Symbolic regression speed\n\n"
        + "\n".join(header_lines(load)) + "\n\n"
        "Samples: 1000 training inputs of exp(sin(pi x) + y^2) through a [2, 5, 1] KAN "
        "trained 20 LBFGS steps (float64).\n\n" + table + "\n"
    )
    print(text)
    write_result("symbolic.md", text)


if __name__ == "__main__":
    main()
