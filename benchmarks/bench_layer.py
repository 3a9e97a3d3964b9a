"""One KAN layer, float32 on CPU: kanlab ``KANLinear`` vs pykan 0.2.8 ``KAN`` vs a dense floor.

For each (in, out, batch) the three models are timed side by side in one process:

* kanlab: ``kanlab.KANLinear(in, out, grid_size=5, spline_order=3)``
* pykan: ``KAN(width=[in, out], grid=5, k=3, auto_save=False, seed=0).speed()``
  (``speed()`` returns the model itself in 0.2.8: it turns off symbolic branch, activation
  saving and auto-save)
* floor: ``torch.nn.Linear(in·(G+k+1), out)`` on an input ``(batch, in·(G+k+1))``, the GEMM a
  KAN layer cannot avoid (``G + k`` spline bases plus the base branch per input).

Usage: ``python benchmarks/bench_layer.py [--quick]``; writes ``benchmarks/results/layer.md``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch
from _common import env_line, fmt, markdown_table, time_fn, write_result
from torch import nn

G, K = 5, 3
SHAPES = [(2, 5, 1000), (64, 64, 4096), (256, 256, 1024), (784, 64, 256)]
MB = 2.0**20


@contextmanager
def _in_temp_cwd() -> Iterator[None]:
    """Run a block from an empty temporary directory (pykan may write ``./model``)."""
    old = os.getcwd()
    with tempfile.TemporaryDirectory(prefix="kanlab-bench-") as tmp:
        os.chdir(tmp)
        try:
            yield
        finally:
            os.chdir(old)


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
        with _in_temp_cwd():
            pk = KAN(width=[n_in, n_out], grid=G, k=K, auto_save=False, seed=0)
            pk = pk.speed()  # 0.2.8: returns self (torch.compile'd only with compile=True)
        torch.random.set_rng_state(state)  # pykan seeds the global RNGs; undo for the others
        models["pykan"] = (pk, n_in)
    except ImportError:
        pass
    models["floor"] = (nn.Linear(n_in * (G + K + 1), n_out), n_in * (G + K + 1))
    return models


def _fwd_bwd(model: nn.Module, x: torch.Tensor, g: torch.Tensor) -> Callable[[], None]:
    params = [p for p in model.parameters() if p.requires_grad]

    def step() -> None:
        for p in params:
            p.grad = None
        x.grad = None
        model(x).backward(g)

    return step


def saved_bytes(model: nn.Module, x: torch.Tensor) -> int:
    """Bytes autograd keeps between forward and backward, plus the output.

    Tensors saved for backward are counted once per storage; storages of parameters, buffers
    and the input are left out (they exist anyway).
    """
    exclude = {t.untyped_storage().data_ptr() for t in (*model.parameters(), *model.buffers())}
    exclude.add(x.untyped_storage().data_ptr())
    seen: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        try:
            st = t.untyped_storage()
            ptr = st.data_ptr()
            if ptr not in exclude:
                seen[ptr] = st.nbytes()
        except Exception:  # noqa: BLE001 - e.g. tensors without storage
            pass
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        y = model(x)
    return sum(seen.values()) + y.numel() * y.element_size()


def peak_alloc_bytes(step: Callable[[], None]) -> int | None:
    """Peak CPU bytes allocated above the starting level during one call of ``step``.

    Read from the profiler's allocation trace (``profile_memory=True``): every allocation and
    free carries the running total of allocated bytes. ``None`` if that trace is unavailable.
    """
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
        if not events:
            return None
        events.sort()
        base = events[0][2] - events[0][1]  # total before the first event
        return max(total for _, _, total in events) - base
    except Exception:  # noqa: BLE001 - private API; report n/a rather than fail
        return None


def profile_kanlab(n_in: int, n_out: int, batch: int, rows: int = 15) -> str:
    """Top ops (by self CPU time) of kanlab's forward + backward at one shape."""
    from torch.profiler import ProfilerActivity, profile

    model, width = make_models(n_in, n_out)["kanlab"]
    gen = torch.Generator().manual_seed(1)
    x = (torch.rand(batch, width, generator=gen) * 2 - 1).requires_grad_()
    step = _fwd_bwd(model, x, torch.ones(batch, n_out))
    for _ in range(3):
        step()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(5):
            step()
    return prof.key_averages().table(
        sort_by="self_cpu_time_total", row_limit=rows, max_name_column_width=36
    )


