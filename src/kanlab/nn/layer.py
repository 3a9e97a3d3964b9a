"""``KANLinear``: a layer of learnable activation functions on edges, made of parts.

The layer holds the state (parameters and buffers, so the state-dict keys are its own) and
composes the parts that compute with it:

- the numeric spline edges: ``knots``, ``coef``, ``spline_scale`` and the knot tables
  (:mod:`kanlab.nn.spline_edges`), evaluated by the GEMM kernel of :mod:`kanlab.splines.kernel`;
- the edge branches beside the spline, :attr:`KANLinear.branches`: the base branch
  (:mod:`kanlab.nn.base_branch`) and the linear tails beyond the grid (:mod:`kanlab.nn.tails`),
  each one more block of GEMM columns (the interface: :mod:`kanlab.nn.branch`);
- symbolic edges (:mod:`kanlab.nn.symbolic_edges`) and input standardisation
  (:mod:`kanlab.nn.standardize`), submodules;
- its nodes (:mod:`kanlab.nn.product_nodes`): the rows' sums as they are, or multiplied in
  groups (product nodes);
- what the layer does with them: derivatives (:mod:`kanlab.nn.derivatives`), grid moves
  (:mod:`kanlab.nn.grid_moves`) and initialisation (:mod:`kanlab.nn.initialization`).

Edges are named ``(i, j)``, input ``i`` to output ``j``; per-edge tensors are ``(out, in, ...)``.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn

from kanlab._validation import (
    check_choice,
    check_features,
    check_forward_input,
    check_nonnegative_int,
    check_positive_int,
    check_range,
)
from kanlab.errors import InputError
from kanlab.grids import GridStrategy, get_grid_strategy
from kanlab.nn import derivatives, grid_moves, selection
from kanlab.nn.base_branch import BASE_FUNCTIONS, BaseBranch
from kanlab.nn.branch import EdgeBranch
from kanlab.nn.fused_forward import fused_forward
from kanlab.nn.initialization import INITIALIZATIONS, initialize_
from kanlab.nn.product_nodes import Nodes
from kanlab.nn.spline_edges import KnotTableCache, Lookup, spline_basis, spline_gemm_weight
from kanlab.nn.standardize import RunningStandardize, standardized
from kanlab.nn.symbolic_edges import SymbolicEdges
from kanlab.nn.tails import TAILS, make_tails
from kanlab.splines.basis import KNOT_CONVENTIONS, make_knots, uniform_grid
from kanlab.splines.kernel import spline_linear

__all__ = ["BASE_FUNCTIONS", "TAILS", "KANLinear"]


class KANLinear(nn.Module):
    r"""A KAN layer: ``y_j = Σ_i φ_ji(x_i) + bias_j`` with learnable activations on every edge.

    ``φ_ji(x) = mask_ji · (w_b,ji · b(x) + w_s,ji · Σ_m c_jim B_m(x))`` where ``b`` is the base
    function (SiLU by default) and ``B_m`` the degree-``k`` B-spline basis on input ``i``'s knots.
    The forward pass is one GEMM over the dense basis and the base branch,
    ``[basis(x).reshape(B, in·n_basis) | b(x)] @ [w_s·c·mask | w_b·mask]^T`` (the GEMM of a dense
    ``nn.Linear(in·(n_basis + 1), out)``), with a hand-written backward
    (:mod:`kanlab.splines.kernel`); no ``(B, in, out)`` tensor is built. With the compiled
    kernel, the common layer's forward is one autograd node (:mod:`kanlab.nn.fused_forward`).

    Args:
        in_features: size of each input sample.
        out_features: the layer's rows, one sum of edges ``y_j`` each (its outputs, bar
            ``products``).
        grid_size: number of grid intervals ``G`` (``G + k`` basis functions per input).
        spline_order: B-spline degree ``k`` (3 = cubic).
        grid_range: initial grid ``(low, high)``, the same for every input.
        base_fn: ``"silu"``, ``"identity"``, ``"tanh"``, ``"gelu"``, ``"zero"`` (no base branch),
            or a callable.
        bias: add a trainable bias per output, zero at start.
        init_noise: standard deviation ``σ`` of the initial spline coefficients (paper: 0.1).
        init: ``"pykan"`` (the paper's: ``c ~ N(0, init_noise²)``, ``w_b`` Xavier-uniform) or
            ``"glorot_fine"`` (jaxKAN's variance balance with one std per basis function; see
            :mod:`kanlab.nn.initialization`; ``init_noise`` then only sets the linear tails').
        knot_convention: ``"extended"`` (pykan) or ``"clamped"`` (DKAN); see :mod:`kanlab.splines`.
        grid_strategy: how :meth:`update_grid` places knots: a name of
            :data:`kanlab.grids.GRID_STRATEGIES` or a :class:`~kanlab.grids.GridStrategy`.
        tails: ``"none"`` or ``"linear"``: two more basis functions per edge,
            ``max(0, a − z)`` and ``max(0, z − b)`` with ``[a, b]`` the grid's ends, so that
            inputs beyond the grid still reach the spline (DKAN's boundary bases).
        standardize: evaluate the spline at ``z = (x − μ)/σ`` with running statistics:
            ``"batch"`` or ``"running"`` (see :class:`~kanlab.nn.standardize.RunningStandardize`),
            an instance, or None (``z = x``).
        base_input: the base function's input, ``"raw"`` (``x``) or ``"standardized"`` (``z``).
        grid: initial grid points ``(G + 1,)`` or ``(in, G + 1)``, instead of ``grid_range``.
        products: arities of product nodes (pykan's multiplication nodes): the last rows are
            multiplied in groups of these sizes (:class:`~kanlab.nn.product_nodes.Nodes`);
            ``product_bias``: a trainable bias after each product (pykan's ``node_bias``).
        generator: a ``torch.Generator`` for the initialisation (the global RNG is never touched
            when one is given).

    Shape:
        ``(..., in_features) -> (..., out_nodes)`` (``out_features`` without products).

    Attributes:
        coef: spline coefficients ``(out, in, G + k)``, initialised ``N(0, init_noise²)``
            (``init="pykan"``).
        tail_coef: ``(out, in, 2)`` coefficients of the linear tails (``tails="linear"``),
            initialised like ``coef``; scaled by ``w_s`` as the spline is.
        spline_scale: ``w_s`` ``(out, in)``, initialised to 1.
        base_scale: ``w_b`` ``(out, in)``, Xavier-uniform ``U(±√(6/(in + out)))``.
        bias: ``(out,)`` zeros, or ``None``; ``product_bias``: ``(n_products,)`` zeros, or None.
        knots: buffer ``(in, G + 2k + 1)``, the per-input knot vectors.
        mask: buffer ``(out, in)`` of 0/1; a 0 removes the edge.
        nodes: the :class:`~kanlab.nn.product_nodes.Nodes` the rows make (sums, products).
        branches: the edge branches beside the spline (base branch, then tails if any).

    Example::

        >>> layer = KANLinear(3, 2, grid_size=5)
        >>> layer(torch.randn(10, 3)).shape
        torch.Size([10, 2])
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        grid_size: int = 5,
        spline_order: int = 3,
        grid_range: tuple[float, float] = (-1.0, 1.0),
        base_fn: str | Callable[[torch.Tensor], torch.Tensor] = "silu",
        bias: bool = True,
        init_noise: float = 0.1,
        init: str = "pykan",
        knot_convention: str = "extended",
        grid_strategy: str | GridStrategy = "quantile",
        tails: str = "none",
        standardize: str | RunningStandardize | None = None,
        base_input: str = "raw",
        grid: torch.Tensor | None = None,
        products: Sequence[int] = (),
        product_bias: bool = False,
        generator: torch.Generator | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        self.in_features = check_positive_int("in_features", in_features)
        self.out_features = check_positive_int("out_features", out_features)
        self.nodes = Nodes(out_features, products)
        check_positive_int("grid_size", grid_size)
        self.spline_order = check_nonnegative_int("spline_order", spline_order)
        self.grid_range = check_range("grid_range", grid_range)
        self.knot_convention = check_choice("knot_convention", knot_convention, KNOT_CONVENTIONS)
        self.grid_strategy = get_grid_strategy(grid_strategy)
        if init_noise < 0:
            raise InputError(f"init_noise must be non-negative; got {init_noise!r}")
        self.init_noise = float(init_noise)
        self.init = check_choice("init", init, INITIALIZATIONS)
        self.tails = check_choice("tails", tails, TAILS)
        base = BaseBranch(base_fn, base_input)
        tail_branch = make_tails(self.tails, self.spline_order)
        self.branches: tuple[EdgeBranch, ...] = tuple(
            b for b in (base, tail_branch) if b is not None)  # GEMM column order
        factory = {"device": device, "dtype": dtype}
        self.standardize = _standardizer(standardize, in_features, factory)
        self.register_buffer("knots", make_knots(_initial_grid(grid, in_features, grid_size,
                                                               self.grid_range, factory),
                                                 spline_order, knot_convention))
        self.register_buffer("mask", torch.ones(out_features, in_features, **factory))
        self.symbolic = SymbolicEdges(in_features, out_features, **factory)
        nb = self.grid_size + spline_order
        self.coef = nn.Parameter(torch.empty(out_features, in_features, nb, **factory))
        self.spline_scale = nn.Parameter(torch.empty(out_features, in_features, **factory))
        for branch in self.branches:
            self.register_parameter(branch.param,
                                    branch.make_parameter(out_features, in_features, **factory))
        if tail_branch is None:
            self.register_parameter("tail_coef", None)
        self.register_parameter(
            "bias", nn.Parameter(torch.empty(out_features, **factory)) if bias else None)
        n_products = len(self.nodes.arities)
        self.register_parameter("product_bias", nn.Parameter(
            torch.zeros(n_products, **factory)) if product_bias and n_products else None)
        self._knot_cache = KnotTableCache()
        self.reset_parameters(generator=generator)

    # ------------------------------------------------------------------ state
    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        """Re-draw the initial parameters (:func:`~kanlab.nn.initialization.initialize_`)."""
        initialize_(self, generator)

    @property
    def base_fn(self) -> Callable[[torch.Tensor], torch.Tensor] | None:
        """The base function ``b`` (None: no base branch)."""
        return self.branches[0].fn

    @property
    def base_fn_name(self) -> str | None:
        """The base function's name in :data:`BASE_FUNCTIONS`, or None for a callable."""
        return self.branches[0].name

    @property
    def base_input(self) -> str:
        """``"raw"`` or ``"standardized"``: what the base function sees."""
        return self.branches[0].base_input

    @property
    def out_nodes(self) -> int:
        """The layer's outputs: its sum and product nodes."""
        return self.nodes.n_nodes

    @property
    def grid_size(self) -> int:
        """Number of grid intervals ``G``."""
        return self.knots.shape[1] - 2 * self.spline_order - 1

    @property
    def grid(self) -> torch.Tensor:
        """Grid points ``(in, G + 1)`` (the knots without the ``k`` added at each end)."""
        k = self.spline_order
        return self.knots[:, k : self.knots.shape[1] - k]

    def extra_repr(self) -> str:
        base = self.base_fn_name if self.base_fn_name is not None else "custom"
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"grid_size={self.grid_size}, spline_order={self.spline_order}, base_fn={base}, "
            f"bias={self.bias is not None}"
            + (f", tails={self.tails!r}" if self.tails != "none" else "")
            + (f", base_input={self.base_input!r}" if self.standardize is not None else "")
            + (f", products={list(self.nodes.arities)}" if self.nodes.has_products else "")
        )

    # ---------------------------------------------------------------- forward
    def numeric_mask(self) -> torch.Tensor:
        """``(out, in)``: 1 on edges with a numeric part (not pruned; not symbolic, or 'ns')."""
        if not len(self.symbolic):
            return self.mask
        return self.mask * (1 - self.symbolic.numeric_off())

    def spline_weight(self, mask: torch.Tensor | None = None) -> torch.Tensor:
        """``W = w_s · c · mask`` flattened for the GEMM: ``(out, in · n_basis)``."""
        mask = self.numeric_mask() if mask is None else mask
        return spline_gemm_weight(self.coef, self.spline_scale, mask)

    def spline_input(self, x: torch.Tensor) -> torch.Tensor:
        """What the splines see: ``x`` standardised when the layer standardises, else ``x``.

        In training mode this updates the running statistics. Shape ``(B, in)``.
        """
        return x if self.standardize is None else self.standardize(x)

    def tail_features(self, z: torch.Tensor) -> torch.Tensor:
        """``[max(0, a − z), max(0, z − b)]`` per input: ``(B, in) -> (B, in, 2)``."""
        return make_tails("linear", self.spline_order).features(z, self.knots)

    def extra_columns(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor | None:
        """The GEMM's columns beyond the spline bases, ``(B, E)``: each branch's blocks (base
        branch, then tails), or None. ``x``, ``z``: raw and spline inputs ``(B, in)``. A single
        block is used as it is (no copy); the blocks die here, before the kernel runs."""
        cols = [c for branch in self.branches for c in branch.columns(x, z, self.knots)]
        if not cols:
            return None
        return cols[0] if len(cols) == 1 else torch.cat(cols, dim=1)

    def gemm_weight(self) -> torch.Tensor:
        """The forward GEMM's weight ``(out, in·n_basis + E)``: splines, then each branch's
        columns (base branch, tails)."""
        mask = self.numeric_mask()
        weights = [self.spline_weight(mask)]
        for branch in self.branches:
            scale = self.spline_scale * mask if branch.inside_spline else mask  # (out, in)
            weights += branch.weights(getattr(self, branch.param), scale)
        return torch.cat(weights, dim=1)

    def knot_lookup(self) -> Lookup:
        """``(rows, uniform, tables)`` of the current knots, cached until they change
        (:class:`~kanlab.nn.spline_edges.KnotTableCache`)."""
        return self._knot_cache.lookup(self.knots, self.spline_order, self.branches)

    def basis(self, x: torch.Tensor, derivative: int = 0) -> torch.Tensor:
        """Spline basis (or a derivative) at ``x``: ``(..., in) -> (..., in, G + k)``."""
        return spline_basis(x, self.knots, self.spline_order, self.knot_lookup(), derivative)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 0 or x.shape[-1] != self.in_features or x.dtype != self.coef.dtype:
            check_forward_input("x", x, self.in_features, self.coef.dtype)  # raises, bar autocast
        flat = x.dim() == 2  # (B, in) already: no reshapes (two autograd nodes fewer)
        x2 = x if flat else x.reshape(-1, self.in_features)  # (B, in)
        z = self.spline_input(x2)
        y = fused_forward(self, x2, z)  # (B, out), or None where the fused path does not apply
        if y is None:
            _, _, tables = self.knot_lookup()
            y = spline_linear(z, self.extra_columns(x2, z), self.gemm_weight(), self.bias,
                              self.knots, self.spline_order, tables=tables)
        if len(self.symbolic):  # no module call without symbolic edges (dispatch adds up)
            y = y + self.symbolic(x2, self.mask)
        if self.nodes.has_products:
            y = self.nodes.combine(y, self.product_bias)  # (B, out_nodes)
        return y if flat else y.reshape(*x.shape[:-1], self.out_nodes)

    def edge_activations(self, x: torch.Tensor, *, update_statistics: bool = False
                         ) -> torch.Tensor:
        """Every edge's activation ``φ_ji(x_i)``: ``(B, in) -> (B, out, in)``.

        Running statistics (when the layer standardises) are used, not updated -- unless
        ``update_statistics`` (in training mode), which records them as ``forward`` does.

        Warning:
            Builds a ``(B, out, in)`` tensor; meant for regularisation, plots and symbolic
            fitting, not for the training path.
        """
        check_features("x", x, self.in_features)
        x2 = x.reshape(-1, self.in_features)  # (B, in)
        if update_statistics:
            z = self.spline_input(x2)
        else:
            z, _ = standardized(self.standardize, x2)
        spline = torch.einsum("bim,oim->boi", self.basis(z), self.coef)  # (B, out, in)
        values = [(b, b.values(x2, z, self.knots, getattr(self, b.param))) for b in self.branches]
        for branch, v in values:
            if branch.inside_spline and v is not None:
                spline = spline + v
        mask = self.numeric_mask()
        phi = spline * (self.spline_scale * mask)
        for branch, v in values:
            if not branch.inside_spline and v is not None:
                phi = phi + v * mask
        if len(self.symbolic):
            phi = phi + self.symbolic.edge_values(x2, self.mask)
        return phi

    def edge_derivative(self, x: torch.Tensor, order: int) -> torch.Tensor:
        """Every edge's ``order``-th derivative ``φ_ji^(order)(x_i)``: ``(B, in) -> (B, out, in)``
        (:func:`kanlab.nn.derivatives.edge_derivative`)."""
        return derivatives.edge_derivative(self, x, order)

    def forward_derivatives(
        self, h: torch.Tensor, dh: torch.Tensor, d2h: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Outputs with first and pure second derivatives, in forward mode: h ``(B, in)``, dh
        and d2h ``(B, D, in)`` -> ``(B, out)``, ``(B, D, out)`` twice
        (:func:`kanlab.nn.derivatives.forward_derivatives`)."""
        return derivatives.forward_derivatives(self, h, dh, d2h)

    # ------------------------------------------------------------- grid moves
    def update_grid(
        self,
        x: torch.Tensor,
        strategy: str | GridStrategy | None = None,
        *,
        grid_size: int | None = None,
        context: Any = None,
    ) -> float:
        """Move the knots to fit the samples ``x`` and refit the coefficients to keep the function.

        The new coefficients are the (ridge) least-squares best match of the old edge functions
        at the samples, one solve per input with all outputs as right-hand sides.

        Args:
            x: samples of this layer's input, shape ``(..., in)``, at least ``G + 1`` of them.
            strategy: knot placement (default: the layer's ``grid_strategy``).
            grid_size: a new number of intervals: extend (or coarsen) and adapt in one fit,
                which keeps the function better than :meth:`refine` followed by an update.
            context: a :class:`~kanlab.grids.density.GridContext` for strategies that need the
                network (``KAN.update_grid`` passes one).

        Returns:
            The drift: relative RMS change of the layer's outputs on the samples,
            ``‖y_new − y_old‖ / ‖y_old‖`` (what the refit could not keep).

        Raises:
            InputError: wrong shape, NaN/inf, or too few samples.
        """
        return grid_moves.update_grid(self, x, strategy, grid_size=grid_size, context=context)[0]

    def refine_(self, grid_size: int, x: torch.Tensor | None = None) -> None:
        """:meth:`refine` in place: ``grid_size`` intervals, the same function; ``knots`` and
        ``coef`` become new tensors (an optimiser must be rebuilt)."""
        grid_moves.refine_(self, grid_size, x)

    def refine(self, grid_size: int, x: torch.Tensor | None = None) -> KANLinear:
        """A copy on a grid of ``grid_size`` intervals with the same function (paper §2.4).

        The new grid interpolates the current one; the coefficients are the least-squares
        transfer of the edge functions over the splines' whole support, exact for ``G' = n·G``
        (:mod:`kanlab.nn.grid_moves`). A coarser grid warns (:class:`~kanlab.errors.GridWarning`)
        when it changes them by more than :data:`~kanlab.nn.grid_moves.COARSEN_TOLERANCE`.

        Args:
            grid_size: the new number of intervals.
            x: samples ``(..., in)`` of the inputs the layer will see (optional): the fit also
                weighs them, and a side of the grid that they never leave gets the usual knots
                beyond it (equally spaced knots stay equally spaced: the faster forward pass).
        """
        new = copy.deepcopy(self)
        new.refine_(grid_size, x)
        return new

    def select(self, in_index: Sequence[int], out_index: Sequence[int]) -> KANLinear:
        """A copy with only the given inputs and output nodes (in that order; a product node
        keeps all its rows); the kept edges, their knots, symbolic functions and statistics are
        unchanged
        (:func:`kanlab.nn.selection.select`)."""
        return selection.select(self, in_index, out_index)


def _standardizer(standardize: str | RunningStandardize | None, in_features: int,
                  factory: dict) -> RunningStandardize | None:
    if isinstance(standardize, str):
        return RunningStandardize(in_features, mode=standardize, **factory)
    if standardize is not None and not isinstance(standardize, RunningStandardize):
        raise InputError("standardize must be 'batch', 'running', a RunningStandardize or None")
    return standardize


def _initial_grid(grid: torch.Tensor | None, in_features: int, grid_size: int,
                  grid_range: tuple[float, float], factory: dict) -> torch.Tensor:
    """Grid points ``(in, G + 1)``: given, or ``G + 1`` equally spaced over ``grid_range``."""
    if grid is None:
        return uniform_grid(in_features, grid_size, grid_range, **factory)
    grid = torch.as_tensor(grid, **factory).expand(in_features, -1).contiguous()
    if grid.shape[1] < 2 or not bool((grid.diff(dim=1) > 0).all()):
        raise InputError("grid points must be strictly increasing, at least 2 per input")
    return grid
