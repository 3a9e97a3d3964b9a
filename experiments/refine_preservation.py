"""Does a grid move keep a trained network's function when hidden inputs leave the grid?

Trained ``[3, 4, 2]`` KANs (G = 5, 20 LBFGS steps with ``kanlab.fit``, no grid updates,
float64, 1000 training inputs uniform in ``[-1, 1]³``) on three two-output targets and three
seeds; their hidden inputs leave the hidden layer's grid ``[-1, 1]``. Each network is refined
(``model.refine(G)`` without samples) and its grid updated (``model.update_grid(x)`` on the
training inputs); the table gives the relative max change of the outputs over the training
inputs, ``max|y_new − y_old| / max|y_old|``.

"previous" is the refinement before the knots beyond the grid were kept (re-implemented here:
the usual extended knots at the new spacing, fitted on ``2k + 2`` samples per grid interval);
"now" is ``model.refine``. ``update_grid`` is unchanged: at a fixed G the moved knots cannot
hold the old spline exactly.

Run ``python experiments/refine_preservation.py [--quick]``; writes
``experiments/results/refine_preservation{,_quick}.md``.
"""

from __future__ import annotations

import argparse
import copy
from pathlib import Path

import torch
from torch import nn

import kanlab
from kanlab.nn import grid_moves
from kanlab.splines import make_knots

RESULTS = Path(__file__).resolve().parent / "results"
TARGETS = {
    "exp(sin πx₁ + x₂²), x₁x₃ + cos x₂": lambda x: torch.stack(
        [torch.exp(torch.sin(torch.pi * x[:, 0]) + x[:, 1] ** 2),
         x[:, 0] * x[:, 2] + torch.cos(x[:, 1])], 1),
    "x₁x₂ + x₃, sin 2x₁ + x₃²": lambda x: torch.stack(
        [x[:, 0] * x[:, 1] + x[:, 2], torch.sin(2 * x[:, 0]) + x[:, 2] ** 2], 1),
    "exp(x₁ + x₂ + x₃), sin(πx₁x₂) + x₃": lambda x: torch.stack(
        [torch.exp(x.sum(1)), torch.sin(torch.pi * x[:, 0] * x[:, 1]) + x[:, 2]], 1),
}


@torch.no_grad()
def previous_refine(model: kanlab.KAN, grid_size: int) -> kanlab.KAN:
    """The refinement before this change: usual extension, samples on the grid only."""
    new = copy.deepcopy(model)
    for layer in new.layers:
        k = layer.spline_order
        grid = grid_moves.refined_grid(layer, grid_size)
        knots = make_knots(grid, k, layer.knot_convention)
        samples, _ = grid_moves.interval_samples(grid, 2 * k + 2)
        coef = grid_moves.transfer(layer, samples, knots)
        layer.knots = knots
        layer.coef = nn.Parameter(coef)
    return new


def change(new: nn.Module, old: nn.Module, x: torch.Tensor) -> float:
    with torch.no_grad():
        y = old(x)
        return float((new(x) - y).abs().max() / y.abs().max())


def run(seeds=(0, 1, 2), steps: int = 20, sizes=(10, 20, 7)) -> list[dict]:
    rows = []
    for name, f in TARGETS.items():
        for seed in seeds:
            data = kanlab.data.make_dataset(f, n_var=3, n_train=1000, n_test=100, seed=seed,
                                            dtype=torch.float64)
            model = kanlab.KAN([3, 4, 2], grid_size=5, seed=seed, dtype=torch.float64)
            kanlab.fit(model, data, steps=steps, update_grid=False, progress=False)
            x = data.train_input
            with torch.no_grad():
                h = model.layers[0](x)
            row = {"target": name, "seed": seed,
                   "outside": float(((h < -1) | (h > 1)).float().mean())}
            for g in sizes:
                row[f"prev{g}"] = change(previous_refine(model, g), model, x)
                row[f"now{g}"] = change(model.refine(g), model, x)
            moved = copy.deepcopy(model)
            moved.update_grid(x)
            row["update"] = change(moved, model, x)
            moved = copy.deepcopy(model)
            moved.update_grid(x, grid_size=10)
            row["update10"] = change(moved, model, x)
            rows.append(row)
    return rows


def report(rows: list[dict], sizes, quick: bool) -> str:
    head = ["target", "seed", "hidden outside grid"]
    for g in sizes:
        head += [f"refine({g}) previous", f"refine({g}) now"]
    head += ["update_grid(x)", "update_grid(x, grid_size=10)"]
    lines = [f"# Grid moves on networks whose hidden inputs leave the grid{' (quick)' * quick}",
             "", __doc__.split("\n\n")[1].replace("\n", " "), "",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [r["target"], str(r["seed"]), f"{r['outside']:.0%}"]
        for g in sizes:
            cells += [f"{r[f'prev{g}']:.1e}", f"{r[f'now{g}']:.1e}"]
        cells += [f"{r['update']:.1e}", f"{r['update10']:.1e}"]
        lines.append("| " + " | ".join(cells) + " |")
    worst = {k: max(r[k] for r in rows) for k in rows[0] if k not in ("target", "seed")}
    lines += ["", "Worst case: " + ", ".join(
        f"refine({g}) {worst[f'prev{g}']:.1e} -> {worst[f'now{g}']:.1e}" for g in sizes)
        + f"; update_grid {worst['update']:.1e}, with grid_size=10 {worst['update10']:.1e}.",
        "", "Command: `python experiments/refine_preservation.py"
        + (" --quick`" if quick else "`")]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one seed")
    args = parser.parse_args(argv)
    sizes = (10, 20, 7)
    rows = run(seeds=(0,) if args.quick else (0, 1, 2), sizes=sizes)
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"refine_preservation{'_quick' if args.quick else ''}.md"
    path.write_text(report(rows, sizes, args.quick))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
