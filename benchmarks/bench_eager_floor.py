"""How fast can one loss-and-gradient evaluation of the toy fit's [2, 5, 1] KAN be in eager PyTorch?

The 50-step toy fit (``bench_fit.py``) makes about 1200 evaluations of a [2, 5, 1] KAN on 1000
points in float64. At that size every tensor operation costs a few microseconds whatever its
arithmetic, so a fit's time is set by how many operations an evaluation needs. This script times
one forward + backward of the MSE loss (the closure of an LBFGS step, without the optimiser):

- ``kanlab KAN``: ``kanlab.KAN([2, 5, 1])`` on its initial (uniform) grid, and after a grid
  update (non-uniform knots: binary search and Taylor tables instead of the closed form);
- ``minimal``: a deliberately bare re-implementation for this case only -- uniform cubic knots,
  SiLU base, one custom autograd Function per layer with a hand-written backward, no masks, no
  checks, no symbolic branch, no memory blocking. It is the floor this library's general layer
  could approach, not something to use;
- ``pykan KAN``: pykan 0.2.8's ``KAN(width=[2, 5, 1], grid=5, k=3)`` as its ``fit`` runs it
  with ``lamb = 0`` (activations not saved, the unused symbolic branch off).

All four take turns in one process (``_common.interleaved_times``: 30 rounds, the order
rotating, about 1 s each over all rounds; ``--quick``: 5 rounds of 0.1 s), with float64 the
default dtype for the whole run (as pykan's fit protocol has it; kanlab's models and the minimal
layer name their dtype anyway); pykan's model is built from a temporary directory and its global
seeding undone. The table gives the minimum and the median over the rounds; the 1-minute load
average before and after and the thread count are in the header.

Usage: ``python benchmarks/bench_eager_floor.py [--quick] [--rounds N] [--threads N]``; writes
``benchmarks/results/eager_floor.md``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

import torch
import torch.nn.functional as F
from _common import (
    RESULTS_DIR,
    LoadWatch,
    Timing,
    add_round_options,
    header_lines,
    in_temp_cwd,
    interleaved_times,
    markdown_table,
    mode_text,
    ratio,
    rounds_of,
    threads_text,
    write_result,
)
from _workers import toy_f

DTYPE = torch.float64
G, K = 5, 3
#: (rounds, seconds per evaluation over all rounds) of a full and a quick run

#: uniform cubic B-splines on [0, 1] as rows of powers (1, u, u², u³) -> the four pieces
_PIECES = torch.tensor(
    [[1, 4, 1, 0], [-3, 0, 3, 0], [3, -6, 3, 0], [-1, 3, -3, 1]], dtype=DTYPE
) / 6
#: their derivatives in u, as rows of powers (1, u, u²)
_SLOPES = torch.tensor([[-3, 0, 3, 0], [6, -12, 6, 0], [-3, 9, -9, 3]], dtype=DTYPE) / 6


class _MinimalLayer(torch.autograd.Function):
    """``y = [B(x) | silu(x)] Wᵀ + b`` on a uniform grid over [-1, 1] (extended by k knots)."""

    @staticmethod
    def forward(ctx, x, weight, bias):  # type: ignore[override]
        batch, n_in = x.shape
        nb = G + K
        h = 2 / G
        pos = (x + 1 + K * h) / h  # position in units of h from the first knot
        m = pos.floor().clamp_(0, G + 2 * K - 1)
        u = pos - m
        u2 = u * u
        values = torch.stack([torch.ones_like(u), u, u2, u2 * u], -1) @ _PIECES  # (B, in, 4)
        first = m.long().unsqueeze(-1) - K + torch.arange(4)  # basis index of each value
        cols = first + torch.arange(n_in).unsqueeze(-1) * nb
        trash = n_in * nb + n_in
        cols = torch.where((first >= 0) & (first < nb), cols, trash)
        a = x.new_zeros(batch, trash + 1)
        a.scatter_(1, cols.view(batch, -1), values.view(batch, -1))
        a[:, n_in * nb : trash] = F.silu(x)
        ctx.save_for_backward(x, weight, a, u, cols)
        return torch.addmm(bias, a[:, :-1], weight.t())

    @staticmethod
    def backward(ctx, grad_y):  # type: ignore[override]
        x, weight, a, u, cols = ctx.saved_tensors
        batch, n_in = x.shape
        nb = G + K
        grad_w = grad_y.t() @ a[:, :-1]
        grad_a = F.pad(grad_y @ weight, (0, 1))
        g = grad_a.gather(1, cols.view(batch, -1)).view(batch, n_in, 4)
        c = g @ _SLOPES.t()  # Σ_r g_r B_r'(u) as a quadratic in u
        grad_x = (c[..., 0] + u * (c[..., 1] + u * c[..., 2])) * (G / 2)
        s = torch.sigmoid(x)
        grad_x = grad_x + grad_a[:, n_in * nb : n_in * nb + n_in] * (s * (1 + x * (1 - s)))
        return grad_x, grad_w, grad_y.sum(0)


def _data(n: int = 1000) -> tuple[torch.Tensor, torch.Tensor]:
    """1000 points uniform on [-1, 1]² (seed 0) and the toy function's values."""
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(n, 2, generator=gen, dtype=DTYPE) * 2 - 1
    return x, toy_f(x)


