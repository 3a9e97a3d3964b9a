"""A floor under every grid interval: the nearest grid whose intervals are all wide enough.

:func:`floor_intervals` moves grid points as little as possible (least squares) so that no
interval is narrower than ``floor`` times the uniform width ``(b − a)/G``, the end points
``a`` and ``b`` fixed. A grid that already has wide enough intervals is returned unchanged, so
the floor changes nothing where the density does not ask for a collapse; where it does, the
knots that crowded together spread evenly around where they were, at the smallest spacing
allowed.

The projection. With the gap ``δ = floor·(b − a)/G`` and ``u_j = g_j − j·δ``, the constraints
``g_{j+1} − g_j ≥ δ`` read ``u`` non-decreasing, and the ends ``g_0 = a``, ``g_G = b`` bound the
inner ``u_j`` to ``[a, b − G·δ]``. The nearest such ``u`` is the isotonic regression of
``v_j = g_j − j·δ``, clipped to the bounds (clipping keeps an isotonic sequence isotonic and is
the projection onto the box); it is ``u_j = max_{i ≤ j} min_{l ≥ j} mean(v_i..v_l)``.
"""

from __future__ import annotations

import torch

from kanlab.errors import InputError

__all__ = ["floor_intervals", "isotonic"]

#: Inputs are projected in chunks of at most this many ``(G − 1)²`` numbers (32 MiB).
CHUNK = 2**22


def isotonic(v: torch.Tensor) -> torch.Tensor:
    """The non-decreasing sequence nearest to each row of ``v`` ``(in, n)`` in least squares.

    ``u_j = max_{i ≤ j} min_{l ≥ j} mean(v_i..v_l)``, from prefix sums: ``O(n²)`` memory per
    row, for grids (``n`` up to a few thousand).
    """
    n = v.shape[1]
    if n <= 1:
        return v.clone()
    total = torch.cat([torch.zeros_like(v[:, :1]), torch.cumsum(v, 1)], 1)  # (in, n + 1)
    idx = torch.arange(n, device=v.device)
    count = (idx[None, :] - idx[:, None] + 1).to(v.dtype)  # (n, n): l − i + 1
    means = (total[:, None, 1:] - total[:, :n, None]) / count  # (in, i, l)
    means = torch.where(count > 0, means, torch.full_like(means, float("inf")))
    # for each start i and position j ≥ i: the smallest mean over ends l ≥ j
    tail_min = torch.flip(torch.cummin(torch.flip(means, [2]), 2).values, [2])  # (in, i, j)
    tail_min = torch.where(count > 0, tail_min, torch.full_like(tail_min, -float("inf")))
    return tail_min.amax(1)  # (in, j): the largest over starts i ≤ j


def floor_intervals(grid: torch.Tensor, floor: float) -> torch.Tensor:
    """The grid nearest to ``grid`` ``(in, G + 1)`` with every interval at least ``floor`` of the
    uniform width, the end points kept (see the module docstring).

    Args:
        grid: non-decreasing grid points ``(in, G + 1)``.
        floor: the fraction, in ``[0, 1)``; 0 returns ``grid``.

    Returns:
        ``(in, G + 1)``, the dtype of ``grid``.
    """
    if not 0.0 <= floor < 1.0:
        raise InputError(f"floor must lie in [0, 1); got {floor!r}")
    size = grid.shape[1] - 1
    if floor == 0.0 or size < 2:
        return grid
    g = grid.to(torch.float64)
    lo, hi = g[:, :1], g[:, -1:]  # (in, 1)
    gap = floor * (hi - lo) / size  # (in, 1)
    wide = ((g[:, 1:] - g[:, :-1]) >= gap).all(1, keepdim=True)  # (in, 1): already floored
    if bool(wide.all()):
        return grid
    j = torch.arange(1, size, dtype=g.dtype, device=g.device)  # (G - 1,)
    v = g[:, 1:-1] - j * gap  # (in, G - 1)
    rows = max(1, CHUNK // (size - 1) ** 2)
    u = torch.cat([isotonic(part) for part in v.split(rows)])
    u = torch.minimum(torch.maximum(u, lo), hi - size * gap)
    out = torch.cat([lo, u + j * gap, hi], 1)
    return torch.where(wide, grid, out.to(grid.dtype))
