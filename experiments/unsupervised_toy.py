"""The KAN paper's unsupervised mode (§4.2): which features depend on each other?

Six features, ``x1, x2, x4, x6 ~ U(-1, 1)``, ``x3 = exp(sin(π x1) + x2²)``, ``x5 = x4³``
(:func:`kanlab.science.unsupervised.make_unsupervised_toy`). Real rows (label 1) against rows whose
columns were shuffled independently (label 0) are classified by a KAN ``[6, 1, 1]`` whose last
edge is the Gaussian ``exp(-h²)``; with sparsity regularisation only the features of one
relation should keep their first-layer edges: ``{x1, x2, x3}`` or ``{x4, x5}``, never ``x6``.

Arms (each seed draws its own data, model and negatives):

- ``pykan``: the tutorial's recipe -- raw features, trainable Gaussian, one run of 50 LBFGS
  steps with ``lamb=0.002, lamb_entropy=10``;
- ``trainable`` (the recommended recipe, the library's defaults): standardised features,
  trainable Gaussian, the 50 steps then 30 more with ``lamb=0.01`` and no grid updates
  (sparsify);
- ``frozen``: as ``trainable`` with the Gaussian's affine parameters frozen
  (``unsupervised_model(..., train_gaussian=False)``).

An arm's seeds train side by side as one ensemble (each member on its own seed's data, its
steps a lone run's to round-off: with the penalty and the Gaussian edge not to the bit, so over
80 LBFGS steps a member's scores can drift from its lone run's by a few hundredths, and a
borderline group can differ); ``--separate`` trains them one by one. Run
``python experiments/unsupervised_toy.py [--quick] [--seeds N] [--separate]``; it writes
``experiments/results/unsupervised_toy{,_quick}.md``.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

import torch

import kanlab
from kanlab.data import Dataset
from kanlab.nn.ensemble import Ensemble
from kanlab.science.unsupervised import (
    contrastive_accuracy,
    contrastive_dataset,
    dependent_features,
    feature_scores,
    make_unsupervised_toy,
    unsupervised_model,
)

RESULTS = Path(__file__).resolve().parent / "results"
GROUPS = ([0, 1, 2], [3, 4])  # 0-based: {x1, x2, x3}, {x4, x5}
NAMES = [f"x{i}" for i in range(1, 7)]


@dataclass(frozen=True)
class Arm:
    name: str
    standardize: bool
    train_gaussian: bool
    sparsify_steps: int  # second phase at lamb_sparsify, no grid updates (0: none)


ARMS = {
    "pykan": Arm("pykan", standardize=False, train_gaussian=True, sparsify_steps=0),
    "trainable": Arm("trainable", standardize=True, train_gaussian=True, sparsify_steps=30),
    "frozen": Arm("frozen", standardize=True, train_gaussian=False, sparsify_steps=30),
}


@dataclass(frozen=True)
class Config:
    """Run settings."""

    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    arms: tuple[str, ...] = ("pykan", "trainable", "frozen")
    n: int = 1000  # real samples; 20 % held out, each split doubled by its negatives
    grid_size: int = 3
    steps: int = 50
    lamb: float = 0.002
    lamb_entropy: float = 10.0
    lamb_sparsify: float = 0.01
    threshold: float = 0.1  # dependent_features' relative score

    @classmethod
    def quick(cls) -> Config:
        """A smoke test: two seeds, the recommended arm, fewer samples and steps."""
        return cls(seeds=(0, 1), arms=("trainable",), n=500, steps=30)


@dataclass
class Result:
    arm: str
    seed: int
    group: list[int]
    train_acc: float
    test_acc: float
    scores: list[float]  # relative first-layer scores of x1..x6
    seconds: float

    @property
    def correct(self) -> bool:
        return self.group in GROUPS


def _data(arm: Arm, seed: int, cfg: Config) -> tuple[torch.Tensor, Dataset]:
    """A seed's real samples (standardised where the arm says) and its contrastive dataset."""
    x = make_unsupervised_toy(cfg.n, generator=torch.Generator().manual_seed(1000 + seed),
                              dtype=torch.float64)
    if arm.standardize:
        x = (x - x.mean(0)) / x.std(0)
    return x, contrastive_dataset(x, generator=torch.Generator().manual_seed(seed))


def _train(model, data: Dataset, arm: Arm, cfg: Config) -> None:
    """Phase 1, then the arm's sparsify phase (a KAN alone or an ensemble of them)."""
    common = {"lamb_entropy": cfg.lamb_entropy, "progress": False}
    kanlab.fit(model, data, steps=cfg.steps, lamb=cfg.lamb, **common)
    if arm.sparsify_steps:
        kanlab.fit(model, data, steps=arm.sparsify_steps, lamb=cfg.lamb_sparsify,
                   update_grid=False, **common)


def _result(arm: Arm, seed: int, model, x: torch.Tensor, data: Dataset, cfg: Config,
            seconds: float) -> Result:
    model.record(x)  # the real samples: what the scores are read on
    return Result(
        arm.name, seed, dependent_features(model, threshold=cfg.threshold),
        contrastive_accuracy(model, data.train_input, data.train_label),
        contrastive_accuracy(model, data.test_input, data.test_label),
        feature_scores(model).tolist(), seconds,
    )


def run(arm: Arm, seed: int, cfg: Config) -> Result:
    """One seed alone (what :func:`fit_unsupervised` does: the same split and negatives)."""
    start = time.perf_counter()
    x, data = _data(arm, seed, cfg)
    model = unsupervised_model(6, grid_size=cfg.grid_size, seed=seed, dtype=torch.float64,
                               train_gaussian=arm.train_gaussian)
    _train(model, data, arm, cfg)
    return _result(arm, seed, model, x, data, cfg, time.perf_counter() - start)


