"""Many small KANs at once: one batched evaluation of an ensemble against E separate ones.

The model is the paper's toy, a ``[2, 5, 1]`` KAN (G = 5, k = 3, float64) on 1000 points; the
work is one loss-and-gradient evaluation (the forward, the MSE against a target, the backward:
what an LBFGS closure does). For E = 1, 10, 100, 1000 members:

* ``ensemble``: ``kanlab.nn.ensemble.Ensemble([2, 5, 1], members=E)`` on the shared input, the
  summed members' losses, one backward;
* ``separate``: the same E members as E ``kanlab.KAN`` s, one after the other (timed for
  E ≤ 100; "estimated" for E = 1000: E times the per-member time measured at E = 100).

Both take turns (``_common.interleaved_times``: 30 rounds, about 1 s each; ``--quick``: 5 rounds
of 0.1 s). The table gives milliseconds per evaluation of all E members, the time per member,
and separate / ensemble (the speed-up).

Usage: ``python benchmarks/bench_ensemble.py [--quick] [--rounds N] [--threads N]``; a full run
writes ``benchmarks/results/ensemble.md``.
"""

from __future__ import annotations

import argparse
import sys

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

import kanlab
from kanlab.nn.ensemble import Ensemble

D = torch.float64
SIZES = (1, 10, 100, 1000)
SEPARATE_UP_TO = 100


def _data() -> tuple[torch.Tensor, torch.Tensor]:
    x = torch.rand(1000, 2, generator=torch.Generator().manual_seed(0), dtype=D) * 2 - 1
    y = torch.exp(torch.sin(torch.pi * x[:, :1]) + x[:, 1:] ** 2)
    return x, y


def _ensemble_step(e: int, x: torch.Tensor, y: torch.Tensor):
    ens = Ensemble([2, 5, 1], members=e, dtype=D)
    params = list(ens.parameters())

    def step() -> None:
        for p in params:
            p.grad = None
        ((ens(x) - y).square().mean(dim=(1, 2)).sum()).backward()

    return step


def _separate_step(e: int, x: torch.Tensor, y: torch.Tensor):
    models = [kanlab.KAN([2, 5, 1], seed=s, dtype=D) for s in range(e)]

    def step() -> None:
        for m in models:
            for p in m.parameters():
                p.grad = None
            torch.nn.functional.mse_loss(m(x), y).backward()

    return step


def run(rounds: int, min_time: float, quick: bool) -> str:
    x, y = _data()
    rows = []
    per_member = 0.0  # separate ms per member, measured at the largest E that is timed
    with LoadWatch() as load:
        for e in SIZES:
            fns = {"ensemble": _ensemble_step(e, x, y)}
            if e <= SEPARATE_UP_TO:
                fns["separate"] = _separate_step(e, x, y)
            t = interleaved_times(fns, rounds=rounds, min_time=min_time)
            ens_ms = t["ensemble"].min * 1e3
            if "separate" in t:
                per_member = t["separate"].min * 1e3 / e
            sep_ms = per_member * e
            rows.append([e, fmt(ens_ms), fmt(ens_ms / e), fmt(sep_ms),
                         "measured" if "separate" in t else "estimated",
                         ratio(sep_ms, ens_ms)])
            print(f"  E={e}: ensemble {ens_ms:.3g} ms, separate {sep_ms:.3g} ms", file=sys.stderr)
    head = ["members E", "ensemble ms", "ensemble ms / member", "separate ms", "separate",
            "separate / ensemble"]
    return "\n".join([
        f"# Ensembles: one loss-and-gradient evaluation ({mode_text(rounds, quick)}), "
        "[2, 5, 1], 1000 points, float64, CPU", "",
        *header_lines(load), "",
        "ensemble: `Ensemble([2, 5, 1], members=E)` on the shared input, summed MSE, one "
        "backward. separate: E `KAN([2, 5, 1])`, one after the other. Minimum over "
        f"{rounds} interleaved rounds. {threads_text()}.", "",
        markdown_table(head, rows), "",
    ])


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