def run(quick: bool) -> str:
    torch.set_default_dtype(torch.float32)
    repeats, min_time = (3, 0.15) if quick else (7, 1.0)
    time_rows, mem_rows = [], []
    for n_in, n_out, batch in SHAPES:
        models = make_models(n_in, n_out)
        res: dict[str, dict[str, float | None]] = {}
        for name, (model, width) in models.items():
            gen = torch.Generator().manual_seed(1)
            x = torch.rand(batch, width, generator=gen) * 2 - 1
            with torch.no_grad():
                y = model(x)
                t_fwd = time_fn(lambda: model(x), repeats=repeats, min_time=min_time)  # noqa: B023
            g = torch.ones_like(y)
            xg = x.clone().requires_grad_(True)
            step = _fwd_bwd(model, xg, g)
            t_fb = time_fn(step, repeats=repeats, min_time=min_time)
            peak = peak_alloc_bytes(step)
            saved = saved_bytes(model, xg)
            res[name] = {
                "fwd": t_fwd * 1e3,
                "fb": t_fb * 1e3,
                "peak": None if peak is None else peak / MB,
                "saved": saved / MB,
            }
            print(
                f"  ({n_in},{n_out},{batch}) {name:6s} fwd {t_fwd * 1e3:8.3f} ms  "
                f"fwd+bwd {t_fb * 1e3:8.3f} ms  peak {fmt(res[name]['peak'])} MB  "
                f"saved {saved / MB:.3g} MB",
                file=sys.stderr,
            )
        kl, fl = res["kanlab"], res["floor"]
        pk = res.get("pykan", {"fwd": None, "fb": None, "peak": None, "saved": None})

        def ratio(a: float | None, b: float | None) -> str:
            return "n/a" if a is None or b is None or b == 0 else f"{a / b:.2f}"

        shape = f"({n_in}, {n_out}, {batch})"
        time_rows.append(
            [
                shape,
                fmt(kl["fwd"]), fmt(pk["fwd"]), fmt(fl["fwd"]),
                ratio(kl["fwd"], fl["fwd"]), ratio(pk["fwd"], kl["fwd"]),
                fmt(kl["fb"]), fmt(pk["fb"]), fmt(fl["fb"]),
                ratio(kl["fb"], fl["fb"]), ratio(pk["fb"], kl["fb"]),
            ]
        )  # fmt: skip
        mem_rows.append(
            [
                shape,
                fmt(kl["peak"]), fmt(pk["peak"]), fmt(fl["peak"]),
                ratio(kl["peak"], fl["peak"]), ratio(pk["peak"], kl["peak"]),
                fmt(kl["saved"]), fmt(pk["saved"]), fmt(fl["saved"]),
                ratio(kl["saved"], fl["saved"]), ratio(pk["saved"], kl["saved"]),
            ]
        )  # fmt: skip
    t_head = [
        "(in, out, batch)",
        "fwd kanlab ms", "fwd pykan ms", "fwd floor ms", "kanlab/floor", "pykan/kanlab",
        "f+b kanlab ms", "f+b pykan ms", "f+b floor ms", "kanlab/floor", "pykan/kanlab",
    ]  # fmt: skip
    m_head = [
        "(in, out, batch)",
        "peak kanlab MB", "peak pykan MB", "peak floor MB", "kanlab/floor", "pykan/kanlab",
        "saved kanlab MB", "saved pykan MB", "saved floor MB", "kanlab/floor", "pykan/kanlab",
    ]  # fmt: skip
    mode = "quick" if quick else "full"
    return "\n".join(
        [
            f"# KAN layer benchmark ({mode}), G={G}, k={K}, float32, CPU",
            "",
            f"Environment: {env_line()}",
            "",
            "Models: kanlab `KANLinear(in, out, grid_size=5, spline_order=3)`; pykan 0.2.8 "
            "`KAN(width=[in, out], grid=5, k=3, auto_save=False, seed=0).speed()`; floor "
            f"`nn.Linear(in*{G + K + 1}, out)` on a `(batch, in*{G + K + 1})` input.",
            "",
            "## Time (median ms per call)",
            "",
            f"fwd: forward under `torch.no_grad()`. f+b: forward + `backward` of the output with "
            f"the input requiring grad (as for a hidden layer), grads reset to None each call. "
            f"Median of {repeats} repeats after warm-up; default thread count.",
            "",
            markdown_table(t_head, time_rows),
            "",
            "## Memory of one training step (MiB)",
            "",
            "peak: highest CPU bytes allocated above the starting level during one forward + "
            "backward (profiler allocation trace, `profile_memory=True`): output, activations, "
            "temporaries, input and parameter grads. saved: bytes of the tensors autograd saves "
            "for backward (one count per storage; parameters, buffers and the input left out) "
            "plus the output.",
            "",
            markdown_table(m_head, mem_rows),
            "",
        ]
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer, shorter repeats")
    parser.add_argument(
        "--threads", type=int, default=None, help="torch threads (default: torch's default)"
    )
    parser.add_argument(
        "--profile",
        metavar="IN,OUT,BATCH",
        help="only print the top ops of kanlab's forward + backward at this shape",
    )
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.profile:
        n_in, n_out, batch = (int(v) for v in args.profile.split(","))
        print(f"kanlab KANLinear({n_in}, {n_out}) forward + backward, batch {batch}, 5 calls")
        print(profile_kanlab(n_in, n_out, batch))
        return
    text = run(args.quick)
    print(text)
    path = write_result("layer.md", text)
    print(f"wrote {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
