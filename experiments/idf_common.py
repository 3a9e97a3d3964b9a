"""Shared pieces of the importance-density grid-adaptation benchmarks (``idf_*.py``).

The arms, the scheduled training loop (extend and adapt in one fit at each schedule epoch, then a
fresh Adam, as the reference code ``srigas/kan_grid`` does), the run records (CSV) and the
summary tables: per-case medians over seeds, reductions vs ``input``, the mean reduction (the
paper's statistic), a Wilcoxon signed-rank test over cases and the adaptation overhead.
"""

from __future__ import annotations

import csv
import math
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

import kanlab
from kanlab.grids.density import DensityGrid

RESULTS = Path(__file__).resolve().parent / "results"
MARGIN = 0.01  # the reference code's bounds: 1 % of the batch range beyond each end

def network_curvature_f32(x, layer, context):
    """The reference's network curvature as it computes it: in the model's float32.

    With h = 1e-3 each second difference carries a rounding error of about eps·|f|/h² ≈ 0.1·|f|,
    a roughly uniform floor under the weights (kanlab's ``curvature_network`` uses float64).
    """
    if "curvature_f32" not in context.cache:
        model, x0, h = context.model, context.inputs, 1e-3
        with torch.no_grad():
            f0 = model(x0)
            total = torch.zeros(x0.shape[0], dtype=f0.dtype, device=x0.device)
            for k in range(x0.shape[1]):
                step = torch.zeros_like(x0)
                step[:, k] = h
                total += ((model(x0 + step) - 2 * f0 + model(x0 - step)) / h**2).abs().sum(1)
        context.cache["curvature_f32"] = total
    return context.cache["curvature_f32"]


# arm -> its grid strategy. Every arm but `curvature` (kanlab's default rule) sets floor=0.0 and
# guard=None: the rules as the paper and the first benchmarks ran them.
RAW = {"floor": 0.0, "guard": None, "eps": 0.0, "margin": MARGIN}
ARMS: dict[str, Callable[[], DensityGrid]] = {
    "input": lambda: DensityGrid("input", **RAW),
    "curvature": lambda: DensityGrid("curvature", eps=0.0, margin=MARGIN),
    "curvature_keep": lambda: DensityGrid("curvature", fallback="keep", eps=0.0,
                                          margin=MARGIN),
    "curvature_input": lambda: DensityGrid("curvature", fallback="input", eps=0.0,
                                           margin=MARGIN),
    "curvature_paper": lambda: DensityGrid("curvature", power=1.0, **RAW),
    "curvature_network": lambda: DensityGrid("curvature_network", power=1.0, **RAW),
    "curvature_p05": lambda: DensityGrid("curvature", power=0.5, **RAW),
    "curvature_network_f32": lambda: DensityGrid(network_curvature_f32, power=1.0, **RAW),
}
DEFAULT_ARMS = ("input", "curvature", "curvature_paper", "curvature_network")
ARM_NOTES = (
    "`input`: knots at sample quantiles; `curvature`: **kanlab's default rule** -- per-layer "
    "Σ_j |φ''_ji| weights raised to (k+1)/(2k+3) = 4/9, no interval below 0.1 of the uniform "
    "one, and the guard (an update undone when it makes the loss on the batch worse by more "
    "than 50 % or lets the output layer fit less well than the knots an undone update leaves; "
    "with real targets (least squares, exact) an undone update keeps the old knots, with an "
    "estimated check (a PDE's residual: 20 LBFGS steps, the new knots must win by 5 %) it makes "
    "the input rule's move; `kanlab.nn.grid_update`); `curvature_keep` (where run): the same, "
    "its undone updates always keeping the old knots (the default until 2026-12-06: on data "
    "fits it is the default's computation); `curvature_input` (where run): always the input "
    "rule's move; "
    "`curvature_paper`: per-layer Σ_j |φ''_ji| from the splines (closed form, power 1, no floor: "
    "the paper's formula per layer); `curvature_network`: the reference code's rule (network "
    "second differences, h = 1e-3, float64, one weight per sample for every layer) — **the "
    "paper's actual arm**; `curvature_p05`: per-layer |φ''| weights raised to the power 0.5, "
    "no floor; `curvature_network_f32` (where run): the reference's rule computed in float32 "
    "as the JAX reference does. All arms: eps = 0, margin = 1 % of the batch range at both "
    "grid ends (the reference's bounds); runs labelled `curvature` before 2026-12-06 were the "
    "raw per-layer rule and are relabelled `curvature_paper`."
)


