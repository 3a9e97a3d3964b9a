"""Many seeds in one model: an ensemble of KANs trained side by side, and its spread.

1. The paper's toy fit, ``exp(sin πx + y²)`` on a [2, 5, 1] KAN, for several seeds at once:
   ``kanlab.Ensemble`` stacks the members, ``kanlab.fit`` trains each as a lone fit would (its
   own LBFGS memory and line search, its own grid updates), and a member taken out equals a
   lone fit with its seed to the bit. Timed against the same fits one after the other.
2. An estimator of several members on noisy samples of a 1-D function: their mean predicts,
   their spread (``predict(..., return_std=True)``) grows where there were no data.

Run ``python examples/ensembles.py [--quick] [--out FOLDER]``.
"""

import argparse
import time
from pathlib import Path

import numpy as np
import torch

import kanlab


def toy_ensemble(members, steps):
    data = kanlab.data.make_toy_dataset("exp_sin_sq", n_train=1000, n_test=1000, seed=0,
                                        dtype=torch.float64)
    ens = kanlab.Ensemble([2, 5, 1], members=members, seeds=range(members), dtype=torch.float64)
    start = time.perf_counter()
    history = kanlab.fit(ens, data, steps=steps, progress=False)
    together = time.perf_counter() - start
    start, lone = time.perf_counter(), []
    for seed in range(members):
        model = kanlab.KAN([2, 5, 1], seed=seed, dtype=torch.float64)
        lone.append((model, kanlab.fit(model, data, steps=steps, progress=False)))
    apart = time.perf_counter() - start
    print(f"{members} members of [2, 5, 1], {steps} LBFGS steps: together {together:.1f} s, "
          f"one after the other {apart:.1f} s")
    for e, (model, h) in enumerate(lone):
        same = all(torch.equal(a, b) for a, b in zip(ens.member(e).parameters(),
                                                     model.parameters()))
        print(f"  member {e}: test RMSE {history[e].test_rmse[-1]:.2e}, "
              f"equal to its lone fit: {same and history[e].test_rmse == h.test_rmse}")
    print(f"best member by test RMSE: {history.best_member('test_rmse')}")


def spread(members, steps, out):
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 0.4, (200, 1))  # no data beyond 0.4
    y = np.sin(3 * x[:, 0]) + 0.1 * rng.normal(size=200)
    est = kanlab.KANRegressor(width=(4,), grids=(3, 6), steps=steps, n_members=members,
                              random_state=0).fit(x, y)
    grid = np.linspace(-1, 1, 201)[:, None]
    mean, std = est.predict(grid, return_std=True)
    inside, outside = std[grid[:, 0] <= 0.4].mean(), std[grid[:, 0] > 0.6].mean()
    print(f"{members} members on sin(3x) + noise, x in [-1, 0.4]: mean spread inside "
          f"{inside:.3f}, beyond 0.6 {outside:.3f}; best member {est.best_member_} by "
          "validation loss")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(x[:, 0], y, ".", ms=3, color="0.6", label="data")
    ax.plot(grid[:, 0], mean, "C0", label="ensemble mean")
    ax.fill_between(grid[:, 0], mean - 2 * std, mean + 2 * std, color="C0", alpha=0.25,
                    label="± 2 std of the members")
    ax.plot(grid[:, 0], np.sin(3 * grid[:, 0]), "k--", lw=1, label="sin(3x)")
    ax.axvline(0.4, color="0.4", lw=0.8)
    ax.set_xlabel("x")
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    fig.savefig(out / "spread.png", dpi=120)
    plt.close(fig)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer members and steps")
    parser.add_argument("--out", type=Path, default=Path("."), help="folder for the figure")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    toy_ensemble(*((3, 10) if args.quick else (10, 50)))
    spread(*((5, 40) if args.quick else (10, 100)), args.out)


if __name__ == "__main__":
    main()
