"""Shared helpers for the benchmark scripts: interleaved timing, the load average, tables.

Timings on a shared machine drift by tens of percent within a minute, so the timing benchmarks
do not time one library after the other: :func:`interleaved_times` gives every callable a turn
in each of many rounds (the order rotating), so that a burst of noise hits all of them alike,
and reports the minimum (the least disturbed round) next to the median. :class:`LoadWatch`
records the 1-minute load average before and after and the CPU other processes used meanwhile;
its line in every table warns when the machine was not quiet.
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import resource
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch

RESULTS_DIR = Path(__file__).resolve().parent / "results"
#: other processes keeping more cores than this busy (on average) mark a run as not quiet
QUIET_LOAD = 0.5
#: shorter blocks are judged by the load average alone (``/proc/stat`` counts 10 ms ticks)
MIN_WATCH_SECONDS = 1.0


@dataclass(frozen=True)
class Timing:
    """Seconds per call of one callable: one value per interleaved round.

    ``per_round[r]`` is round ``r``'s time for ``calls`` back-to-back calls divided by
    ``calls``; :attr:`min` is the least disturbed round, :attr:`median` the typical one.
    """

    per_round: tuple[float, ...]
    calls: int

    @property
    def min(self) -> float:
        """The fastest round's seconds per call."""
        return min(self.per_round)

    @property
    def median(self) -> float:
        """The median round's seconds per call."""
        return statistics.median(self.per_round)


def _warm_up(fn: Callable[[], object], calls: int) -> float:
    """Call ``fn`` ``max(calls, 1)`` times (warm-up, not part of the result); return the
    median seconds of one call, the estimate that calibrates the rounds."""
    seconds = []
    for _ in range(max(calls, 1)):
        t0 = time.perf_counter()
        fn()
        seconds.append(time.perf_counter() - t0)
    return statistics.median(seconds)


def _rotated(names: Sequence[str], by: int) -> list[str]:
    """``names`` rotated left by ``by`` places (round ``r`` starts with the ``r``-th name)."""
    k = by % len(names) if names else 0
    return [*names[k:], *names[:k]]


def _time_calls(fn: Callable[[], object], calls: int) -> float:
    """Seconds per call of ``calls`` back-to-back calls of ``fn``."""
    t0 = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - t0) / calls


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Keep the garbage collector off until the block ends (collect with :func:`gc.collect`
    between timed stretches, so that cyclic garbage cannot pile up)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def interleaved_times(
    fns: Mapping[str, Callable[[], object]],
    *,
    rounds: int = 30,
    min_time: float = 1.0,
    warmup: int = 3,
) -> dict[str, Timing]:
    """Time several callables in interleaved rounds; a :class:`Timing` per name.

    Each callable is first called ``warmup`` times (at least once) untimed; the median of those
    calls sets its number of calls per round, so that its ``rounds`` rounds together take about
    ``min_time`` seconds (at least one call per round). Then, in each of ``rounds`` rounds,
    every callable runs its calls back to back, and the round's time divided by the calls is
    one sample. The order of the callables rotates from round to round, so each takes each
    place in turn and a slow spell of the machine falls on all of them alike. The garbage
    collector is off while a round runs (as in :mod:`timeit`) and collects, untimed, before
    each round.

    The whole measurement takes about ``len(fns) * min_time`` seconds plus the warm-up (more
    where one call takes longer than ``min_time / rounds``).
    """
    if rounds < 1:
        raise ValueError(f"rounds must be at least 1, got {rounds}")
    names = list(fns)
    calls = {}
    for name in names:
        one = max(_warm_up(fns[name], warmup), 1e-7)
        calls[name] = max(1, round(min_time / rounds / one))
    samples: dict[str, list[float]] = {name: [] for name in names}
    with _gc_paused():
        for r in range(rounds):
            gc.collect()
            for name in _rotated(names, r):
                samples[name].append(_time_calls(fns[name], calls[name]))
    return {name: Timing(tuple(samples[name]), calls[name]) for name in names}


