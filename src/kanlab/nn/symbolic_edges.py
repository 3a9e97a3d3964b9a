"""The symbolic edges of a layer: ``φ_ji(x) = c·f(a·x + b) + d`` with ``f`` from the registry.

A :class:`SymbolicEdges` module lives inside every :class:`~kanlab.nn.layer.KANLinear`. An edge is
either numeric (its spline and base branch) or symbolic (this module), never both: the layer
zeroes a symbolic edge's numeric part. The affine parameters ``(a, b, c, d)`` are trainable,
so that training can polish a fitted formula (the KAN paper's §2.5.1, step 4).

Edges are evaluated one group per function name: all edges that use ``sin`` are one gather, one
elementwise call and one ``index_add`` — never a Python loop over edges.

Edges are named ``(i, j)``, input ``i`` to output ``j``, in every signature and key (the KAN
paper's and pykan's ``(l, i, j)`` order without the layer); the tensors are ``(out, in, ...)``
like ``nn.Linear.weight``, so edge ``(i, j)`` is ``active[j, i]``.
"""

from __future__ import annotations

from contextlib import nullcontext as _nullcontext
from typing import Any

import torch
from torch import nn

from kanlab.errors import InputError
from kanlab.symbolic import SymbolicFunction, get_function

__all__ = ["SymbolicEdges"]

_STATE_VERSION = 2  # 1: names as [j, i, name] (output first); 2: [i, j, name]


