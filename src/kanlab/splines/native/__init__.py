"""An optional compiled kernel for the KAN layer's GEMM input, with the pure-PyTorch path as the
fallback and the reference.

Eager PyTorch builds the layer's matrix ``A`` (:mod:`kanlab.splines.kernel`) in a dozen passes
over memory (interval search, basis planes, index tables, a zero fill, a scatter) and gathers
its gradient in as many; ``spline_kernel.cpp`` does each in one pass per row of the batch
(the point's interval, then the k + 1 polynomials that live on it -- de Boor's triangle run
once per call on each interval's polynomials, or closed forms for equally spaced cubic knots --
written straight into the row; the SiLU base columns' derivative too, on request), in parallel
over rows with torch's own thread pool (``torch.get_num_threads()``). It also builds the layer's
GEMM weight from its parameters in one pass and splits the weight's gradient back in one more
(``layer_forward``, ``layer_backward``: see :mod:`kanlab.nn.fused_forward`).

It is built once, by ``python -m kanlab.splines.native`` (``make`` runs it when it sets up the
virtual environment, and goes on without it when there is no C++ compiler), into
``_build/`` beside this file; nothing is compiled or written at import. The library uses it
when the build is there and matches the source, the tensors are on the CPU in float32 or
float64, and ``KANLAB_NATIVE`` is not ``0``; otherwise the pure-PyTorch path runs, with the same
results (tests hold the two to 1e-6 in float32).
"""

from __future__ import annotations

import hashlib
import importlib.machinery
import importlib.util
import logging
import os
from pathlib import Path
from types import ModuleType

import torch

__all__ = ["BUILD_DIR", "CHUNK_VALUES", "available", "build", "input_grad", "kernel_for", "module"]

logger = logging.getLogger(__name__)

SOURCE = Path(__file__).with_name("spline_kernel.cpp")
BUILD_DIR = Path(__file__).resolve().parent / "_build"
NAME = "kanlab_spline_native"
_STAMP = BUILD_DIR / "source.sha256"
_loaded: dict[str, ModuleType | None] = {}


#: the compiler's flags: -fno-trapping-math lets it vectorise ``floor`` (no effect on values)
CFLAGS = ["-O3", "-march=native", "-fopenmp", "-fno-trapping-math"]


def _source_hash() -> str:
    """What a build depends on: the source, torch's version and the flags."""
    stamp = SOURCE.read_bytes() + torch.__version__.encode() + " ".join(CFLAGS).encode()
    return hashlib.sha256(stamp).hexdigest()


def _load() -> ModuleType | None:
    """The built module, or None when there is none or it was built from another source."""
    if not _STAMP.exists() or _STAMP.read_text().strip() != _source_hash():
        return None
    built = sorted(BUILD_DIR.glob(f"{NAME}*.so"))
    if not built:
        return None
    try:
        loader = importlib.machinery.ExtensionFileLoader(NAME, str(built[0]))
        spec = importlib.util.spec_from_file_location(NAME, built[0], loader=loader)
        mod = importlib.util.module_from_spec(spec)
        loader.exec_module(mod)
        return mod
    except (ImportError, OSError) as err:  # a build for another torch or machine
        logger.warning("kanlab's compiled kernel in %s does not load (%s); using the "
                       "pure-PyTorch path", BUILD_DIR, err)
        return None


def module() -> ModuleType | None:
    """The compiled kernel's module, or None: not built, stale, or ``KANLAB_NATIVE=0``."""
    if os.environ.get("KANLAB_NATIVE", "1") == "0":
        return None
    if "module" not in _loaded:
        _loaded["module"] = _load()
    return _loaded["module"]


def kernel_for(x: torch.Tensor, k: int) -> ModuleType | None:
    """The compiled kernel when it can take the inputs ``x`` of a degree-``k`` spline layer
    (on the CPU, float32 or float64, ``k`` at most 7, not under ``torch.compile``), else None:
    the pure-PyTorch path."""
    if x.device.type != "cpu" or x.dtype not in (torch.float32, torch.float64) or k > 7 \
            or torch.compiler.is_compiling():
        return None
    return module()


#: The backward's block of ``∂L/∂A``, in numbers: each thread forms one block with a GEMM of
#: its own and gathers it while it is in cache (2 MiB in float32: the fastest of 2^15 .. 2^22
#: on this project's 2-core CPU at the benchmark's shapes)
CHUNK_VALUES = 1 << 19


def input_grad(kernel: ModuleType, grad_y: torch.Tensor, weight: torch.Tensor, x: torch.Tensor,
               knots: torch.Tensor, k: int, uniform: bool) -> torch.Tensor:
    """``∂L/∂x`` ``(B, in)`` of ``y = A(x) W^T``: ``∂L/∂A = G W`` formed in blocks of
    :data:`CHUNK_VALUES` numbers, one per thread at a time, each gathered by ``kernel`` while in
    cache (recomputing every point's ``B'_r``). Shapes: grad_y ``(B, out)``, weight
    ``(out, cols)``, x ``(B, in)``, knots ``(in, n)``."""
    return kernel.input_grad(grad_y, weight, x, knots, k, uniform, x.new_empty(0),
                             CHUNK_VALUES)


def available() -> bool:
    """Whether the compiled kernel is in use."""
    return module() is not None


def build(verbose: bool = False) -> Path:
    """Compile ``spline_kernel.cpp`` into :data:`BUILD_DIR` (needs a C++ compiler with
    OpenMP) and return the directory. Takes about a minute."""
    from torch.utils.cpp_extension import load

    BUILD_DIR.mkdir(parents=True, exist_ok=True)
    load(name=NAME, sources=[str(SOURCE)], build_directory=str(BUILD_DIR),
         extra_cflags=CFLAGS, extra_ldflags=["-fopenmp"],
         verbose=verbose)
    _STAMP.write_text(_source_hash() + "\n")
    _loaded.clear()
    return BUILD_DIR
