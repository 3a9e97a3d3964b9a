"""Hypothesis tests on a trained model (or any function): separability, symmetry, the modular
tree, pairwise feature interaction (pykan's ``hypothesis.py``).

All of them read derivatives of ``f`` at samples ``x`` ``(N, d)``, ``f`` a row-wise function
``(N, d) -> (N,)`` or ``(N, 1)`` such as a one-output :class:`~kanlab.nn.model.KAN`:

- **interaction** of inputs ``i`` and ``k``: the median over the samples of ``|∂²f/∂x_i∂x_k|``,
  scaled by the inputs' spreads and the output's, ``median|H_ik|·σ_i·σ_k / σ_f`` (scale-free:
  the same for ``2f`` or for inputs in other units). ``f`` is *additively separable* between two
  groups of inputs, ``f = g(x_A) + h(x_B)``, exactly when every cross term vanishes.
- **multiplicative** separability, ``f = g(x_A)·h(x_B)``, is additive separability of
  ``log|f|`` (samples where ``|f|`` is below ``1e-6·max|f|`` are left out).
- **generalised symmetry** of a subset ``A``: ``f = g(h(x_A), x_rest)`` for some ``h``, exactly
  when the direction of ``∇_A f`` does not depend on ``x_rest``. The test compares it at each
  sample and at the same ``x_A`` with ``x_rest`` of another sample; the score is the mean of
  ``1 − |cos|`` between the two.
- the **modular tree**: every subset that passes the symmetry test is a module; the tree's
  children of a module are its largest proper submodules (or, where those overlap, the groups
  of inputs that belong to the same of them) -- pykan's ``plot_tree``.

A trained model is not exact: its cross derivatives are small, not zero, so each test compares a
score with a ``threshold`` (relative, default :data:`THRESHOLD`).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from kanlab._autodiff import batch_hessian, batch_jacobian
from kanlab.errors import InputError

__all__ = ["THRESHOLD", "ModularTree", "interaction_matrix", "modular_tree", "plot_tree",
           "separable_groups", "test_separability", "test_symmetry"]

#: The default relative score below which an interaction (or an asymmetry) counts as zero.
THRESHOLD = 1e-2

Function = Callable[[torch.Tensor], torch.Tensor]


def _samples(x: torch.Tensor) -> torch.Tensor:
    if not isinstance(x, torch.Tensor) or x.dim() != 2 or x.shape[0] < 3:
        raise InputError(f"x must be samples (N, d) with N >= 3; got "
                         f"{tuple(x.shape) if isinstance(x, torch.Tensor) else type(x)}")
    return x.detach()


def _scalar(fn: Function, x: torch.Tensor) -> torch.Tensor:
    y = fn(x)
    if y.dim() == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.dim() != 1 or y.shape[0] != x.shape[0]:
        raise InputError(f"fn must map (N, d) to (N,) or (N, 1); got {tuple(y.shape)}")
    return y


def interaction_matrix(fn: Function, x: torch.Tensor, mode: str = "add") -> torch.Tensor:
    """Pairwise interaction of the inputs ``(d, d)`` (module docstring): of ``f`` for
    ``mode="add"``, of ``log|f|`` for ``mode="mul"``. The diagonal is ``f``'s own curvature."""
    x = _samples(x)
    if mode not in ("add", "mul"):
        raise InputError(f"mode must be 'add' or 'mul'; got {mode!r}")
    f = fn
    if mode == "mul":
        with torch.no_grad():
            values = _scalar(fn, x).abs()
        keep = values > 1e-6 * float(values.max())
        if int(keep.sum()) < 3:
            raise InputError("f is zero at (almost) every sample: no multiplicative test")
        x = x[keep]
        f = lambda v: torch.log(_scalar(fn, v).abs())  # noqa: E731
    hessian = batch_hessian(lambda v: _scalar(f, v), x).detach()  # (N, d, d)
    with torch.no_grad():
        spread = x.std(0)  # (d,)
        out_spread = _scalar(f, x).std().clamp_min(1e-300)
    return hessian.abs().median(0).values * spread[:, None] * spread[None, :] / out_spread


