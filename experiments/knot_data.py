"""Knot invariants for the KAN paper's §4.3, regenerated here with SnapPy (``make knot-data``).

DeepMind's table (Davies et al. 2021) cannot be downloaded here; this script recomputes its
kind of rows from the census of hyperbolic knots that SnapPy ships (``HTLinkExteriors`` with
one cusp: 313,230 knots up to 15 crossings with ``snappy_15_knots``). It samples ``--knots``
of them (seeded, without replacement), computes each one's invariants, and writes

- ``<out>/shards/NNNNN.csv``: the rows of each block of ``--shard`` knots, each written whole
  (to a temporary name, then renamed), so that an interrupted run resumes where it stopped;
- ``<out>/knots.csv`` and ``<out>/manifest.json`` when every shard is there: the table, and
  what made it (package versions, seed, sample size, the sign convention, each column's
  definition, the time taken). :func:`kanlab.data.knots.load_knots` reads them.

Columns (:data:`COLUMNS`): the census name and index; the hyperbolic volume, the Chern–Simons
invariant, the maximal cusp's volume and its meridional (complex: real and imaginary parts)
and longitudinal (real) translations; the symmetry group; the signature. Not computed (yet):
the torsion degrees (Fox calculus in high precision) and the short geodesic and injectivity
radius (a Dirichlet domain: it fails for most 15-crossing knots with SnapPy's defaults). A knot
whose invariants fail keeps its row with the reason in ``status`` (1 of the default 10,000:
K9a41, whose census triangulation has flat tetrahedra, so no cusp neighbourhood); the loader
leaves such rows out.

SnapPy and its census are GPL packages in kanlab's optional ``knots`` extra; the library
never imports them (only this script does). Run ``python experiments/knot_data.py --help``.
"""

from __future__ import annotations

import argparse
import csv
import json
import multiprocessing
import os
import sys
import time
from importlib import metadata
from pathlib import Path

import numpy as np

COLUMNS = {
    "name": "the knot's name in SnapPy's census (HTLinkExteriors), e.g. K13n4980",
    "census_index": "its index in HTLinkExteriors(num_cusps=1)",
    "crossings": "its crossing number (from the name)",
    "volume": "hyperbolic volume of the complement (Manifold.volume)",
    "chern_simons": "Chern-Simons invariant (Manifold.chern_simons)",
    "cusp_volume": "volume of the maximal cusp (cusp_neighborhood at its stopping displacement)",
    "meridional_translation_real": "Re(mu): the meridian's translation on the maximal cusp",
    "meridional_translation_imag": "Im(mu)",
    "longitudinal_translation": "lambda: the longitude's translation on the maximal cusp (real)",
    "symmetry_group": "the symmetry group (Manifold.symmetry_group), as SnapPy writes it",
    "signature": "the knot signature of the knot's diagram (Manifold.link()), by the "
                 "standard convention (see sign_convention)",
    "status": "ok, or what failed (the row's invariants are then empty)",
}
SIGN_CONVENTION = ("the standard one (the positive trefoil, the closure of the braid s1^3, has "
                   "signature -2): -sign(V + V^T) for spherogram's Seifert matrix V, whose sign "
                   "is the opposite; with it signature ~ Re(lambda / mu) / 2 (Davies et al.)")
PACKAGES = ("snappy", "snappy_manifolds", "snappy_15_knots", "spherogram", "cypari")


def census():
    """SnapPy's census of one-cusped hyperbolic knot complements (imported here only)."""
    import snappy

    return snappy.HTLinkExteriors(num_cusps=1)


def signature(link) -> int:
    """The knot signature by this table's convention (:data:`SIGN_CONVENTION`)."""
    try:
        v = np.array(link.seifert_matrix(), dtype=np.int64)
    except ValueError:  # spherogram cannot follow some diagrams' strands: redraw from the PD code
        import snappy

        v = np.array(snappy.Link(link.PD_code()).seifert_matrix(), dtype=np.int64)
    eig = np.linalg.eigvalsh((v + v.T).astype(np.float64))
    # V + V^T is nonsingular for a knot (its determinant is the Alexander polynomial at -1),
    # but an integer matrix's eigenvalues can be small: no one may be near zero
    if np.abs(eig).min() <= 1e-9 * max(1.0, np.abs(eig).max()):
        raise ArithmeticError("V + V^T is numerically singular")
    return -int((eig > 0).sum() - (eig < 0).sum())


def invariants(manifold) -> dict:
    """The invariants of one knot complement (a ``snappy.Manifold`` of the census)."""
    name = manifold.name()
    cusp = manifold.cusp_neighborhood()
    cusp.set_displacement(cusp.stopping_displacement())
    mu, lam = cusp.translations()
    mu = complex(mu)
    return {
        "name": name,
        "crossings": _crossings(name),
        "volume": float(manifold.volume()),
        "chern_simons": float(manifold.chern_simons()),
        "cusp_volume": float(cusp.volume()),
        "meridional_translation_real": mu.real,
        "meridional_translation_imag": mu.imag,
        "longitudinal_translation": float(complex(lam).real),
        "symmetry_group": str(manifold.symmetry_group()),
        "signature": signature(manifold.link()),
        "status": "ok",
    }


def _crossings(name: str) -> int:
    """The crossing number in a census name: K13n4980 -> 13, K8a1 -> 8."""
    digits = ""
    for ch in name[1:]:
        if not ch.isdigit():
            break
        digits += ch
    return int(digits)


