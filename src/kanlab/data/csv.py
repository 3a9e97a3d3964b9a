"""The one reader of numeric CSV files, behind :func:`kanlab.data.science.load_csv`,
``kanlab fit`` and ``kanlab predict``.

A file has a header row naming the columns, then numeric cells; blank lines are skipped. Every
message names the file, and a bad cell's line (the header is line 1) and column. Standard
library :mod:`csv`; no pandas.

Files are read as UTF-8; a byte-order mark (as Excel writes one) is dropped. The delimiter is
one of ``,`` ``;`` tab ``|``, found by :func:`sniff_delimiter`; a file where it is not clear
is read with commas, as every file was before sniffing.

Example::

    >>> table = read_csv("data.csv")
    >>> table.header                        # ['x1', 'x2', 'y']
    >>> table.columns(["x2", "x1"])         # float64 (N, 2), rows in file order
    >>> table.dataset("y", test_fraction=0.2, seed=0)   # a shuffled train/test Dataset
"""

from __future__ import annotations

import csv
import io
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from kanlab._validation import check_fraction
from kanlab.data.dataset import Dataset
from kanlab.errors import InputError

__all__ = [
    "CsvTable",
    "check_split",
    "csv_header",
    "parse_float",
    "read_columns",
    "read_csv",
    "sniff_delimiter",
]

#: the delimiters :func:`sniff_delimiter` chooses from
DELIMITERS = ",;\t|"
_SNIFF_CHARS = 1 << 16


def parse_float(text: str, path: str | os.PathLike, line: int, column: str) -> float:
    """The number in one CSV cell, or an InputError naming the file, line and column."""
    try:
        value = float(text)
    except ValueError:
        hint = "; decimal commas are not read (write 1.5, not 1,5)" if "," in text else ""
        raise InputError(
            f"{path}: line {line}, column {column!r}: {text!r} is not a number{hint}"
        ) from None
    if not math.isfinite(value):
        raise InputError(f"{path}: line {line}, column {column!r}: {text!r} is not finite")
    return value


def check_split(target: str | Sequence[str], test_fraction: float,
                dtype: torch.dtype) -> list[str]:
    """The target columns as a list, after checking the options of a train/test split.

    Raises:
        InputError: no target column, ``test_fraction`` outside ``[0, 1)``, or a dtype that
            is not floating.
    """
    targets = [target] if isinstance(target, str) else list(target)
    if not targets:
        raise InputError("target must name at least one column")
    check_fraction("test_fraction", test_fraction)
    if not dtype.is_floating_point:
        raise InputError(f"dtype must be a floating type; got {dtype}")
    return targets


