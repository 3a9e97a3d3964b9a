"""Wall time of the paper's toy fit: [2, 5, 1] KAN, 50 LBFGS steps, kanlab vs pykan 0.2.8.

f(x, y) = exp(sin(pi x) + y^2), 1000 train / 1000 test points uniform on [-1, 1]^2, float64,
G = 5, k = 3, each library's default fit protocol (full-batch LBFGS with strong-Wolfe line
search, grid updates every 5 steps during the first 50, test loss every step).

Every run is a fresh process (see ``_workers.py``); each does a 2-step untimed warm-up fit on a
throw-away model, then times ``fit`` alone (dataset and model construction excluded). Run ``r``
initialises both libraries' models with seed ``r`` (the data are the same in every run); runs of
the two libraries alternate (which goes first alternating too); the table gives the minimum and
the median wall time over the runs, and the 1-minute load average before and after. Each run
also counts the model's forward passes (loss evaluations of the line search plus the per-step
train/test RMSE records), so that the cost per evaluation can be compared apart from how many
each fit makes.

Usage: ``python benchmarks/bench_fit.py [--quick] [--repeats N]``; writes
``benchmarks/results/fit.md``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import torch
from _common import LoadWatch, fmt, header_lines, markdown_table, threads_text, write_result
from _workers import emit, run_job, toy_f

LIBS = ("kanlab", "pykan")


def _counting(model) -> list[int]:
    """Count ``model``'s forward passes by wrapping its ``forward`` (pykan's fit calls
    ``self.forward`` directly, past any module hook)."""
    count = [0]
    forward = model.forward

    def counted(*args, **kwargs):
        count[0] += 1
        return forward(*args, **kwargs)

    model.forward = counted
    return count


def _kanlab_fit(steps: int, seed: int) -> dict:
    import torch

    import kanlab

    def once(n: int) -> tuple[float, object, int]:
        data = kanlab.data.make_toy_dataset(
            "exp_sin_sq", n_train=1000, n_test=1000, seed=0, dtype=torch.float64
        )
        model = kanlab.KAN([2, 5, 1], grid_size=5, seed=seed, dtype=torch.float64)
        count = _counting(model)
        t0 = time.perf_counter()
        hist = kanlab.fit(model, data, opt="lbfgs", steps=n, progress=False)
        return time.perf_counter() - t0, hist, count[0]

    once(2)  # warm-up
    wall, hist, forwards = once(steps)
    return {"wall": wall, "train_rmse": hist.train_rmse[-1], "test_rmse": hist.test_rmse[-1],
            "forwards": forwards}


def _pykan_fit(steps: int, seed: int) -> dict:
    import torch
    from kan import KAN
    from kan.utils import create_dataset

    torch.set_default_dtype(torch.float64)  # as pykan's hellokan; this process only

    def once(n: int) -> tuple[float, dict, int]:
        dataset = create_dataset(toy_f, n_var=2, train_num=1000, test_num=1000, seed=0)
        model = KAN(width=[2, 5, 1], grid=5, k=3, seed=seed, auto_save=False)
        count = _counting(model)
        t0 = time.perf_counter()
        res = model.fit(dataset, opt="LBFGS", steps=n)
        return time.perf_counter() - t0, res, count[0]

    once(2)  # warm-up
    wall, res, forwards = once(steps)
    return {
        "wall": wall,
        "train_rmse": float(res["train_loss"][-1]),
        "test_rmse": float(res["test_loss"][-1]),
        "forwards": forwards,
    }


def worker(lib: str, steps: int, seed: int) -> None:
    emit(_kanlab_fit(steps, seed) if lib == "kanlab" else _pykan_fit(steps, seed))


def _run_all(steps: int, repeats: int, threads: int | None) -> dict[str, list[dict]]:
    """``repeats`` runs per library, each a fresh process, the libraries taking turns (which
    goes first alternates from run to run)."""
    runs: dict[str, list[dict]] = {lib: [] for lib in LIBS}
    for r in range(repeats):
        for lib in LIBS[r % 2 :] + LIBS[: r % 2]:
            res = run_job("bench_fit.py", [lib, str(steps), str(r)], threads)
            runs[lib].append(res)
            print(
                f"  run {r + 1}/{repeats} {lib:6s} {res['wall']:.2f} s  "
                f"train {res['train_rmse']:.3e}  test {res['test_rmse']:.3e}  "
                f"forwards {res['forwards']}",
                file=sys.stderr,
            )
    return runs


def run(steps: int, repeats: int, quick: bool, threads: int | None = None) -> str:
    with LoadWatch() as load:
        runs = _run_all(steps, repeats, threads)

    def median(lib: str, key: str) -> float:
        return statistics.median(x[key] for x in runs[lib])

    low = {lib: min(x["wall"] for x in runs[lib]) for lib in LIBS}
    med = {lib: median(lib, "wall") for lib in LIBS}
    per_pass = {lib: statistics.median(x["wall"] / x["forwards"] for x in runs[lib])
                for lib in LIBS}  # fmt: skip
    rows = []
    for lib in LIBS:
        walls = ", ".join(f"{x['wall']:.2f}" for x in runs[lib])
        rows.append(
            [lib, f"{low[lib]:.2f}", f"{med[lib]:.2f}", walls, f"{med[lib] / steps * 1e3:.1f}",
             f"{median(lib, 'forwards'):.0f}", f"{per_pass[lib] * 1e3:.2f}",
             fmt(median(lib, "train_rmse")), fmt(median(lib, "test_rmse"))]
        )  # fmt: skip
    head = ["library", "min s", "median s", "runs (s)", "ms/step", "forward passes",
            "ms/forward pass", "train RMSE", "test RMSE"]  # fmt: skip
    mode = "quick" if quick else "full"
    return "\n".join(
        [
            f"# Toy fit timing ({mode}): [2, 5, 1] KAN, {steps} LBFGS steps, float64, CPU",
            "",
            *header_lines(load),
            "",
            "f = exp(sin(pi x) + y^2), 1000 train / 1000 test uniform on [-1, 1]^2. kanlab: "
            "`kanlab.fit(KAN([2,5,1], grid_size=5, seed=r, dtype=float64), "
            f"make_toy_dataset('exp_sin_sq', seed=0), opt='lbfgs', steps={steps}, "
            "progress=False)`; pykan: `KAN(width=[2,5,1], grid=5, k=3, seed=r, "
            f"auto_save=False).fit(create_dataset(f, n_var=2), opt='LBFGS', steps={steps})` "
            "(default dtype float64 in its own process). Only `fit` is timed, after a 2-step "
            f"warm-up; run r of {repeats} (a fresh process each) seeds both models with r; "
            "the libraries take turns, which one goes first alternating from run to run. "
            "min s and median s: over the runs; ms/step and the rest: medians. Forward passes: "
            "the model's, counted by wrapping `forward` (line-search evaluations and the "
            "per-step RMSE records); ms/forward pass is wall time over them, i.e. everything a "
            f"fit does, per evaluation. {threads_text()}.",
            "",
            markdown_table(head, rows),
            "",
            f"pykan/kanlab wall-time ratio: **{med['pykan'] / med['kanlab']:.2f}** (medians), "
            f"{low['pykan'] / low['kanlab']:.2f} (minima); per forward pass: "
            f"**{per_pass['pykan'] / per_pass['kanlab']:.2f}**",
            "",
        ]
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5 steps, 1 run each")
    parser.add_argument("--repeats", type=int, default=None, help="runs per library (3)")
    parser.add_argument("--steps", type=int, default=None, help="LBFGS steps (50)")
    parser.add_argument("--worker", nargs=3, metavar=("LIB", "STEPS", "SEED"),
                        help=argparse.SUPPRESS)
    parser.add_argument(
        "--threads", type=int, default=None, help="torch threads (default: torch's default)"
    )
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.worker:
        worker(args.worker[0], int(args.worker[1]), int(args.worker[2]))
        return
    steps = args.steps or (5 if args.quick else 50)
    repeats = args.repeats or (1 if args.quick else 3)
    text = run(steps, repeats, args.quick, args.threads)
    print(text)
    path = write_result("fit.md", text)
    print(f"wrote {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
