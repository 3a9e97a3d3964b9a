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
and longitudinal (real) translations; the symmetry group; the degree of the hyperbolic torsion
polynomial (:func:`torsion_degree`); the signature. Not computed: the adjoint torsion degree.
A knot
whose invariants fail keeps its row with the reason in ``status`` (1 of the default 10,000:
K9a41, whose census triangulation has flat tetrahedra, so no cusp neighbourhood); the loader
leaves such rows out.

The short geodesic and the injectivity radius (:data:`GEODESIC_COLUMNS`, :func:`geodesics`) need
a Dirichlet domain, which SnapPy's defaults fail to build for most 15-crossing knots: they are
computed for every ``--geodesics-every``-th knot of the sample (5: 2,000 of the default 10,000),
each under a time cap (``--geodesic-seconds``, 5), in ``<out>/geodesic_shards_every<K>/`` beside
the other shards (resumable the same way), and merged into the table with a ``geodesic_status``
column: ``ok``, ``not attempted``, ``failed`` (no domain in :data:`GEODESIC_TRIES`
triangulations) or ``timed out``. They are computed in a forked child process (the cap kills a
SnapPy call that hangs), so on Linux or macOS.

SnapPy and its census are GPL packages in kanlab's optional ``knots`` extra; the library
never imports them (only this script does). Run ``python experiments/knot_data.py --help``.
"""

from __future__ import annotations

import argparse
import csv
import json
import multiprocessing
import os
import select
import signal
import sys
import time
from dataclasses import dataclass
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
    "torsion_degree": ("the degree of the hyperbolic torsion polynomial (Dunfield-Friedl-Jackson; "
                       "Fox calculus on SnapPy's presentation and holonomy lifted to SL(2, C), "
                       "double precision or 40-digit mpmath where double's noise is too high)"),
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
        "torsion_degree": torsion_degree(manifold),
        "signature": signature(manifold.link()),
        "status": "ok",
    }


# -- the short geodesic and the injectivity radius (a Dirichlet domain) ---------------------

GEODESIC_COLUMNS = {
    "short_geodesic_real": "the shortest closed geodesic's length: the real part of its complex "
                           "length (the Dirichlet domain's length spectrum)",
    "short_geodesic_imag": "its torsion: the imaginary part, in (-pi, pi] (of two mirror "
                           "geodesics of one length, the larger)",
    "injectivity_radius": "the Dirichlet domain's in-radius: the injectivity radius at its "
                          "basepoint, which SnapPy moves to a local maximum of it (so it can "
                          "differ a little between triangulations)",
    "geodesic_status": "ok; 'not attempted' (only every --geodesics-every-th knot is); 'failed' "
                       "(no Dirichlet domain in GEODESIC_TRIES triangulations); 'timed out'",
}
#: how many triangulations (SnapPy's first, then randomized ones) a Dirichlet domain is tried on
GEODESIC_TRIES = 200


def geodesics(manifold, tries: int = GEODESIC_TRIES) -> dict | None:
    """The short geodesic's complex length and the injectivity radius of one knot complement,
    from the first of ``tries`` triangulations whose Dirichlet domain SnapPy builds; None when
    none does. (SnapPy's default triangulation fails for most 15-crossing knots; a randomized
    one often succeeds within tens of tries.)"""
    m = manifold.copy()
    for _ in range(tries):
        try:
            domain = m.dirichlet_domain()
            break
        except RuntimeError:  # "The Dirichlet construction failed."
            m.randomize()
    else:
        return None
    radius = float(domain.in_radius())
    # a loop of length 2r at the basepoint: the shortest geodesic is at most that long unless
    # the loop is peripheral, so the cutoff grows until the spectrum has a geodesic
    cutoff = 2 * radius + 0.1
    while not (spectrum := domain.length_spectrum_dicts(cutoff_length=cutoff)):
        if cutoff > 20:
            return None
        cutoff *= 2
    lengths = [complex(g.length) for g in spectrum]
    shortest = min(z.real for z in lengths)
    torsion = max(z.imag for z in lengths if z.real <= shortest + 1e-9)
    return {"short_geodesic_real": shortest, "short_geodesic_imag": torsion,
            "injectivity_radius": radius}


def with_time_cap(function, seconds: float):
    """``function()``'s value (JSON-able), computed in a forked child that is killed after
    ``seconds``: ``(value, "ok")``, or ``(None, "timed out")``, or ``(None, "failed: ...")``
    when the child raised or died."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: compute, send, and leave without running the parent's code
        try:
            os.close(read)
            try:
                message = json.dumps(["ok", function()])
            except BaseException as err:  # noqa: BLE001 -- reported to the parent
                message = json.dumps([f"failed: {type(err).__name__}", None])
            os.write(write, message.encode())
        finally:
            os._exit(0)
    os.close(write)
    chunks, deadline = [], time.monotonic() + seconds
    try:
        while (left := deadline - time.monotonic()) > 0 and select.select([read], [], [],
                                                                          left)[0]:
            chunk = os.read(read, 1 << 16)
            if not chunk:
                break
            chunks.append(chunk)
        else:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return None, "timed out"
    finally:
        os.close(read)
    os.waitpid(pid, 0)
    try:
        status, value = json.loads(b"".join(chunks))
    except ValueError:
        return None, "failed: the child died"
    return value, status


