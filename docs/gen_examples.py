"""Run the documentation's example scripts and keep their real output for the pages.

``python docs/gen_examples.py [NAME ...]`` runs ``examples/NAME.py --quick --out
docs/generated/NAME`` for each name (default: every example the pages include), one process
each with one CPU thread, and writes its standard output to ``docs/generated/NAME/output.txt``
next to the figures the script saved. The pages include both (``make docs`` runs this first).
A script that fails, or writes to standard error (warnings are shown: ``-W default``), stops
the build.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
GENERATED = DOCS / "generated"
INCLUDE = re.compile(r"""--8<--\s+["']examples/(\w+)\.py["']""")


def included_examples() -> list[str]:
    """The example scripts that the pages include, in a stable order."""
    names = set()
    for page in DOCS.rglob("*.md"):
        names.update(INCLUDE.findall(page.read_text(encoding="utf-8")))
    return sorted(names)


def run(name: str) -> float:
    """Run one example in quick mode; write its output; return the seconds it took."""
    out = GENERATED / name
    out.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg", "PYTHONHASHSEED": "0"}
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-W", "default", str(ROOT / "examples" / f"{name}.py"), "--quick",
         "--out", str(out)],
        cwd=ROOT, env=env, capture_output=True, text=True, check=False,
    )
    seconds = time.perf_counter() - start
    if proc.returncode != 0 or proc.stderr.strip():
        sys.stderr.write(proc.stdout + proc.stderr)
        raise SystemExit(f"examples/{name}.py --quick failed (exit {proc.returncode}, "
                         f"{'with' if proc.stderr.strip() else 'no'} stderr)")
    (out / "output.txt").write_text(proc.stdout, encoding="utf-8")
    return seconds


def main(argv: list[str] | None = None) -> None:
    names = (sys.argv[1:] if argv is None else argv) or included_examples()
    for name in names:
        if not (ROOT / "examples" / f"{name}.py").is_file():
            raise SystemExit(f"no example examples/{name}.py")
        print(f"examples/{name}.py --quick: {run(name):.1f} s", flush=True)


if __name__ == "__main__":
    main()
