"""Run one benchmark job in a fresh Python process and read back its JSON result.

pykan seeds the global RNGs and the paper's protocol sets the default dtype to float64; running
every job in its own process (from an empty temporary directory, so pykan's ``./model``
checkpoints or figures cannot land in the repository) keeps those changes away from the other
library's numbers.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent


def toy_f(x: torch.Tensor) -> torch.Tensor:
    """The paper's toy function ``exp(sin(pi x) + y^2)`` on columns of ``x``, shape ``(N, 1)``."""
    return torch.exp(torch.sin(torch.pi * x[:, [0]]) + x[:, [1]] ** 2)


def run_job(
    script: str, args: list[str], threads: int | None = None, timeout: float = 7200.0
) -> dict:
    """Run ``benchmarks/<script> --worker <args>`` in a temp cwd; return the JSON it prints last.

    The worker prints exactly one line starting with ``RESULT `` followed by JSON. ``threads``
    sets ``OMP_NUM_THREADS`` for it (default: inherit the environment, i.e. torch's default).
    """
    cmd = [sys.executable, str(HERE / script), "--worker", *args]
    env = dict(os.environ)
    if threads:
        env["OMP_NUM_THREADS"] = str(threads)
    with tempfile.TemporaryDirectory(prefix="kanlab-bench-") as tmp:
        proc = subprocess.run(
            cmd, cwd=tmp, env=env, capture_output=True, text=True, timeout=timeout, check=False
        )
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT ") :])
    raise RuntimeError(
        f"worker {' '.join(args)} failed (rc {proc.returncode}):\n"
        f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    )


def emit(result: dict) -> None:
    """Print a worker's result for :func:`run_job`."""
    print("RESULT " + json.dumps(result), flush=True)
