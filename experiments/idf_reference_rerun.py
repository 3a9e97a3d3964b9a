"""The importance-density paper's own code, rerun on this machine, beside kanlab.

The paper reports mean reductions of the median error of curvature-based over input-based grid
adaptation of 25.3 % (synthetic) and 9.4 % (Feynman), from its repository's results files
(`srigas/kan_grid`, run on a GPU). kanlab's reproductions (`idf_synthetic.py`,
`idf_feynman.py`) do not reach them. This page asks whether the reference code itself does when
it is rerun here, on a CPU, with the same seeds, and how far such a statistic moves under seed
noise:

* the reference's runs come from `experiments/reference/kan_grid_job.py` (its notebooks' code,
  unchanged) and are saved as `results/idf_reference_cpu_{synthetic,feynman}_runs.csv`;
* kanlab's are the runs files of the two benchmark scripts, with kanlab's default (pykan)
  initialisation and, where run, with `--init glorot_fine` (the reference's initialisation);
* for each, per function the median over seeds of `input` and of `curvature_network` (the
  reference's `curvature_adaptive`), the reduction, and over functions the paper's statistic
  (the mean of the reductions), the number improved, a Wilcoxon signed-rank p-value, a one-sided
  permutation p-value (arm labels shuffled within each function, 10 000 draws) and a 95 %
  bootstrap interval of the mean reduction (seeds resampled within each function and arm).

`.venv/bin/python experiments/idf_reference_rerun.py` writes `results/idf_reference_rerun.md`
from whichever runs files exist; it trains nothing.
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from idf_common import RESULTS, read_runs, reduction, wilcoxon_p  # noqa: E402
from idf_feynman import _paper_rows as feynman_paper_rows  # noqa: E402

# The reference repository's results/custom_results.csv (5 seeds, 42-46):
# function: (input_adaptive x5, curvature_adaptive x5).
SYNTHETIC_PAPER_RUNS = {
    "f1": (0.035588, 0.0292029, 0.0344222, 0.0427186, 0.0326864,
           0.0265927, 0.029393, 0.0253255, 0.0373625, 0.0300791),
    "f2": (0.00369366, 0.00305104, 0.00191212, 0.00174236, 0.00239466,
           0.00194442, 0.00332644, 0.00100745, 0.000595603, 0.000688155),
    "f3": (0.0142648, 0.0134362, 0.00743674, 0.0148549, 0.00941791,
           0.00848931, 0.0103382, 0.00998484, 0.0106546, 0.00868642),
    "f4": (0.00291122, 0.00138579, 0.00146335, 0.00650018, 0.00679446,
           0.00482256, 0.00187753, 0.000784384, 0.00133877, 0.00263225),
    "f5": (0.00583192, 0.00565901, 0.0190511, 0.0138708, 0.0106412,
           0.00673538, 0.00524203, 0.0170577, 0.0392302, 0.00617049),
    "f6": (0.00239557, 0.00215104, 0.0106936, 0.00229581, 0.00343595,
           0.00160783, 0.00410572, 0.000804931, 0.00379249, 0.00212037),
    "f7": (0.00279411, 0.00052509, 0.00152765, 0.000861384, 0.000489842,
           0.000361908, 0.000561574, 0.00114908, 0.000645236, 0.000860989),
    "f8": (0.00672904, 0.5934, 0.0034393, 0.0055381, 0.0091724,
           0.00966136, 0.00669252, 0.00495342, 0.00506621, 0.00477937),
    "f9": (0.00508966, 0.00983828, 0.0143228, 0.00318306, 0.00979995,
           0.00680759, 0.00707553, 0.0117892, 0.00662778, 0.0151887),
    "f10": (0.199516, 0.168978, 0.079611, 0.0805669, 0.0596013,
            0.085738, 0.163929, 0.0882168, 0.0685781, 0.0580898),
}
FEYNMAN_CASES = ["f1", "f2", "f4", "f7", "f8", "f9", "f11", "f12", "f13", "f15"]
SYNTHETIC_CASES = list(SYNTHETIC_PAPER_RUNS)

Pairs = dict[str, tuple[list[float], list[float]]]  # case -> (input errors, curvature errors)


def _finite(e: float) -> float:
    return e if math.isfinite(e) else math.inf  # a failed (NaN) run counts as worst


def paper_pairs(benchmark: str) -> Pairs:
    if benchmark == "synthetic":
        return {c: (list(v[:5]), list(v[5:])) for c, v in SYNTHETIC_PAPER_RUNS.items()}
    rows = feynman_paper_rows()
    return {c: ([e for f, m, e in rows if f == c and m == "input_adaptive"],
                [e for f, m, e in rows if f == c and m == "curvature_adaptive"])
            for c in FEYNMAN_CASES}


def runs_pairs(path: Path, cases: list[str]) -> Pairs:
    runs = read_runs(path)
    out = {}
    for c in cases:
        ins = [_finite(r.error) for r in runs if r.case == c and r.arm == "input"]
        cur = [_finite(r.error) for r in runs if r.case == c and r.arm == "curvature_network"]
        if ins and cur:
            out[c] = (ins, cur)
    return out


def mean_reduction(pairs: Pairs) -> float:
    return statistics.mean(reduction(statistics.median(i), statistics.median(c))
                           for i, c in pairs.values())


def bootstrap_interval(pairs: Pairs, draws: int = 10_000, seed: int = 0) -> tuple[float, float]:
    """95 % interval of the mean reduction with seeds resampled within each case and arm."""
    rng = random.Random(seed)
    stats = []
    for _ in range(draws):
        sample = {c: (rng.choices(i, k=len(i)), rng.choices(u, k=len(u)))
                  for c, (i, u) in pairs.items()}
        stats.append(mean_reduction(sample))
    stats.sort()
    return stats[int(0.025 * draws)], stats[int(0.975 * draws) - 1]


def permutation_p(pairs: Pairs, draws: int = 10_000, seed: int = 0) -> float:
    """One-sided p of the mean reduction against arm labels shuffled within each case."""
    rng = random.Random(seed)
    observed = mean_reduction(pairs)
    hits = 0
    for _ in range(draws):
        sample = {}
        for c, (i, u) in pairs.items():
            pooled = i + u
            rng.shuffle(pooled)
            sample[c] = (pooled[: len(i)], pooled[len(i):])
        hits += mean_reduction(sample) >= observed
    return (hits + 1) / (draws + 1)


def table(benchmark: str, sources: dict[str, Pairs]) -> list[str]:
    """Per-case medians for every source, then the statistics over cases."""
    cases = [c for c in (SYNTHETIC_CASES if benchmark == "synthetic" else FEYNMAN_CASES)
             if all(c in p for p in sources.values())]
    names = list(sources)
    subsets = {n: {c: sources[n][c] for c in cases} for n in names}
    meds = {n: ([statistics.median(subsets[n][c][0]) for c in cases],
                [statistics.median(subsets[n][c][1]) for c in cases]) for n in names}
    reds = {n: [reduction(i, u) for i, u in zip(*meds[n])] for n in names}
    lines = [
        "| function | " + " | ".join(f"{n}: input / curvature / Δ %" for n in names) + " |",
        "|---" * (1 + len(names)) + "|",
    ]
    for j, c in enumerate(cases):
        lines.append(f"| {c} | " + " | ".join(
            f"{meds[n][0][j]:.2e} / {meds[n][1][j]:.2e} / {reds[n][j]:+.0f}" for n in names)
            + " |")
    lines += ["", "| | " + " | ".join(names) + " |", "|---" * (1 + len(names)) + "|"]
    seeds = {n: sorted({len(v[0]) for v in subsets[n].values()}) for n in names}

    def row(label, fn):
        lines.append(f"| {label} | " + " | ".join(fn(n) for n in names) + " |")

    row("seeds per arm", lambda n: "/".join(map(str, seeds[n])))
    row("mean reduction of the median (the paper's statistic)",
        lambda n: f"**{statistics.mean(reds[n]):+.1f} %**")
    row("bootstrap 95 % interval of that mean (seeds resampled)",
        lambda n: "[{:+.0f} %, {:+.0f} %]".format(*bootstrap_interval(subsets[n])))
    row("median of the per-function reductions",
        lambda n: f"{statistics.median(reds[n]):+.1f} %")
    row("functions improved", lambda n: f"{sum(r > 0 for r in reds[n])}/{len(cases)}")
    row("Wilcoxon signed-rank p (medians, two-sided)",
        lambda n: f"{wilcoxon_p(*meds[n]):.3g}")
    row("permutation p (labels shuffled within function, one-sided)",
        lambda n: f"{permutation_p(subsets[n]):.3g}")
    paper_curv = meds[names[0]][1]
    row("input median below the paper's curvature median",
        lambda n: f"{sum(i < pc for i, pc in zip(meds[n][0], paper_curv))}/{len(cases)}")
    return lines


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default="idf_reference_rerun", help="output stem in results/")
    args = p.parse_args(argv)
    text = ["# The importance-density paper's code rerun here, beside kanlab", "",
            __doc__.split("\n\n", 1)[1].split("`.venv/bin/python")[0].strip(), ""]
    for benchmark, kan_stem, cases in (("synthetic", "idf_synthetic", SYNTHETIC_CASES),
                                       ("feynman", "idf_feynman", FEYNMAN_CASES)):
        sources = {"paper (reference, GPU)": paper_pairs(benchmark)}
        files = {
            "reference rerun here (CPU)": RESULTS / f"idf_reference_cpu_{benchmark}_runs.csv",
            "kanlab (pykan init)": RESULTS / f"{kan_stem}_runs.csv",
            "kanlab (glorot_fine init)": RESULTS / f"{kan_stem}_glorot_runs.csv",
        }
        for name, path in files.items():
            if path.exists():
                pairs = runs_pairs(path, cases)
                if pairs:
                    sources[name] = pairs
        text += [f"## {benchmark.capitalize()}", ""] + table(benchmark, sources) + [""]
    out = RESULTS / f"{args.out}.md"
    out.write_text("\n".join(text))
    print("\n".join(text))


if __name__ == "__main__":
    main()
