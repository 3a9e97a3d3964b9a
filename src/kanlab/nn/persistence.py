"""Saving and loading a :class:`~kanlab.nn.model.KAN`: a directory of two files.

- ``config.json``: ``{"format": "kanlab.KAN", "version": 2, "config": model.config}`` -- the
  constructor arguments that rebuild the structure (JSON, readable).
- ``state_dict.pt``: ``model.state_dict()`` (``torch.save``; read with ``weights_only=True``):
  coefficients, knots, masks, biases, symbolic edges, running statistics and the recorded
  inputs.

Versions: 1 had no recorded inputs in ``state_dict.pt``; 2 may hold ``recorded_inputs`` (see
:meth:`KAN.record <kanlab.nn.model.KAN.record>`). Both load; a version-1 model has no recorded
inputs.

An importance-density strategy saved before floors and guards existed (no ``floor`` in its
options) loads as what it was then: ``floor=0.0, guard=None`` (the raw rule), not today's
defaults; one saved before fallbacks existed (no ``fallback``) loads with ``fallback="keep"``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, TypeVar

import torch
from torch import nn

from kanlab.errors import InputError
from kanlab.grids import DENSITIES, get_grid_strategy

__all__ = ["FORMAT", "FORMAT_VERSION", "load_model", "model_from_config", "save_model"]

FORMAT = "kanlab.KAN"
FORMAT_VERSION = 2

M = TypeVar("M", bound=nn.Module)


def save_model(model, path: str | Path) -> Path:
    """Write ``config.json`` and ``state_dict.pt`` of ``model`` into the directory ``path``
    (created); see the module docstring.

    Raises:
        InputError: the grid strategy is not registered, or a base function is a callable
            (neither can be written as JSON).
    """
    config = model.config
    if config["grid"] is None:
        raise InputError(
            "this model's grid strategy is not registered in kanlab.grids.GRID_STRATEGIES; "
            "it cannot be saved as JSON"
        )
    if any(layer.base_fn_name is None for layer in model.layers):
        raise InputError("a model with a custom (callable) base_fn cannot be saved as JSON")
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    doc = {"format": FORMAT, "version": FORMAT_VERSION, "config": config}
    (path / "config.json").write_text(json.dumps(doc, indent=2))
    torch.save(model.state_dict(), path / "state_dict.pt")
    return path


def model_from_config(cls: type[M], config: dict[str, Any]) -> M:
    """A freshly initialised ``cls`` (a KAN class) with the structure ``config`` describes."""
    cfg = dict(config)
    grid = dict(cfg.pop("grid"))
    if grid.get("name") in DENSITIES and "floor" not in grid:
        grid.update(floor=0.0, guard=None)  # saved before floors and guards: the raw rule
    if grid.get("name") in DENSITIES and "fallback" not in grid:
        grid.update(fallback="keep")  # saved before fallbacks: undone updates kept the knots
    dtype = getattr(torch, cfg.pop("dtype"))
    strategy = get_grid_strategy(grid.pop("name"), **grid)
    widths = cfg.pop("widths")
    cfg["grid_range"] = [tuple(r) for r in cfg["grid_range"]]
    return cls(widths, **cfg, grid=strategy, dtype=dtype)


def load_model(cls: type[M], path: str | Path, *,
               map_location: str | torch.device | None = "cpu") -> M:
    """The model :func:`save_model` wrote to ``path``, as a ``cls``.

    Raises:
        InputError: ``path`` holds no kanlab KAN, or one of a newer format version.
    """
    path = Path(path)
    doc = json.loads((path / "config.json").read_text())
    if doc.get("format") != FORMAT:
        raise InputError(f"{path} does not hold a kanlab KAN (format {doc.get('format')!r})")
    if doc.get("version", 0) > FORMAT_VERSION:
        raise InputError(
            f"{path} was written by a newer kanlab (format version {doc['version']})"
        )
    model = model_from_config(cls, doc["config"])
    state = torch.load(path / "state_dict.pt", map_location=map_location, weights_only=True)
    model.load_state_dict(state)
    return model.to(map_location) if map_location is not None else model
