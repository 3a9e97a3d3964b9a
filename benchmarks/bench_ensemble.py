"""Many small KANs at once: ensembles against E separate models, and against pykan.

The model is the paper's toy, a ``[2, 5, 1]`` KAN (G = 5, k = 3, float64) on 1000 points of
``exp(sin(πx) + y²)``. Three tables:

1. **One loss-and-gradient evaluation** (what an LBFGS closure does) for E = 1, 10, 100, 1000:
   ``batched`` -- ``Ensemble([2, 5, 1], members=E)`` on the shared input through autograd, the
   summed members' losses, one backward; ``fused`` -- the same through
   :func:`~kanlab.nn.ensemble_layer.fused_squared_error` (each member's forward, loss and
   backward in one compiled call, what ``fit`` uses); ``separate`` -- E ``kanlab.KAN`` s one
   after the other (timed for E ≤ 100; "estimated" at 1000: E times the per-member time at
   100). Interleaved rounds (``_common.interleaved_times``).
2. **The toy fit** (50 LBFGS steps, grid updates every 5 steps, the test RMSE every step:
   ``kanlab.fit``'s defaults) for E = 1, 10, 100: the ensemble's wall time, E separate fits
   (timed for E ≤ 10; E = 100 estimated as 10 times E = 10), and one pykan 0.2.8 fit of the
   same protocol in its own process (``bench_fit.py``'s worker). Each member's final test RMSE
   is the separate fit's to the bit (checked for the members fitted both ways).
3. **Memory**: the peak CPU bytes allocated during one LBFGS step (20 iterations) of an
   ensemble of 10 and of one lone model (profiler allocation trace, as ``bench_layer.py``).

Usage: ``python benchmarks/bench_ensemble.py [--quick] [--rounds N] [--threads N]``; a full run
writes ``benchmarks/results/ensemble.md`` (about 4 minutes, one thread).
"""

from __future__ import annotations

import argparse
import sys
import time

import torch
from _common import (
    LoadWatch,
    add_round_options,
    fmt,
    header_lines,
    interleaved_times,
    markdown_table,
    mode_text,
    ratio,
    rounds_of,
    threads_text,
    write_result,
)
from _workers import run_job
from bench_layer import peak_alloc_bytes

import kanlab
from kanlab.nn.ensemble import Ensemble
from kanlab.nn.ensemble_layer import fused_squared_error
from kanlab.training.ensemble_lbfgs import EnsembleLBFGS
from kanlab.training.step import make_optimizer, optimizer_settings

D = torch.float64
SIZES = (1, 10, 100, 1000)
SEPARATE_UP_TO = 100
FIT_SIZES = (1, 10, 100)
FIT_SEPARATE_UP_TO = 10
MB = 2.0**20


def _data() -> tuple[torch.Tensor, torch.Tensor]:
    x = torch.rand(1000, 2, generator=torch.Generator().manual_seed(0), dtype=D) * 2 - 1
    y = torch.exp(torch.sin(torch.pi * x[:, :1]) + x[:, 1:] ** 2)
    return x, y


def _batched_step(ens: Ensemble, x: torch.Tensor, y: torch.Tensor):
    params = list(ens.parameters())

    def step() -> None:
        for p in params:
            p.grad = None
        ((ens(x) - y).square().mean(dim=(1, 2)).sum()).backward()

    return step


def _fused_step(ens: Ensemble, x: torch.Tensor, y: torch.Tensor):
    params = list(ens.parameters())

    def step() -> None:
        for p in params:
            p.grad = None
        fused_squared_error(ens.layers, x, y)

    return step


def _separate_step(models: list, x: torch.Tensor, y: torch.Tensor):
    def step() -> None:
        for m in models:
            for p in m.parameters():
                p.grad = None
            torch.nn.functional.mse_loss(m(x), y).backward()

    return step


def evaluation_table(rounds: int, min_time: float) -> list[list[object]]:
    x, y = _data()
    rows = []
    per_member = 0.0  # separate ms per member, measured at the largest E that is timed
    for e in SIZES:
        ens = Ensemble([2, 5, 1], members=e, dtype=D)
        fns = {"batched": _batched_step(ens, x, y), "fused": _fused_step(ens, x, y)}
        if e <= SEPARATE_UP_TO:
            models = [kanlab.KAN([2, 5, 1], seed=s, dtype=D) for s in range(e)]
            fns["separate"] = _separate_step(models, x, y)
        t = interleaved_times(fns, rounds=rounds, min_time=min_time)
        batched, fused = t["batched"].min * 1e3, t["fused"].min * 1e3
        if "separate" in t:
            per_member = t["separate"].min * 1e3 / e
        sep = per_member * e
        rows.append([e, fmt(batched), fmt(fused), fmt(fused / e), fmt(sep),
                     "measured" if "separate" in t else "estimated", ratio(sep, batched),
                     ratio(sep, fused)])
        print(f"  E={e}: batched {batched:.3g} ms, fused {fused:.3g} ms, separate {sep:.3g} ms",
              file=sys.stderr)
    return rows


def _toy(n: int = 1000):
    return kanlab.data.make_toy_dataset("exp_sin_sq", n_train=n, n_test=1000, seed=0, dtype=D)


def _time_fit(model, steps: int) -> tuple[float, object]:
    data = _toy()
    start = time.perf_counter()
    history = kanlab.fit(model, data, steps=steps, progress=False)
    return time.perf_counter() - start, history


