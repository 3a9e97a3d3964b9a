"""Which part of a grid rule helps or hurts the Helmholtz PINN: a short ablation.

``idf_helmholtz.py``'s problem on a 32×32 collocation grid for 1000 epochs (its schedule scaled:
grids 3 -> 6 -> 9 -> 12 at epochs 0, 200, 400, 600), seed 3, under variants of the grid rule:
``input`` (sample quantiles, no floor, no guard), the default ``curvature``, ``curvature``
without its guard, with the weights' power 2/9, ``input`` with the default floor and guard, and
a uniform grid over the data (``eps = 1``), and ``curvature`` whose guard falls back to the
input rule's move. All with the benchmark's 1 % margin.

Run ``python experiments/idf_helmholtz_ablation.py [--cases 2-2,1-1]``; it writes
``experiments/results/idf_helmholtz_ablation.md``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import idf_helmholtz as helmholtz  # noqa: E402
from idf_common import MARGIN, RESULTS  # noqa: E402

from kanlab.grids import DensityGrid  # noqa: E402

VARIANTS = {
    "input": lambda: DensityGrid("input", floor=0.0, guard=None, eps=0.0, margin=MARGIN),
    "curvature": lambda: DensityGrid("curvature", eps=0.0, margin=MARGIN),
    "curvature_no_guard": lambda: DensityGrid("curvature", guard=None, eps=0.0, margin=MARGIN),
    "curvature_power_2/9": lambda: DensityGrid("curvature", power=2 / 9, eps=0.0,
                                                margin=MARGIN),
    "input_floor_guard": lambda: DensityGrid("input", eps=0.0, margin=MARGIN),
    "curvature_input_fallback": lambda: DensityGrid("curvature", fallback="input", eps=0.0,
                                                     margin=MARGIN),
    "uniform": lambda: DensityGrid("input", floor=0.0, guard=None, eps=1.0,
                                                 margin=MARGIN),
}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default="2-2,1-1")
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--variants", default=",".join(VARIANTS),
                        help="comma-separated subset of the variants")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    helmholtz.ARMS.update(VARIANTS)
    cfg = helmholtz.Config(colloc=32).with_epochs(1000)
    cases = args.cases.split(",")
    chosen = args.variants.split(",")
    errors = {}
    for case in cases:
        for name in chosen:
            start = time.perf_counter()
            errors[case, name] = helmholtz.train_run(case, name, args.seed, cfg).error
            print(f"{case} {name:<26} {errors[case, name]:.3e} "
                  f"({time.perf_counter() - start:.0f} s)", flush=True)
    lines = ["# Helmholtz PINN: grid-rule ablation", "",
             f"32×32 collocation, 1000 epochs, schedule {cfg.schedule}, seed {args.seed}; "
             "relative L2 error of u.", "",
             "| variant | " + " | ".join(cases) + " |", "|---" * (1 + len(cases)) + "|"]
    lines += [f"| {name} | " + " | ".join(f"{errors[c, name]:.3e}" for c in cases) + " |"
              for name in chosen]
    (RESULTS / "idf_helmholtz_ablation.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