def _machine_busy_seconds() -> float | None:
    """CPU seconds the whole machine has spent busy so far, all cores together (user, nice,
    system, irq, softirq and steal ticks of ``/proc/stat``); ``None`` where unreadable."""
    try:
        with open("/proc/stat") as f:
            fields = f.readline().split()
        ticks = [int(v) for v in fields[1:9]]  # user nice system idle iowait irq softirq steal
    except (OSError, ValueError):
        return None
    if fields[0] != "cpu" or len(ticks) < 8:
        return None
    return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")


def _own_cpu_seconds() -> float:
    """CPU seconds of this process (all threads) and of its finished children so far."""
    usages = (resource.getrusage(resource.RUSAGE_SELF),
              resource.getrusage(resource.RUSAGE_CHILDREN))
    return sum(u.ru_utime + u.ru_stime for u in usages)


class LoadWatch:
    """How busy the machine was around a measurement.

    Use as a context around the measurement (``with LoadWatch() as load: ...``), then put
    :meth:`line` in the table's header text. It records the 1-minute load average when the block
    starts (:attr:`before`) and ends (:attr:`after`), and, where ``/proc/stat`` can be read,
    :attr:`others`: the mean number of cores that other processes (and the hypervisor's steal)
    kept busy during the block, i.e. the machine's busy CPU time less this process's and its
    finished children's, over the wall time.

    The run counts as quiet when :attr:`others` is at most :data:`QUIET_LOAD` (without
    ``/proc/stat``, or for a block shorter than :data:`MIN_WATCH_SECONDS`: when neither load
    reading is above it). The load average alone cannot tell:
    ``after`` includes the benchmark's own threads (a one-thread run of a minute or more brings
    it near 1 on an idle machine), and ``before`` still counts whatever finished just before
    (the previous benchmark of ``make bench``).
    """

    def __init__(self) -> None:
        self.before: float | None = None
        self.after: float | None = None
        self.others: float | None = None
        self._start: tuple[float, float | None, float] | None = None

    def __enter__(self) -> LoadWatch:
        self.before = os.getloadavg()[0]
        self._start = (time.perf_counter(), _machine_busy_seconds(), _own_cpu_seconds())
        return self

    def __exit__(self, *exc: object) -> None:
        self.after = os.getloadavg()[0]
        t0, busy0, own0 = self._start
        wall, busy = time.perf_counter() - t0, _machine_busy_seconds()
        if busy0 is not None and busy is not None and wall >= MIN_WATCH_SECONDS:
            self.others = max(0.0, (busy - busy0 - (_own_cpu_seconds() - own0)) / wall)

    @property
    def quiet(self) -> bool:
        """Whether other processes left the machine to this run (see the class docstring)."""
        if self.others is not None:
            return self.others <= QUIET_LOAD
        return all(x is None or x <= QUIET_LOAD for x in (self.before, self.after))

    def line(self) -> str:
        """The markdown line for a table's header: the readings, and a warning if busy."""
        before = "n/a" if self.before is None else f"{self.before:.2f}"
        after = "n/a" if self.after is None else f"{self.after:.2f}"
        load = f"1-minute load average {before} → {after}"
        if self.others is None:
            if self.quiet:
                return f"{load} (quiet)"
            return (f"**warning: {load}, above {QUIET_LOAD}: timings are not from a quiet "
                    "machine**")
        others = f"other processes kept {self.others:.2f} cores busy on average during the run"
        if self.quiet:
            return f"{load} (the end includes this run's own threads); {others} (quiet)"
        return (f"**warning: {others} (above {QUIET_LOAD}; {load}): timings are not from a "
                "quiet machine**")


@contextmanager
def in_temp_cwd() -> Iterator[None]:
    """Run a block from an empty temporary directory (pykan may write ``./model``)."""
    old = os.getcwd()
    with tempfile.TemporaryDirectory(prefix="kanlab-bench-") as tmp:
        os.chdir(tmp)
        try:
            yield
        finally:
            os.chdir(old)


