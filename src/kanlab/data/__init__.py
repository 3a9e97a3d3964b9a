"""Datasets: the :class:`Dataset` container, the paper's generators and readers of real data.

- :mod:`~kanlab.data.dataset`: :class:`Dataset`, :func:`make_dataset` from a function, the
  §3.1 toy functions and DKAN's synthetic sets.
- :mod:`~kanlab.data.science`: the paper's Feynman equations and special functions by name,
  and :func:`~kanlab.data.science.load_csv`.
- :mod:`~kanlab.data.csv`: the one reader of numeric CSV files (``load_csv``, ``kanlab fit``
  and ``kanlab predict`` read with it).
- :mod:`~kanlab.data.feynman_catalog`: the 120 AI Feynman equations (a large table, imported
  on first use).
- :mod:`~kanlab.data.images`: MNIST, Fashion-MNIST (after ``make data``) and scikit-learn's
  8×8 digits.
- :mod:`~kanlab.data.localization`: the quasiperiodic chains of the paper's §4.4 (Hamiltonians,
  spectra, fractal dimensions, the closed-form mobility edges).
- :mod:`~kanlab.data.knots`: the knot invariants of the paper's §4.3 (after ``make knot-data``,
  which computes them with SnapPy; this package never imports it).

Imports: torch, numpy, :mod:`kanlab.errors`.
"""

from __future__ import annotations

from kanlab.data.dataset import (  # noqa: F401
    TOY_FUNCTIONS,
    Dataset,
    dkan_synthetic,
    make_dataset,
    make_dkan_dataset,
    make_toy_dataset,
)

__all__ = [
    "TOY_FUNCTIONS",
    "Dataset",
    "dkan_synthetic",
    "make_dataset",
    "make_dkan_dataset",
    "make_toy_dataset",
]

from kanlab.data import csv, images, knots, localization, science  # noqa: E402, F401

__all__ += ["csv", "images", "knots", "localization", "science"]


def __getattr__(name: str):
    """:mod:`kanlab.data.feynman_catalog` (a large table) is imported on first access."""
    if name == "feynman_catalog":
        import importlib

        return importlib.import_module("kanlab.data.feynman_catalog")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