class SymbolicEdges(nn.Module):
    """Edges ``(i, j)`` (input ``i``, output ``j``) of a layer replaced by ``c·f(a·x_i + b) + d``.

    Training mode evaluates each function's singularity-safe variant when it has one (finite
    everywhere, so training cannot produce inf); evaluation mode evaluates the exact function,
    which is what :meth:`~kanlab.nn.model.KAN.symbolic_formula` writes down.

    Args:
        in_features, out_features: the layer's sizes.

    Attributes:
        active: buffer ``(out, in)``: 1 where the edge is symbolic.
        affine: ``(out, in, 4)`` parameters ``(a, b, c, d)``, created by the first
            :meth:`set_edge` (None before: a numeric layer has no unused parameters).
        names: ``{(i, j): function name}``; saved with the state dict (extra state, version
            2; the first version's ``(j, i)`` keys are converted on load).
    """

    def __init__(self, in_features: int, out_features: int, *, device=None, dtype=None) -> None:
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.register_buffer("active", torch.zeros(out_features, in_features, device=device,
                                                   dtype=dtype))
        self.register_parameter("affine", None)
        self.names: dict[tuple[int, int], str] = {}
        #: symbolic edges whose spline stays on beside the formula (pykan's ``'ns'`` mode)
        self.with_spline: set[tuple[int, int]] = set()
        self._groups: dict[str, tuple[torch.Tensor, torch.Tensor]] | None = None

    def extra_repr(self) -> str:
        return f"symbolic_edges={len(self.names)}"

    def __len__(self) -> int:
        return len(self.names)

    # ----------------------------------------------------------------- editing
    def _check_edge(self, i: int, j: int) -> None:
        if not (0 <= i < self.in_features and 0 <= j < self.out_features):
            raise InputError(
                f"edge (in={i}, out={j}) is out of range for a layer with "
                f"{self.in_features} inputs and {self.out_features} outputs"
            )

    @torch.no_grad()
    def set_edge(self, i: int, j: int, name: str, params: tuple[float, float, float, float],
                 *, with_spline: bool = False):
        """Make edge ``(i, j)`` (input ``i`` to output ``j``) symbolic: ``c·f(a·x + b) + d``
        with ``(a, b, c, d) = params``; ``with_spline``: the edge's numeric part stays on
        beside it (a symbolic guess plus a spline correction, pykan's ``'ns'``)."""
        self._check_edge(i, j)
        get_function(name)  # an unknown name fails here, listing the known ones
        if len(params) != 4:
            raise InputError(f"params must be (a, b, c, d); got {params!r}")
        if self.affine is None:
            init = torch.zeros(self.out_features, self.in_features, 4, dtype=self.active.dtype,
                               device=self.active.device)
            init[..., 0] = 1.0
            init[..., 2] = 1.0
            self.affine = nn.Parameter(init)
        self.affine[j, i] = torch.as_tensor(params, dtype=self.affine.dtype)
        self.active[j, i] = 1.0
        self.names[(i, j)] = name
        (self.with_spline.add if with_spline else self.with_spline.discard)((i, j))
        self._groups = None

    @torch.no_grad()
    def remove_edge(self, i: int, j: int) -> None:
        """Make edge ``(i, j)`` numeric again (no-op if it is not symbolic)."""
        self._check_edge(i, j)
        if self.names.pop((i, j), None) is not None:
            self.active[j, i] = 0.0
            self.with_spline.discard((i, j))
            self._groups = None

    def numeric_off(self) -> torch.Tensor:
        """``(out, in)``: 1 on symbolic edges whose spline is off (all but ``with_spline``)."""
        if not self.with_spline:
            return self.active
        on = torch.zeros_like(self.active)
        for i, j in self.with_spline:
            on[j, i] = 1.0
        return self.active * (1 - on)

    def select(self, in_index: list[int], out_index: list[int]) -> SymbolicEdges:
        """A copy keeping the given inputs and outputs (renumbered in that order)."""
        new = SymbolicEdges(len(in_index), len(out_index), device=self.active.device,
                            dtype=self.active.dtype)
        new.train(self.training)
        in_pos = {i: n for n, i in enumerate(in_index)}
        out_pos = {j: n for n, j in enumerate(out_index)}
        for (i, j), name in self.names.items():
            if i in in_pos and j in out_pos:
                new.set_edge(in_pos[i], out_pos[j], name, tuple(self.affine[j, i].tolist()),
                             with_spline=(i, j) in self.with_spline)
        if new.affine is not None:
            new.affine.requires_grad_(self.affine.requires_grad)
        return new

    def function(self, i: int, j: int) -> SymbolicFunction | None:
        """The registry entry of edge ``(i, j)``, or None for a numeric edge."""
        name = self.names.get((i, j))
        return None if name is None else get_function(name)

    def groups(self) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
        """``{name: (out indices, in indices)}`` of the symbolic edges, one entry per function."""
        if self._groups is None:
            by_name: dict[str, list[tuple[int, int]]] = {}
            for (i, j), name in sorted(self.names.items(), key=lambda e: e[0][::-1]):
                by_name.setdefault(name, []).append((j, i))
            device = self.active.device
            self._groups = {
                name: (torch.tensor([e[0] for e in edges], device=device),
                       torch.tensor([e[1] for e in edges], device=device))
                for name, edges in by_name.items()
            }
        return self._groups

    # -------------------------------------------------------------- evaluation
    def _placed_groups(self, device: torch.device):
        """:meth:`groups` with the indices on ``device``."""
        for name, (js, is_) in self.groups().items():
            if js.device != device:  # the module moved since the groups were built
                self._groups = None
                return self._placed_groups(device)
        return self.groups().items()

    def _values(self, xs: torch.Tensor, name: str, js: torch.Tensor, is_: torch.Tensor,
                mask: torch.Tensor | None):
        """``c·f(a·x + b) + d`` for one group's edges at their inputs ``xs`` ``(B, n)``."""
        fn = get_function(name)
        p = self.affine[js, is_]  # (n, 4)
        f = fn.safe if self.training else fn.torch_fn
        v = p[:, 2] * f(p[:, 0] * xs + p[:, 1]) + p[:, 3]
        return v if mask is None else v * mask[js, is_]

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor | None:
        """Sum of the symbolic edges into each output: ``(B, in) -> (B, out)``, or None when
        the layer has no symbolic edge. ``mask`` ``(out, in)`` (the layer's) removes edges."""
        if not self.names:
            return None
        y = x.new_zeros((x.shape[0], self.out_features))
        for name, (js, is_) in self._placed_groups(x.device):
            y = y.index_add(1, js, self._values(x[:, is_], name, js, is_, mask))
        return y

    def edge_values(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Every edge's symbolic value (0 on numeric edges): ``(B, in) -> (B, out, in)``."""
        return self.jet(x, order=0, mask=mask)[0]

    def jet(self, x: torch.Tensor, order: int = 2, mask: torch.Tensor | None = None
            ) -> list[torch.Tensor]:
        """Every edge's value and derivatives up to ``order`` (0 on numeric edges).

        Shape: ``(B, in) -> [order + 1] × (B, out, in)``; differentiable in ``x`` and the
        parameters (derivatives by autograd on the elementwise functions, no Hessian).
        """
        shape = (x.shape[0], self.out_features, self.in_features)
        out = [x.new_zeros(shape) for _ in range(order + 1)]
        with torch.enable_grad() if order else _nullcontext():
            for name, (js, is_) in self._placed_groups(x.device):
                xs = x[:, is_]  # (B, n)
                if order and not xs.requires_grad:
                    xs = xs.detach().requires_grad_()
                vals = [self._values(xs, name, js, is_, mask)]
                for _ in range(order):
                    prev = vals[-1]
                    g = None
                    if prev.requires_grad:
                        (g,) = torch.autograd.grad(prev.sum(), xs, create_graph=True,
                                                   allow_unused=True)
                    vals.append(torch.zeros_like(xs) if g is None else g)
                flat = js * self.in_features + is_  # edge (j, i) in a (B, out·in) view
                for d, v in enumerate(vals):
                    out[d] = out[d].view(x.shape[0], -1).index_add(1, flat, v).view(shape)
        return out

    # ------------------------------------------------------------ persistence
    def get_extra_state(self) -> Any:
        """``{"version": 2, "names": [[i, j, name], ...]}``."""
        state: dict[str, Any] = {"version": _STATE_VERSION, "names": [
            [i, j, name] for (i, j), name in sorted(self.names.items())]}
        if self.with_spline:  # only then: the states of other models are unchanged
            state["with_spline"] = [list(e) for e in sorted(self.with_spline)]
        return state

    def set_extra_state(self, state: Any) -> None:
        """Reads :meth:`get_extra_state`'s dictionary, and the first version's (no
        ``"version"``; entries ``[j, i, name]``, output first)."""
        version = state.get("version", 1)
        if version > _STATE_VERSION:
            raise InputError(f"symbolic edges saved by a newer kanlab (version {version})")
        names = {}
        for first, second, name in state["names"]:
            i, j = (second, first) if version == 1 else (first, second)
            names[(int(i), int(j))] = str(name)
        for name in set(names.values()):
            get_function(name)  # a function registered in the saving session must exist here
        self.names = names
        self.with_spline = {(int(i), int(j)) for i, j in state.get("with_spline", [])}
        self._groups = None

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):  # type: ignore[override]
        key = prefix + "affine"
        if key in state_dict and self.affine is None:
            self.affine = nn.Parameter(torch.empty_like(state_dict[key], device=self.active.device,
                                                        dtype=self.active.dtype))
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
