"""The forward-mode derivatives of a KAN (``KAN.forward_derivatives``) against plain forwards.

A PDE residual needs the network's output with its first and pure second derivatives in every
input. ``forward_derivatives`` pushes all three through each layer (one GEMM per order), so its
natural yardstick is three plain forward passes; nested autograd (``torch.autograd.grad`` twice
with ``create_graph``) is the alternative it replaces. Timed per model, float32 on the CPU:

* ``fwd``: under ``torch.no_grad()``: ``forward_derivatives(x)`` against ``model(x)`` (its cost is
  given per plain forward and per three);
* ``train``: the Helmholtz-style loss ``mean((Δu + u)²)`` and its backward through the
  parameters: forward mode against nested autograd, and against three plain forwards + backwards
  of ``mean(u²)``.

Timing: the variants take turns in interleaved rounds (``_common.interleaved_times``: 30 rounds,
the order rotating, about 1 s per variant over all rounds; ``--quick``: 5 rounds of 0.1 s); the
table gives minimum and median. Load before and after and the thread count are in the header.

Usage: ``python benchmarks/bench_derivatives.py [--quick] [--rounds N]``; writes
``benchmarks/results/derivatives.md``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

import torch
from _common import (
    LoadWatch,
    Timing,
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

#: (widths, batch): the Helmholtz PINN on its 64×64 collocation grid, a 3D one, a wide one
MODELS = [([2, 6, 6, 1], 4096), ([3, 10, 10, 1], 4096), ([2, 32, 32, 1], 4096)]


def _laplacian_loss(model: kanlab.KAN, x: torch.Tensor, forward_mode: bool) -> torch.Tensor:
    """``mean((Δu + u)²)``, the Laplacian by forward mode or by nested autograd."""
    if forward_mode:
        u, _, d2u = model.forward_derivatives(x)
        return (d2u.sum(1) + u).square().mean()
    xg = x.detach().requires_grad_()
    u = model(xg)
    (du,) = torch.autograd.grad(u.sum(), xg, create_graph=True)
    lap = sum(torch.autograd.grad(du[:, d].sum(), xg, create_graph=True)[0][:, d]
              for d in range(x.shape[1]))
    return (lap.unsqueeze(1) + u).square().mean()


def _calls(model: kanlab.KAN, x: torch.Tensor) -> dict[str, dict[str, Callable[[], object]]]:
    """Per pass, one closure per variant (the ``fwd`` ones run under ``no_grad``)."""

    def train(loss: Callable[[], torch.Tensor]) -> Callable[[], None]:
        def step() -> None:
            model.zero_grad(set_to_none=True)
            loss().backward()

        return step

    def three_plain() -> torch.Tensor:
        return sum(model(x).square().mean() for _ in range(3))

    return {
        "fwd": {"derivatives": lambda: model.forward_derivatives(x), "plain": lambda: model(x)},
        "train": {
            "forward mode": train(lambda: _laplacian_loss(model, x, True)),
            "nested autograd": train(lambda: _laplacian_loss(model, x, False)),
            "3 plain": train(three_plain),
        },
    }


def measure(widths: list[int], batch: int, rounds: int, min_time: float
            ) -> dict[str, dict[str, Timing]]:
    """Interleaved timings of every variant of both passes for one model."""
    model = kanlab.KAN(widths, grid_size=5, seed=0)
    x = torch.rand(batch, widths[0], generator=torch.Generator().manual_seed(1)) * 2 - 1
    with torch.no_grad():  # the two ways to the Laplacian agree
        u, _, d2u = model.forward_derivatives(x)
    check = _laplacian_loss(model, x, False)
    assert abs(float(check) - float((d2u.sum(1) + u).square().mean())) <= 1e-3 * float(check)
    calls = _calls(model, x)
    with torch.no_grad():
        fwd = interleaved_times(calls["fwd"], rounds=rounds, min_time=min_time)
    return {"fwd": fwd, "train": interleaved_times(calls["train"], rounds=rounds,
                                                     min_time=min_time)}


def rows(name: str, batch: int, timings: dict[str, dict[str, Timing]]) -> list[list[object]]:
    """The table's two rows for one model: milliseconds (min / median) and ratios of minima."""
    f, t = timings["fwd"], timings["train"]
    d, p = f["derivatives"], f["plain"]
    fm, na, tp = t["forward mode"], t["nested autograd"], t["3 plain"]

    def ms(x: Timing) -> str:
        return f"{fmt(x.min * 1e3)} / {fmt(x.median * 1e3)}"

    return [
        [name, batch, "fwd (no grad)", ms(d), ms(p), "–", ratio(d.min, p.min),
         ratio(d.min, 3 * p.min), "–"],
        [name, batch, "train (loss + backward)", ms(fm), "–", ms(na), "–",
         ratio(fm.min, tp.min), ratio(na.min, fm.min)],
    ]  # fmt: skip


HEAD = ["model", "batch", "pass", "forward mode ms (min / median)", "plain forward ms",
        "nested autograd ms", "vs 1 plain", "vs 3 plain", "nested / forward mode"]


def run(rounds: int, min_time: float, quick: bool) -> str:
    """Measure every model; the markdown of ``derivatives.md``."""
    table = []
    with LoadWatch() as load:
        for widths, batch in MODELS:
            table += rows(str(widths), batch, measure(widths, batch, rounds, min_time))
            print(f"  {widths} done", file=sys.stderr)
    mode = mode_text(rounds, quick)
    return "\n".join([
        f"# Forward-mode derivatives of a KAN against plain forwards ({mode}; float32, CPU)",
        "",
        *header_lines(load),
        "",
        "fwd: `model.forward_derivatives(x)` (outputs, first and pure second derivatives in "
        "every input) against `model(x)`, under `torch.no_grad()`. train: `mean((Δu + u)²)` and "
        "its backward, the Laplacian by forward mode or by nested autograd, against three plain "
        "forwards + backwards of `mean(u²)` (\"3 plain\" in the ratio column). G = 5, k = 3. "
        f"{rounds} interleaved rounds per pass; ratios of the minima. {threads_text()}.",
        "",
        markdown_table(HEAD, table),
        "",
    ])  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_round_options(parser)
    args = parser.parse_args(argv)
    rounds, min_time = rounds_of(args)
    text = run(rounds, min_time, args.quick)
    print(text)
    if not args.quick:
        print(f"wrote {write_result('derivatives.md', text)}", file=sys.stderr)


if __name__ == "__main__":
    main()
