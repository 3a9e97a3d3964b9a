"""One KAN layer, float32 on CPU: kanlab ``KANLinear`` vs pykan 0.2.8 ``KAN`` vs a dense floor.

For each (in, out, batch) the three models are timed side by side in one process:

* kanlab: ``kanlab.KANLinear(in, out, grid_size=5, spline_order=3)``
* pykan: ``KAN(width=[in, out], grid=5, k=3, auto_save=False, seed=0).speed()``
  (``speed()`` returns the model itself in 0.2.8: it turns off symbolic branch, activation
  saving and auto-save)
* floor: ``torch.nn.Linear(in·(G+k+1), out)`` on an input ``(batch, in·(G+k+1))``, the GEMM a
  KAN layer cannot avoid (``G + k`` spline bases plus the base branch per input).

Timing: per shape and per pass (forward under ``no_grad``; forward + backward), the models take
turns in interleaved rounds (``_common.interleaved_times``: 30 rounds, the order rotating, each
model's calls per round calibrated to about 1 s over all rounds; ``--quick``: 5 rounds of
0.1 s), and the table gives the minimum and the median over the rounds. The 1-minute load
average before and after and the thread count are in the header; a load above 0.5 is flagged.

Usage: ``python benchmarks/bench_layer.py [--quick] [--rounds N] [--shapes 64x64x4096,...]
[--threads N]`` writes ``benchmarks/results/layer.md`` (a full run of the default shapes only:
``--quick`` and ``--shapes`` print); ``--profile 64x64x4096,784x64x256``
instead writes the torch profiler's tables of kanlab's forward, backward and forward + backward
at those shapes to ``benchmarks/results/layer_profile.md``.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable

import torch
from _common import (
    LoadWatch,
    Timing,
    add_round_options,
    fmt,
    header_lines,
    in_temp_cwd,
    interleaved_times,
    markdown_table,
    mode_text,
    parse_shapes,
    ratio,
    rounds_of,
    threads_text,
    write_result,
)
from torch import nn

from kanlab.splines import native

G, K = 5, 3
SHAPES = [(2, 5, 1000), (64, 64, 4096), (256, 256, 1024), (784, 64, 256)]
MB = 2.0**20
#: (rounds, seconds per model over all rounds) of a full and a quick run
PASSES = ("fwd", "f+b")
PROFILE_CALLS = 5


def make_models(n_in: int, n_out: int) -> dict[str, tuple[nn.Module, int]]:
    """The three models and the width of the input each expects."""
    import kanlab

    models: dict[str, tuple[nn.Module, int]] = {}
    gen = torch.Generator().manual_seed(0)
    models["kanlab"] = (
        kanlab.KANLinear(n_in, n_out, grid_size=G, spline_order=K, generator=gen),
        n_in,
    )
    try:
        from kan import KAN

        state = torch.random.get_rng_state()
        with in_temp_cwd():
            pk = KAN(width=[n_in, n_out], grid=G, k=K, auto_save=False, seed=0)
            pk = pk.speed()  # 0.2.8: returns self (torch.compile'd only with compile=True)
        torch.random.set_rng_state(state)  # pykan seeds the global RNGs; undo for the others
        models["pykan"] = (pk, n_in)
    except ImportError:
        pass
    models["floor"] = (nn.Linear(n_in * (G + K + 1), n_out), n_in * (G + K + 1))
    return models


def _fwd_bwd(model: nn.Module, x: torch.Tensor, g: torch.Tensor) -> Callable[[], None]:
    """One training step's layer work: forward, then ``backward(g)``; grads reset to None."""
    params = [p for p in model.parameters() if p.requires_grad]

    def step() -> None:
        for p in params:
            p.grad = None
        x.grad = None
        model(x).backward(g)

    return step


