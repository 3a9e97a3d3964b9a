"""``KAN``: a stack of :class:`~kanlab.nn.layer.KANLinear` layers, with grid moves and save/load."""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from kanlab._modes import evaluating
from kanlab._validation import (
    as_samples,
    check_features,
    check_forward_input,
    check_positive_int,
    per_layer,
)
from kanlab.errors import InputError
from kanlab.grids import GRID_STRATEGIES, GridStrategy, get_grid_strategy
from kanlab.nn.facade import KANFacade
from kanlab.nn.grid_update import update_network_grid
from kanlab.nn.initialization import sparse_mask
from kanlab.nn.layer import KANLinear
from kanlab.nn.persistence import load_model, model_from_config, save_model
from kanlab.nn.presets import layer_preset
from kanlab.nn.product_nodes import WidthSpec, width_spec
from kanlab.nn.standardize import frozen

__all__ = ["KAN", "LayerTrace", "RECORD_MAX_VALUES"]

#: The most numbers (rows × inputs) that :meth:`KAN.record` keeps by default: ``2**20``, 8 MiB in
#: float64 (a fit on 60000 × 784 inputs keeps 1337 evenly spaced rows).
RECORD_MAX_VALUES = 2**20


@dataclass
class LayerTrace:
    """What one layer saw and did for a batch.

    Attributes:
        inputs: pre-activations ``(B, in)``.
        activations: post-activations of every edge ``(B, out, in)``.
        outputs: the layer's outputs, its nodes ``(B, out_nodes)``.
        sums: the sum over each row's edges plus the bias ``(B, out)``: the outputs, bar
            product nodes (which multiply rows).
    """

    inputs: torch.Tensor
    activations: torch.Tensor
    outputs: torch.Tensor
    sums: torch.Tensor


def _strategy_config(strategy: GridStrategy) -> dict[str, Any]:
    if strategy.name not in GRID_STRATEGIES or not dataclasses.is_dataclass(strategy):
        raise InputError(
            f"grid strategy {type(strategy).__name__} is not registered in "
            "kanlab.grids.GRID_STRATEGIES, so the model cannot be saved as JSON"
        )
    return {"name": strategy.name, **dataclasses.asdict(strategy)}


