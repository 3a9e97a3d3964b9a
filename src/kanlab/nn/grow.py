"""Growing a KAN with prior knowledge: more depth, more width, more inputs, a shake.

Each function returns a *new* model and leaves its argument alone; the grown model computes the
same function (bar :func:`perturb`), so training continues from where it was:

- :func:`expand_depth`: one more layer on top, the identity (pykan's ``expand_depth``): its
  diagonal edges are splines that reproduce ``x`` exactly on the grid (cubic B-splines hold
  every polynomial of degree ``≤ k``), placed over the outputs' range; the other edges are
  zero, ready to train.
- :func:`expand_width`: more sum nodes in a hidden row (``expand_width``): their incoming edges
  start as fresh ones, their outgoing edges at zero.
- :func:`augment_input`: more inputs (auxiliary variables, pykan's ``augment_input``), their
  edges at zero; :func:`with_features` appends the auxiliary columns to data.
- :func:`perturb`: noise on the numeric splines, and optionally pruned edges brought back
  small (pykan's ``perturb``): to leave a local minimum.

Each copies the old layer's state into a new, larger layer (:func:`embed`): coefficients,
scales, branch parameters, masks, knots, biases and symbolic edges, at the new positions.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn

from kanlab._modes import evaluating
from kanlab._validation import check_positive_int
from kanlab.errors import InputError
from kanlab.nn.layer import KANLinear

__all__ = ["augment_input", "embed", "expand_depth", "expand_width", "perturb",
           "with_features"]


def _like(layer: KANLinear, in_features: int, out_features: int, products: Sequence[int],
          generator: torch.Generator | None, grid: torch.Tensor | None = None) -> KANLinear:
    """A fresh layer with ``layer``'s settings and the given sizes."""
    if layer.base_fn_name is None:
        raise InputError("a layer with a custom (callable) base_fn cannot be grown")
    if layer.standardize is not None:
        raise InputError("standardising (DKAN) layers cannot be grown yet")
    return KANLinear(
        in_features, out_features, grid_size=layer.grid_size, spline_order=layer.spline_order,
        grid_range=layer.grid_range, base_fn=layer.base_fn_name, bias=layer.bias is not None,
        init_noise=layer.init_noise, init=layer.init, knot_convention=layer.knot_convention,
        grid_strategy=layer.grid_strategy, tails=layer.tails, grid=grid, products=products,
        product_bias=layer.product_bias is not None, generator=generator,
        dtype=layer.coef.dtype, device=layer.coef.device)


@torch.no_grad()
def embed(old: KANLinear, new: KANLinear, inputs: Sequence[int], rows: Sequence[int]) -> None:
    """Copy ``old``'s state into ``new`` at new input positions ``inputs`` (one per old input)
    and new row positions ``rows`` (one per old row); the rest of ``new`` is left as it is."""
    i = torch.as_tensor(list(inputs), dtype=torch.long, device=new.coef.device)
    o = torch.as_tensor(list(rows), dtype=torch.long, device=new.coef.device)
    for name in ("coef", "spline_scale", *(b.param for b in old.branches), "mask"):
        target, source = getattr(new, name), getattr(old, name)
        target[o[:, None], i[None, :]] = source
    new.knots[i] = old.knots
    if old.bias is not None:
        new.bias[o] = old.bias
    if old.product_bias is not None:
        new.product_bias.copy_(old.product_bias)
    affine = old.symbolic.affine
    for (a, j), name in old.symbolic.names.items():
        new.symbolic.set_edge(int(i[a]), int(o[j]), name, tuple(affine[j, a].tolist()))


def _rebuilt(model, layers: list[KANLinear], widths: list[int], options: dict[str, list]):
    new = copy.deepcopy(model)
    new.layers = nn.ModuleList(layers)
    new.widths = widths
    new._options.update(options)  # per-layer options follow the layers
    return new


def expand_depth(model, x: torch.Tensor | None = None, *, margin: float = 0.1):
    """``model`` with one more layer on top that is the identity (module docstring).

    Args:
        model: a :class:`~kanlab.nn.model.KAN`.
        x: network inputs whose outputs the new layer's grid covers (default the recorded
            inputs; without either, the last layer's ``grid_range``).
        margin: the grid reaches this share of the outputs' range beyond them on each side.
    """
    last = model.layers[-1]
    n, k = model.widths[-1], last.spline_order
    samples = x if x is not None else getattr(model, "recorded_inputs", None)
    if samples is not None:
        with torch.no_grad(), evaluating(model):
            out = model(model.samples(samples))  # (N, n)
        lo, hi = out.min(0).values, out.max(0).values
        pad = margin * (hi - lo).clamp_min(1e-3)
        lo, hi = lo - pad, hi + pad
    else:
        lo = torch.full((n,), last.grid_range[0], dtype=last.coef.dtype)
        hi = torch.full((n,), last.grid_range[1], dtype=last.coef.dtype)
    steps = torch.linspace(0, 1, last.grid_size + 1, dtype=lo.dtype, device=lo.device)
    grid = lo[:, None] + (hi - lo)[:, None] * steps  # (n, G + 1)
    top = _like(last, n, n, (), torch.Generator().manual_seed(0), grid=grid)
    with torch.no_grad():
        top.coef.zero_()
        greville = top.knots.unfold(1, k, 1)[:, 1:-1].mean(-1) if k > 0 else top.knots[:, :-1]
        top.coef[torch.arange(n), torch.arange(n)] = greville.to(top.coef.dtype)  # x itself
        top.spline_scale.fill_(1.0)
        for branch in top.branches:
            getattr(top, branch.param).zero_()
        if top.bias is not None:
            top.bias.zero_()
    options = {name: [*values, values[-1]] for name, values in model._options.items()
               if isinstance(values, list) and len(values) == model.depth}  # per layer
    return _rebuilt(model, [*copy.deepcopy(list(model.layers)), top], [*model.widths, n],
                    options)