def run_together(arm: Arm, cfg: Config) -> list[Result]:
    """Every seed of ``arm`` side by side, one :class:`~kanlab.nn.ensemble.Ensemble` trained on
    per-member data (each seed its own samples and negatives): each member's steps are its
    lone run's to round-off; a result's seconds are the ensemble's time over the members."""
    start = time.perf_counter()
    pairs = [_data(arm, seed, cfg) for seed in cfg.seeds]
    stacked = Dataset(*(torch.stack([getattr(d, key) for _, d in pairs])
                        for key in ("train_input", "train_label", "test_input", "test_label")))
    ensemble = Ensemble.stack([
        unsupervised_model(6, grid_size=cfg.grid_size, seed=seed, dtype=torch.float64,
                           train_gaussian=arm.train_gaussian) for seed in cfg.seeds])
    _train(ensemble, stacked, arm, cfg)
    seconds = (time.perf_counter() - start) / len(cfg.seeds)
    return [_result(arm, seed, ensemble.member(e), x, d, cfg, seconds)
            for e, (seed, (x, d)) in enumerate(zip(cfg.seeds, pairs))]


def markdown(results: list[Result], cfg: Config, command: str, wall_s: float) -> str:
    lines = [
        "# Unsupervised KAN (paper §4.2): dependent feature groups on the toy",
        "",
        f"`{command}`. Toy: x1, x2, x4, x6 ~ U(-1, 1), x3 = exp(sin(pi x1) + x2^2), "
        f"x5 = x4^3; {cfg.n} samples per seed (data seed 1000 + seed), 20 % held out; each "
        "split gets its own negatives (every column shuffled independently), so train and test "
        f"are balanced. KAN [6, 1, 1], grid {cfg.grid_size}, float64, last edge gaussian "
        f"exp(-h^2). Phase 1: {cfg.steps} LBFGS steps, lamb {cfg.lamb}, lamb_entropy "
        f"{cfg.lamb_entropy}, grid updates (kanlab's defaults: every 5 steps up to 50). "
        f"Sparsify phase (where the arm has one): lamb {cfg.lamb_sparsify}, no grid updates. "
        "Arms: `pykan` = the tutorial (raw features, trainable gaussian, phase 1 only); "
        "`trainable` = standardised features, trainable gaussian, + sparsify phase; `frozen` = "
        "the same with the gaussian's affine parameters frozen. Group = "
        f"`dependent_features(model, threshold={cfg.threshold})`; scores = `feature_scores` "
        "(attribution on the real samples and a column-shuffled copy, relative to the "
        "largest); correct = exactly {x1, x2, x3} or {x4, x5}. "
        "Accuracy: output > 0.5 means real.",
        "",
        "| arm | correct runs | found {x1,x2,x3} | found {x4,x5} | x6 in the group | "
        "test accuracy < 0.6 | mean test accuracy |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for arm in cfg.arms:
        rs = [r for r in results if r.arm == arm]
        if not rs:
            continue
        lines.append(
            f"| {arm} | {sum(r.correct for r in rs)}/{len(rs)} | "
            f"{sum(r.group == GROUPS[0] for r in rs)} | {sum(r.group == GROUPS[1] for r in rs)} "
            f"| {sum(5 in r.group for r in rs)} | {sum(r.test_acc < 0.6 for r in rs)} "
            f"| {sum(r.test_acc for r in rs) / len(rs):.3f} |"
        )
    lines += [
        "",
        "| arm | seed | group found | correct | train acc | test acc | scores x1..x6 | s |",
        "|---|---:|---|---|---:|---:|---|---:|",
    ]
    for r in results:
        group = "{" + ", ".join(NAMES[i] for i in r.group) + "}"
        scores = " ".join(f"{v:.2f}" for v in r.scores)
        lines.append(
            f"| {r.arm} | {r.seed} | {group} | {'yes' if r.correct else 'no'} | "
            f"{r.train_acc:.3f} | {r.test_acc:.3f} | {scores} | {r.seconds:.1f} |"
        )
    lines += ["", f"Total wall time: {wall_s:.0f} s (1 thread).", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="2 seeds, the trainable arm, fewer steps")
    p.add_argument("--seeds", type=int, help="seeds 0..N-1 (default 5)")
    p.add_argument("--arms", nargs="+", choices=sorted(ARMS), help="arms to run")
    p.add_argument("--separate", action="store_true",
                   help="train the seeds one by one (default: an arm's seeds side by side, "
                        "one ensemble; the same steps, member by member)")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    cfg = Config.quick() if args.quick else Config()
    if args.seeds:
        cfg = replace(cfg, seeds=tuple(range(args.seeds)))
    if args.arms:
        cfg = replace(cfg, arms=tuple(args.arms))

    start, results = time.perf_counter(), []
    for arm in cfg.arms:
        arm_results = ([run(ARMS[arm], seed, cfg) for seed in cfg.seeds] if args.separate
                       else run_together(ARMS[arm], cfg))
        for r in arm_results:
            results.append(r)
            group = "{" + ", ".join(NAMES[i] for i in r.group) + "}"
            print(f"{arm:<9} seed {r.seed}: {group:<16} {'ok ' if r.correct else 'BAD'} "
                  f"train acc {r.train_acc:.3f} test acc {r.test_acc:.3f} {r.seconds:.1f} s",
                  flush=True)
    wall_s = time.perf_counter() - start

    command = " ".join(["python experiments/unsupervised_toy.py",
                        *(sys.argv[1:] if argv is None else argv)])
    RESULTS.mkdir(parents=True, exist_ok=True)
    stem = "unsupervised_toy_quick" if args.quick else "unsupervised_toy"
    text = markdown(results, cfg, command, wall_s)
    (RESULTS / f"{stem}.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