def _allocation_trace(step: Callable[[], object]) -> list[tuple[int, int, int]] | None:
    """``(time, size, running total)`` of every CPU allocation and free during one call of
    ``step``, in order, from the profiler's trace (``profile_memory=True``); None if that
    trace is unavailable (a private API)."""
    try:
        from torch._C._profiler import _EventType
        from torch.profiler import ProfilerActivity, profile

        with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
            step()
        events = []
        stack = list(prof.profiler.kineto_results.experimental_event_tree())
        while stack:
            node = stack.pop()
            if node.tag == _EventType.Allocation and node.extra_fields.device.type == "cpu":
                f = node.extra_fields
                events.append((node.start_time_ns, f.alloc_size, f.total_allocated))
            stack.extend(node.children)
    except Exception:  # noqa: BLE001 - private API; report n/a rather than fail
        return None
    return sorted(events) or None


def peak_alloc_bytes(step: Callable[[], object]) -> int | None:
    """Peak CPU bytes allocated above the starting level during one call of ``step``."""
    events = _allocation_trace(step)
    if events is None:
        return None
    base = events[0][2] - events[0][1]  # total before the first event
    return max(total for _, _, total in events) - base


def held_bytes(model: nn.Module, x: torch.Tensor) -> int | None:
    """Bytes a forward allocates and still holds when it returns: the output and whatever the
    graph keeps for the backward, however it keeps it (saved tensors or not)."""
    kept: list[torch.Tensor] = []
    events = _allocation_trace(lambda: kept.append(model(x)))
    if events is None:
        return None
    base = events[0][2] - events[0][1]
    return events[-1][2] - base


def _inputs(batch: int, width: int) -> torch.Tensor:
    """The benchmark's fixed input: uniform on [-1, 1], seed 1."""
    gen = torch.Generator().manual_seed(1)
    return torch.rand(batch, width, generator=gen) * 2 - 1


def _pass_calls(
    models: dict[str, tuple[nn.Module, int]], batch: int
) -> dict[str, dict[str, Callable[[], object]]]:
    """Per pass, one closure per model: ``fwd`` (to be run under ``no_grad``) and ``f+b``."""
    calls: dict[str, dict[str, Callable[[], object]]] = {"fwd": {}, "f+b": {}}
    for name, (model, width) in models.items():
        x = _inputs(batch, width)
        calls["fwd"][name] = lambda model=model, x=x: model(x)
        with torch.no_grad():
            g = torch.ones_like(model(x))
        calls["f+b"][name] = _fwd_bwd(model, x.clone().requires_grad_(True), g)
    return calls


def time_shape(
    models: dict[str, tuple[nn.Module, int]], batch: int, rounds: int, min_time: float
) -> dict[str, dict[str, Timing]]:
    """Interleaved timings of every model, per pass (``fwd`` under ``no_grad``, ``f+b``)."""
    calls = _pass_calls(models, batch)
    with torch.no_grad():
        fwd = interleaved_times(calls["fwd"], rounds=rounds, min_time=min_time)
    fb = interleaved_times(calls["f+b"], rounds=rounds, min_time=min_time)
    return {"fwd": fwd, "f+b": fb}


def memory_shape(
    models: dict[str, tuple[nn.Module, int]], batch: int
) -> dict[str, tuple[float | None, float]]:
    """``(peak MiB, held MiB)`` of one forward + backward of every model."""
    out = {}
    for name, (model, width) in models.items():
        x = _inputs(batch, width).requires_grad_(True)
        with torch.no_grad():
            g = torch.ones_like(model(x))
        peak = peak_alloc_bytes(_fwd_bwd(model, x, g))
        held = held_bytes(model, x)
        out[name] = (None if peak is None else peak / MB, None if held is None else held / MB)
    return out


def _ms(t: Timing | None) -> tuple[float | None, float | None]:
    """``(min, median)`` milliseconds per call, or ``(None, None)`` for a missing model."""
    return (None, None) if t is None else (t.min * 1e3, t.median * 1e3)


def time_row(shape: str, pass_: str, timings: dict[str, Timing]) -> list[object]:
    """One row of the time table: min and median of each model, and their ratios."""
    (kl, kl_med), (fl, fl_med) = _ms(timings["kanlab"]), _ms(timings["floor"])
    pk, pk_med = _ms(timings.get("pykan"))
    return [shape, pass_, fmt(kl), fmt(kl_med), fmt(fl), fmt(fl_med),
            ratio(kl, fl), ratio(kl_med, fl_med),
            fmt(pk), fmt(pk_med), ratio(pk, kl), ratio(pk_med, kl_med)]  # fmt: skip