def threads_text() -> str:
    """torch's thread count and the ``OMP_NUM_THREADS`` it started under."""
    omp = os.environ.get("OMP_NUM_THREADS", "unset")
    return f"torch threads {torch.get_num_threads()} (OMP_NUM_THREADS={omp})"


def env_line() -> str:
    """One line naming the machine, the thread count and library versions (not the load:
    see :class:`LoadWatch`)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        pykan = version("pykan")
    except PackageNotFoundError:
        pykan = "not installed"
    return (
        f"torch {torch.__version__}, {threads_text()}, "
        f"cpu count {os.cpu_count()}, python {platform.python_version()}, "
        f"{platform.machine()}, pykan {pykan}"
    )


def header_lines(load: LoadWatch) -> list[str]:
    """The environment line and the load line (with its warning), for a result's header."""
    return [f"Environment: {env_line()}", "", f"Load: {load.line()}"]


def parse_shapes(text: str) -> list[tuple[int, int, int]]:
    """``"64x64x4096,784x64x256"`` -> ``[(64, 64, 4096), (784, 64, 256)]`` (an argparse
    ``type``: a malformed shape raises :class:`argparse.ArgumentTypeError`)."""
    shapes = []
    for item in filter(None, (s.strip() for s in text.split(","))):
        parts = item.lower().split("x")
        if len(parts) != 3 or not all(p.isdigit() and int(p) > 0 for p in parts):
            raise argparse.ArgumentTypeError(
                f"shape {item!r} is not INxOUTxBATCH of positive integers, e.g. 64x64x4096")
        shapes.append((int(parts[0]), int(parts[1]), int(parts[2])))
    return shapes


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A GitHub markdown table (numbers right-aligned)."""
    lines = ["| " + " | ".join(header) + " |"]
    lines.append("|" + "|".join("---:" if i else "---" for i in range(len(header))) + "|")
    for row in rows:
        lines.append("| " + " | ".join(str(c) for c in row) + " |")
    return "\n".join(lines)


def write_result(name: str, text: str) -> Path:
    """Write ``text`` to ``benchmarks/results/<name>`` and return the path."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / name
    path.write_text(text if text.endswith("\n") else text + "\n")
    return path


def fmt(x: float | None, digits: int = 3) -> str:
    """Format a number with ``digits`` significant digits, or ``n/a``."""
    if x is None or x != x:
        return "n/a"
    return f"{x:.{digits}g}"


def ratio(a: float | None, b: float | None) -> str:
    """``a / b`` to two decimals, or ``n/a`` when either is missing or ``b`` is zero."""
    return "n/a" if a is None or b is None or b == 0 else f"{a / b:.2f}"


#: (rounds, seconds per variant over all rounds) of a full and of a quick run
FULL_ROUNDS, QUICK_ROUNDS = (30, 1.0), (5, 0.1)


def add_round_options(parser: argparse.ArgumentParser) -> None:
    """``--quick`` and ``--rounds``, the options of every interleaved benchmark."""
    parser.add_argument("--quick", action="store_true",
                        help=f"{QUICK_ROUNDS[0]} rounds of {QUICK_ROUNDS[1]:g} s (a smoke test)")
    parser.add_argument("--rounds", type=int, default=None,
                        help=f"interleaved rounds ({FULL_ROUNDS[0]}; quick: {QUICK_ROUNDS[0]})")


def rounds_of(args: argparse.Namespace) -> tuple[int, float]:
    """``(rounds, min_time)`` that ``--quick`` and ``--rounds`` ask for."""
    rounds, min_time = QUICK_ROUNDS if args.quick else FULL_ROUNDS
    return args.rounds or rounds, min_time


def mode_text(rounds: int, quick: bool) -> str:
    """The title's word for the run: a full run, or a quick smoke test."""
    return f"quick, {rounds} rounds: a smoke test, not a result" if quick else "full"
