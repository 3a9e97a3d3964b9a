"""Every Python snippet of README.md runs as written.

The snippets run in order in one fresh interpreter and one namespace, as the README says (a later
snippet uses the names of an earlier one), in a temporary working directory (they write
``my_model/``, ``kan.png`` and ``sweep.jsonl``), with one CPU thread. A warning is an error,
as in the rest of the suite. A failure names the README's line.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

# the snippets use the estimators, formulas and the network plot
for _module in ("sklearn", "sympy", "matplotlib"):
    pytest.importorskip(_module)

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
PYTHON_BLOCK = re.compile(r"^```python[^\n]*\n(.*?)^```", re.MULTILINE | re.DOTALL)


def snippets() -> list[tuple[int, str]]:
    """``(first line, code)`` of every ```python block of the README, in order."""
    text = README.read_text(encoding="utf-8")
    return [(text.count("\n", 0, m.start(1)) + 1, m.group(1)) for m in PYTHON_BLOCK.finditer(text)]


SNIPPETS = snippets()

# Each snippet is compiled with its README line numbers, so a traceback points at the README.
RUNNER = """
import json, sys, traceback
namespace = {"__name__": "__main__"}
results = []
for line, code in json.loads(sys.stdin.read()):
    try:
        exec(compile("\\n" * (line - 1) + code, "README.md", "exec"), namespace)
        results.append(None)
    except BaseException:
        results.append(traceback.format_exc())
        break
print(json.dumps(results))
"""


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> list[str | None]:
    """The traceback of each snippet that failed (None: it ran), in order; a run stops at the
    first failure."""
    cwd = tmp_path_factory.mktemp("readme")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg",
           "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, "-W", "error", "-c", RUNNER],
                          input=json.dumps(SNIPPETS), cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stdout[-5000:] + proc.stderr[-5000:]
    return json.loads(proc.stdout.splitlines()[-1])


def test_the_readme_has_its_snippets():
    assert len(SNIPPETS) >= 5
    assert all(code.strip() for _, code in SNIPPETS)


@pytest.mark.parametrize("k", range(len(SNIPPETS)), ids=[f"line{line}" for line, _ in SNIPPETS])
def test_snippet_runs(results, k):
    assert k < len(results), "an earlier snippet failed"
    assert results[k] is None, f"README.md's snippet at line {SNIPPETS[k][0]}:\n{results[k]}"
