"""A model's history that the user keeps: checkpoints to go back to (pykan's ``checkpoint`` and
``rewind``), as explicit objects in memory; nothing is written unless :meth:`Checkpoints.save`
is called.

Example::

    >>> history = Checkpoints()
    >>> history.checkpoint(model, "trained")
    >>> pruned = model.prune()
    >>> history.checkpoint(pruned, "pruned")
    >>> model = history.rewind("trained")  # a copy of the model as it was then
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch import nn

from kanlab.errors import InputError

__all__ = ["Checkpoint", "Checkpoints"]


@dataclass(frozen=True)
class Checkpoint:
    """One saved state: its name, its place in the history, the note given, and the model
    (a private copy, never handed out: :meth:`Checkpoints.rewind` returns copies)."""

    name: str
    index: int
    note: str
    model: nn.Module


class Checkpoints:
    """Named copies of models, in the order they were taken."""

    def __init__(self) -> None:
        self._entries: list[Checkpoint] = []

    def checkpoint(self, model: nn.Module, name: str | None = None, note: str = "") -> str:
        """Keep a copy of ``model`` (later changes to it do not reach the copy) under ``name``
        (default ``"0"``, ``"1"``, ... by position); returns the name.

        Raises:
            InputError: a name that is taken, or not a non-empty string.
        """
        name = str(len(self._entries)) if name is None else name
        if not isinstance(name, str) or not name:
            raise InputError(f"a checkpoint name must be a non-empty string; got {name!r}")
        if name in self.names:
            raise InputError(f"a checkpoint named {name!r} exists already; names are unique")
        self._entries.append(Checkpoint(name, len(self._entries), note, copy.deepcopy(model)))
        return name

    @property
    def names(self) -> list[str]:
        """The checkpoints' names, oldest first."""
        return [e.name for e in self._entries]

    def __len__(self) -> int:
        return len(self._entries)

    def _find(self, name: str | int) -> Checkpoint:
        if isinstance(name, int) and not isinstance(name, bool):
            if -len(self._entries) <= name < len(self._entries):
                return self._entries[name]
        else:
            for entry in self._entries:
                if entry.name == name:
                    return entry
        raise InputError(f"no checkpoint {name!r}; the checkpoints are {self.names} (or "
                         f"positions 0..{len(self._entries) - 1})")

    def rewind(self, name: str | int = -1) -> Any:
        """A copy of the model as checkpoint ``name`` (or position; default the last) kept it.

        Raises:
            InputError: no such checkpoint (the message lists them).
        """
        return copy.deepcopy(self._find(name).model)

    def note(self, name: str | int) -> str:
        """The note given with checkpoint ``name``."""
        return self._find(name).note

    def save(self, path: str | Path) -> Path:
        """Write every checkpoint's model (``model.save``) into ``path/<index>-<name>/``."""
        path = Path(path)
        for e in self._entries:
            e.model.save(path / f"{e.index}-{e.name}")
        return path

    def __repr__(self) -> str:
        return f"Checkpoints({self.names})"
