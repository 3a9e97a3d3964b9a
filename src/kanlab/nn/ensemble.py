"""Many KANs of one shape as one module: every parameter and knot buffer gains a leading member
axis ``E``, and one pass evaluates every member (issue 20's ensembles).

A small KAN is too small to keep a CPU busy: most of a lone evaluation is dispatch. An
ensemble evaluates its ``E`` members in one pass per layer (:mod:`~kanlab.nn.ensemble_layer`:
with the compiled kernel, each member's fused layer in one call, its values to the bit a lone
model's; elsewhere a batched reference pass), and ``kanlab.fit`` trains them side by side
(:mod:`~kanlab.training.ensemble_fit`), each member as a lone fit would.

Members are ordinary :class:`~kanlab.nn.model.KAN` s stacked (:meth:`Ensemble.stack`, or
``Ensemble(widths, members=E, seeds=...)``, which builds ``KAN(widths, seed=s)`` for each seed:
the same members as ``E`` separate models); :meth:`Ensemble.member` gives member ``i`` back as
a ``KAN`` with the same outputs. Supported layers: a base function of the registry, no tails,
no standardisation; symbolic edges when every member has the same functions on the same
edges (their affine parameters are the members' own).

Shapes: inputs ``(B, in)`` (shared by every member) or ``(E, B, in)``; outputs ``(E, B, out)``.

Example:
    >>> import kanlab
    >>> ens = kanlab.Ensemble([2, 5, 1], members=10, seeds=range(10))
    >>> data = kanlab.data.make_toy_dataset("exp_sin_sq", n_train=200, n_test=200)
    >>> history = kanlab.fit(ens, data, steps=5, progress=False)
    >>> best = ens.member(history.best_member())  # a lone KAN
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from kanlab.errors import InputError
from kanlab.nn.base_branch import BASE_FUNCTIONS
from kanlab.nn.ensemble_layer import PARAMETERS, StackedLayer
from kanlab.nn.model import KAN, LayerTrace

__all__ = ["Ensemble"]

class Ensemble(nn.Module):
    """``E`` KANs of one shape, evaluated together (module docstring).

    Args:
        widths: the members' width spec, as for :class:`~kanlab.nn.model.KAN`.
        members: ``E``, at least 1.
        seeds: one seed per member (default ``0 … E−1``); member ``i`` is
            ``KAN(widths, seed=seeds[i], **options)``.
        **options: the members' other :class:`~kanlab.nn.model.KAN` arguments.

    Raises:
        InputError: ``members < 1``, a seed list of another length, or members the ensemble
            cannot stack (see :meth:`stack`).
    """

    def __init__(self, widths: Sequence[Any], members: int = 1, *,
                 seeds: Sequence[int] | None = None, **options: Any) -> None:
        super().__init__()
        if isinstance(members, bool) or not isinstance(members, int) or members < 1:
            raise InputError(f"members must be an integer >= 1; got {members!r}")
        seeds = list(range(members)) if seeds is None else list(seeds)
        if len(seeds) != members:
            raise InputError(f"seeds must hold one seed per member ({members}); got "
                             f"{len(seeds)}")
        self._init_from([KAN(widths, seed=s, **options) for s in seeds])

    @classmethod
    def stack(cls, models: Sequence[KAN]) -> Ensemble:
        """An ensemble of copies of ``models`` (the same structure and options).

        Raises:
            InputError: no models, models of different structures, or a member the ensemble
                cannot evaluate (tails, standardisation, symbolic edges with splines, a custom base
                function).
        """
        new = cls.__new__(cls)
        nn.Module.__init__(new)
        new._init_from(list(models))
        return new

    def _init_from(self, models: list[KAN]) -> None:
        if not models or not all(isinstance(m, KAN) for m in models):
            raise InputError("an ensemble stacks a non-empty list of kanlab.KAN models")
        config = _stackable_config(models[0])
        for k, m in enumerate(models[1:], 1):
            other = _stackable_config(m)
            if other != config:
                diff = sorted(key for key in config if config.get(key) != other.get(key))
                raise InputError(f"model {k} differs from model 0 in {diff}; an ensemble's "
                                 "members share one structure")
        self.config = {key: v for key, v in config.items() if key != "symbolic"}  # a KAN's
        self.widths = list(models[0].widths)
        self.members = len(models)
        self.layers = nn.ModuleList(StackedLayer([m.layers[li] for m in models])
                                    for li in range(models[0].depth))

    def extra_repr(self) -> str:
        return f"members={self.members}, widths={self.config['widths']}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, in)`` (shared) or ``(E, B, in)`` -> ``(E, B, out)``."""
        h = self._member_inputs(x)  # shared: the first layer reads it once for every member
        for layer in self.layers:
            h = layer(h)
        return h

    def _member_inputs(self, x: torch.Tensor) -> torch.Tensor:
        n_in, e = self.widths[0], self.members
        if not ((x.dim() == 2 and x.shape[1] == n_in)
                or (x.dim() == 3 and x.shape[0] == e and x.shape[2] == n_in)):
            raise InputError(f"x has shape {tuple(x.shape)}; expected (B, {n_in}) for every "
                             f"member or ({e}, B, {n_in}), one batch per member")
        return x

    def trace(self, x: torch.Tensor) -> list[LayerTrace]:
        """Every member's layers' inputs ``(E, B, in)``, edge activations ``(E, B, out, in)``
        and outputs ``(E, B, out_nodes)`` for ``x`` ``(B, in)`` or ``(E, B, in)``, as
        :meth:`KAN.trace <kanlab.nn.model.KAN.trace>` gives a lone model's (regularisation);
        differentiable."""
        h = self._member_inputs(x)
        h = h if h.dim() == 3 else h.expand(self.members, -1, -1)
        out = []
        for layer in self.layers:
            acts = layer.edge_activations(h)
            sums = acts.sum(-1) if layer.bias is None else acts.sum(-1) + layer.bias.unsqueeze(1)
            h_next = layer.nodes.combine(sums, None if layer.product_bias is None
                                         else layer.product_bias.unsqueeze(1))
            out.append(LayerTrace(h, acts, h_next, sums))
            h = h_next
        return out

    @property
    def in_features(self) -> int:
        return self.widths[0]

    @property
    def out_features(self) -> int:
        return self.widths[-1]

    @property
    def grid_size(self) -> list[int]:
        """Each layer's grid size (every member's)."""
        return [layer.coef.shape[-1] - layer.spline_order for layer in self.layers]

    def member(self, i: int) -> KAN:
        """Member ``i`` as an ordinary :class:`~kanlab.nn.model.KAN` (a copy: the same
        outputs, its own parameters).

        Raises:
            InputError: ``i`` is not in ``0 … E−1`` (negative counts from the end).
        """
        if isinstance(i, bool) or not isinstance(i, int) or not -self.members <= i < self.members:
            raise InputError(f"member index must be an integer in 0..{self.members - 1}; "
                             f"got {i!r}")
        model = KAN.from_config({**self.config, "seed": 0})  # (overwritten; no global RNG)
        for layer, stacked in zip(model.layers, self.layers):  # the members' symbolic edges
            for (ei, ej), name in stacked.symbolic_names.items():
                layer.symbolic.set_edge(ei, ej, name, (1.0, 0.0, 1.0, 0.0))
            if stacked.affine is not None:
                layer.symbolic.affine.requires_grad_(stacked.affine.requires_grad)
        return self.copy_member_into(i % self.members, model)

    @torch.no_grad()
    def copy_member_into(self, i: int, model: KAN) -> KAN:
        """Write member ``i``'s tensors into ``model`` (a KAN of the members' structure and
        grid sizes), in place; returns ``model``."""
        for layer, stacked in zip(model.layers, self.layers):
            for (target, _), (value, _) in zip(_member_tensors(layer),
                                               _member_tensors(stacked)):
                if value is not None:
                    target.copy_(value[i])
            n_in = layer.in_features
            layer.knots.copy_(stacked.knots[i * n_in:(i + 1) * n_in])
        return model

    @torch.no_grad()
    def load_member(self, i: int, model: KAN) -> None:
        """Write ``model``'s tensors into member ``i``, in place (the same grid sizes; after a
        refinement, which changes them, :meth:`restack` instead)."""
        for layer, stacked in zip(model.layers, self.layers):
            for (source, _), (value, _) in zip(_member_tensors(layer),
                                               _member_tensors(stacked)):
                if value is not None:
                    value[i].copy_(source)
            n_in = layer.in_features
            stacked.knots[i * n_in:(i + 1) * n_in].copy_(layer.knots)

    def restack(self, models: Sequence[KAN]) -> None:
        """Replace every member by ``models`` (one per member, of one structure): new
        parameters (an optimiser must be made anew)."""
        if len(models) != self.members:
            raise InputError(f"restack takes one model per member ({self.members}); got "
                             f"{len(models)}")
        self._init_from(list(models))


