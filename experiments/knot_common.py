"""What the §4.3 knot experiments share: paths, short names of the invariants, and the
command-line frame (``--quick``, ``--data``, ``--out``; the table loaded or a one-line error
naming ``make knot-data``; the report written and printed)."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

from kanlab.data.knots import KnotTable, load_knots
from kanlab.errors import InputError

sys.path.insert(0, str(Path(__file__).resolve().parent))
from script_frame import RESULTS, Figure, finish  # noqa: E402, F401
from script_frame import parser as frame_parser  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "tests" / "fixtures" / "knots"  # 48 knots, made by experiments/knot_data.py
SHORT = {"meridional_translation_real": "μ_r", "meridional_translation_imag": "μ_i",
         "longitudinal_translation": "λ", "chern_simons": "CS", "cusp_volume": "V",
         "torsion_degree": "torsion degree", "signature": "σ", "short_geodesic_real": "g_r",
         "short_geodesic_imag": "g_i", "injectivity_radius": "r"}


def slope(x: torch.Tensor) -> torch.Tensor:
    """DeepMind's slope ``Re(λ/μ) = λμ_r / (μ_r² + μ_i²)`` of rows ``(μ_r, μ_i, λ)``."""
    mu_r, mu_i, lam = x.unbind(1)
    return lam * mu_r / (mu_r**2 + mu_i**2)


def knot_parser(doc: str) -> argparse.ArgumentParser:
    """The frame's argument parser (``--quick``, ``--out``) with ``--data``."""
    parser = frame_parser(doc)
    parser.add_argument("--data", type=Path, default=None, help="default data/knots")
    return parser


def run_script(stem: str, args: argparse.Namespace, run: Callable[[KnotTable], object],
               report: Callable[[object, str, float], str], extra: str = "",
               figure: Figure | None = None) -> int:
    """Load the table (``--data``; the sample with ``--quick``; else ``data/knots``), run, and
    finish (:func:`script_frame.finish`: the report, the figure). Exit status 2, one line on
    stderr, when there is no table or a damaged one."""
    folder = args.data or (SAMPLE if args.quick else ROOT / "data" / "knots")
    try:
        table = load_knots(folder)
    except InputError as err:  # the message says what to run
        print(f"{stem}: {err}", file=sys.stderr)
        return 2
    start = time.perf_counter()
    out = run(table)
    return finish(stem, args, out, report, time.perf_counter() - start, extra, figure)