def fit_table(steps: int, sizes: tuple[int, ...], pykan: bool) -> tuple[list, dict]:
    _time_fit(Ensemble([2, 5, 1], members=2, dtype=D), 2)  # warm-ups
    _time_fit(kanlab.KAN([2, 5, 1], dtype=D), 2)
    lone_rmse: dict[int, float] = {}
    separate: dict[int, float] = {}
    for e in sizes:
        if e <= FIT_SEPARATE_UP_TO:
            walls = []
            for s in range(e):
                wall, h = _time_fit(kanlab.KAN([2, 5, 1], seed=s, dtype=D), steps)
                walls.append(wall)
                lone_rmse[s] = h.test_rmse[-1]
            separate[e] = sum(walls)
    one = separate[1]
    rows, ensemble = [], {}
    for e in sizes:
        wall, history = _time_fit(Ensemble([2, 5, 1], members=e, dtype=D), steps)
        ensemble[e] = wall
        same = all(history[s].test_rmse[-1] == lone_rmse[s] for s in range(e) if s in lone_rmse)
        sep = separate.get(e, separate[max(separate)] * e / max(separate))
        rows.append([e, f"{wall:.2f}", f"{wall / e:.3f}", f"{sep:.2f}",
                     "measured" if e in separate else "estimated", ratio(wall, one),
                     ratio(sep, wall), "yes" if same else "NO"])
        print(f"  fit E={e}: ensemble {wall:.2f} s, separate {sep:.2f} s", file=sys.stderr)
    extra = {"one": one, "ensemble": ensemble}
    if pykan:
        try:
            extra["pykan"] = run_job("bench_fit.py", ["pykan", str(steps), "0"])["wall"]
        except RuntimeError as err:  # pykan not installed: `make bench` installs it
            print(f"  pykan: not run ({str(err).splitlines()[-1]})", file=sys.stderr)
    return rows, extra


def memory_table() -> list[list[object]]:
    x, y = _data()
    rows = []
    lone = kanlab.KAN([2, 5, 1], seed=0, dtype=D)
    opt = make_optimizer("lbfgs", lone.parameters(), None, None)

    def lone_closure():
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(lone(x), y)
        loss.backward()
        return loss

    lone_peak = peak_alloc_bytes(lambda: opt.step(lone_closure))
    for e in (10, 100):
        ens = Ensemble([2, 5, 1], members=e, dtype=D)
        eopt = EnsembleLBFGS(list(ens.parameters()), e, **optimizer_settings("lbfgs", None, None))

        def closure(which=None, ens=ens, eopt=eopt):
            eopt.zero_grad()
            return fused_squared_error(ens.layers, x, y, which)

        peak = peak_alloc_bytes(lambda eopt=eopt, closure=closure: eopt.step(closure))
        if peak is None or lone_peak is None:
            rows.append([e, "n/a", "n/a", "n/a"])
        else:
            rows.append([e, fmt(peak / MB), fmt(e * lone_peak / MB), ratio(peak, e * lone_peak)])
    return rows


def run(rounds: int, min_time: float, quick: bool) -> str:
    steps = 3 if quick else 50
    with LoadWatch() as load:
        evaluation = evaluation_table(rounds, min_time)
        fits, extra = fit_table(steps, FIT_SIZES[:2] if quick else FIT_SIZES, not quick)
        memory = memory_table()
    lines = [
        f"# Ensembles of the toy KAN ({mode_text(rounds, quick)}): [2, 5, 1], 1000 points, "
        "float64, CPU", "",
        *header_lines(load), "",
        "## One loss-and-gradient evaluation", "",
        "batched: `Ensemble([2, 5, 1], members=E)` on the shared input through autograd, the "
        "summed MSE, one backward; fused: `fused_squared_error` (each member's forward, loss "
        "and backward in one compiled call, as `fit` evaluates); separate: E `KAN([2, 5, 1])` "
        f"one after the other. Minimum over {rounds} interleaved rounds. {threads_text()}.", "",
        markdown_table(["members E", "batched ms", "fused ms", "fused ms / member",
                        "separate ms", "separate", "separate / batched", "separate / fused"],
                       evaluation), "",
        f"## The toy fit: {steps} LBFGS steps, `kanlab.fit` defaults", "",
        "ensemble: `fit(Ensemble([2, 5, 1], members=E), data)`; separate: E `fit(KAN([2, 5, 1], "
        "seed=s), data)` one after the other (E = 100: estimated as 10 times E = 10); time "
        "(E) / time (1): the ensemble against one lone fit; same RMSE: every member fitted both "
        "ways ends with the lone fit's test RMSE to the bit.", "",
        markdown_table(["members E", "ensemble s", "s / member", "separate s", "separate",
                        "ensemble / one lone fit", "separate / ensemble", "same RMSE"], fits),
        "",
    ]
    if "pykan" in extra:
        per_model = extra["ensemble"][max(extra["ensemble"])] / max(extra["ensemble"])
        lines += [f"pykan 0.2.8, one fit of the same protocol (its own process): "
                  f"{extra['pykan']:.2f} s; per model, pykan / ensemble at E = "
                  f"{max(extra['ensemble'])}: **{ratio(extra['pykan'], per_model)}**; pykan / "
                  f"one lone kanlab fit: {ratio(extra['pykan'], extra['one'])}.", ""]
    lines += [
        "## Memory: one LBFGS step (20 iterations)", "",
        "peak: CPU bytes allocated above the starting level during `optimizer.step` "
        "(profiler allocation trace); members' sum: E times a lone model's peak.", "",
        markdown_table(["members E", "ensemble peak MiB", "members' sum MiB",
                        "ensemble / sum"], memory), "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_round_options(parser)
    parser.add_argument("--threads", type=int, default=None, help="torch threads")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    rounds, min_time = rounds_of(args)
    text = run(rounds, min_time, args.quick)
    print(text)
    if not args.quick:
        print(f"wrote {write_result('ensemble.md', text)}", file=sys.stderr)


if __name__ == "__main__":
    main()
