"""How much of the reference's curvature weights is curvature: its h = 1e-3 second differences
against wider steps, at each grid update of one synthetic run.

The reference (``srigas/kan_grid``) weights samples by |second difference| of the network with
h = 1e-3 in float32. This runs one ``curvature_adaptive`` job of its synthetic notebook
(unchanged, as ``kan_grid_job.py`` does) and, at every grid update, also computes the weights with
h = 1e-2 and 3e-2, then prints the median weight and the share of the total weight that falls on
the 10 % of samples with the largest h = 3e-2 curvature. Needs the reference's environment::

    OMP_NUM_THREADS=1 /tmp/jaxenv/bin/python experiments/reference/kan_grid_weights.py \
        --repo /path/to/kan_grid --function f2 --seed 42
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from kan_grid_job import NOTEBOOKS, SCHEDULE, definition_cells  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repo", type=Path, required=True, help="checkout of srigas/kan_grid")
    p.add_argument("--function", default="f2")
    p.add_argument("--seed", type=int, default=42)
    args = p.parse_args(argv)
    os.chdir(args.repo)
    sys.path.insert(0, str(args.repo.resolve()))
    notebook, lr = NOTEBOOKS["synthetic"]
    ns: dict = {"__name__": "kan_grid_notebook"}
    exec(compile(definition_cells(args.repo / notebook), notebook, "exec"), ns)  # noqa: S102
    import jax.numpy as jnp
    import numpy as np
    from jaxkan.models.KAN import KAN

    def weights(model, x, h):
        f0, total = model(x), jnp.zeros(x.shape[0])
        for d in range(x.shape[1]):
            e = jnp.zeros((1, x.shape[1])).at[0, d].set(h)
            total = total + jnp.abs((model(x + e) - 2 * f0 + model(x - e)) / h**2).sum(1)
        return np.asarray(total)

    update = KAN.update_grids

    def spy(self, x, **kw):
        if "curvatures" in kw:
            w = {"1e-3 (used)": np.asarray(kw["curvatures"]), "1e-2": weights(self, x, 1e-2),
                 "3e-2": weights(self, x, 3e-2)}
            top = w["3e-2"] >= np.quantile(w["3e-2"], 0.9)
            print(f"update to G = {kw.get('grid_size_new')}: " + "; ".join(
                f"h = {h}: median {np.median(v):.3g}, top-10 % share "
                f"{v[top].sum() / v.sum():.2f}" for h, v in w.items()), flush=True)
        update(self, x, **kw)

    KAN.update_grids = spy
    n_in = ns["CUSTOM_METADATA"][args.function]["n_in"]
    last = max(SCHEDULE)
    ns["run_training"](args.function, [n_in, 10, 1], "curvature_adaptive", args.seed,
                       num_epochs=last + 1, learning_rate=lr, grid_schedule=SCHEDULE)


if __name__ == "__main__":
    main()