def _member_tensors(layer: nn.Module) -> list[tuple[torch.Tensor | None, str]]:
    """A layer's (a lone one's or a stacked one's) tensors that differ between members, by
    name, in one order: its parameters, the symbolic edges' affine parameters and flags, the
    mask."""
    lone = not isinstance(layer, StackedLayer)
    out = [(getattr(layer, name), name) for name in PARAMETERS[:-1]]
    out.append((layer.symbolic.affine if lone else layer.affine, "affine"))
    out.append((layer.symbolic.active if lone else layer.active, "active"))
    return [(None if t is None or (name == "affine" and not _names(layer)) else t, name)
            for t, name in out] + [(layer.mask, "mask")]


def _names(layer: nn.Module) -> dict:
    return layer.symbolic_names if isinstance(layer, StackedLayer) else layer.symbolic.names


def _stackable_config(model: KAN) -> dict[str, Any]:
    """The config an ensemble's members must share (with their symbolic edges' functions);
    raises for what it cannot evaluate."""
    for li, layer in enumerate(model.layers):
        problems = [what for what, bad in (
            ("linear tails", layer.tails != "none"),
            ("input standardisation (DKAN)", layer.standardize is not None),
            ("symbolic edges with splines ('ns')", bool(layer.symbolic.with_spline)),
            ("a custom base function", layer.base_fn_name not in BASE_FUNCTIONS),
        ) if bad]
        if problems:
            raise InputError(f"layer {li} has {', '.join(problems)}: an ensemble evaluates "
                             "spline, base-branch and (plain) symbolic edges only")
    config = dict(model.config)
    config.pop("seed", None)  # members differ in their seeds
    config["symbolic"] = [sorted(layer.symbolic.names.items()) for layer in model.layers]
    return config