def memory_row(shape: str, mem: dict[str, tuple[float | None, float]]) -> list[object]:
    """One row of the memory table (peak and held MiB of each model, and their ratios)."""
    kl, pk, fl = mem["kanlab"], mem.get("pykan", (None, None)), mem["floor"]
    row: list[object] = [shape]
    for i in (0, 1):  # peak, then held
        row += [fmt(kl[i]), fmt(pk[i]), fmt(fl[i]), ratio(kl[i], fl[i]), ratio(pk[i], kl[i])]
    return row


def _log_shape(shape: str, timings: dict[str, dict[str, Timing]]) -> None:
    """One progress line per pass on stderr: each model's min / median ms."""
    for pass_, by_model in timings.items():
        parts = "  ".join(f"{name} {t.min * 1e3:.3g}/{t.median * 1e3:.3g}"
                          for name, t in by_model.items())
        print(f"  {shape} {pass_:3s} ms min/median: {parts}", file=sys.stderr)


TIME_HEAD = ["(in, out, batch)", "pass", "kanlab min ms", "kanlab median ms",
             "floor min ms", "floor median ms", "kanlab/floor (min)", "kanlab/floor (median)",
             "pykan min ms", "pykan median ms", "pykan/kanlab (min)",
             "pykan/kanlab (median)"]  # fmt: skip
MEMORY_HEAD = [
    "(in, out, batch)",
    "peak kanlab MB", "peak pykan MB", "peak floor MB", "kanlab/floor", "pykan/kanlab",
    "held kanlab MB", "held pykan MB", "held floor MB", "kanlab/floor", "pykan/kanlab",
]  # fmt: skip


def report(time_rows: list, mem_rows: list, load: LoadWatch, rounds: int, min_time: float,
           quick: bool) -> str:
    """The markdown of ``layer.md``: header, protocol, time table, memory table."""
    mode = mode_text(rounds, quick)
    return "\n".join([
        f"# KAN layer benchmark ({mode}), G={G}, k={K}, float32, CPU",
        "",
        *header_lines(load),
        "",
        f"kanlab's path: {_path_text()}.",
        "",
        "Models: kanlab `KANLinear(in, out, grid_size=5, spline_order=3)`; pykan 0.2.8 "
        "`KAN(width=[in, out], grid=5, k=3, auto_save=False, seed=0).speed()`; floor "
        f"`nn.Linear(in*{G + K + 1}, out)` on a `(batch, in*{G + K + 1})` input.",
        "",
        "## Time (ms per call: minimum and median over interleaved rounds)",
        "",
        "fwd: forward under `torch.no_grad()`. f+b: forward + `backward` of the output with "
        "the input requiring grad (as for a hidden layer), grads reset to None each call. "
        f"Per shape and pass, {rounds} rounds in which kanlab, pykan and the floor take turns "
        "(the order rotating; each model's calls per round calibrated so that its rounds "
        f"take about {min_time:g} s in all; 3 warm-up calls first); ratios are of the minima "
        f"and of the medians. {threads_text()}.",
        "",
        markdown_table(TIME_HEAD, time_rows),
        "",
        "## Memory of one training step (MiB)",
        "",
        "peak: highest CPU bytes allocated above the starting level during one forward + "
        "backward (profiler allocation trace, `profile_memory=True`): output, activations, "
        "temporaries, input and parameter grads. held: bytes the forward allocates and still "
        "holds when it returns (same trace): the output and what the graph keeps for the "
        "backward, saved tensors or not.",
        "",
        markdown_table(MEMORY_HEAD, mem_rows),
        "",
    ])  # fmt: skip


def run(shapes: list[tuple[int, int, int]], rounds: int, min_time: float, quick: bool) -> str:
    """Time and measure every shape; the markdown of ``layer.md``."""
    torch.set_default_dtype(torch.float32)
    time_rows, mem_rows = [], []
    with LoadWatch() as load:
        for n_in, n_out, batch in shapes:
            shape = f"({n_in}, {n_out}, {batch})"
            models = make_models(n_in, n_out)
            timings = time_shape(models, batch, rounds, min_time)
            _log_shape(shape, timings)
            time_rows += [time_row(shape, p, timings[p]) for p in PASSES]
            mem_rows.append(memory_row(shape, memory_shape(models, batch)))
    return report(time_rows, mem_rows, load, rounds, min_time, quick)


