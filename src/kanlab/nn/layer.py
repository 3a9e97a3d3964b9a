"""``KANLinear``: a layer of learnable activation functions on edges."""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from kanlab._autodiff import elementwise_jet
from kanlab._validation import (
    as_samples,
    check_choice,
    check_features,
    check_nonnegative_int,
    check_positive_int,
    check_range,
)
from kanlab.errors import InputError
from kanlab.grids import DKANGrid, GridStrategy, get_grid_strategy
from kanlab.nn.initialization import INITIALIZATIONS, glorot_fine_std
from kanlab.nn.standardize import RunningStandardize
from kanlab.nn.symbolic_edges import SymbolicEdges
from kanlab.splines.basis import (
    KNOT_CONVENTIONS,
    bspline_basis,
    local_jet,
    make_knots,
    uniform_grid,
    window_rows,
)
from kanlab.splines.kernel import KnotTables, dense_basis, knot_tables, spline_linear
from kanlab.splines.lstsq import transfer_coefficients, transfer_design

__all__ = ["BASE_FUNCTIONS", "TAILS", "KANLinear"]

TAILS = ("none", "linear")


def _zero(x: torch.Tensor) -> torch.Tensor:
    return torch.zeros_like(x)


BASE_FUNCTIONS: dict[str, Callable[[torch.Tensor], torch.Tensor] | None] = {
    "silu": F.silu,
    "identity": lambda x: x,
    "tanh": torch.tanh,
    "gelu": F.gelu,
    "zero": None,
}


