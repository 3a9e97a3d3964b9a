"""The frame every study script of ``experiments/`` shares: the command line (``--quick``,
``--out``) and the end of a run (the report written to ``experiments/results/STEM{,_quick}.md``
or ``--out``, a figure beside it, the report printed)."""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"

#: ``(caption, draw)``: the figure's line under the report and ``draw(out, png_path)``
Figure = tuple[str, Callable[[object, Path], None]]


def parser(doc: str) -> argparse.ArgumentParser:
    """An argument parser with ``--quick`` and ``--out``, described by ``doc``'s first
    paragraph."""
    p = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="tiny budgets (seconds)")
    p.add_argument("--out", type=Path, default=None, help="the report's path")
    return p


def finish(stem: str, args: argparse.Namespace, out: object,
           report: Callable[[object, str, float], str], seconds: float, extra: str = "",
           figure: Figure | None = None) -> int:
    """Write ``report(out, command, seconds)`` to ``--out`` or the results folder, then the
    figure (``<report>.png``, with its caption line), print the report; exit status 0."""
    command = f"python experiments/{stem}.py" + (" --quick" if args.quick else "") + extra
    text = report(out, command, seconds)
    path = args.out or RESULTS / f"{stem}{'_quick' if args.quick else ''}.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    if figure is not None:
        caption, draw = figure
        text += f"\nFigure: `{path.with_suffix('.png').name}` ({caption}).\n"
        draw(out, path.with_suffix(".png"))
    path.write_text(text)
    print(text)
    return 0


def run_script(stem: str, args: argparse.Namespace, run: Callable[[], object],
               report: Callable[[object, str, float], str], figure: Figure | None = None) -> int:
    """``run()``, timed, then :func:`finish` (the report, the figure)."""
    start = time.perf_counter()
    out = run()
    return finish(stem, args, out, report, time.perf_counter() - start, figure=figure)
