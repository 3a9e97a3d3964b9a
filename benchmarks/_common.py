"""Shared helpers for the benchmark scripts (timing, tables, environment line)."""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import torch

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def time_fn(
    fn: Callable[[], object], *, repeats: int = 7, min_time: float = 0.5, warmup: int = 3
) -> float:
    """Median seconds per call of ``fn``.

    ``warmup`` untimed calls, then the number of calls per repeat is chosen so that all
    ``repeats`` together take about ``min_time`` seconds; the result is the median over the
    repeats of (repeat time / calls per repeat).
    """
    for _ in range(warmup):
        fn()
    t0 = time.perf_counter()
    fn()
    one = max(time.perf_counter() - t0, 1e-7)
    number = max(1, int(min_time / repeats / one))
    per_call = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        per_call.append((time.perf_counter() - t0) / number)
    return statistics.median(per_call)


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A GitHub markdown table (numbers right-aligned)."""
    lines = ["| " + " | ".join(header) + " |"]
    lines.append("|" + "|".join("---:" if i else "---" for i in range(len(header))) + "|")
    for row in rows:
        lines.append("| " + " | ".join(str(c) for c in row) + " |")
    return "\n".join(lines)


def env_line() -> str:
    """One line naming the machine and library versions."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        pykan = version("pykan")
    except PackageNotFoundError:
        pykan = "not installed"
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"torch {torch.__version__}, threads {torch.get_num_threads()}, "
        f"cpu count {os.cpu_count()}, python {platform.python_version()}, "
        f"{platform.machine()}, pykan {pykan}; load average at start {load}"
    )


def write_result(name: str, text: str) -> Path:
    """Write ``text`` to ``benchmarks/results/<name>`` and return the path."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / name
    path.write_text(text if text.endswith("\n") else text + "\n")
    return path


def fmt(x: float | None, digits: int = 3) -> str:
    """Format a number with ``digits`` significant digits, or ``n/a``."""
    if x is None or x != x:
        return "n/a"
    return f"{x:.{digits}g}"