class KAN(KANFacade, nn.Module):
    """A Kolmogorov-Arnold network: ``KANLinear`` layers of the given widths.

    Args:
        widths: node counts from inputs to outputs, e.g. ``[2, 5, 1]``; an entry
            ``[n_sum, n_product]`` adds product nodes (pykan's multiplication nodes):
            ``[2, [5, 2], 1]`` has 5 sum and 2 product nodes in its hidden row
            (:mod:`kanlab.nn.product_nodes`). :attr:`widths` holds the node counts.
        mult_arity: the factors of every product node (default 2), or one list per node row
            (inputs first) of the arities of that row's product nodes.
        product_bias: a trainable bias after every product node (pykan's ``node_bias``): ``1 +
            x·y`` in one node, but products that can mimic sums (``(a+f)(b+g) − ab``). Off.
        grid_size, spline_order, grid_range, base_fn, bias, init_noise, init, knot_convention:
            passed to every :class:`~kanlab.nn.layer.KANLinear`; each may also be a list with one
            entry per layer.
        tails: ``"none"`` or ``"linear"`` (linear bases beyond the grid; see
            :class:`~kanlab.nn.layer.KANLinear`); per layer or for all.
        grid: grid strategy of every layer's :meth:`update_grid`: a name of
            :data:`kanlab.grids.GRID_STRATEGIES` (default ``"quantile"``) or an instance.
            A grid name may also stand for an architecture (:mod:`kanlab.nn.presets`):
            ``"dkan"`` (or a :class:`~kanlab.grids.DKANGrid`) builds DKAN layers: standardised
            inputs, clamped knots at normal quantiles, linear tails, a fixed grid.
        grid_eps: ``eps`` of the ``"quantile"`` strategy (pykan 0.2.8's 0.02).
        sparse_init: start every layer with the sparse edge mask of
            :func:`~kanlab.nn.initialization.sparse_mask` (each node joined to its nearest
            neighbours in the next row; pykan's ``sparse_init``) instead of all edges. Masked
            edges are pruned edges: no value, no gradient.
        seed: seeds a local ``torch.Generator`` for the initialisation; the global RNG is not
            touched. ``None`` draws from the global RNG like any ``nn.Module``.
        dtype, device: where the parameters live.

    Shape:
        ``(..., widths[0]) -> (..., widths[-1])``.

    Attributes:
        recorded_inputs: network inputs ``(N, widths[0])`` or None, a buffer (saved with the
            model): the default samples of pruning, symbolic fitting, importance and plots.
            :func:`~kanlab.training.loop.fit` records its training inputs (:meth:`record`,
            bounded by :data:`RECORD_MAX_VALUES`); a pruned model has the original's, restricted
            to the inputs it keeps.

    The pykan-style methods (``prune``, ``auto_symbolic``, ``plot``, ``fit``, ...) come from
    :class:`~kanlab.nn.facade.KANFacade`, which forwards each to a higher layer.

    Example::

        >>> model = KAN([2, 5, 1], grid_size=5, seed=0)
        >>> model(torch.rand(8, 2)).shape
        torch.Size([8, 1])
    """

    def __init__(
        self,
        widths: Sequence[Any],
        *,
        mult_arity: int | Sequence[Sequence[int]] = 2,
        product_bias: bool = False,
        grid_size: int | Sequence[int] = 5,
        spline_order: int | Sequence[int] = 3,
        grid_range: tuple[float, float] | Sequence[tuple[float, float]] = (-1.0, 1.0),
        base_fn: str | Sequence[str] = "silu",
        bias: bool | Sequence[bool] = True,
        init_noise: float | Sequence[float] = 0.1,
        init: str | Sequence[str] = "pykan",
        knot_convention: str | Sequence[str] = "extended",
        tails: str | Sequence[str] = "none",
        grid: str | GridStrategy = "quantile",
        grid_eps: float = 0.02,
        sparse_init: bool = False,
        seed: int | None = None,
        dtype: torch.dtype | None = None,
        device: torch.device | str | None = None,
    ) -> None:
        super().__init__()
        spec = WidthSpec(widths, mult_arity)
        self.widths = spec.nodes
        options = {
            "grid_size": grid_size,
            "spline_order": spline_order,
            "grid_range": grid_range,
            "base_fn": base_fn,
            "bias": bias,
            "init_noise": init_noise,
            "init": init,
            "knot_convention": knot_convention,
            "tails": tails,
        }
        if isinstance(grid, str) and grid == "quantile":
            strategy: GridStrategy = get_grid_strategy("quantile", eps=grid_eps)
        else:
            strategy = get_grid_strategy(grid)
        self.grid_strategy = strategy
        layers, per_layer = _build_layers(spec, options, strategy, seed, dtype, product_bias)
        if sparse_init:
            with torch.no_grad():
                for layer in layers:
                    layer.mask.copy_(sparse_mask(layer.in_features, layer.out_features))
        self.layers = nn.ModuleList(layers)
        if device is not None:
            self.to(device)
        self._options = {
            **{name: _jsonable(v) for name, v in per_layer.items()},
            "grid": _strategy_config(strategy) if _is_saveable(strategy) else None,
            **({"sparse_init": True} if sparse_init else {}),  # (configs without it: unchanged)
            **({"product_bias": True} if product_bias else {}),
            "seed": seed,
        }
        self.register_buffer("recorded_inputs", None)  # see record() and Attributes

    # ------------------------------------------------------------ structure
    @property
    def depth(self) -> int:
        return len(self.layers)

    @property
    def grid_size(self) -> list[int]:
        """Grid intervals of each layer."""
        return [layer.grid_size for layer in self.layers]

    @property
    def config(self) -> dict[str, Any]:
        """The constructor arguments that rebuild this model's structure (JSON-serialisable)."""
        cfg = dict(self._options)
        cfg["widths"], arities = width_spec(self.layers)
        if arities is not None:
            cfg["mult_arity"] = arities
        cfg["grid_size"] = self.grid_size
        cfg["dtype"] = str(self.dtype).removeprefix("torch.")
        return cfg

    @property
    def dtype(self) -> torch.dtype:
        return self.layers[0].coef.dtype

    @property
    def device(self) -> torch.device:
        return self.layers[0].coef.device

    def extra_repr(self) -> str:
        return f"widths={width_spec(self.layers)[0]}"

    # -------------------------------------------------------------- forward
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 0 or x.shape[-1] != self.widths[0] or x.dtype != self.dtype:
            check_forward_input("x", x, self.widths[0], self.dtype)  # raises, bar autocast
        for layer in self.layers:
            x = layer(x)
        return x

    def forward_derivatives(
        self, x: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Outputs with their first and pure second derivatives in every input, in one pass.

        Forward mode through the layers (see :meth:`KANLinear.forward_derivatives`): cheaper
        than nested autograd for PDE residuals, and differentiable for training.

        Returns:
            ``u`` ``(B, out)``, ``du`` ``(B, D, out)`` with ``du[b, d] = ∂u/∂x_d`` and ``d2u``
            ``(B, D, out)`` with ``d2u[b, d] = ∂²u/∂x_d²`` (``D = widths[0]``); the Laplacian
            is ``d2u.sum(1)``.
        """
        check_features("x", x, self.widths[0])
        h = x.reshape(-1, self.widths[0])
        batch, n_dim = h.shape
        dh = torch.eye(n_dim, dtype=h.dtype, device=h.device).expand(batch, n_dim, n_dim)
        d2h = torch.zeros_like(dh)
        for layer in self.layers:
            h, dh, d2h = layer.forward_derivatives(h, dh, d2h)
        return h, dh, d2h

    def trace(self, x: torch.Tensor, *, update_statistics: bool = False) -> list[LayerTrace]:
        """Every layer's inputs, per-edge activations and outputs for the batch ``x``.

        This is the opt-in way to see inside the network (regularisation, plots, symbolic
        fitting); ``forward`` never records anything. Differentiable.

        Args:
            x: inputs ``(..., widths[0])``, flattened to ``(B, widths[0])``.
            update_statistics: in training mode, update the running statistics of layers that
                standardise their inputs (DKAN) as ``forward`` does -- for a training step
                taken through the trace (``fit`` with ``lamb > 0``). Off by default: looking
                inside the network changes nothing.

        Returns:
            One :class:`LayerTrace` per layer.

        Warning:
            Builds a ``(B, out, in)`` tensor per layer.
        """
        check_features("x", x, self.widths[0])
        h = x.reshape(-1, self.widths[0])
        out = []
        for layer in self.layers:
            acts = layer.edge_activations(h, update_statistics=update_statistics)  # (B, out, in)
            sums = acts.sum(-1) if layer.bias is None else acts.sum(-1) + layer.bias
            h_next = layer.nodes.combine(sums, layer.product_bias)
            out.append(LayerTrace(h, acts, h_next, sums))
            h = h_next
        return out

    # ----------------------------------------------------------- grid moves
    def update_grid(self, x: torch.Tensor, strategy: str | GridStrategy | None = None, *,
                    grid_size: int | Sequence[int] | None = None, **options: Any) -> list[float]:
        """Adapt every layer's grid to the batch ``x`` (layer by layer, one forward pass).

        Each layer's knots move to its own inputs and its coefficients are refitted to keep its
        function on them (:func:`kanlab.nn.grid_moves.update_grid`); the next layer then sees
        the refitted layer's output. A move that makes the fit worse than the strategy's
        ``guard`` allows is undone (:func:`kanlab.nn.grid_update.update_network_grid`, which
        also says whether it was). A constant *input* column gets a :class:`GridWarning`; a
        constant hidden node (emptied by pruning) keeps its grid.

        Args:
            x: inputs ``(..., widths[0])``, at least ``G + 1`` samples.
            strategy: overrides each layer's grid strategy for this call.
            grid_size: new grid sizes (one, or one per layer): extend and adapt in one
                least-squares fit per layer (parameters are replaced: rebuild the optimiser).
            **options: ``y`` (targets: the ``loss`` density and the guard use them),
                ``loss_fn``, ``guard`` and ``objective``, as
                :func:`~kanlab.nn.grid_update.update_network_grid` takes them.

        Returns:
            Each layer's drift (see :meth:`KANLinear.update_grid`), of the move tried.
        """
        return update_network_grid(self, x, strategy, grid_size=grid_size, **options).drift

    @torch.no_grad()
    def refine_(self, grid_size: int | Sequence[int], x: torch.Tensor | None = None) -> None:
        """:meth:`refine` in place: this model's grids become ``grid_size`` intervals with the
        same function (what ``fit``'s ``grid_schedule`` does between stages). Parameters whose
        shape changes are new ``nn.Parameter`` objects, so an optimiser must be rebuilt."""
        sizes = per_layer("grid_size", grid_size, self.depth)
        h = None if x is None else as_samples("x", x, self.widths[0], self.dtype)
        for layer, g in zip(self.layers, sizes):
            if g != layer.grid_size:
                layer.refine_(g, h)
            if h is not None:
                with frozen(layer.standardize):
                    h = layer(h)

    def refine(self, grid_size: int | Sequence[int], x: torch.Tensor | None = None) -> KAN:
        """A new model on finer (or coarser) grids with the same function (paper §2.4).

        Each layer's splines are transferred over their whole support (:meth:`KANLinear.refine`):
        for ``G' = n·G`` the function is kept exactly, also where hidden inputs leave their
        layer's grid; a coarser grid loses part of it (a :class:`GridWarning` says how much).
        With ``x`` each layer also fits the inputs it sees, and keeps the usual (equally
        spaced) knots beyond a side of its grid that they never leave.

        Args:
            grid_size: the new number of intervals, for every layer or one per layer.
            x: network inputs ``(N, widths[0])`` the model will see (optional).

        Returns:
            A new :class:`KAN`; this one is unchanged. Every other setting is kept.
        """
        new = copy.deepcopy(self)
        new.refine_(grid_size, x)
        return new

    # ------------------------------------------------------- recorded inputs
    @torch.no_grad()
    def record(self, x: torch.Tensor, *, max_values: int | None = RECORD_MAX_VALUES) -> None:
        """Keep network inputs as :attr:`recorded_inputs`, the default samples of pruning,
        symbolic fitting, importance and plots. :func:`~kanlab.training.loop.fit` records its
        training inputs this way.

        The rows are a buffer (saved, loaded, moved with ``.to()``). At most ``max_values``
        numbers are kept: when ``N·d > max_values``, the ``k = max(max_values // d, 2)`` rows
        ``round(i·(N−1)/(k−1))``, ``i = 0 … k−1`` (evenly spaced, ends included, in order).

        Args:
            x: network inputs ``(..., widths[0])``, flattened to ``(N, widths[0])``; copied
                (never aliased) in the model's dtype and on its device.
            max_values: the most numbers kept (default :data:`RECORD_MAX_VALUES`, ``2**20``:
                8 MiB in float64); None keeps every row.

        Raises:
            InputError: ``x`` has the wrong width or a non-finite value, or ``max_values`` is
                not a positive integer or None.
        """
        if max_values is not None:
            check_positive_int("max_values", max_values)
        x = as_samples("x", x, self.widths[0], self.dtype)  # (N, d)
        n, d = x.shape
        if max_values is not None and n * d > max_values:
            k = max(max_values // d, 2)
            rows = torch.linspace(0, n - 1, k, dtype=torch.float64).round().long()
            x = x[rows.to(x.device)]  # (k, d)
        self.register_buffer("recorded_inputs", x.detach().to(device=self.device, copy=True))

    def samples(self, x: torch.Tensor | None = None, purpose: str = "this") -> torch.Tensor:
        """Checked network inputs ``(N, widths[0])``: ``x``, or :attr:`recorded_inputs` when
        ``x`` is None (what pruning, symbolic fitting, importance and plots look at).

        Raises:
            InputError: ``x`` is None and nothing was recorded (``purpose`` names the caller).
        """
        if x is None:
            x = getattr(self, "recorded_inputs", None)
            if x is None:
                raise InputError(
                    f"{purpose} needs samples of the network inputs: pass x, or fit the model "
                    "first (fit records its training inputs as model.recorded_inputs)"
                )
        return as_samples("x", x, self.widths[0], self.dtype).to(self.device)

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys,
                              unexpected_keys, error_msgs):  # type: ignore[override]
        # recorded_inputs has as many rows as were recorded: make room for the loaded ones (a
        # fresh tensor, so that recorded rows are never overwritten in place). A state without
        # them -- nothing recorded, or a file saved before kanlab saved them -- leaves none.
        key = prefix + "recorded_inputs"
        value = state_dict.get(key)
        room = None
        if isinstance(value, torch.Tensor):
            if value.dim() == 2 and value.shape[1] == self.widths[0]:
                room = torch.empty(value.shape, dtype=self.dtype, device=self.device)
            else:
                error_msgs.append(f"{key} has shape {tuple(value.shape)}; expected "
                                  f"(N, {self.widths[0]}) network inputs")
        self.register_buffer("recorded_inputs", room)
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys,
                                      unexpected_keys, error_msgs)

    @torch.no_grad()
    def eval_trace(self, x: torch.Tensor) -> list[LayerTrace]:
        """:meth:`trace` in evaluation mode (exact symbolic functions, running statistics),
        without gradients; the training flag is restored."""
        with evaluating(self):
            return self.trace(x)

    # ------------------------------------------------------------ save/load
    def save(self, path: str | Path) -> Path:
        """Write ``config.json`` and ``state_dict.pt`` (recorded inputs included) into the
        directory ``path`` (created): :func:`kanlab.nn.persistence.save_model`. :meth:`load`
        gives a model with bit-identical outputs."""
        return save_model(self, path)

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> KAN:
        """A freshly initialised model with the structure that :attr:`config` describes."""
        return model_from_config(cls, config)

    @classmethod
    def load(cls, path: str | Path, *, map_location: str | torch.device | None = "cpu") -> KAN:
        """Load a model written by :meth:`save` (any format version up to this kanlab's):
        :func:`kanlab.nn.persistence.load_model`."""
        return load_model(cls, path, map_location=map_location)


def _build_layers(spec: WidthSpec, options: dict[str, Any], strategy: GridStrategy,
                  seed: int | None, dtype: torch.dtype | None, product_bias: bool = False
                  ) -> tuple[list[KANLinear], dict[str, list[Any]]]:
    """The layers, and the per-layer options they were built with (what the config saves).

    A grid that names an architecture (:func:`~kanlab.nn.presets.layer_preset`: ``"dkan"``)
    sets the options it stands for. Initialised on the CPU from one generator, so that a seed
    gives the same model on every device.
    """
    widths, rows = spec.nodes, spec.rows
    n_layers = len(widths) - 1
    preset = layer_preset(strategy)  # e.g. DKAN's layers for grid="dkan"
    if preset is not None:
        options = {**options, **preset.shared_options()}
    by_layer = {name: per_layer(name, value, n_layers) for name, value in options.items()}
    generator = None if seed is None else torch.Generator().manual_seed(seed)
    layers = []
    for li in range(n_layers):
        layer_opts = {name: by_layer[name][li] for name in by_layer}
        if preset is not None:
            layer_opts.update(preset.layer_options(widths[li], layer_opts["grid_size"], dtype))
        layers.append(KANLinear(widths[li], rows[li], **layer_opts, products=spec.products[li],
                                product_bias=product_bias, grid_strategy=strategy,
                                generator=generator, dtype=dtype))
    return layers, by_layer


def _jsonable(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value


def _is_saveable(strategy: GridStrategy) -> bool:
    return strategy.name in GRID_STRATEGIES and dataclasses.is_dataclass(strategy)
