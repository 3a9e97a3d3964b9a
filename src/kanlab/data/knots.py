"""The knot-invariant table of the KAN paper's §4.3, as ``make knot-data`` writes it.

``experiments/knot_data.py`` (run by ``make knot-data``, with SnapPy from kanlab's optional
``knots`` extra; this module never imports SnapPy) computes the invariants of a seeded sample of
SnapPy's census of hyperbolic knots into ``data/knots/knots.csv`` with a ``manifest.json``
beside it. :func:`load_knots` reads and checks them; :meth:`KnotTable.features` gives the
model's inputs (numeric invariants, and the symmetry group one-hot) and
:meth:`KnotTable.dataset` a train/test split with the signature as class indices.

Imports: torch, numpy, :mod:`kanlab.errors`, :mod:`kanlab.data.dataset`.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from kanlab.data.dataset import Dataset
from kanlab.errors import InputError

__all__ = ["DEFAULT_FOLDER", "GEODESIC", "NUMERIC", "SYMMETRY_GROUPS", "KnotTable", "load_knots"]

#: where ``make knot-data`` writes the table (relative to the working directory)
DEFAULT_FOLDER = Path("data/knots")

#: the numeric invariants, in the order :meth:`KnotTable.features` gives them
NUMERIC = (
    "volume",
    "chern_simons",
    "cusp_volume",
    "meridional_translation_real",
    "meridional_translation_imag",
    "longitudinal_translation",
    "torsion_degree",
)

#: the invariants of a Dirichlet domain, computed for only some knots (one in five by default;
#: the table's ``geodesic_status`` says which): NaN in :attr:`KnotTable.numeric` elsewhere
GEODESIC = ("short_geodesic_real", "short_geodesic_imag", "injectivity_radius")

#: the symmetry groups that get a one-hot column (Davies et al.'s and Z/2); any other group
#: is all zeros
SYMMETRY_GROUPS = ("0", "Z/2", "Z/2 + Z/2", "D3", "D4", "D6", "D8")

_REQUIRED = ("name", "census_index", "status", "symmetry_group", "signature", *NUMERIC)
_HINT = "run `make knot-data` (it installs the optional 'knots' extra and writes the table)"


@dataclass(frozen=True)
class KnotTable:
    """The rows of the knot table whose invariants were all computed.

    Attributes:
        names: census names ``(N,)``.
        numeric: ``{column: (N,) float64 array}`` for :data:`NUMERIC`, and for :data:`GEODESIC`
            when the table has them (NaN where they were not computed).
        symmetry_group: ``(N,)`` the group as SnapPy writes it.
        signature: ``(N,)`` int64, the knot signature (an even integer).
        manifest: what ``make knot-data`` wrote about the table.
        failed: how many rows of the file were left out (their invariants failed).
    """

    names: list[str]
    numeric: dict[str, np.ndarray]
    symmetry_group: np.ndarray
    signature: np.ndarray
    manifest: dict = field(repr=False)
    failed: int = 0

    def __len__(self) -> int:
        return len(self.names)

    def has_geodesics(self) -> np.ndarray:
        """``(N,)`` bool: the knots whose :data:`GEODESIC` invariants were computed."""
        if GEODESIC[0] not in self.numeric:
            return np.zeros(len(self), dtype=bool)
        return np.isfinite(np.stack([self.numeric[c] for c in GEODESIC])).all(0)

    def subset(self, rows: np.ndarray) -> KnotTable:
        """The table of the knots ``rows`` picks (a bool mask ``(N,)`` or indices)."""
        rows = np.arange(len(self))[np.asarray(rows)]
        return KnotTable([self.names[i] for i in rows],
                         {c: v[rows] for c, v in self.numeric.items()},
                         self.symmetry_group[rows], self.signature[rows], self.manifest,
                         self.failed)

    def feature_names(self, columns: tuple[str, ...] = NUMERIC,
                      symmetry: bool = True) -> list[str]:
        """The names of :meth:`features`' columns."""
        extra = [f"symmetry_{g}" for g in SYMMETRY_GROUPS] if symmetry else []
        return [*columns, *extra]

    def features(self, columns: tuple[str, ...] = NUMERIC, symmetry: bool = True,
                 dtype: torch.dtype = torch.float64) -> torch.Tensor:
        """The inputs ``(N, len(columns) + 7)``: ``columns`` (numeric invariants), then with
        ``symmetry`` one 0/1 column per group of :data:`SYMMETRY_GROUPS`."""
        unknown = [c for c in columns if c not in self.numeric]
        if unknown:
            raise InputError(f"no knot invariant {unknown}; the table has {sorted(self.numeric)}")
        partial = [c for c in columns if np.isnan(self.numeric[c]).any()]
        if partial:
            raise InputError(
                f"{partial} were computed for only {int(self.has_geodesics().sum())} of "
                f"{len(self)} knots (see the manifest's 'geodesics'); take those knots with "
                f"table.subset(table.has_geodesics())")
        parts = [np.stack([self.numeric[c] for c in columns], axis=1)] if columns else []
        if symmetry:
            parts.append(np.stack([self.symmetry_group == g for g in SYMMETRY_GROUPS], axis=1))
        if not parts:
            raise InputError("features: no columns asked for")
        return torch.as_tensor(np.concatenate(parts, axis=1).astype(np.float64), dtype=dtype)

    def classes(self) -> np.ndarray:
        """The signatures that occur, sorted: class ``c`` is signature ``classes()[c]``."""
        return np.unique(self.signature)

    def labels(self) -> torch.Tensor:
        """The signature as class indices ``(N,)`` into :meth:`classes`."""
        return torch.as_tensor(np.searchsorted(self.classes(), self.signature), dtype=torch.long)

    def dataset(self, columns: tuple[str, ...] = NUMERIC, symmetry: bool = True, *,
                test_fraction: float = 0.2, seed: int = 0,
                dtype: torch.dtype = torch.float64) -> Dataset:
        """A seeded random train/test split: :meth:`features` in, :meth:`labels` out."""
        if not 0 < test_fraction < 1:
            raise InputError(f"test_fraction must lie in (0, 1); got {test_fraction}")
        n = len(self)
        n_test = int(round(n * test_fraction))
        if n_test < 1 or n_test >= n:
            raise InputError(f"{n} knots cannot be split with test_fraction={test_fraction}")
        order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
        test, train = order[:n_test], order[n_test:]
        x, y = self.features(columns, symmetry, dtype), self.labels()
        return Dataset(x[train], y[train], x[test], y[test])


