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
  with ``lamb = 0`` (activations not saved, the unused symbolic branch off), in its own process.

Usage: ``python benchmarks/bench_eager_floor.py``; writes ``benchmarks/results/eager_floor.md``.
"""

from __future__ import annotations

import argparse
import re
import sys

import torch
import torch.nn.functional as F
from _common import RESULTS_DIR, env_line, markdown_table, time_fn, write_result
from _workers import emit, run_job, toy_f

DTYPE = torch.float64
G, K = 5, 3

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
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(n, 2, generator=gen, dtype=DTYPE) * 2 - 1
    return x, toy_f(x)


def _evaluation(model, x, y):
    def closure():
        model.zero_grad()
        F.mse_loss(model(x), y).backward()

    return closure


def kanlab_times() -> dict[str, float]:
    import kanlab

    x, y = _data()
    model = kanlab.KAN([2, 5, 1], grid_size=G, seed=0, dtype=DTYPE)
    uniform = time_fn(_evaluation(model, x, y))
    model.update_grid(x)
    adapted = time_fn(_evaluation(model, x, y))

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

    return {"uniform": uniform, "adapted": adapted, "minimal": time_fn(minimal)}


def pykan_time() -> float:
    from kan import KAN

    torch.set_default_dtype(DTYPE)  # this worker process only
    x, y = _data()
    model = KAN(width=[2, 5, 1], grid=G, k=K, seed=0, auto_save=False)
    model.disable_symbolic_in_fit(0.0)  # as its fit with lamb = 0: no saved activations
    return time_fn(_evaluation(model, x, y))


def run(threads: int | None) -> str:
    ours = run_job("bench_eager_floor.py", ["kanlab"], threads)
    theirs = run_job("bench_eager_floor.py", ["pykan"], threads)["seconds"]
    rows = [
        ["kanlab KAN, uniform grid", ours["uniform"]],
        ["kanlab KAN, after a grid update", ours["adapted"]],
        ["minimal (uniform grid only)", ours["minimal"]],
        ["pykan KAN", theirs],
    ]
    floor = ours["minimal"]
    table = markdown_table(
        ["evaluation", "ms", "× minimal", "pykan / this"],
        [[name, f"{t * 1e3:.3f}", f"{t / floor:.2f}", f"{theirs / t:.2f}"] for name, t in rows],
    )
    return "\n".join([
        "# One loss-and-gradient evaluation of the toy fit's [2, 5, 1] KAN (eager PyTorch)",
        "",
        f"Environment: {env_line()}",
        "",
        "1000 points uniform on [-1, 1]², f = exp(sin(πx) + y²), float64, G = 5, k = 3; "
        "forward + MSE + backward, median of repeats (`_common.time_fn`). See the script's "
        "docstring for what `minimal` leaves out.",
        "",
        table,
        "",
        _budget_line(floor),
        "",
    ])  # fmt: skip


def _budget_line(floor: float) -> str:
    """What a fit 5× faster than pykan's may spend per forward pass, from ``fit.md``."""
    path = RESULTS_DIR / "fit.md"
    found = re.search(r"^\| pykan \|(?:[^|]*\|){4}\s*([0-9.]+)\s*\|", path.read_text(),
                      re.MULTILINE) if path.exists() else None
    if found is None:
        return "(Run bench_fit.py first for pykan's fit cost per forward pass.)"
    per_pass = float(found.group(1))
    return (f"`fit.md` measures pykan's 50-step fit at {per_pass:.2f} ms per forward pass, "
            "everything included, and kanlab's fit makes about as many passes; a fit 5× faster "
            f"would have {per_pass / 5:.2f} ms per pass for everything (evaluation, optimiser, "
            f"grid updates, records). The minimal evaluation alone takes {floor * 1e3:.2f} ms.")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", choices=("kanlab", "pykan"), help=argparse.SUPPRESS)
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads (default: torch's default)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.worker == "kanlab":
        emit(kanlab_times())
        return
    if args.worker == "pykan":
        emit({"seconds": pykan_time()})
        return
    text = run(args.threads)
    print(text)
    print(f"wrote {write_result('eager_floor.md', text)}", file=sys.stderr)


if __name__ == "__main__":
    main()