@dataclass
class Run:
    case: str
    arm: str
    seed: int
    error: float
    train_s: float
    adapt_s: float


def train_scheduled(
    model: kanlab.KAN,
    x_adapt: torch.Tensor,
    loss_fn: Callable[[kanlab.KAN], torch.Tensor],
    epochs: int,
    schedule: dict[int, int],
    lr: float,
    y_adapt: torch.Tensor | None = None,
) -> tuple[float, float]:
    """Full-batch Adam; at each schedule epoch extend to ``G`` and adapt in one fit on ``x_adapt``.

    ``model.update_grid(x, grid_size=G, y=y_adapt)`` replaces the parameters, so a fresh Adam
    follows (as the reference resets its optimiser). A strategy's guard judges the update by
    the training loss ``loss_fn`` (and, with the targets ``y_adapt``, by the output layer's
    best least-squares fit); arms without a guard ignore both. Returns (training seconds,
    seconds spent adapting).
    """
    adapt_s, opt = 0.0, None
    start = time.perf_counter()
    for epoch in range(epochs):
        if epoch in schedule:
            t0 = time.perf_counter()
            objective = None if y_adapt is not None else loss_fn
            model.update_grid(x_adapt, grid_size=schedule[epoch], y=y_adapt,
                              objective=objective)
            adapt_s += time.perf_counter() - t0
            opt = torch.optim.Adam(model.parameters(), lr=lr)
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model)
        loss.backward()
        opt.step()
    return time.perf_counter() - start, adapt_s