def expand_width(model, row: int, n: int = 1, *, seed: int = 0):
    """``model`` with ``n`` more sum nodes in hidden row ``row`` (``1 .. L − 1``), placed after
    its sum nodes: their incoming edges start as fresh edges (the layer's initialisation, from
    ``seed``), their outgoing edges at zero, so the function is unchanged.

    Raises:
        InputError: ``row`` is not a hidden row, or ``n`` is not a positive integer.
    """
    check_positive_int("n", n)
    if not 1 <= row < len(model.widths) - 1:
        raise InputError(f"row must be a hidden row, 1..{len(model.widths) - 2}; got {row}")
    gen = torch.Generator().manual_seed(seed)
    below, above = model.layers[row - 1], model.layers[row]
    s = below.nodes.n_sum  # new rows (and nodes) go to s .. s + n - 1
    shift = lambda k: k if k < s else k + n  # noqa: E731
    new_below = _like(below, below.in_features, below.out_features + n, below.nodes.arities, gen)
    embed(below, new_below, range(below.in_features), [shift(r) for r in
                                                       range(below.out_features)])
    new_above = _like(above, above.in_features + n, above.out_features, above.nodes.arities, gen)
    with torch.no_grad():
        new_above.coef.zero_()
        for branch in new_above.branches:
            getattr(new_above, branch.param).zero_()
    embed(above, new_above, [shift(i) for i in range(above.in_features)],
          range(above.out_features))
    layers = copy.deepcopy(list(model.layers))
    layers[row - 1], layers[row] = new_below, new_above
    widths = list(model.widths)
    widths[row] += n
    return _rebuilt(model, layers, widths, {})


def augment_input(model, n: int = 1, *, seed: int = 0):
    """``model`` with ``n`` more inputs after the others (auxiliary variables), whose edges
    start at zero: the same function of the old inputs. Feed it :func:`with_features` of the
    data. The recorded inputs are not carried (they lack the new columns)."""
    check_positive_int("n", n)
    first = model.layers[0]
    gen = torch.Generator().manual_seed(seed)
    new_first = _like(first, first.in_features + n, first.out_features, first.nodes.arities, gen)
    with torch.no_grad():
        new_first.coef.zero_()
        for branch in new_first.branches:
            getattr(new_first, branch.param).zero_()
    embed(first, new_first, range(first.in_features), range(first.out_features))
    new = _rebuilt(model, [new_first, *copy.deepcopy(list(model.layers[1:]))],
                   [model.widths[0] + n, *model.widths[1:]], {})
    new.register_buffer("recorded_inputs", None)
    return new


def with_features(x: torch.Tensor, features: Sequence[Callable[[torch.Tensor], torch.Tensor]]
                  ) -> torch.Tensor:
    """``x`` ``(N, d)`` with one more column per feature, ``feature(x)`` ``(N,)`` each:
    ``(N, d + len(features))`` (the inputs of :func:`augment_input`'s model)."""
    if x.dim() != 2:
        raise InputError(f"x has shape {tuple(x.shape)}; expected (N, d)")
    columns = []
    for k, feature in enumerate(features):
        c = feature(x)
        if not isinstance(c, torch.Tensor) or c.reshape(-1).shape[0] != x.shape[0]:
            raise InputError(f"features[{k}] must return one value per row ({x.shape[0]})")
        columns.append(c.reshape(-1, 1).to(x.dtype))
    return torch.cat([x, *columns], dim=1)


@torch.no_grad()
def perturb(model, magnitude: float = 0.1, *, revive: bool = False, seed: int = 0) -> Any:
    """``model`` with Gaussian noise on its numeric spline coefficients: ``magnitude`` times
    each layer's coefficient RMS. ``revive=True`` also brings pruned edges back, with spline
    coefficients of that size (and no base branch), so training may use them again.

    Raises:
        InputError: a negative ``magnitude``.
    """
    if not magnitude >= 0:
        raise InputError(f"magnitude must be a number >= 0; got {magnitude!r}")
    gen = torch.Generator().manual_seed(seed)
    new = copy.deepcopy(model)
    for layer in new.layers:
        scale = magnitude * float(layer.coef.square().mean().sqrt().clamp_min(1e-3))
        noise = torch.randn(layer.coef.shape, generator=gen, dtype=layer.coef.dtype)
        pruned = layer.mask == 0  # (out, in)
        if revive:
            layer.coef[pruned] = 0.0  # a revived edge starts from the noise alone
            for branch in layer.branches:  # (out, in, ...) each
                getattr(layer, branch.param)[pruned] = 0.0
            layer.mask.fill_(1.0)
        layer.coef.add_(noise * scale * (layer.mask > 0).unsqueeze(-1))
    return new
