"""kanlab's exceptions and warnings."""

from __future__ import annotations

__all__ = ["DataWarning", "GridWarning", "InputError", "KanlabError"]


class KanlabError(Exception):
    """Base class of every error kanlab raises on purpose."""


class InputError(KanlabError, ValueError):
    """An argument or a tensor that does not fit what was expected (shape, value, name)."""


class GridWarning(UserWarning):
    """A grid operation that could not do all it was asked (e.g. a constant input)."""


class DataWarning(UserWarning):
    """Data a model can be fitted to but will fit badly (e.g. inputs on a scale far beyond
    the grid's); the message says what to change."""
