"""The KAN paper's Appendix B.1–B.2: learnable-activation networks (LANs) against KANs.

A LAN (:class:`kanlab.LAN`) is an MLP whose hidden nodes carry learnable spline activations
(base SiLU plus a spline, ``G = 5``); a KAN puts them on the edges. Both, of the same widths,
are trained by ``kanlab.fit`` (LBFGS, grid updates) on the toy function of Figure B.1,
``exp(sin(πx) + y²)``, and on the §4.1 examples of Figure 4.1 that B.2 takes up. Per example:

- **accuracy**: test RMSE and parameter counts;
- **readability** (B.2 asks whether the activations can be read): the KAN goes through
  kanlab's discovery loop (:func:`kanlab.apps.demos.symbolic_story`: sparsify, prune,
  auto-symbolic), and we count the functions left to read, the share of them that a function
  of the library fits with ``r² ≥ 0.99``, and the formula's test RMSE; for the LAN, whose
  functions only mean something through its weight matrices, the same share over its node
  activations and the number of weights that matter (``|w|`` at least 10 % of its layer's
  largest).

Run ``python experiments/lan_examples.py [--quick]``; it writes
``experiments/results/lan_examples{,_quick}.{md,png}`` (the figure: the LAN of B.1 drawn by
:func:`kanlab.interpret.lan_plot.plot_lan`).
"""

from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch

import kanlab
from kanlab.apps.demos import symbolic_story
from kanlab.data import Dataset, make_dataset
from kanlab.nn.mlp import n_parameters
from kanlab.symbolic import fit_library

sys.path.insert(0, str(Path(__file__).resolve().parent))
from script_frame import parser, run_script  # noqa: E402

LIBRARY = ("x", "x^2", "x^3", "x^4", "exp", "log", "sqrt", "sin", "tanh", "1/x")
READABLE = 0.99  # r² of the best library function that makes an activation "readable"


@dataclass(frozen=True)
class Example:
    name: str
    f: object
    n_var: int
    ranges: tuple[float, float]
    widths: tuple[int, ...]


def _bessel(x: torch.Tensor) -> torch.Tensor:
    return torch.special.bessel_j0(20 * x[:, 0]) + x[:, 1] ** 2


EXAMPLES = (
    Example("B.1: exp(sin(πx) + y²)",
            lambda x: torch.exp(torch.sin(math.pi * x[:, 0]) + x[:, 1] ** 2), 2, (-1, 1),
            (2, 5, 1)),
    Example("(a) xy", lambda x: x[:, 0] * x[:, 1], 2, (-1, 1), (2, 5, 1)),
    Example("(b) x/y", lambda x: x[:, 0] / x[:, 1], 2, (0.1, 1), (2, 5, 1)),
    Example("(d) exp(J0(20x) + y²)", lambda x: torch.exp(_bessel(x)), 2, (-1, 1), (2, 5, 1)),
    Example("(e) tanh(5(x₁⁴ + x₂⁴ + x₃⁴ − 1))",
            lambda x: torch.tanh(5 * ((x**4).sum(1) - 1)), 3, (-1, 1), (3, 5, 1)),
    Example("(f) √((x₁ − x₂)² + (x₃ − x₄)²)",
            lambda x: torch.sqrt((x[:, 0] - x[:, 1]) ** 2 + (x[:, 2] - x[:, 3]) ** 2), 4,
            (-1, 1), (4, 5, 3, 1)),
)


@dataclass
class Budget:
    steps: int = 100
    story_steps: int = 50
    samples: int = 1000
    examples: int = len(EXAMPLES)


QUICK = Budget(steps=3, story_steps=2, samples=100, examples=2)


def rmse(model: torch.nn.Module, data: Dataset) -> float:
    with torch.no_grad():
        return float(((model(data.test_input)[:, 0] - data.test_label[:, 0]) ** 2).mean().sqrt())


def readable_share(r2s: list[float]) -> float:
    return sum(r >= READABLE for r in r2s) / max(1, len(r2s))


def lan_activation_r2(model: kanlab.LAN, x: torch.Tensor) -> list[float]:
    """The best library fit's ``r²`` of every node activation, on its pre-activations."""
    out = []
    for curve in model.activations(x, n_points=200):
        for j in range(curve["z"].shape[1]):
            fits = fit_library(curve["z"][:, j], curve["phi"][:, j], LIBRARY)
            out.append(max(f.r2 for f in fits))
    return out