def geodesic_row(index: int, attempt: bool, seconds: float, knots=None) -> dict:
    """Knot ``index``'s geodesic columns (empty but for the status unless computed)."""
    row = dict.fromkeys(GEODESIC_COLUMNS, "")
    row["census_index"] = int(index)
    if not attempt:
        row["geodesic_status"] = "not attempted"
        return row
    knots = census() if knots is None else knots
    manifold = knots[int(index)]
    value, status = with_time_cap(lambda: geodesics(manifold), seconds)
    if status == "ok" and value is None:
        status = "failed"
    row["geodesic_status"] = status
    if value is not None:
        row.update(value)
    return row


# -- the hyperbolic torsion polynomial's degree (Dunfield, Friedl and Jackson 2012) ----------
#
# For a presentation <x_1..x_n | r_1..r_{n-1}> of the knot group, a lift rho to SL(2, C) of the
# holonomy and the abelianisation x_j -> t^{a_j}, the torsion is
# tau(t) = det(Phi(dr_i/dx_j))_{j != k} / det(Phi(x_k) - I), Phi(g) = t^{a(g)} rho(g), with
# Fox derivatives dr/dx_j. The numerator is a Laurent polynomial in t: its values at K points
# of the unit circle give its coefficients by one inverse DFT; the degree of tau is the span
# of the numerator's nonzero coefficients less the denominator's, 2 |a_k|. In double precision
# when the coefficients stand clearly above the rounding noise, else again in mpmath.

def torsion_degree(manifold) -> int:
    """The degree (highest minus lowest power) of the knot's hyperbolic torsion polynomial."""
    group = manifold.high_precision().fundamental_group()
    gens, rels = group.generators(), group.relators()
    a = _abelianisation(gens, rels, group.peripheral_curves()[0][0])
    rho = _lift(group, gens, rels)
    k = min((j for j in range(len(gens)) if a[j] != 0), key=lambda j: abs(a[j]))
    points = 1 << int(np.ceil(np.log2(_span_bound(gens, rels, a) + 4)))
    for evaluate in (_numerator_values, _numerator_values_mp):
        magnitudes = np.abs(np.fft.ifft(evaluate(gens, rels, rho, a, k, points)))
        span, clear = _span(magnitudes)
        if clear:
            return span - 2 * abs(a[k])
    raise ArithmeticError("the torsion's coefficients do not stand out of the rounding noise")