def separable_groups(fn: Function, x: torch.Tensor, mode: str = "add", *,
                     threshold: float = THRESHOLD) -> list[list[int]]:
    """The finest split of the inputs into groups between which ``f`` separates
    (``mode="add"``: a sum of functions of each group; ``"mul"``: a product): the connected
    components of the graph whose edges are the interactions above ``threshold``. One group:
    no split."""
    scores = interaction_matrix(fn, x, mode)
    d = scores.shape[0]
    linked = (scores > threshold) | (scores.t() > threshold)
    group = list(range(d))  # union-find by relabelling

    def root(i: int) -> int:
        while group[i] != i:
            i = group[i]
        return i

    for i, k in itertools.combinations(range(d), 2):
        if bool(linked[i, k]):
            group[root(k)] = root(i)
    components: dict[int, list[int]] = {}
    for i in range(d):
        components.setdefault(root(i), []).append(i)
    return sorted(components.values())


def test_separability(fn: Function, x: torch.Tensor, groups: Sequence[Sequence[int]],
                      mode: str = "add", *, threshold: float = THRESHOLD
                      ) -> tuple[bool, float]:
    """Whether ``f`` separates between the given groups of inputs (``mode`` as in
    :func:`interaction_matrix`), and the largest interaction across groups.

    Raises:
        InputError: groups that overlap or name an input that is not there.
    """
    scores = interaction_matrix(fn, x, mode)
    d = scores.shape[0]
    flat = [i for g in groups for i in g]
    if len(set(flat)) != len(flat) or not all(0 <= i < d for i in flat):
        raise InputError(f"groups must be disjoint lists of inputs 0..{d - 1}; got {groups!r}")
    cross = [float(scores[i, k]) for a, b in itertools.combinations(groups, 2)
             for i in a for k in b]
    worst = max(cross, default=0.0)
    return worst <= threshold, worst


def test_symmetry(fn: Function, x: torch.Tensor, subset: Sequence[int], *,
                  threshold: float = THRESHOLD, seed: int = 0) -> tuple[bool, float]:
    """Whether ``f = g(h(x_A), x_rest)`` for the inputs ``A = subset`` (generalised symmetry,
    module docstring), and the score (mean ``1 − |cos|``). Samples where ``∇_A f`` vanishes
    are left out. ``seed`` draws the pairing of samples (a local generator)."""
    x = _samples(x)
    d = x.shape[1]
    a = sorted(set(subset))
    if not a or not all(0 <= i < d for i in a):
        raise InputError(f"subset must name inputs in 0..{d - 1}; got {list(subset)!r}")
    if len(a) in (1, d):
        return True, 0.0  # one input, or all of them: always
    score = _asymmetry(fn, x, _gradient(fn, x), a, seed)
    return score <= threshold, score


def _gradient(fn: Function, x: torch.Tensor) -> torch.Tensor:
    """Every sample's gradient of ``f`` ``(N, d)``."""
    return batch_jacobian(lambda v: _scalar(fn, v), x).detach()[:, 0]


def _asymmetry(fn: Function, x: torch.Tensor, grad: torch.Tensor, a: list[int],
               seed: int) -> float:
    """:func:`test_symmetry`'s score for the inputs ``a`` (a proper subset of two or more),
    given the gradient ``grad`` ``(N, d)`` of ``f`` at ``x``."""
    rest = [i for i in range(x.shape[1]) if i not in a]
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))
    mixed = x.clone()
    mixed[:, rest] = x[order][:, rest]  # the same x_A, another sample's x_rest
    g0, g1 = grad[:, a], _gradient(fn, mixed)[:, a]  # (N, |A|) each
    n0, n1 = g0.norm(dim=1), g1.norm(dim=1)
    ok = (n0 > 1e-8 * float(n0.max().clamp_min(1e-300))) & (n1 > 1e-8 * float(
        n1.max().clamp_min(1e-300)))
    if int(ok.sum()) < 3:
        raise InputError(f"f does not depend on inputs {a} at (almost) any sample")
    cos = (g0[ok] * g1[ok]).sum(1) / (n0[ok] * n1[ok])
    return float((1 - cos.abs()).mean())


@dataclass
class ModularTree:
    """A module of the inputs and its submodules.

    Attributes:
        inputs: the module's inputs (sorted).
        children: its largest proper submodules (empty for one input).
        kind: at the root only, how the children combine when the test says so: ``"+"``
            (additively separable), ``"×"`` (multiplicatively), else ``""`` (a composition).
    """

    inputs: list[int]
    children: list[ModularTree] = field(default_factory=list)
    kind: str = ""

    def groups(self) -> Any:
        """The tree as nested lists of inputs: ``[[0, 1], [2, 3]]``; a leaf is its input."""
        if not self.children:
            return self.inputs[0] if len(self.inputs) == 1 else list(self.inputs)
        return [c.groups() for c in self.children]