def _evaluation(model, x, y) -> Callable[[], None]:
    """One loss-and-gradient evaluation of ``model``: zero grads, forward, MSE, backward."""

    def closure():
        model.zero_grad()
        F.mse_loss(model(x), y).backward()

    return closure


def _minimal_evaluation(x, y) -> Callable[[], None]:
    """The same evaluation through two :class:`_MinimalLayer` s (seeded random weights)."""
    gen = torch.Generator().manual_seed(0)
    params = [torch.randn(5, 2 * (G + K + 1), generator=gen, dtype=DTYPE) * 0.1,
              torch.zeros(5, dtype=DTYPE),
              torch.randn(1, 5 * (G + K + 1), generator=gen, dtype=DTYPE) * 0.1,
              torch.zeros(1, dtype=DTYPE)]  # fmt: skip
    for p in params:
        p.requires_grad_()

    def minimal():
        for p in params:
            p.grad = None
        hidden = _MinimalLayer.apply(x, params[0], params[1])
        F.mse_loss(_MinimalLayer.apply(hidden, params[2], params[3]), y).backward()

    return minimal


def kanlab_calls(x, y) -> dict[str, Callable[[], None]]:
    """kanlab's evaluation on the uniform grid and after a grid update, and the minimal one."""
    import kanlab

    uniform = kanlab.KAN([2, 5, 1], grid_size=G, seed=0, dtype=DTYPE)
    adapted = kanlab.KAN([2, 5, 1], grid_size=G, seed=0, dtype=DTYPE)
    adapted.update_grid(x)
    return {"uniform": _evaluation(uniform, x, y), "adapted": _evaluation(adapted, x, y),
            "minimal": _minimal_evaluation(x, y)}  # fmt: skip


def pykan_call(x, y) -> Callable[[], None] | None:
    """pykan's evaluation as its ``fit`` runs it with ``lamb = 0``; ``None`` if not installed."""
    try:
        from kan import KAN
    except ImportError:
        return None
    state = torch.random.get_rng_state()
    with in_temp_cwd():
        model = KAN(width=[2, 5, 1], grid=G, k=K, seed=0, auto_save=False)
    torch.random.set_rng_state(state)  # pykan seeds the global RNGs; undo for the others
    model.disable_symbolic_in_fit(0.0)  # as its fit with lamb = 0: no saved activations
    return _evaluation(model, x, y)


ROWS = (("uniform", "kanlab KAN, uniform grid"), ("adapted", "kanlab KAN, after a grid update"),
        ("minimal", "minimal (uniform grid only)"), ("pykan", "pykan KAN"))  # fmt: skip


