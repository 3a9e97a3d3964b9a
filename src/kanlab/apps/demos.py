"""The KAN paper's §2.5.2 story end to end: sparsify, prune, snap to symbols, read the formula.

``kanlab demo symbolic`` runs :func:`symbolic_story` for several seeds.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from kanlab.data import Dataset, make_toy_dataset
from kanlab.interpret.prune import keep_nodes
from kanlab.interpret.symbolic_model import canonicalize
from kanlab.nn.model import KAN
from kanlab.training.loop import fit

__all__ = ["STORY_LIBRARY", "StoryResult", "symbolic_story"]

log = logging.getLogger(__name__)

#: the library of pykan's hellokan tutorial
STORY_LIBRARY = ("x", "x^2", "x^3", "x^4", "exp", "log", "sqrt", "tanh", "sin", "abs")


@dataclass
class StoryResult:
    """What one run of the story gave.

    Attributes:
        seed: the model seed.
        pruned_widths: the widths after pruning (before :func:`simplify`).
        widths: the final widths.
        suggestions: ``{(l, i, j): [(name, r2), ...]}`` before auto-symbolic.
        chosen: ``{(l, i, j): name}`` that auto-symbolic fixed.
        formula: the sympy expression of the output (None if some edge stayed numeric).
        formula_test_rmse: the formula's RMSE on the test set.
        seconds: wall time of the whole story.
        stage_rmse: test RMSE of the model after each stage.
    """

    seed: int
    pruned_widths: list[int]
    widths: list[int]
    suggestions: dict[tuple[int, int, int], list[tuple[str, float]]]
    chosen: dict[tuple[int, int, int], str]
    formula: Any
    formula_test_rmse: float
    seconds: float
    stage_rmse: dict[str, float] = field(default_factory=dict)

    @property
    def recovered(self) -> bool:
        """The formula matches the test labels to float64 round-off (RMSE below 1e-6)."""
        return self.formula_test_rmse < 1e-6


def _rmse(model: KAN, data: Dataset) -> float:
    model.eval()
    with torch.no_grad():
        out = float((model(data.test_input) - data.test_label).pow(2).mean().sqrt())
    model.train()
    return out


def simplify(model: KAN, data: Dataset, rmse: float, *, steps: int = 20,
             tolerance: float = 4.0, say: Callable[[str], None] = log.info,
             **fit_options: Any) -> KAN:
    """Remove hidden nodes one at a time, weakest first, while the network still fits.

    Each try prunes the weakest node of the widest hidden layer (not yet tried at these
    widths) and retrains ``steps`` LBFGS steps; it is kept when the training RMSE stays within
    ``tolerance`` times the current one. It ends when every hidden layer has failed a try.
    This automates the paper's reading of the plot ("this node does little: prune it"): a
    sparsified network sometimes splits one feature over two nodes, a local minimum that
    retraining without one of them leaves.

    Args:
        model: a pruned, retrained :class:`~kanlab.nn.model.KAN`.
        data: its training data.
        rmse: its training RMSE.
        **fit_options: passed to :func:`~kanlab.training.loop.fit` for the retraining.
    """
    tried: set[tuple[tuple[int, ...], int]] = set()  # (widths, layer) that failed
    while True:
        layers = sorted(range(1, len(model.widths) - 1), key=lambda l: -model.widths[l])
        layers = [l for l in layers if model.widths[l] > 1
                  and (tuple(model.widths), l) not in tried]
        if not layers:
            return model
        hidden = layers[0]
        scores = model.importance().nodes[hidden]
        keep = [[*range(w)] for w in model.widths]
        keep[hidden].remove(int(scores.argmin()))
        candidate = keep_nodes(model, keep)
        history = fit(candidate, data, steps=steps, **{"progress": False, **fit_options})
        new = history.train_rmse[-1]
        ok = new <= tolerance * rmse
        say(f"  without the weakest node: {model.widths} -> {candidate.widths}, train RMSE "
            f"{rmse:.2e} -> {new:.2e}: {'kept' if ok else 'undone'}")
        if ok:
            model, rmse = candidate, new
        else:
            tried.add((tuple(model.widths), hidden))


def symbolic_story(
    seed: int = 0,
    *,
    data: Dataset | None = None,
    widths: Sequence[int] = (2, 5, 1),
    var_names: Sequence[str] | None = None,
    lamb: float = 0.03,
    steps: int = 50,
    lib: tuple[str, ...] = STORY_LIBRARY,
    max_iter: int = 10,
    plot_dir: str | Path | None = None,
    report: Callable[[str], None] | None = None,
) -> StoryResult:
    """Train a KAN (default [2, 5, 1] on ``exp(sin(πx) + y²)``) and recover the formula.

    1. ``steps`` LBFGS steps with sparsification ``lamb`` (paper eq. 2.20);
    2. prune (nodes, then edges), and ``steps`` more steps without it; then, while a hidden
       layer has more than one node, try without its weakest node (:func:`simplify`);
    3. suggest functions for every edge, then auto-symbolic on ``lib``;
    4. ``steps`` steps on the symbolic edges' affine parameters;
    5. the formula, and its RMSE on the test set.

    Args:
        seed: model seed (the data seed is 0).
        data: the dataset (default: 1000 train / 1000 test points in float64).
        widths: the KAN before pruning.
        var_names: the inputs' names in the formula (default ``x, y`` for two inputs, else
            ``x_1, x_2, ...``).
        lamb: sparsification weight.
        steps: LBFGS steps per training stage.
        max_iter: LBFGS iterations per step (pykan: 20; 10 recovers the formula as often, in
            half the time).
        lib: the function library for auto-symbolic.
        plot_dir: where to save the network before and after (needs matplotlib); None: none.
        report: called with lines of text to show (e.g. ``print``); None: logged at INFO.
    """
    say = report or log.info
    start = time.perf_counter()
    if data is None:
        data = make_toy_dataset("exp_sin_sq", n_train=1000, n_test=1000, seed=0,
                                dtype=torch.float64)
    stage: dict[str, float] = {}
    model = KAN(list(widths), grid_size=5, seed=seed, dtype=torch.float64)
    options = {"optimizer_options": {"max_iter": max_iter}, "progress": False}
    fit(model, data, steps=steps, lamb=lamb, **options)
    stage["sparse"] = _rmse(model, data)
    if plot_dir is not None:
        Path(plot_dir).mkdir(parents=True, exist_ok=True)
        model.plot(data.train_input, path=Path(plot_dir) / f"seed{seed}_trained.png")
    model = model.prune()
    stage["pruned"] = _rmse(model, data)
    pruned_widths = list(model.widths)
    history = fit(model, data, steps=steps, **options)
    stage["retrained"] = _rmse(model, data)
    say(f"seed {seed}: pruned to {pruned_widths}; test RMSE sparse {stage['sparse']:.2e}, "
        f"pruned {stage['pruned']:.2e}, retrained {stage['retrained']:.2e}")
    model = simplify(model, data, history.train_rmse[-1], say=say, **options)
    stage["simplified"] = _rmse(model, data)
    suggestions = {}
    for l, layer in enumerate(model.layers):
        for j, i in (layer.mask > 0).nonzero().tolist():
            ranked = model.suggest_symbolic(l, i, j, lib=list(lib), topk=3)
            suggestions[(l, i, j)] = [(f.name, f.r2) for f in ranked]
            shown = ", ".join(f"{f.name} (r2 {f.r2:.6f})" for f in ranked)
            say(f"  edge {(l, i, j)}: {shown}")
    fixed = model.auto_symbolic(lib=list(lib))
    chosen = {edge: f.name for edge, f in fixed.items()}
    # exact formulas converge in a few steps: stop at float64 round-off
    fit(model, data, steps=steps, update_grid=False, **options,
        callbacks=[lambda state: state.loss < 1e-28])
    canonicalize(model)  # exact; undoes the trade-offs the polish left (readability)
    stage["symbolic"] = _rmse(model, data)
    if plot_dir is not None:
        model.plot(data.train_input, path=Path(plot_dir) / f"seed{seed}_symbolic.png")
    formula, rmse = None, float("inf")
    try:
        from kanlab.symbolic.formula import formula_function

        if var_names is None:
            n = model.widths[0]
            var_names = ["x", "y"] if n == 2 else [f"x_{k + 1}" for k in range(n)]
        (formula,) = model.symbolic_formula(list(var_names))
        f = formula_function([formula], list(var_names), backend="torch")
        rmse = float((f(data.test_input) - data.test_label).pow(2).mean().sqrt())
    except ValueError as err:  # an edge stayed numeric
        say(f"  no formula: {err}")
    return StoryResult(seed, pruned_widths, list(model.widths), suggestions, chosen, formula, rmse,
                       time.perf_counter() - start, stage)