def sample(n: int, seed: int, total: int) -> np.ndarray:
    """``n`` census indices, seeded, without replacement, in increasing order."""
    if not 1 <= n <= total:
        raise ValueError(f"--knots must lie in [1, {total}] (the census size); got {n}")
    return np.sort(np.random.default_rng(seed).choice(total, size=n, replace=False))


def knot_row(index: int, knots=None) -> dict:
    """The row of census knot ``index``; a knot whose invariants fail gets its status."""
    knots = census() if knots is None else knots
    try:
        row = invariants(knots[int(index)])
    except Exception as err:  # noqa: BLE001 -- a row says what failed, the table goes on
        row = {"name": knots[int(index)].name(), "status": f"failed: {type(err).__name__}"}
    row["census_index"] = int(index)
    return {c: row.get(c, "") for c in COLUMNS}


def shard_path(out: Path, shard: int) -> Path:
    return out / "shards" / f"{shard:05d}.csv"


def write_shard(out: Path, shard: int, indices: list[int]) -> float:
    """Compute and write one shard's rows (whole: a temporary file renamed); its seconds."""
    start = time.perf_counter()
    knots = census()
    rows = [knot_row(i, knots) for i in indices]
    path = shard_path(out, shard)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    with tmp.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(COLUMNS))
        writer.writeheader()
        writer.writerows(rows)
    os.replace(tmp, path)
    return time.perf_counter() - start


def _shard_done(out: Path, shard: int, indices: list[int]) -> bool:
    """A shard file that is there, whole, and holds exactly these knots."""
    path = shard_path(out, shard)
    if not path.exists():
        return False
    try:
        with path.open(newline="") as f:
            got = [int(r["census_index"]) for r in csv.DictReader(f)]
    except (OSError, ValueError, KeyError, csv.Error):
        return False
    return got == [int(i) for i in indices]


def _run_shard(job: tuple[str, int, list[int]]) -> tuple[int, float]:
    out, shard, indices = job
    return shard, write_shard(Path(out), shard, indices)


def _run_shards(todo: list, workers: int):
    """The shards' (index, seconds) as they finish: in this process for one worker, else in a
    pool of ``workers`` fresh processes."""
    if workers == 1 or len(todo) <= 1:
        yield from map(_run_shard, todo)
        return
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        yield from pool.imap_unordered(_run_shard, todo)


def generate(out: Path, n: int, seed: int, workers: int = 2, shard_size: int = 250,
             say=print) -> dict:
    """The whole table in ``out`` (see the module's docstring); returns the manifest."""
    if workers < 1 or shard_size < 1:
        raise ValueError(f"workers and shard size must be at least 1; got {workers}, {shard_size}")
    start = time.perf_counter()
    knots = census()
    total = len(knots)
    indices = sample(n, seed, total)
    blocks = [indices[i:i + shard_size].tolist() for i in range(0, n, shard_size)]
    (out / "shards").mkdir(parents=True, exist_ok=True)
    todo = [(str(out), s, b) for s, b in enumerate(blocks) if not _shard_done(out, s, b)]
    say(f"{n} knots of {total} (seed {seed}) in {len(blocks)} shards: "
        f"{len(blocks) - len(todo)} already there, {len(todo)} to compute on {workers} processes")
    seconds = 0.0
    for done, (shard, secs) in enumerate(_run_shards(todo, workers), 1):
        seconds += secs
        say(f"shard {shard} ({len(blocks[shard])} knots) in {secs:.1f} s [{done}/{len(todo)}]")
    rows = []
    for s in range(len(blocks)):
        with shard_path(out, s).open(newline="") as f:
            rows.extend(csv.DictReader(f))
    table = out / "knots.csv"
    tmp = table.with_suffix(".tmp")
    with tmp.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(COLUMNS))
        writer.writeheader()
        writer.writerows(rows)
    os.replace(tmp, table)
    manifest = {
        "knots": n,
        "rows_ok": sum(r["status"] == "ok" for r in rows),
        "seed": seed,
        "census": "snappy.HTLinkExteriors(num_cusps=1)",
        "census_size": total,
        "sign_convention": SIGN_CONVENTION,
        "columns": COLUMNS,
        "not_computed": ["torsion degrees", "short geodesic", "injectivity radius"],
        "packages": {p: _version(p) for p in PACKAGES},
        "seconds_this_run": round(time.perf_counter() - start, 1),
        "shard_seconds_this_run": round(seconds, 1),
        "workers": workers,
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    say(f"wrote {table} ({manifest['rows_ok']} of {n} rows ok) in "
        f"{manifest['seconds_this_run']} s")
    return manifest


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--knots", type=int, default=10000, help="how many knots (10000)")
    parser.add_argument("--seed", type=int, default=0, help="the sample's seed (0)")
    parser.add_argument("--out", type=Path, default=Path("data/knots"), help="data/knots")
    parser.add_argument("--workers", type=int, default=2, help="processes (2)")
    parser.add_argument("--shard", type=int, default=250, help="knots a shard (250)")
    args = parser.parse_args(argv)
    try:
        import snappy  # noqa: F401
    except ImportError:
        print("knot_data: SnapPy is not installed; `make knot-data` installs kanlab's "
              "optional 'knots' extra first", file=sys.stderr)
        return 2
    generate(args.out, args.knots, args.seed, args.workers, args.shard)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