def weights_that_matter(model: kanlab.LAN) -> int:
    return sum(int((w.abs() >= 0.1 * w.abs().max()).sum())
               for w in (linear.weight.detach() for linear in model.linears))


def compare(example: Example, budget: Budget, seed: int = 0) -> dict:
    data = make_dataset(lambda x: example.f(x)[:, None], example.n_var, ranges=example.ranges,
                        n_train=budget.samples, n_test=budget.samples, seed=0,
                        dtype=torch.float64)
    start = time.perf_counter()
    kan = kanlab.KAN(list(example.widths), grid_size=5, seed=seed, dtype=torch.float64)
    kanlab.fit(kan, data, steps=budget.steps, progress=False, log_every=budget.steps)
    lan = kanlab.LAN(list(example.widths), grid_size=5, seed=seed, dtype=torch.float64)
    kanlab.fit(lan, data, steps=budget.steps, progress=False, log_every=budget.steps)
    story = symbolic_story(seed, data=data, widths=example.widths, steps=budget.story_steps,
                           lib=LIBRARY, lamb=0.01)
    kan_r2 = [max(r for _, r in fits) for fits in story.suggestions.values()]
    lan_r2 = lan_activation_r2(lan, data.train_input)
    return {
        "name": example.name, "widths": list(example.widths),
        "kan_rmse": rmse(kan, data), "lan_rmse": rmse(lan, data),
        "kan_params": n_parameters(kan), "lan_params": n_parameters(lan),
        "kan_functions": len(kan_r2), "kan_readable": readable_share(kan_r2),
        "kan_widths": story.widths, "formula_rmse": story.formula_test_rmse,
        "lan_functions": len(lan_r2), "lan_readable": readable_share(lan_r2),
        "lan_weights": weights_that_matter(lan), "lan": lan, "x": data.train_input,
        "seconds": time.perf_counter() - start,
    }


def run(budget: Budget, say=print) -> dict:
    rows = []
    for example in EXAMPLES[: budget.examples]:
        rows.append(compare(example, budget))
        r = rows[-1]
        say(f"{r['name']}: KAN {r['kan_rmse']:.2e}, LAN {r['lan_rmse']:.2e} "
            f"({r['seconds']:.0f} s)")
    return {"budget": budget, "rows": rows}


def report(out: dict, command: str, seconds: float) -> str:
    budget = out["budget"]
    lines = [
        "# LAN against KAN (KAN paper, Appendix B.1–B.2)", "",
        f"`{command}` — {seconds:.0f} s. Same widths, G = 5, {budget.steps} LBFGS steps each "
        f"(grid updates), {budget.samples} training and test points; the KAN's readability "
        f"from kanlab's discovery loop ({budget.story_steps} steps a stage, sparsity 0.01), "
        f"an activation readable when a library function fits it with r² ≥ {READABLE}.", "",
        "## Accuracy", "",
        "| function | widths | KAN test RMSE | KAN parameters | LAN test RMSE | LAN parameters |",
        "|---|---|---|---|---|---|",
        *[f"| {r['name']} | {r['widths']} | {r['kan_rmse']:.2e} | {r['kan_params']} | "
          f"{r['lan_rmse']:.2e} | {r['lan_params']} |" for r in out["rows"]],
        "", "## Readability", "",
        "| function | KAN: functions after pruning | readable | final widths | formula test "
        "RMSE | LAN: node activations | readable | weights that matter |",
        "|---|---|---|---|---|---|---|---|",
        *[f"| {r['name']} | {r['kan_functions']} | {r['kan_readable']:.0%} | {r['kan_widths']} "
          f"| {r['formula_rmse']:.2e} | {r['lan_functions']} | {r['lan_readable']:.0%} | "
          f"{r['lan_weights']} |" for r in out["rows"]],
    ]
    return "\n".join(lines) + "\n"


def plot(out: dict, path: Path) -> None:
    first = out["rows"][0]
    first["lan"].plot(first["x"], path=path)


def main(argv: list[str] | None = None) -> int:
    args = parser(__doc__).parse_args(argv)
    budget = QUICK if args.quick else Budget()

    return run_script("lan_examples", args, lambda: run(budget), report,
                      figure=("the LAN of B.1: weights and node activations", plot))


if __name__ == "__main__":
    sys.exit(main())
