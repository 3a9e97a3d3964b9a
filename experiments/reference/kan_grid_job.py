"""Run one training job of the importance-density paper's own code (``srigas/kan_grid``).

This is how kanlab checks the paper's reported gains on this machine: it executes the
reference notebooks' own definition cells (imports, data, ``train_step``,
``compute_curvature``, ``run_training``) unchanged and calls ``run_training`` with the
notebooks' settings. Nothing of the reference is copied into kanlab; you need a checkout of it
and a Python with its dependencies (``jax``, ``flax``, ``optax``, ``numpy``, ``pandas``,
``scikit-learn``; the CPU build of jax is enough)::

    git clone https://github.com/srigas/kan_grid /path/to/kan_grid
    python -m venv /tmp/jaxenv
    /tmp/jaxenv/bin/pip install "jax[cpu]" flax optax pandas scikit-learn
    OMP_NUM_THREADS=1 taskset -c 0 /tmp/jaxenv/bin/python experiments/reference/kan_grid_job.py \
        --repo /path/to/kan_grid --benchmark synthetic --function f4 --method curvature_adaptive \
        --seed 42 --out experiments/results/idf_reference_cpu_synthetic_runs.csv

One row is appended to ``--out`` in the format of kanlab's own runs files
(``case,arm,seed,rel_l2,train_s,adapt_s``), with the reference's ``input_adaptive`` named
``input`` and its ``curvature_adaptive`` named ``curvature_network`` (network-level second
differences, kanlab's name for that rule); ``adapt_s`` is not measured (NaN). Then
``experiments/idf_reference_rerun.py`` builds the tables. This script imports no kanlab and no
torch, so that it runs in the reference's environment.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

NOTEBOOKS = {
    "synthetic": ("Benchmark 1 - Custom Functions.ipynb", 0.01),
    "feynman": ("Benchmark 2 - Feynman Subset.ipynb", 1e-3),
}
SCHEDULE = {0: 3, 500: 6, 1000: 9, 1500: 12}
EPOCHS = 2000
ARM_NAMES = {"input_adaptive": "input", "curvature_adaptive": "curvature_network"}


def definition_cells(notebook: Path) -> str:
    """The notebook's code up to (not including) its benchmark-configuration cell."""
    cells = ["".join(c["source"]) for c in json.loads(notebook.read_text())["cells"]
             if c["cell_type"] == "code"]
    code = []
    for cell in cells:
        head = cell.split("# Architecture configuration")[0]
        code.append(head)
        if head != cell:  # the configuration cell: its function tables come before the marker
            break
    # matplotlib only serves the notebooks' plots
    return "\n\n".join(code).replace("import matplotlib.pyplot as plt", "")


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repo", type=Path, required=True, help="checkout of srigas/kan_grid")
    p.add_argument("--benchmark", choices=sorted(NOTEBOOKS), required=True)
    p.add_argument("--function", required=True, help="f1, f2, ... as the reference names them")
    p.add_argument("--method", choices=sorted(ARM_NAMES), required=True)
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--out", type=Path, required=True, help="runs CSV to append to")
    p.add_argument("--epochs", type=int, default=EPOCHS,
                   help=f"training epochs (the notebooks': {EPOCHS}; fewer only for a smoke test)")
    args = p.parse_args(argv)

    notebook, lr = NOTEBOOKS[args.benchmark]
    out = args.out.resolve()
    os.chdir(args.repo)  # the notebooks load their data by relative paths
    sys.path.insert(0, str(args.repo.resolve()))
    ns: dict = {"__name__": "kan_grid_notebook"}
    exec(compile(definition_cells(args.repo / notebook), notebook, "exec"), ns)  # noqa: S102

    if args.benchmark == "synthetic":
        n_in = ns["CUSTOM_METADATA"][args.function]["n_in"]
        result = ns["run_training"](args.function, [n_in, 10, 1], args.method, args.seed,
                                    num_epochs=args.epochs, learning_rate=lr,
                                    grid_schedule=SCHEDULE)
    else:
        n_in = ns["func_dims"][args.function]
        result = ns["run_training"](args.function, [n_in, 10, 1], args.method, args.seed,
                                    num_epochs=args.epochs, learning_rate=lr,
                                    grid_schedule=SCHEDULE, n_train=4000)
    error, wall = float(result["rel_l2_error"]), float(result["wall_time"])
    new = not out.exists()
    with out.open("a") as f:
        if new:
            f.write("case,arm,seed,rel_l2,train_s,adapt_s\n")
        f.write(f"{args.function},{ARM_NAMES[args.method]},{args.seed},{error:.6e},{wall:.3f},nan\n")
    print(args.function, args.method, args.seed, f"{error:.6e}", f"{wall:.1f} s")


if __name__ == "__main__":
    main()
