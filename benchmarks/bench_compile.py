"""``torch.compile`` against eager: one ``KANLinear``, float32 on CPU, forward and forward+backward.

For each (in, out, batch) of the layer benchmark the same layer is timed eagerly and through
``torch.compile`` (inductor, default mode); the compile time (first call) is reported apart.
The compiled layer's output is checked against the eager one (max abs difference).

Usage: ``python benchmarks/bench_compile.py [--quick]``; writes
``benchmarks/results/compile.md``.
"""

from __future__ import annotations

import argparse
import time
import warnings

import torch
from _common import env_line, fmt, markdown_table, time_fn, write_result

import kanlab

SHAPES = [(2, 5, 1000), (64, 64, 4096), (256, 256, 1024), (784, 64, 256)]


def measure(n_in: int, n_out: int, batch: int, quick: bool) -> list[object]:
    gen = torch.Generator().manual_seed(0)
    layer = kanlab.KANLinear(n_in, n_out, generator=gen)
    x = torch.rand(batch, n_in, generator=gen) * 2 - 1
    xg = x.clone().requires_grad_()
    compiled = torch.compile(layer)
    t0 = time.perf_counter()
    with warnings.catch_warnings():  # inductor's searchsorted copy note; not an error
        warnings.simplefilter("ignore", UserWarning)
        compiled(xg).sum().backward()
    compile_s = time.perf_counter() - t0
    with torch.no_grad():
        diff = float((compiled(x) - layer(x)).abs().max())

    def fwd(model):
        def run():
            with torch.no_grad():
                model(x)
        return run

    def fwd_bwd(model):
        def run():
            layer.zero_grad(set_to_none=True)
            model(xg).sum().backward()
        return run

    opts = {"repeats": 3, "min_time": 0.2} if quick else {"repeats": 7, "min_time": 1.0}
    times = {name: (time_fn(fwd(m), **opts), time_fn(fwd_bwd(m), **opts))
             for name, m in (("eager", layer), ("compiled", compiled))}
    (ef, efb), (cf, cfb) = times["eager"], times["compiled"]
    return [f"({n_in}, {n_out}, {batch})", fmt(ef * 1e3), fmt(cf * 1e3), fmt(ef / cf),
            fmt(efb * 1e3), fmt(cfb * 1e3), fmt(efb / cfb), fmt(compile_s, 2), fmt(diff, 2)]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    args = parser.parse_args(argv)
    rows = [measure(*shape, args.quick) for shape in SHAPES]
    header = ["(in, out, batch)", "fwd eager ms", "fwd compiled ms", "speed-up",
              "f+b eager ms", "f+b compiled ms", "speed-up", "compile s", "max |diff|"]
    text = "\n".join([
        "# KANLinear: torch.compile against eager (float32, CPU, G = 5, k = 3)",
        "",
        env_line(),
        "",
        markdown_table(header, rows),
        "",
    ])
    print(text)
    write_result("compile.md", text)


if __name__ == "__main__":
    main()