def _abelianisation(gens: list[str], rels: list[str], meridian: str) -> list[int]:
    """a_j: x_j -> t^{a_j}, the kernel of the relators' exponent sums, the meridian -> t."""
    import sympy

    sums = sympy.Matrix([[r.count(g) - r.count(g.upper()) for g in gens] for r in rels])
    (v,) = sums.nullspace()
    v = v * sympy.ilcm(*[x.q for x in v])
    a = [int(x) // sympy.igcd(*[int(y) for y in v]) for x in v]
    m = sum(a[gens.index(c.lower())] * (1 if c.islower() else -1) for c in meridian)
    if abs(m) != 1:
        raise ArithmeticError(f"the meridian maps to t^{m}, not t^1")
    return [x * m for x in a]


def _lift(group, gens: list[str], rels: list[str]) -> dict[str, list]:
    """SnapPy's SL(2, C) matrices of the generators, signs flipped so that every relator
    maps to +I (SnapPy's lift may send some to -I: then it is no representation)."""
    import itertools

    minus = [float(group.SL2C(r)[0, 0].real()) < 0 for r in rels]
    parity = [[(r.count(g) - r.count(g.upper())) % 2 for g in gens] for r in rels]
    for flips in itertools.product((0, 1), repeat=len(gens)):
        if all(sum(p * f for p, f in zip(row, flips)) % 2 == m for row, m in zip(parity, minus)):
            break
    else:
        raise ArithmeticError("no sign choice lifts the holonomy to SL(2, C)")
    out = {}
    for g, flip in zip(gens, flips):
        m = group.SL2C(g)
        out[g] = [[(-1) ** flip * m[i, j] for j in range(2)] for i in range(2)]
    return out


def _span_bound(gens: list[str], rels: list[str], a: list[int]) -> int:
    """An upper bound on the numerator's span: each relator's two rows of the Fox matrix hold
    powers of t within its prefixes' range."""
    bound = 0
    for r in rels:
        e = lo = hi = 0
        for c in r:
            e += a[gens.index(c.lower())] * (1 if c.islower() else -1)
            lo, hi = min(lo, e), max(hi, e)
        bound += 2 * (hi - lo)
    return bound


def _fox_matrix(gens, rels, phi, eye, add):
    """The Fox matrix's 2x2 blocks [relator][generator], from Phi of each letter."""
    blocks = [[None] * len(gens) for _ in rels]
    for i, r in enumerate(rels):
        prefix = eye
        for c in r:
            j = gens.index(c.lower())
            if c.islower():
                blocks[i][j] = add(blocks[i][j], prefix)
                prefix = prefix @ phi[c]
            else:
                prefix = prefix @ phi[c]
                blocks[i][j] = add(blocks[i][j], -prefix)
    return blocks


def _numerator_values(gens, rels, rho, a, k, points) -> np.ndarray:
    """det of the Fox matrix without generator k's columns at t = e^{i pi (2q + 1) / points},
    q = 0..points-1, in double precision (all points at once)."""
    t = np.exp(1j * np.pi * (2 * np.arange(points) + 1) / points)[:, None, None]
    phi = {}
    for g, ag in zip(gens, a):
        m = np.array([[complex(x) for x in row] for row in rho[g]])
        phi[g], phi[g.upper()] = t**ag * m, t ** (-ag) * np.linalg.inv(m)
    eye = np.broadcast_to(np.eye(2, dtype=complex), (points, 2, 2))
    zero = np.zeros((points, 2, 2), dtype=complex)
    blocks = _fox_matrix(gens, rels, phi, eye, lambda s, m: m if s is None else s + m)
    rows = [np.concatenate([zero if b is None else b for j, b in enumerate(row) if j != k],
                           axis=2) for row in blocks]
    return np.linalg.det(np.concatenate(rows, axis=1))


def _numerator_values_mp(gens, rels, rho, a, k, points, digits: int = 40) -> np.ndarray:
    """The same in mpmath at ``digits`` digits, point by point (SnapPy's high-precision
    holonomy holds about 63); returned rounded to complex numbers."""
    import mpmath

    with mpmath.workdps(digits):
        def mp(x):
            return mpmath.mpc(mpmath.mpf(str(x.real()).replace(" ", "")),
                              mpmath.mpf(str(x.imag()).replace(" ", "")))

        mats = {g: mpmath.matrix([[mp(x) for x in row] for row in rho[g]]) for g in gens}
        values = []
        for q in range(points):
            t = mpmath.expjpi(mpmath.mpf(2 * q + 1) / points)
            phi = {}
            for g, ag in zip(gens, a):
                phi[g], phi[g.upper()] = mats[g] * t**ag, mats[g] ** -1 * t ** (-ag)
            blocks = _fox_matrix(gens, rels, phi, mpmath.eye(2),
                                 lambda s, m: m if s is None else s + m)
            n = 2 * len(rels)
            square = mpmath.zeros(n, n)
            for i, row in enumerate(blocks):
                col = 0
                for j, b in enumerate(row):
                    if j == k:
                        continue
                    for x in range(2):
                        for y in range(2):
                            square[2 * i + x, col + y] = 0 if b is None else b[x, y]
                    col += 2
            values.append(complex(mpmath.det(square)))
    return np.array(values)


def _span(magnitudes: np.ndarray) -> tuple[int, bool]:
    """The span of the nonzero coefficients (a cyclic window of the DFT's), and whether they
    stand clear of the rounding noise: the largest step between sorted log-magnitudes splits
    coefficients from noise; clear when it is 4 decades or more and the noise below 1e-9 of
    the largest coefficient."""
    logs = np.log10(np.maximum(magnitudes / magnitudes.max(), 1e-20))  # (exact zeros occur)
    ordered = np.sort(logs)
    steps = np.diff(ordered)
    i = int(np.argmax(steps))
    zeros = logs <= ordered[i]
    clear = bool(steps[i] >= 4 and ordered[i] < -9)
    run = longest = 0
    for z in np.concatenate([zeros, zeros]):
        run = run + 1 if z else 0
        longest = max(longest, min(run, len(logs)))
    return len(logs) - 1 - longest, clear

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


def shard_path(folder: Path, shard: int) -> Path:
    return folder / f"{shard:05d}.csv"


@dataclass(frozen=True)
class ShardJob:
    """One block of the sample for one pass: ``kind`` "invariants" (:func:`knot_row`) or
    "geodesics" (:func:`geodesic_row` for the knots whose position in the sample is a multiple
    of ``every``, each capped at ``seconds``), written to ``folder``."""

    kind: str
    folder: str
    shard: int
    indices: tuple[int, ...]
    first_position: int
    every: int = 0
    seconds: float = 0.0

    @property
    def columns(self) -> list[str]:
        if self.kind == "invariants":
            return list(COLUMNS)
        return ["census_index", *GEODESIC_COLUMNS]

    def rows(self) -> list[dict]:
        knots = census()
        if self.kind == "invariants":
            return [knot_row(i, knots) for i in self.indices]
        return [geodesic_row(i, (self.first_position + j) % self.every == 0, self.seconds, knots)
                for j, i in enumerate(self.indices)]

    def path(self) -> Path:
        return shard_path(Path(self.folder), self.shard)

    def write(self) -> float:
        """Compute and write the rows (whole: a temporary file renamed); the seconds taken."""
        start = time.perf_counter()
        rows = self.rows()
        path = self.path()
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        _write_csv(tmp, rows, self.columns)
        os.replace(tmp, path)
        return time.perf_counter() - start

    def done(self) -> bool:
        """A shard file that is there, whole, holds exactly these knots and this version's
        columns (a shard of an older table is computed again)."""
        try:
            with self.path().open(newline="") as f:
                reader = csv.DictReader(f)
                got = [int(r["census_index"]) for r in reader]
                columns = reader.fieldnames
        except (OSError, ValueError, KeyError, TypeError, csv.Error):
            return False
        return columns == self.columns and got == list(self.indices)

    def read(self) -> list[dict]:
        with self.path().open(newline="") as f:
            return list(csv.DictReader(f))


def _write_csv(path: Path, rows: list[dict], columns: list[str]) -> None:
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)


