"""Render a ``kanlab fit`` report.html in headless Chromium and check that it is not blank.

Usage::

    python scripts/screenshot_report.py RUN/report.html [--out shot.png] [--min-colours 64]

It takes a screenshot (``chromium --headless --screenshot``, 1200x1600) and checks that the
file is a PNG with more than ``--min-colours`` distinct colours (a blank or text-only page has
a handful; the report's plots bring hundreds), and, from ``--dump-dom``, that every ``<img>``
is an embedded ``data:image/png;base64,`` URI whose bytes decode to a PNG (so the page works
on its own). Exit status 0 when every check passes, 1 when one fails, 2 when Chromium is not
installed (Debian: ``apt-get install chromium``).

Needs matplotlib (to read the PNG) besides Chromium.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def find_browser() -> str | None:
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    return None


def _run(browser: str, args: list[str], timeout: float) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory() as profile:
        return subprocess.run(
            [browser, "--headless", "--disable-gpu", "--no-sandbox", "--hide-scrollbars",
             f"--user-data-dir={profile}", *args],
            capture_output=True, text=True, timeout=timeout,
        )


def distinct_colours(png: Path) -> int:
    import matplotlib.image as mpimg
    import numpy as np

    pixels = (mpimg.imread(png)[..., :3] * 255).round().astype(np.uint8).reshape(-1, 3)
    return len(np.unique(pixels, axis=0))


def check_images(dom: str) -> list[str]:
    """Problems with the page's images: not embedded, or not decoding to a PNG."""
    problems = []
    srcs = re.findall(r"<img\b[^>]*\bsrc=\"([^\"]*)\"", dom)
    if not srcs:
        problems.append("the page has no <img>")
    for k, src in enumerate(srcs):
        prefix = "data:image/png;base64,"
        if not src.startswith(prefix):
            problems.append(f"image {k} is not an embedded PNG: {src[:60]!r}")
            continue
        try:
            data = base64.b64decode(src[len(prefix):], validate=True)
        except binascii.Error:
            problems.append(f"image {k}: the base64 data does not decode")
            continue
        if not data.startswith(PNG_MAGIC):
            problems.append(f"image {k}: the data is not a PNG")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("report", type=Path, help="the report.html to render")
    parser.add_argument("--out", type=Path, help="screenshot file (default: next to the report)")
    parser.add_argument("--min-colours", type=int, default=64,
                        help="the screenshot needs more distinct colours than this (default 64)")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds per browser run")
    args = parser.parse_args(argv)

    browser = find_browser()
    if browser is None:
        print("screenshot_report: no Chromium on PATH (looked for "
              f"{', '.join(BROWSERS)}); install it, e.g. `apt-get install chromium`",
              file=sys.stderr)
        return 2
    report = args.report.resolve()
    if not report.is_file():
        print(f"screenshot_report: {args.report}: no such file", file=sys.stderr)
        return 1
    shot = (args.out or report.with_name("report_screenshot.png")).resolve()
    shot.unlink(missing_ok=True)
    url = report.as_uri()

    proc = _run(browser, [f"--screenshot={shot}", "--window-size=1200,1600", url], args.timeout)
    failures = []
    if not shot.is_file() or shot.stat().st_size == 0:
        failures.append(f"no screenshot written (chromium exit {proc.returncode}: "
                        f"{proc.stderr.strip()[-300:]})")
    elif not shot.read_bytes().startswith(PNG_MAGIC):
        failures.append("the screenshot is not a PNG")
    else:
        colours = distinct_colours(shot)
        print(f"screenshot: {shot} ({shot.stat().st_size} bytes, {colours} distinct colours)")
        if colours <= args.min_colours:
            failures.append(f"the screenshot looks blank: {colours} distinct colours "
                            f"(need more than {args.min_colours})")

    dom = _run(browser, ["--dump-dom", url], args.timeout).stdout
    failures += check_images(dom)
    if not failures:
        n = len(re.findall(r"<img\b", dom))
        print(f"dom: {n} images, all embedded PNGs")
    for failure in failures:
        print(f"screenshot_report: FAIL: {failure}", file=sys.stderr)
    if not failures:
        print("screenshot_report: OK")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