@torch.no_grad()
def relative_l2(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """``||pred - y|| / ||y||`` (computed in float64)."""
    pred = model(x.to(model.dtype)).to(torch.float64).reshape(y.shape)
    return float(torch.linalg.vector_norm(pred - y) / torch.linalg.vector_norm(y))


# ---------------------------------------------------------------------------- summaries
def median_errors(runs: list[Run], cases: list[str], arms) -> dict[str, dict[str, float]]:
    """Median error over seeds, per case and arm (non-finite runs count as +inf)."""
    out: dict[str, dict[str, float]] = {}
    for c in cases:
        out[c] = {}
        for arm in arms:
            errs = [r.error if math.isfinite(r.error) else math.inf
                    for r in runs if r.case == c and r.arm == arm]
            out[c][arm] = statistics.median(errs) if errs else math.nan
    return out


def reduction(base: float, other: float) -> float:
    """Reduction of ``other`` relative to ``base`` in %."""
    return 100.0 * (base - other) / base


def wilcoxon_p(a: list[float], b: list[float]) -> float:
    """Two-sided Wilcoxon signed-rank p-value of paired samples (NaN when undefined)."""
    from scipy.stats import wilcoxon  # lazy: only the summary needs scipy

    if len(a) < 2 or all(u == v for u, v in zip(a, b)):
        return math.nan
    try:
        return float(wilcoxon(a, b).pvalue)
    except ValueError:
        return math.nan


def geo_ratio(base: list[float], other: list[float]) -> float:
    """Geometric mean of ``other / base`` (< 1: ``other`` is better)."""
    return math.exp(statistics.mean(math.log(o / b) for b, o in zip(base, other)))


def overhead(runs: list[Run], arm: str) -> float:
    """Adaptation time as a % of the total training time, over all runs of an arm."""
    sel = [r for r in runs if r.arm == arm]
    total = sum(r.train_s for r in sel)
    return 100.0 * sum(r.adapt_s for r in sel) / total if total else math.nan


def paper_medians(rows: list[tuple[str, str, float]]) -> dict[str, tuple[float, float]]:
    """``(case, method, error)`` rows of a reference results CSV -> case: (input, curvature)."""
    out: dict[str, tuple[float, float]] = {}
    for case in dict.fromkeys(c for c, _, _ in rows):
        med = [statistics.median(e for c, m, e in rows if c == case and m == method)
               for method in ("input_adaptive", "curvature_adaptive")]
        out[case] = (med[0], med[1])
    return out


def summary(runs: list[Run], cases: list[str], arms: list[str],
            paper: dict[str, tuple[float, float]], paper_reported: float,
            case_label: str = "function", wall: str | None = None) -> list[str]:
    """Markdown tables: per-case medians and reductions, then the statistics over cases, and
    (with ``wall``) a footer with the run count, non-finite errors and the wall time."""
    med = median_errors(runs, cases, arms)
    others = [a for a in arms if a != "input"]
    red = {a: [reduction(med[c]["input"], med[c][a]) for c in cases] for a in others}
    pcases = [c for c in cases if c in paper]
    p_in, p_cu = [paper[c][0] for c in pcases], [paper[c][1] for c in pcases]
    p_red = [reduction(i, c) for i, c in zip(p_in, p_cu)]
    head = " | ".join(arms) + " | " + " | ".join(f"Δ {a} %" for a in others)
    lines = [
        f"| {case_label} | {head} | paper input | paper curvature | paper Δ % |",
        "|---" * (1 + len(arms) + len(others) + 3) + "|",
    ]
    for i, c in enumerate(cases):
        pi, pc = paper.get(c, (math.nan, math.nan))
        lines.append(
            f"| {c} | " + " | ".join(f"{med[c][a]:.3e}" for a in arms) + " | "
            + " | ".join(f"{red[a][i]:+.1f}" for a in others)
            + f" | {pi:.3e} | {pc:.3e} | {reduction(pi, pc):+.1f} |"
        )
    ins = [med[c]["input"] for c in cases]
    ours = {a: [med[c][a] for c in cases] for a in others}
    finite = {a: all(math.isfinite(v) and v > 0 for v in ins + ours[a]) for a in others}

    def row(label, fn, paper_value):
        return f"| {label} | " + " | ".join(fn(a) for a in others) + f" | {paper_value} |"

    n = len(cases)
    lines += [
        "",
        "| | " + " | ".join(others) + " | paper (network curvature) |",
        "|---" * (len(others) + 2) + "|",
        row("mean reduction of the median vs input (over cases)",
            lambda a: f"{statistics.mean(red[a]):+.1f} %",
            f"{statistics.mean(p_red) if pcases else math.nan:+.1f} % on these cases "
            f"(reported: {paper_reported} %)"),
        row("median of the per-case reductions", lambda a: f"{statistics.median(red[a]):+.1f} %",
            f"{statistics.median(p_red) if pcases else math.nan:+.1f} %"),
        row("geometric mean of median(arm) / median(input)",
            lambda a: f"{geo_ratio(ins, ours[a]):.3f}" if finite[a] else "n/a",
            f"{geo_ratio(p_in, p_cu):.3f}" if pcases else "n/a"),
        row("cases improved", lambda a: f"{sum(r > 0 for r in red[a])}/{n}",
            f"{sum(r > 0 for r in p_red)}/{len(pcases)}"),
        row("Wilcoxon signed-rank p (two-sided, medians over cases)",
            lambda a: f"{wilcoxon_p(ins, ours[a]):.3g}", f"{wilcoxon_p(p_in, p_cu):.3g}"),
        "",
        "Adaptation overhead (time in update_grid over total training time): "
        + ", ".join(f"{a} {overhead(runs, a):.2f} %" for a in arms) + ".",
    ]
    if wall is not None:
        lines += [
            "",
            f"Runs: {len(runs)}, non-finite errors: "
            f"{sum(not math.isfinite(r.error) for r in runs)}. Total wall time: {wall}.",
            "",
        ]
    return lines


def plot(runs: list[Run], cases: list[str], arms: list[str], path: Path, title: str) -> None:
    """Grouped bars of the median error per case and arm, log scale."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    med = median_errors(runs, cases, arms)
    width = 0.8 / len(arms)
    fig, ax = plt.subplots(figsize=(0.9 * len(cases) + 3, 4))
    for k, arm in enumerate(arms):
        xs = [i + (k - (len(arms) - 1) / 2) * width for i in range(len(cases))]
        ax.bar(xs, [med[c][arm] for c in cases], width, label=arm)
    ax.set_xticks(range(len(cases)), cases)
    ax.set_yscale("log")
    ax.set_ylabel("median relative L2 error")
    ax.set_title(title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def read_runs(path: Path) -> list[Run]:
    """Runs written by :func:`write_runs`."""
    with path.open(newline="") as fh:
        return [Run(r.get("case") or r["function"], r["arm"], int(r["seed"]), float(r["rel_l2"]),
                    float(r["train_s"]), float(r["adapt_s"])) for r in csv.DictReader(fh)]


def write_runs(runs: list[Run], path: Path) -> None:
    """Every run as a CSV row."""
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["case", "arm", "seed", "rel_l2", "train_s", "adapt_s"])
        for r in runs:
            w.writerow([r.case, r.arm, r.seed, f"{r.error:.6e}", f"{r.train_s:.3f}",
                        f"{r.adapt_s:.4f}"])


def log(run: Run) -> None:
    print(f"{run.case:>8} {run.arm:<18} seed {run.seed}: rel L2 {run.error:.3e}  "
          f"({run.train_s:.1f} s, adapt {run.adapt_s:.2f} s)", flush=True)


def check_names(kind: str, given: list[str], known) -> None:
    """Exit with a message naming what is unknown and what is available."""
    unknown = [g for g in given if g not in known]
    if unknown:
        raise SystemExit(f"unknown {kind} {unknown} ; choose from {list(known)}")


def collect_runs(
    cases: list[str],
    arms: list[str],
    seeds: tuple[int, ...],
    stem: str,
    trainer: Callable[[str], Callable[[str, int], Run]],
    from_csv: list[Path] | None,
    all_cases,
) -> tuple[list[Run], list[str], list[str], tuple[int, ...], str]:
    """Train every case × arm × seed, or re-read earlier runs (``from_csv``).

    ``trainer(case)`` prepares a case once (its data) and returns ``train(arm, seed) -> Run``.
    Runs are saved to ``results/<stem>_runs.csv`` as they finish, so partial results survive.

    Returns the runs and the cases, arms and seeds they cover, and a wall-time note.
    """
    path = RESULTS / f"{stem}_runs.csv"
    RESULTS.mkdir(parents=True, exist_ok=True)
    if from_csv:
        runs = [r for p in from_csv for r in read_runs(p)]
        cases = [c for c in all_cases if any(r.case == c for r in runs)]
        arms = [a for a in ARMS if any(r.arm == a for r in runs)]
        seeds = tuple(sorted(dict.fromkeys(r.seed for r in runs)))
        wall = (f"not measured in this re-summary; sum of the training times "
                f"{sum(r.train_s for r in runs) / 60:.1f} min (1 thread)")
    else:
        start = time.perf_counter()
        runs = []
        for case in cases:
            train = trainer(case)
            for arm in arms:
                for seed in seeds:
                    runs.append(train(arm, seed))
                    log(runs[-1])
                    write_runs(runs, path)
        wall = f"{(time.perf_counter() - start) / 60:.1f} min (1 thread)"
    write_runs(runs, path)
    return runs, cases, arms, seeds, wall


def report(runs: list[Run], cases: list[str], arms: list[str], stem: str,
           markdown: Callable[[], str], title: str) -> None:
    """Write and print the summary and the plot (a run without ``input`` has none)."""
    if "input" not in arms:  # a partial run, to be merged with --from-csv
        print(f"runs saved to {RESULTS / f'{stem}_runs.csv'}; no summary without the input arm")
        return
    text = markdown()
    (RESULTS / f"{stem}.md").write_text(text)
    plot(runs, cases, arms, RESULTS / f"{stem}.png", title)
    print(text)