def _run_job(job: ShardJob) -> tuple[ShardJob, float]:
    return job, job.write()


def _run_jobs(todo: list[ShardJob], workers: int):
    """The jobs with their seconds as they finish: in this process for one worker, else in a
    pool of ``workers`` fresh processes."""
    if workers == 1 or len(todo) <= 1:
        yield from map(_run_job, todo)
        return
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        yield from pool.imap_unordered(_run_job, todo)


def generate(out: Path, n: int, seed: int, workers: int = 2, shard_size: int = 250,
             geodesics_every: int = 5, geodesic_seconds: float = 5.0, say=print) -> dict:
    """The whole table in ``out`` (see the module's docstring); returns the manifest."""
    if workers < 1 or shard_size < 1:
        raise ValueError(f"workers and shard size must be at least 1; got {workers}, {shard_size}")
    if geodesics_every < 0 or geodesic_seconds <= 0:
        raise ValueError(f"--geodesics-every must be >= 0 (0: none) and --geodesic-seconds > 0; "
                         f"got {geodesics_every}, {geodesic_seconds}")
    start = time.perf_counter()
    knots = census()
    total = len(knots)
    indices = sample(n, seed, total)
    blocks = [(i, tuple(indices[i:i + shard_size].tolist())) for i in range(0, n, shard_size)]
    base = [ShardJob("invariants", str(out / "shards"), s, b, i)
            for s, (i, b) in enumerate(blocks)]
    geo = [ShardJob("geodesics", str(out / f"geodesic_shards_every{geodesics_every}"), s, b, i,
                    geodesics_every, geodesic_seconds)
           for s, (i, b) in enumerate(blocks)] if geodesics_every else []
    for job in (*base[:1], *geo[:1]):
        Path(job.folder).mkdir(parents=True, exist_ok=True)
    todo = [job for job in (*base, *geo) if not job.done()]
    every = f", the geodesics of one in {geodesics_every}" if geodesics_every else ""
    say(f"{n} knots of {total} (seed {seed}{every}) in {len(base) + len(geo)} shards: "
        f"{len(base) + len(geo) - len(todo)} already there, {len(todo)} to compute on "
        f"{workers} processes")
    seconds = {"invariants": 0.0, "geodesics": 0.0}
    for done, (job, secs) in enumerate(_run_jobs(todo, workers), 1):
        seconds[job.kind] += secs
        say(f"{job.kind} shard {job.shard} ({len(job.indices)} knots) in {secs:.1f} s "
            f"[{done}/{len(todo)}]")
    rows = [row for job in base for row in job.read()]
    extra = [row for job in geo for row in job.read()] or [
        {"census_index": r["census_index"], "geodesic_status": "not attempted"} for r in rows]
    for row, more in zip(rows, extra, strict=True):
        assert row["census_index"] == more["census_index"], "shards out of step"
        row.update({c: more.get(c, "") for c in GEODESIC_COLUMNS})
    table = out / "knots.csv"
    tmp = table.with_suffix(".tmp")
    _write_csv(tmp, rows, [*COLUMNS, *GEODESIC_COLUMNS])
    os.replace(tmp, table)
    statuses = [r["geodesic_status"] for r in rows]
    manifest = {
        "knots": n,
        "rows_ok": sum(r["status"] == "ok" for r in rows),
        "seed": seed,
        "census": "snappy.HTLinkExteriors(num_cusps=1)",
        "census_size": total,
        "sign_convention": SIGN_CONVENTION,
        "columns": {**COLUMNS, **GEODESIC_COLUMNS},
        "not_computed": ["adjoint torsion degree"],
        "geodesics": {"every": geodesics_every, "seconds_cap": geodesic_seconds,
                      "tries": GEODESIC_TRIES,
                      "status": {s: statuses.count(s) for s in sorted(set(statuses))}},
        "packages": {p: _version(p) for p in PACKAGES},
        "seconds_this_run": round(time.perf_counter() - start, 1),
        "shard_seconds_this_run": {k: round(v, 1) for k, v in seconds.items()},
        "workers": workers,
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    say(f"wrote {table} ({manifest['rows_ok']} of {n} rows ok; geodesics "
        f"{manifest['geodesics']['status']}) in {manifest['seconds_this_run']} s")
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
    parser.add_argument("--geodesics-every", type=int, default=5,
                        help="the short geodesic and injectivity radius of every K-th knot "
                             "(5; 0: none)")
    parser.add_argument("--geodesic-seconds", type=float, default=5.0,
                        help="the time cap on one knot's geodesics (5)")
    args = parser.parse_args(argv)
    try:
        import snappy  # noqa: F401
    except ImportError:
        print("knot_data: SnapPy is not installed; `make knot-data` installs kanlab's "
              "optional 'knots' extra first", file=sys.stderr)
        return 2
    generate(args.out, args.knots, args.seed, args.workers, args.shard,
             args.geodesics_every, args.geodesic_seconds)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