class KANLinear(nn.Module):
    r"""A KAN layer: ``y_j = Σ_i φ_ji(x_i) + bias_j`` with learnable activations on every edge.

    ``φ_ji(x) = mask_ji · (w_b,ji · b(x) + w_s,ji · Σ_m c_jim B_m(x))`` where ``b`` is the base
    function (SiLU by default) and ``B_m`` the degree-``k`` B-spline basis on input ``i``'s knots.
    The forward pass is one GEMM over the dense basis and the base branch,
    ``[basis(x).reshape(B, in·n_basis) | b(x)] @ [w_s·c·mask | w_b·mask]^T`` (the GEMM of a dense
    ``nn.Linear(in·(n_basis + 1), out)``), with a hand-written backward
    (:mod:`kanlab.splines.kernel`); no ``(B, in, out)`` tensor is built.

    Args:
        in_features: size of each input sample.
        out_features: size of each output sample.
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
        generator: a ``torch.Generator`` for the initialisation (the global RNG is never touched
            when one is given).

    Shape:
        ``(..., in_features) -> (..., out_features)``.

    Attributes:
        coef: spline coefficients ``(out, in, G + k)``, initialised ``N(0, init_noise²)``
            (``init="pykan"``).
        tail_coef: ``(out, in, 2)`` coefficients of the linear tails (``tails="linear"``),
            initialised like ``coef``; scaled by ``w_s`` as the spline is.
        spline_scale: ``w_s`` ``(out, in)``, initialised to 1.
        base_scale: ``w_b`` ``(out, in)``, Xavier-uniform ``U(±√(6/(in + out)))``.
        bias: ``(out,)`` zeros, or ``None``.
        knots: buffer ``(in, G + 2k + 1)``, the per-input knot vectors.
        mask: buffer ``(out, in)`` of 0/1; a 0 removes the edge.

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
        generator: torch.Generator | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        self.in_features = check_positive_int("in_features", in_features)
        self.out_features = check_positive_int("out_features", out_features)
        check_positive_int("grid_size", grid_size)
        self.spline_order = check_nonnegative_int("spline_order", spline_order)
        self.grid_range = check_range("grid_range", grid_range)
        self.knot_convention = check_choice("knot_convention", knot_convention, KNOT_CONVENTIONS)
        self.grid_strategy = get_grid_strategy(grid_strategy)
        if init_noise < 0:
            raise InputError(f"init_noise must be non-negative; got {init_noise!r}")
        self.init_noise = float(init_noise)
        self.init = check_choice("init", init, INITIALIZATIONS)
        if isinstance(base_fn, str):
            check_choice("base_fn", base_fn, BASE_FUNCTIONS)
            self.base_fn_name: str | None = base_fn
            self.base_fn = BASE_FUNCTIONS[base_fn]
        elif callable(base_fn):
            self.base_fn_name = None
            self.base_fn = base_fn
        else:
            raise InputError(f"base_fn must be a name or a callable; got {base_fn!r}")

        self.tails = check_choice("tails", tails, TAILS)
        self.base_input = check_choice("base_input", base_input, ("raw", "standardized"))
        factory = {"device": device, "dtype": dtype}
        if isinstance(standardize, str):
            standardize = RunningStandardize(in_features, mode=standardize, **factory)
        elif standardize is not None and not isinstance(standardize, RunningStandardize):
            raise InputError("standardize must be 'batch', 'running', a RunningStandardize or None")
        self.standardize = standardize
        if grid is None:
            grid = uniform_grid(in_features, grid_size, self.grid_range, **factory)
        else:
            grid = torch.as_tensor(grid, **factory).expand(in_features, -1).contiguous()
            if grid.shape[1] < 2 or not bool((grid.diff(dim=1) > 0).all()):
                raise InputError("grid points must be strictly increasing, at least 2 per input")
            grid_size = grid.shape[1] - 1
        self.register_buffer("knots", make_knots(grid, spline_order, knot_convention))
        self.register_buffer("mask", torch.ones(out_features, in_features, **factory))
        self.symbolic = SymbolicEdges(in_features, out_features, **factory)
        nb = grid_size + spline_order
        self.coef = nn.Parameter(torch.empty(out_features, in_features, nb, **factory))
        self.spline_scale = nn.Parameter(torch.empty(out_features, in_features, **factory))
        self.base_scale = nn.Parameter(torch.empty(out_features, in_features, **factory))
        if self.tails == "linear":
            self.tail_coef = nn.Parameter(torch.empty(out_features, in_features, 2, **factory))
        else:
            self.register_parameter("tail_coef", None)
        if bias:
            self.bias = nn.Parameter(torch.empty(out_features, **factory))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters(generator=generator)

    # ------------------------------------------------------------------ state
    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        """Re-draw the initial parameters: the paper's (spline ≈ 0, ``w_s = 1``, ``w_b``
        Xavier) or, with ``init="glorot_fine"``, the variance-balanced one."""
        # Draw where the generator lives (a CPU generator can seed a CUDA layer), then copy.
        gen_device = generator.device if generator is not None else self.coef.device
        draw = {"device": gen_device, "dtype": self.coef.dtype}
        with torch.no_grad():
            coef = torch.empty(self.coef.shape, **draw)
            fine = self.init == "glorot_fine"
            if fine:
                base_std, coef_std = glorot_fine_std(self.knots, self.spline_order,
                                                     self.out_features, self.base_fn)
                coef.normal_(0.0, 1.0, generator=generator).mul_(coef_std.to(**draw))
            else:
                coef.normal_(0.0, self.init_noise, generator=generator)
            self.coef.copy_(coef)
            if self.tail_coef is not None:
                tail = torch.empty(self.tail_coef.shape, **draw)
                self.tail_coef.copy_(tail.normal_(0.0, self.init_noise, generator=generator))
            self.spline_scale.fill_(1.0)
            base = torch.empty(self.base_scale.shape, **draw)
            if not fine:
                bound = math.sqrt(6.0 / (self.in_features + self.out_features))
                base.uniform_(-bound, bound, generator=generator)
            elif base_std is not None:
                base.normal_(0.0, 1.0, generator=generator).mul_(base_std.to(**draw))
            else:
                base.zero_()  # no base function: its weights multiply zero
            self.base_scale.copy_(base)
            if self.bias is not None:
                self.bias.zero_()

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
        )

    # ---------------------------------------------------------------- forward
    def numeric_mask(self) -> torch.Tensor:
        """``(out, in)``: 1 on edges that exist and are numeric (not pruned, not symbolic)."""
        if not len(self.symbolic):
            return self.mask
        return self.mask * (1 - self.symbolic.active)

    def spline_weight(self, mask: torch.Tensor | None = None) -> torch.Tensor:
        """``W = w_s · c · mask`` flattened for the GEMM: ``(out, in · n_basis)``."""
        mask = self.numeric_mask() if mask is None else mask
        w = self.coef * (self.spline_scale * mask).unsqueeze(-1)  # (out, in, nb)
        return w.reshape(self.out_features, -1)

    def spline_input(self, x: torch.Tensor) -> torch.Tensor:
        """What the splines see: ``x`` standardised when the layer standardises, else ``x``.

        In training mode this updates the running statistics. Shape ``(B, in)``.
        """
        return x if self.standardize is None else self.standardize(x)

    def _n_extra(self) -> int:
        """Columns the GEMM has per sample beyond the spline bases (base branch, tails)."""
        n = self.in_features if self.base_fn is not None else 0
        return n + (2 * self.in_features if self.tail_coef is not None else 0)

    def tail_features(self, z: torch.Tensor) -> torch.Tensor:
        """``[max(0, a − z), max(0, z − b)]`` per input: ``(B, in) -> (B, in, 2)``."""
        return _tails(z, self.grid)

    def _extra_columns(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor | None:
        """The GEMM's columns beyond the spline bases, ``(B, E)``: base branch, then tails."""
        cols = []
        if self.base_fn is not None:
            cols.append(self.base_fn(x if self.base_input == "raw" else z))
        if self.tail_coef is not None:
            tails = self.tail_features(z)  # (B, in, 2)
            cols += [tails[..., 0], tails[..., 1]]
        return torch.cat(cols, dim=1) if cols else None

    def gemm_weight(self) -> torch.Tensor:
        """The forward GEMM's weight ``(out, in·n_basis + E)``: splines, base branch, tails."""
        mask = self.numeric_mask()
        weights = [self.spline_weight(mask)]
        if self.base_fn is not None:
            weights.append(self.base_scale * mask)
        if self.tail_coef is not None:
            scale = self.spline_scale * mask  # (out, in)
            weights += [self.tail_coef[..., 0] * scale, self.tail_coef[..., 1] * scale]
        return torch.cat(weights, dim=1)

    def basis(self, x: torch.Tensor, derivative: int = 0) -> torch.Tensor:
        """Spline basis (or a derivative) at ``x``: ``(..., in) -> (..., in, G + k)``."""
        rows, uniform, tables = self._knot_lookup()
        if derivative == 0 and tables is not None:  # the forward pass's tables (faster)
            x2 = x.reshape(-1, self.in_features)
            dense = dense_basis(x2, self.knots, self.spline_order, tables)
            return dense.reshape(*x.shape, dense.shape[-1])
        return bspline_basis(x, self.knots, self.spline_order, derivative, rows=rows,
                             uniform=uniform)

    def _knot_lookup(self) -> tuple[torch.Tensor | None, torch.Tensor | None, KnotTables | None]:
        """Tables that depend on the knots only, cached per knots: ``(rows, uniform, tables)``.

        See :func:`~kanlab.splines.window_rows`, :func:`~kanlab.splines.uniform_spacing` and
        :func:`~kanlab.splines.kernel.knot_tables`.
        """
        if torch.compiler.is_compiling():
            return None, None, None
        knots = self.knots
        key = (knots.data_ptr(), knots._version, knots.device, knots.dtype)
        cache = getattr(self, "_lookup_cache", None)
        if cache is None or cache[0] != key:
            k = self.spline_order
            tables = knot_tables(knots, k, n_extra=self._n_extra())
            rows = window_rows(knots, k)
            if tables.uniform is not None:  # the closed form needs only flags and indices
                rows = rows[:, -2 * (k + 1) :].contiguous()
            cache = (key, rows, tables.uniform, tables)
            self._lookup_cache = cache
        return cache[1], cache[2], cache[3]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] != self.in_features or x.dim() == 0:
            raise InputError(f"x has shape {tuple(x.shape)}; expected (..., {self.in_features})")
        batch_shape = x.shape[:-1]
        x2 = x.reshape(-1, self.in_features)  # (B, in)
        z = self.spline_input(x2)
        _, _, tables = self._knot_lookup()
        y = spline_linear(z, self._extra_columns(x2, z), self.gemm_weight(), self.bias,
                          self.knots, self.spline_order, tables=tables)  # (B, out)
        symbolic = self.symbolic(x2, self.mask)  # (B, out) or None
        if symbolic is not None:
            y = y + symbolic
        return y.reshape(*batch_shape, self.out_features)

    def forward_derivatives(
        self, h: torch.Tensor, dh: torch.Tensor, d2h: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Push first and pure second derivatives through the layer (forward mode).

        With ``y_j = Σ_i φ_ji(h_i)``: ``∂y_j = Σ_i φ'_ji ∂h_i`` and
        ``∂²y_j = Σ_i φ''_ji (∂h_i)² + φ'_ji ∂²h_i`` for each input coordinate of the network,
        as one GEMM over the stacked bases. Differentiable (for PDE losses).

        Shapes: h ``(B, in)``; dh, d2h ``(B, D, in)`` (D network inputs) -> y ``(B, out)``,
        dy and d2y ``(B, D, out)``.

        Raises:
            InputError: for a layer that standardises its inputs (not supported).
        """
        if self.standardize is not None:
            raise InputError("forward_derivatives does not support standardising (DKAN) layers")
        batch, n_dim = dh.shape[0], dh.shape[1]
        rows = self._spline_jet_rows(h, dh, d2h)  # [(B, in·nb), (B·D, in·nb) twice]
        extra: list[list[torch.Tensor]] = [[], [], []]
        if self.base_fn is not None:
            v0, v1, v2 = elementwise_jet(self.base_fn, h)  # (B, in) each
            extra[0].append(v0)
            extra[1].append((v1.unsqueeze(1) * dh).reshape(batch * n_dim, -1))
            extra[2].append((v2.unsqueeze(1) * dh * dh + v1.unsqueeze(1) * d2h)
                            .reshape(batch * n_dim, -1))
        if self.tail_coef is not None:
            lo = -(h < self.grid[:, 0]).to(h.dtype).unsqueeze(1)  # d/dh max(0, a - h)
            hi = (h > self.grid[:, -1]).to(h.dtype).unsqueeze(1)
            tails = self.tail_features(h)
            extra[0] += [tails[..., 0], tails[..., 1]]
            extra[1] += [(lo * dh).reshape(batch * n_dim, -1), (hi * dh).reshape(batch * n_dim, -1)]
            extra[2] += [(lo * d2h).reshape(batch * n_dim, -1),
                         (hi * d2h).reshape(batch * n_dim, -1)]
        weight = self.gemm_weight()  # (out, in·nb + E)
        n_spline = rows[0].shape[1]
        w_spline, w_extra = weight[:, :n_spline].t(), weight[:, n_spline:].t()
        outs = []  # per row block: spline part + extra part (no concatenated copy of the rows)
        for r, e in zip(rows, extra):
            o = r @ w_spline
            outs.append(torch.addmm(o, torch.cat(e, dim=1), w_extra) if e else o)
        y = outs[0] + (self.bias if self.bias is not None else 0)
        dy = outs[1].reshape(batch, n_dim, -1)
        d2y = outs[2].reshape(batch, n_dim, -1)
        if len(self.symbolic):
            v0, v1, v2 = self.symbolic.jet(h, mask=self.mask)  # (B, out, in) each
            y = y + v0.sum(-1)
            dy = dy + torch.einsum("boi,bdi->bdo", v1, dh)
            d2y = d2y + torch.einsum("boi,bdi->bdo", v2, dh * dh)
            d2y = d2y + torch.einsum("boi,bdi->bdo", v1, d2h)
        return y, dy, d2y

    def _spline_jet_rows(
        self, h: torch.Tensor, dh: torch.Tensor, d2h: torch.Tensor
    ) -> list[torch.Tensor]:
        """The spline columns of :meth:`forward_derivatives`' GEMM: the basis ``B(h)``, then
        ``B'(h) ∂h`` and ``B''(h) (∂h)² + B'(h) ∂²h`` per network input.

        Built from the ``k + 1`` nonzero values per input (:func:`~kanlab.splines.local_jet`)
        and scattered into place, so that the products cost ``k + 1`` instead of ``G + k`` per
        input. Shapes: h ``(B, in)``, dh and d2h ``(B, D, in)`` -> ``(B, in·nb)``,
        ``(B·D, in·nb)``, ``(B·D, in·nb)``.
        """
        batch, n_dim, n_in = dh.shape
        nb = self.coef.shape[-1]
        rows_table, uniform, _ = self._knot_lookup()
        jet, index = local_jet(h, self.knots, self.spline_order, rows=rows_table,
                               uniform=uniform)  # (3, B, in, k + 1), (B, in, k + 1)
        cols = (index + torch.arange(n_in, device=h.device).unsqueeze(-1) * nb).reshape(batch, -1)
        g1, g2 = dh.unsqueeze(-1), d2h.unsqueeze(-1)  # (B, D, in, 1)
        first = jet[1].unsqueeze(1) * g1  # (B, D, in, k + 1)
        second = jet[2].unsqueeze(1) * g1 * g1 + jet[1].unsqueeze(1) * g2
        cols_d = cols.unsqueeze(1).expand(-1, n_dim, -1).reshape(batch * n_dim, -1)
        out = []
        for values, where in ((jet[0].reshape(batch, -1), cols),
                              (first.reshape(batch * n_dim, -1), cols_d),
                              (second.reshape(batch * n_dim, -1), cols_d)):
            out.append(values.new_zeros(values.shape[0], n_in * nb).scatter_add(1, where, values))
        return out

    def _standardized(self, x2: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``z`` as the forward pass computes it, without updating statistics, and ``dz/dx``.

        ``dz/dx`` ``(in,)`` is that of the running statistics (None without standardisation).
        """
        if self.standardize is None:
            return x2, None
        return self.standardize.transform(x2), self.standardize.scale()

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
        z = self.spline_input(x2) if update_statistics else self._standardized(x2)[0]
        spline = torch.einsum("bim,oim->boi", self.basis(z), self.coef)  # (B, out, in)
        if self.tail_coef is not None:
            spline = spline + torch.einsum("bit,oit->boi", self.tail_features(z), self.tail_coef)
        mask = self.numeric_mask()
        phi = spline * (self.spline_scale * mask)
        if self.base_fn is not None:
            b = self.base_fn(x2 if self.base_input == "raw" else z)
            phi = phi + b.unsqueeze(1) * (self.base_scale * mask)
        if len(self.symbolic):
            phi = phi + self.symbolic.edge_values(x2, self.mask)
        return phi

    def edge_derivative(self, x: torch.Tensor, order: int) -> torch.Tensor:
        """Every edge's ``order``-th derivative ``φ_ji^(order)(x_i)``: ``(B, in) -> (B, out, in)``.

        Spline part from the basis derivatives (closed form); the base function's derivative by
        autograd on the elementwise function (no Hessian is formed). With standardisation the
        chain rule uses the running statistics' ``dz/dx``.
        """
        check_features("x", x, self.in_features)
        check_nonnegative_int("order", order)
        x2 = x.reshape(-1, self.in_features).detach()  # (B, in)
        with torch.no_grad():
            z, dz = self._standardized(x2)
            d_basis = self.basis(z, derivative=order)  # (B, in, nb)
            spline = torch.einsum("bim,oim->boi", d_basis, self.coef)
            if self.tail_coef is not None and order == 1:
                left, right = z < self.grid[:, 0], z > self.grid[:, -1]
                slope = torch.stack([-left.to(z.dtype), right.to(z.dtype)], -1)  # (B, in, 2)
                spline = spline + torch.einsum("bit,oit->boi", slope, self.tail_coef)
            if self.tail_coef is not None and order == 0:
                spline = spline + torch.einsum("bit,oit->boi", self.tail_features(z),
                                               self.tail_coef)
            mask = self.numeric_mask()
            phi = spline * (self.spline_scale * mask)
            if dz is not None:
                phi = phi * dz**order
        if self.base_fn is not None:
            raw = self.base_input == "raw" or dz is None
            with torch.enable_grad():
                xr = (x2 if raw else z).clone().requires_grad_()
                d = self.base_fn(xr)
                for _ in range(order):
                    if not d.requires_grad:  # the previous derivative was constant
                        d = torch.zeros_like(xr)
                        break
                    (d,) = torch.autograd.grad(d.sum(), xr, create_graph=True)
            d = d.detach() if raw else d.detach() * dz**order
            phi = phi + d.unsqueeze(1) * (self.base_scale * mask)
        if len(self.symbolic):
            phi = phi + self.symbolic.jet(x2, order, self.mask)[order].detach()
        return phi

    # ------------------------------------------------------------- grid moves
    @torch.no_grad()
    def update_grid(
        self,
        x: torch.Tensor,
        strategy: str | GridStrategy | None = None,
        *,
        grid_size: int | None = None,
        context: Any = None,
    ) -> float:
        """Move the knots to fit the samples ``x`` and refit the coefficients to keep the function.

        The new coefficients are the (ridge) least-squares best match of the old splines at the
        samples, one solve per input with all outputs as right-hand sides.

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
        return self._update_grid(x, strategy, grid_size=grid_size, context=context)[0]

    def _update_grid(self, x, strategy=None, *, grid_size=None, context=None):
        """:meth:`update_grid` that also returns the layer's new outputs on the samples
        ``(N, out)``: ``(drift, outputs)``."""
        x2 = as_samples("x", x, self.in_features, self.knots.dtype)  # (N, in)
        z, _ = self._standardized(x2)  # the grid lives where the splines are evaluated
        strat = self.grid_strategy if strategy is None else get_grid_strategy(strategy)
        new_size = self.grid_size if grid_size is None else check_positive_int("grid_size",
                                                                               grid_size)
        grid = strat.grid_points(z, new_size, self.grid, layer=self, context=context)
        knots = make_knots(grid, self.spline_order, self.knot_convention)
        coef = self._transferred_coef(z, knots)
        before = self._output_without_stats(x2)
        if knots.shape == self.knots.shape:
            self.knots.copy_(knots)
            self.coef.copy_(coef)
        else:  # new sizes: new buffer and parameter (an optimiser must be rebuilt)
            self.knots = knots
            self.coef = nn.Parameter(coef, requires_grad=self.coef.requires_grad)
        after = self._output_without_stats(x2)
        return float((after - before).norm() / before.norm().clamp_min(1e-300)), after

    def _output_without_stats(self, x2: torch.Tensor) -> torch.Tensor:
        """The layer's output without touching running statistics: ``(N, in) -> (N, out)``."""
        if self.standardize is None or not self.standardize.training:
            return self(x2)
        self.standardize.eval()
        try:
            return self(x2)
        finally:
            self.standardize.train()

    def _transferred_coef(self, z: torch.Tensor, knots: torch.Tensor) -> torch.Tensor:
        """Spline coefficients on ``knots`` keeping the edge functions at the samples ``z``.

        Linear tails keep their coefficients (the slopes beyond the grid); the splines absorb
        the change of the tails' kinks when the grid's ends move.
        """
        k = self.spline_order
        if self.tail_coef is None:
            return transfer_coefficients(z, self.knots, self.coef, knots, k)
        grid = knots[:, k : knots.shape[1] - k]
        a_new = bspline_basis(z, knots, k)  # (N, in, nb')
        a_old = torch.cat(
            [bspline_basis(z, self.knots, k), self.tail_features(z), _tails(z, grid)], dim=-1
        )  # (N, in, nb + 4)
        old = torch.cat([self.coef, self.tail_coef, -self.tail_coef], dim=-1)
        return transfer_design(a_new.transpose(0, 1), a_old.transpose(0, 1), old)

    @torch.no_grad()
    def refine_(self, grid_size: int, x: torch.Tensor | None = None) -> None:
        """:meth:`refine` in place: ``grid_size`` intervals, the same function; ``knots`` and
        ``coef`` become new tensors (an optimiser must be rebuilt)."""
        check_positive_int("grid_size", grid_size)
        k = self.spline_order
        old = self.grid  # (in, G + 1)
        # New points interpolate the old ones piecewise linearly, so the knot distribution is
        # kept; for G' a multiple of G the new knots contain the old ones (an exact transfer).
        pos = torch.linspace(0, self.grid_size, grid_size + 1, dtype=old.dtype, device=old.device)
        lo = pos.floor().long().clamp(max=self.grid_size - 1)  # (G' + 1,)
        frac = pos - lo
        grid = old[:, lo] * (1 - frac) + old[:, lo + 1] * frac  # (in, G' + 1)
        if isinstance(self.grid_strategy, DKANGrid):  # a fixed grid: its quantiles at G'
            grid = self.grid_strategy.points(grid_size, old.dtype).to(old.device)
            grid = grid.expand(self.in_features, -1)
        knots = make_knots(grid, k, self.knot_convention)
        if x is None:
            x = _interval_samples(grid, per_interval=2 * k + 2)  # (N, in)
        else:
            x, _ = self._standardized(as_samples("x", x, self.in_features, self.knots.dtype))
        coef = self._transferred_coef(x, knots)
        self.knots = knots
        self.coef = nn.Parameter(coef, requires_grad=self.coef.requires_grad)

    def refine(self, grid_size: int, x: torch.Tensor | None = None) -> KANLinear:
        """A copy on a grid of ``grid_size`` intervals with the same function (paper §2.4).

        The new grid interpolates the current one piecewise linearly (so an adapted knot
        distribution is kept), and the coefficients are the least-squares transfer of the
        current splines: exact when the new knots contain the old ones (``G' = n·G``).

        Args:
            grid_size: the new number of intervals.
            x: samples ``(..., in)`` to fit on. Default: ``2k + 2`` points in every new interval,
                which keeps the function over the whole grid whatever the data.
        """
        new = copy.deepcopy(self)
        new.refine_(grid_size, x)
        return new


    @torch.no_grad()
    def select(self, out_index: Sequence[int], in_index: Sequence[int]) -> KANLinear:
        """A copy with only the given outputs and inputs (in that order); the kept edges, their
        knots, symbolic functions and statistics are unchanged.

        Args:
            out_index: outputs to keep (indices into ``range(out_features)``).
            in_index: inputs to keep (indices into ``range(in_features)``).
        """
        o = _index("out_index", out_index, self.out_features, self.coef.device)
        i = _index("in_index", in_index, self.in_features, self.coef.device)
        new = copy.deepcopy(self)
        new.in_features, new.out_features = len(i), len(o)

        def edges(t: torch.Tensor) -> torch.Tensor:  # (out, in, ...) -> (out', in', ...)
            return t.index_select(0, o).index_select(1, i).clone()

        for name in ("coef", "spline_scale", "base_scale", "tail_coef"):
            p = getattr(self, name)
            if p is not None:
                setattr(new, name, nn.Parameter(edges(p), requires_grad=p.requires_grad))
        if self.bias is not None:
            new.bias = nn.Parameter(self.bias[o].clone(), requires_grad=self.bias.requires_grad)
        new.knots = self.knots[i].clone()
        new.mask = edges(self.mask)
        if self.standardize is not None:
            new.standardize.num_features = len(i)
            new.standardize.running_mean = self.standardize.running_mean[i].clone()
            new.standardize.running_var = self.standardize.running_var[i].clone()
        new.symbolic = self.symbolic.select(o.tolist(), i.tolist())
        new.__dict__.pop("_lookup_cache", None)
        return new


def _index(name: str, index: Sequence[int], size: int, device) -> torch.Tensor:
    idx = torch.as_tensor(list(index), dtype=torch.long)
    if idx.dim() != 1 or len(idx) == 0:
        raise InputError(f"{name} must be a non-empty list of indices; got {list(index)!r}")
    if bool(((idx < 0) | (idx >= size)).any()) or len(set(idx.tolist())) != len(idx):
        raise InputError(f"{name} must hold distinct indices in [0, {size}); got {idx.tolist()}")
    return idx.to(device)


def _tails(z: torch.Tensor, grid: torch.Tensor) -> torch.Tensor:
    """Linear tails beyond the ends of ``grid`` ``(in, G + 1)``: ``(B, in) -> (B, in, 2)``."""
    return torch.stack([torch.relu(grid[:, 0] - z), torch.relu(z - grid[:, -1])], dim=-1)


def _interval_samples(grid: torch.Tensor, per_interval: int) -> torch.Tensor:
    """``per_interval`` points inside each grid interval, per input: ``(in, G+1) -> (G·p, in)``."""
    frac = (torch.arange(per_interval, dtype=grid.dtype, device=grid.device) + 0.5) / per_interval
    left, width = grid[:, :-1], grid[:, 1:] - grid[:, :-1]  # (in, G)
    pts = left.unsqueeze(-1) + width.unsqueeze(-1) * frac  # (in, G, p)
    return pts.reshape(grid.shape[0], -1).T.contiguous()