@dataclass(frozen=True)
class CsvTable:
    """The cells of a CSV file, as text: the header and the non-blank rows below it.

    Attributes:
        path: the file, as given (messages name it so).
        header: the column names (stripped), from the first non-blank row.
        rows: ``(line, cells)`` of every non-blank row below the header; line 1 is the
            header's line when the file starts with it.
        delimiter: the cells' separator (:func:`sniff_delimiter`).
    """

    path: str | os.PathLike
    header: list[str]
    rows: list[tuple[int, list[str]]]
    delimiter: str = ","

    def require(self, names: Sequence[str]) -> None:
        """Raise an InputError naming the first of ``names`` that is not a column."""
        for name in names:
            if name not in self.header:
                raise InputError(f"{self.path}: no column {name!r}; the header has {self.header}")

    def columns(self, names: Sequence[str]) -> torch.Tensor:
        """The columns ``names`` as float64 ``(N, len(names))``, rows in file order.

        Other columns (a target, identifiers) are ignored.

        Raises:
            InputError: a missing column, a row of the wrong length, a non-numeric, empty or
                non-finite cell (named by line and column), or no data rows.
        """
        values = self._numbers(names)
        if values.shape[0] == 0:
            raise InputError(f"{self.path}: no data rows below the header")
        return values

    def _numbers(self, names: Sequence[str]) -> torch.Tensor:
        self.require(names)
        index = [self.header.index(c) for c in names]
        values = []
        for line, row in self.rows:
            if len(row) != len(self.header):
                raise InputError(f"{self.path}: line {line} has {len(row)} cells; the header "
                                 f"has {len(self.header)}")
            values.append([parse_float(row[k], self.path, line, c) for k, c in zip(index, names)])
        return torch.tensor(values, dtype=torch.float64).reshape(len(values), len(names))

    def features(self, targets: Sequence[str], features: Sequence[str] | None) -> list[str]:
        """The input columns for ``targets``: ``features``, or every other column, checked.

        Raises:
            InputError: a repeated column name in the header, no feature column left, a
                missing column (targets first), or a column both target and feature.
        """
        repeated = sorted({c for c in self.header if self.header.count(c) > 1})
        if repeated:
            raise InputError(f"{self.path}: repeated column names {repeated} in the header")
        if features is None:
            features = [c for c in self.header if c not in targets]
        features = list(features)
        if not features:
            raise InputError(f"{self.path}: no feature columns left besides the targets {targets}")
        self.require([*targets, *features])
        overlap = sorted(set(targets) & set(features))
        if overlap:
            raise InputError(f"columns {overlap} are both target and feature")
        return features

    def dataset(
        self,
        target: str | Sequence[str],
        features: Sequence[str] | None = None,
        *,
        test_fraction: float = 0.2,
        seed: int = 0,
        dtype: torch.dtype = torch.float32,
        device: torch.device | str | None = None,
    ) -> Dataset:
        """A shuffled train/test split of the rows; see :func:`kanlab.data.science.load_csv`.

        Returns:
            A :class:`~kanlab.data.Dataset` with inputs ``(N, n_features)`` and labels
            ``(N, n_targets)``; the test set has ``round(test_fraction * N)`` rows, at least
            1 when the fraction is positive.
        """
        targets = check_split(target, test_fraction, dtype)
        features = self.features(targets, features)
        table = self._numbers([*features, *targets])  # (N, n_features + n_targets)
        n = table.shape[0]
        n_test = max(1, round(test_fraction * n)) if test_fraction > 0 else 0
        if n - n_test < 1 or n < 1:
            need = 1 if test_fraction == 0 else 2
            raise InputError(f"{self.path}: {n} data rows; at least {need} needed for "
                             f"test_fraction={test_fraction}")
        table = table[torch.randperm(n, generator=torch.Generator().manual_seed(seed))]
        x, y = table[:, : len(features)], table[:, len(features):]
        n_train = n - n_test
        if n_test == 0:
            out = Dataset(x, y)
        else:
            out = Dataset(x[:n_train], y[:n_train], x[n_train:], y[n_train:])
        return out.to(device=device, dtype=dtype)


def sniff_delimiter(text: str) -> str:
    """The delimiter of CSV ``text``: one of :data:`DELIMITERS` (``,`` ``;`` tab ``|``).

    :class:`csv.Sniffer` reads the first 64 KiB and its answer is kept when the header (the
    first non-blank line) holds it; when the sniffer finds none, the one candidate the header
    holds; else a comma (a one-column file, or a header that holds several candidates).
    """
    sample = text[:_SNIFF_CHARS]
    lines = [line for line in sample.splitlines() if line.strip()]
    if len(text) > _SNIFF_CHARS and len(lines) > 1:
        lines = lines[:-1]  # the last line may be cut off
    if not lines:
        return ","
    header = lines[0]
    try:
        found = csv.Sniffer().sniff("\n".join(lines), delimiters=DELIMITERS).delimiter
    except csv.Error:  # "could not determine delimiter"
        found = None
    if found is not None and found in header:
        return found
    in_header = [d for d in DELIMITERS if d in header]
    return in_header[0] if len(in_header) == 1 else ","


def read_csv(path: str | os.PathLike) -> CsvTable:
    """Read a CSV file's header and non-blank rows (cells as text).

    The file is UTF-8, with or without a byte-order mark; its delimiter is sniffed
    (:func:`sniff_delimiter`).

    Raises:
        InputError: the file has no non-blank row (no header).
        OSError, UnicodeDecodeError, csv.Error: the file cannot be read as CSV text.
    """
    with open(path, newline="", encoding="utf-8-sig") as fh:
        text = fh.read()
    delimiter = sniff_delimiter(text)
    rows = [(i, row) for i, row in enumerate(csv.reader(io.StringIO(text), delimiter=delimiter),
                                             start=1)
            if any(cell.strip() for cell in row)]
    if not rows:
        raise InputError(f"{path}: empty file; a header row naming the columns is required")
    return CsvTable(path, [cell.strip() for cell in rows[0][1]], rows[1:], delimiter)


def csv_header(path: str | os.PathLike) -> list[str]:
    """The column names of a CSV file (its first non-blank row)."""
    return read_csv(path).header


def read_columns(path: str | os.PathLike, names: Sequence[str]) -> torch.Tensor:
    """The columns ``names`` of a CSV file as float64 ``(N, len(names))``, rows in file order
    (:meth:`CsvTable.columns`)."""
    return read_csv(path).columns(names)