def table(times: dict[str, Timing]) -> str:
    """Min and median ms of every evaluation, against the minimal one and against pykan."""
    floor, theirs = times["minimal"], times.get("pykan")
    rows = []
    for key, label in ROWS:
        t = times.get(key)
        if t is None:
            continue
        rows.append([label, f"{t.min * 1e3:.3f}", f"{t.median * 1e3:.3f}",
                     ratio(t.min, floor.min), ratio(t.median, floor.median),
                     ratio(theirs and theirs.min, t.min),
                     ratio(theirs and theirs.median, t.median)])  # fmt: skip
    head = ["evaluation", "min ms", "median ms", "× minimal (min)", "× minimal (median)",
            "pykan / this (min)", "pykan / this (median)"]  # fmt: skip
    return markdown_table(head, rows)


def run(rounds: int, min_time: float, quick: bool) -> str:
    """Time the four evaluations interleaved; the markdown of ``eager_floor.md``."""
    default = torch.get_default_dtype()
    torch.set_default_dtype(DTYPE)  # pykan's protocol; restored below
    try:
        x, y = _data()
        calls = kanlab_calls(x, y)
        pykan = pykan_call(x, y)
        if pykan is not None:
            calls["pykan"] = pykan
        with LoadWatch() as load:
            times = interleaved_times(calls, rounds=rounds, min_time=min_time)
    finally:
        torch.set_default_dtype(default)
    mode = mode_text(rounds, quick)
    return "\n".join([
        "# One loss-and-gradient evaluation of the toy fit's [2, 5, 1] KAN (eager PyTorch; "
        f"{mode})",
        "",
        *header_lines(load),
        "",
        "1000 points uniform on [-1, 1]², f = exp(sin(πx) + y²), float64, G = 5, k = 3; "
        f"forward + MSE + backward. {rounds} rounds in which the four evaluations take turns "
        "(the order rotating; each one's calls per round calibrated so that its rounds take "
        f"about {min_time:g} s in all); ratios of the minima and of the medians. "
        f"{threads_text()}. See the script's docstring for what `minimal` leaves out.",
        "",
        table(times),
        "",
        _budget_line(times["minimal"].min),
        "",
    ])  # fmt: skip


def _pykan_fit_ms_per_pass() -> float | None:
    """pykan's fit milliseconds per forward pass, read from ``fit.md``'s table (the column
    named ``ms/forward pass``), or ``None`` when there is no such file or row."""
    path = RESULTS_DIR / "fit.md"
    if not path.exists():
        return None
    header: list[str] = []
    for line in path.read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if cells[0] == "library":
            header = cells
        elif cells[0] == "pykan" and "ms/forward pass" in header:
            try:
                return float(cells[header.index("ms/forward pass")])
            except (IndexError, ValueError):
                return None
    return None


def _budget_line(floor: float) -> str:
    """What a fit 5× faster than pykan's may spend per forward pass, from ``fit.md``."""
    per_pass = _pykan_fit_ms_per_pass()
    if per_pass is None:
        return "(Run bench_fit.py first for pykan's fit cost per forward pass.)"
    return (f"`fit.md` measures pykan's 50-step fit at {per_pass:.2f} ms per forward pass, "
            "everything included, and kanlab's fit makes about as many passes; a fit 5× faster "
            f"would have {per_pass / 5:.2f} ms per pass for everything (evaluation, optimiser, "
            f"grid updates, records). The minimal evaluation alone takes {floor * 1e3:.2f} ms "
            "(its minimum).")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_round_options(parser)
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads (default: torch's default)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    rounds, min_time = rounds_of(args)
    text = run(rounds, min_time, args.quick)
    print(text)
    if not args.quick:  # a smoke test does not replace the results
        print(f"wrote {write_result('eager_floor.md', text)}", file=sys.stderr)


if __name__ == "__main__":
    main()