def modular_tree(fn: Function, x: torch.Tensor, *, threshold: float = THRESHOLD,
                 max_inputs: int = 10) -> ModularTree:
    """The tree of modules of ``f`` (module docstring): every subset of the inputs is tested
    (``2^d`` symmetry tests, so ``d <= max_inputs``).

    Raises:
        InputError: more than ``max_inputs`` inputs.
    """
    x = _samples(x)
    d = x.shape[1]
    if d > max_inputs:
        raise InputError(f"modular_tree tests all 2^d subsets; d = {d} > max_inputs = "
                         f"{max_inputs}")
    grad = _gradient(fn, x)  # shared by every subset's test
    modules = [frozenset(s) for size in range(2, d) for s in itertools.combinations(range(d), size)
               if _asymmetry(fn, x, grad, list(s), 0) <= threshold]
    modules += [frozenset([i]) for i in range(d)]
    tree = _subtree(frozenset(range(d)), modules)
    for mode, kind in (("add", "+"), ("mul", "×")):
        if len(tree.children) > 1:
            groups = [c.inputs for c in tree.children]
            try:
                if test_separability(fn, x, groups, mode, threshold=threshold)[0]:
                    tree.kind = kind
                    break
            except InputError:
                continue
    return tree


def _subtree(inputs: frozenset, modules: list[frozenset]) -> ModularTree:
    if len(inputs) == 1:
        return ModularTree(sorted(inputs))
    inside = [m for m in modules if m < inputs]
    largest = [m for m in inside if not any(m < other for other in inside)]
    if any(a & b for a, b in itertools.combinations(largest, 2)):  # overlapping: by membership
        classes: dict[tuple, set] = {}
        for i in inputs:
            classes.setdefault(tuple(i in m for m in largest), set()).add(i)
        largest = [frozenset(c) for c in classes.values()]
    children = sorted((_subtree(m, modules) for m in largest), key=lambda t: t.inputs)
    return ModularTree(sorted(inputs), children)


def plot_tree(tree: ModularTree, *, names: Sequence[str] | None = None,
              path: str | Path | None = None):
    """Draw the modular tree: inputs at the bottom, each module a node above its submodules.

    Returns:
        The :class:`matplotlib.figure.Figure` (never through pyplot); written to ``path`` when
        one is given.
    """
    from kanlab.interpret.plot import figure_class

    figure = figure_class()(figsize=(4.0, 3.0))
    ax = figure.add_axes((0.02, 0.02, 0.96, 0.96))
    ax.set_axis_off()
    n = len(tree.inputs)
    labels = [f"$x_{{{i + 1}}}$" for i in range(n)] if names is None else list(names)
    if len(labels) != n:
        raise InputError(f"names must hold {n} names; got {len(labels)}")
    depth = _height(tree)

    def draw(node: ModularTree, level: int) -> tuple[float, float]:
        if not node.children:
            x = float(tree.inputs.index(node.inputs[0]))
            ax.text(x, -0.15, labels[x.__int__()], ha="center", va="top")
            ax.plot([x], [0.0], "o", color="black", gid=f"kan-tree-leaf-{node.inputs[0]}")
            return x, 0.0
        points = [draw(c, level + 1) for c in node.children]
        x, y = sum(p[0] for p in points) / len(points), float(depth - level)
        for px, py in points:
            ax.plot([px, x], [py, y], color="black", lw=1.0)
        ax.plot([x], [y], "s", color="black", ms=6,
                gid="kan-tree-" + "-".join(map(str, node.inputs)))
        if node.kind:
            ax.text(x, y + 0.1, node.kind, ha="center", va="bottom")
        return x, y

    draw(tree, 0)
    ax.set_xlim(-0.5, n - 0.5)
    ax.set_ylim(-0.6, depth + 0.5)
    if path is not None:
        figure.savefig(path, bbox_inches="tight")
    return figure


def _height(tree: ModularTree) -> int:
    return 0 if not tree.children else 1 + max(_height(c) for c in tree.children)