def _profile_table(prof, rows: int) -> str:
    """The profiler's table of the top ops by self CPU time."""
    return prof.key_averages().table(
        sort_by="self_cpu_time_total", row_limit=rows, max_name_column_width=64
    )


def profile_kanlab(n_in: int, n_out: int, batch: int, rows: int = 15) -> dict[str, str]:
    """Where kanlab's layer spends its time at one shape: the torch profiler's table (top
    ops by self CPU time over :data:`PROFILE_CALLS` calls, after 3 warm-up steps) of the
    forward under ``no_grad``, of the backward alone (forwards run before the profiler
    starts) and of forward + backward together."""
    from torch.profiler import ProfilerActivity, profile

    model, width = make_models(n_in, n_out)["kanlab"]
    x = _inputs(batch, width).requires_grad_()
    g = torch.ones(batch, n_out)
    step = _fwd_bwd(model, x, g)
    for _ in range(3):
        step()
    tables = {}
    with torch.no_grad(), profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(PROFILE_CALLS):
            model(x)
    tables["forward (no_grad)"] = _profile_table(prof, rows)
    outputs = [model(x) for _ in range(PROFILE_CALLS)]
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for y in outputs:
            y.backward(g)
    tables["backward alone"] = _profile_table(prof, rows)
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(PROFILE_CALLS):
            step()
    tables["forward + backward"] = _profile_table(prof, rows)
    return tables


def profile_report(shapes: list[tuple[int, int, int]]) -> str:
    """The markdown of ``layer_profile.md``: the profiler's tables at every shape."""
    sections = []
    with LoadWatch() as load:
        for n_in, n_out, batch in shapes:
            for title, table in profile_kanlab(n_in, n_out, batch).items():
                sections += ["", f"## ({n_in}, {n_out}, {batch}): {title}", "", "```", table,
                             "```"]
    return "\n".join([
        f"# Where kanlab's KANLinear spends its time (G={G}, k={K}, float32, CPU)",
        "",
        *header_lines(load),
        "",
        f"torch profiler (CPU), top ops by self CPU time over {PROFILE_CALLS} calls after 3 "
        "warm-up steps. backward alone: the forwards run before the profiler starts.",
        *sections,
    ]) + "\n"  # fmt: skip


def _path_text() -> str:
    if native.available():
        return "the compiled kernel (`kanlab.splines.native`)"
    return "pure PyTorch (`KANLAB_NATIVE=0`, or the compiled kernel not built)"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_round_options(parser)
    parser.add_argument("--shapes", type=parse_shapes, default=SHAPES,
                        help="comma-separated INxOUTxBATCH (default: "
                             + ",".join("x".join(map(str, s)) for s in SHAPES) + ")")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads (default: torch's default)")
    parser.add_argument("--pytorch-path", action="store_true",
                        help="time kanlab's pure-PyTorch path (KANLAB_NATIVE=0); writes "
                             "layer_pytorch_path.md")
    parser.add_argument("--profile", type=parse_shapes, metavar="INxOUTxBATCH,...",
                        help="instead: the profiler's tables of kanlab's forward and backward "
                             "at these shapes (writes layer_profile.md)")
    args = parser.parse_args(argv)
    if args.pytorch_path:
        os.environ["KANLAB_NATIVE"] = "0"  # this process only: the layer reads it per call
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.profile:
        text = profile_report(args.profile)
        print(text)
        print(f"wrote {write_result('layer_profile.md', text)}", file=sys.stderr)
        return
    rounds, min_time = rounds_of(args)
    text = run(args.shapes, rounds, min_time, args.quick)
    print(text)
    name = "layer_pytorch_path.md" if args.pytorch_path else "layer.md"
    if not args.quick and args.shapes == SHAPES:  # a smoke test or a few shapes: no results
        print(f"wrote {write_result(name, text)}", file=sys.stderr)


if __name__ == "__main__":
    main()