def load_knots(folder: str | Path = DEFAULT_FOLDER) -> KnotTable:
    """The table ``make knot-data`` wrote in ``folder`` (``knots.csv`` and ``manifest.json``).

    Raises :class:`~kanlab.errors.InputError`, naming ``make knot-data``, when the folder or a
    file is missing, or the table does not match its manifest (cut short, other columns, a
    value that is not a number).
    """
    folder = Path(folder)
    table, manifest_path = folder / "knots.csv", folder / "manifest.json"
    for path in (table, manifest_path):
        if not path.is_file():
            raise InputError(f"no knot data: {path} is missing; {_HINT}")
    try:
        manifest = json.loads(manifest_path.read_text())
        expected = int(manifest["knots"])
    except (ValueError, KeyError, TypeError) as err:
        raise InputError(f"corrupt knot data: {manifest_path} is not the manifest "
                         f"make knot-data writes ({err}); {_HINT}") from err
    rows = _read_rows(table)
    if len(rows) != expected:
        raise InputError(f"corrupt knot data: {table} has {len(rows)} rows, its manifest says "
                         f"{expected}; {_HINT}")
    ok = [r for r in rows if r["status"] == "ok"]
    if not ok:
        raise InputError(f"no knot in {table} has its invariants; {_HINT}")
    try:
        numeric = {c: np.array([float(r[c]) for r in ok]) for c in NUMERIC}
        signature = np.array([int(r["signature"]) for r in ok], dtype=np.int64)
    except ValueError as err:
        raise InputError(f"corrupt knot data: {table} holds a value that is not a number "
                         f"({err}); {_HINT}") from err
    bad = [c for c, v in numeric.items() if not np.isfinite(v).all()]
    if bad:
        raise InputError(f"corrupt knot data: {table} has non-finite {bad}; {_HINT}")
    numeric.update(_geodesics(ok, table))
    return KnotTable([r["name"] for r in ok], numeric,
                     np.array([r["symmetry_group"] for r in ok]), signature, manifest,
                     failed=len(rows) - len(ok))


def _geodesics(rows: list[dict[str, str]], table: Path) -> dict[str, np.ndarray]:
    """The :data:`GEODESIC` columns, NaN where ``geodesic_status`` is not ok; none for a table
    made before they were."""
    if rows and "geodesic_status" not in rows[0]:
        return {}
    computed = [r["geodesic_status"] == "ok" for r in rows]
    try:
        out = {c: np.array([float(r[c]) if k else np.nan for r, k in zip(rows, computed)])
               for c in GEODESIC}
    except (KeyError, ValueError) as err:
        raise InputError(f"corrupt knot data: {table}'s geodesic columns are broken ({err}); "
                         f"{_HINT}") from err
    if not all(np.isfinite(v[computed]).all() for v in out.values()):
        raise InputError(f"corrupt knot data: {table} has non-finite geodesics; {_HINT}")
    return out


def _read_rows(table: Path) -> list[dict[str, str]]:
    """The CSV's rows, checked for the columns a table needs."""
    try:
        with table.open(newline="") as f:
            reader = csv.DictReader(f)
            rows = list(reader)
            header = reader.fieldnames or []
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise InputError(f"corrupt knot data: {table} cannot be read ({err}); {_HINT}") from err
    missing = [c for c in _REQUIRED if c not in header]
    if missing:
        raise InputError(f"corrupt knot data: {table} lacks the columns {missing}; {_HINT}")
    if any(None in r or any(v is None for v in r.values()) for r in rows):
        raise InputError(f"corrupt knot data: {table} has a row of the wrong length; {_HINT}")
    return rows
