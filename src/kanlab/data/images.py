"""Image datasets for experiments, read offline: IDX files (MNIST, Fashion-MNIST) and 8x8 digits.

* :func:`read_idx` reads one IDX file (the MNIST format, plain or gzip-compressed).
* :func:`load_idx_dataset` reads the four standard MNIST-layout files of a folder;
  :func:`load_mnist` and :func:`load_fashion_mnist` read ``<root>/mnist`` and
  ``<root>/fashion-mnist``, which ``make data`` fills.
* :func:`load_digits` splits scikit-learn's bundled 8x8 digits (no download; needs the
  ``sklearn`` extra).

Every loader returns a :class:`~kanlab.data.Dataset` with inputs scaled to ``[0, 1]`` and
labels as int64 class indices of shape ``(N,)``. Nothing here downloads or writes files.
"""

from __future__ import annotations

import gzip
import math
import os
import struct
from pathlib import Path

import numpy as np
import torch

from kanlab._optional import optional_import
from kanlab.data.dataset import Dataset
from kanlab.errors import InputError

__all__ = ["load_digits", "load_fashion_mnist", "load_idx_dataset", "load_mnist", "read_idx"]

# IDX type codes (third byte of the magic number); multi-byte types are big-endian
_IDX_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_GZIP_MAGIC = b"\x1f\x8b"
# (Dataset field, standard file name) of the four files of an MNIST-layout folder
_IDX_FILES = (
    ("train_input", "train-images-idx3-ubyte"),
    ("train_label", "train-labels-idx1-ubyte"),
    ("test_input", "t10k-images-idx3-ubyte"),
    ("test_label", "t10k-labels-idx1-ubyte"),
)


def _read_bytes(path: Path) -> bytes:
    with open(path, "rb") as f:
        compressed = path.suffix == ".gz" or f.read(2) == _GZIP_MAGIC
    if not compressed:
        return path.read_bytes()
    try:
        with gzip.open(path, "rb") as f:
            return f.read()
    except (OSError, EOFError) as err:  # gzip.BadGzipFile is an OSError
        raise InputError(f"{path}: not a readable gzip file ({err})") from None


def read_idx(path: str | os.PathLike) -> torch.Tensor:
    """Read one IDX file (the MNIST format), plain or gzip-compressed.

    The file starts with a magic number ``00 00 <type> <ndim>``, then ``ndim`` big-endian
    uint32 sizes, then the values in row-major order. A file is read as gzip when its name
    ends in ``.gz`` or it starts with the gzip magic bytes.

    Args:
        path: the file.

    Returns:
        A tensor of shape ``(d_1, ..., d_ndim)`` in the file's type: uint8 (MNIST images
        ``(N, 28, 28)`` and labels ``(N,)``), int8, int16, int32, float32 or float64.

    Raises:
        InputError: a bad magic number, an unknown type code, or a file shorter or longer
            than its header says.
    """
    path = Path(path)
    raw = _read_bytes(path)
    if len(raw) < 4:
        raise InputError(
            f"{path}: {len(raw)} bytes is too short for an IDX file; expected a 4-byte magic "
            "number 00 00 <type> <ndim> then the sizes"
        )
    zero, code, ndim = struct.unpack(">HBB", raw[:4])
    if zero != 0 or code not in _IDX_DTYPES:
        raise InputError(
            f"{path}: bad IDX magic number 0x{raw[:4].hex()}; expected 00 00 <type> <ndim> "
            f"with type one of {', '.join(f'0x{c:02x}' for c in _IDX_DTYPES)} "
            "(0x08 = uint8, as in MNIST)"
        )
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise InputError(
            f"{path}: truncated IDX header; {ndim} dimensions need {header} bytes, "
            f"the file has {len(raw)}"
        )
    shape = struct.unpack(f">{ndim}I", raw[4:header])
    dtype = _IDX_DTYPES[code]
    expected = header + math.prod(shape) * dtype.itemsize
    if len(raw) != expected:
        kind = "truncated" if len(raw) < expected else "has trailing bytes"
        raise InputError(
            f"{path}: IDX file {kind}; its header says shape {tuple(shape)} of {dtype.name}, "
            f"{expected} bytes in all, but the file has {len(raw)} bytes"
        )
    values = np.frombuffer(raw, dtype=dtype, offset=header).astype(dtype.newbyteorder("="))
    return torch.from_numpy(values.reshape(shape))


def _find_idx_file(folder: Path, name: str) -> Path | None:
    # "train-images-idx3-ubyte" and the common variant "train-images.idx3-ubyte", plain or .gz
    dotted = name.replace("-idx", ".idx")
    for candidate in (name, name + ".gz", dotted, dotted + ".gz"):
        if (folder / candidate).is_file():
            return folder / candidate
    return None


def load_idx_dataset(
    folder: str | os.PathLike,
    *,
    flatten: bool = True,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> Dataset:
    """Read an MNIST-layout folder: the train and t10k image and label IDX files.

    The folder holds ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
    ``t10k-images-idx3-ubyte`` and ``t10k-labels-idx1-ubyte``, each possibly gzip-compressed
    (``.gz``) or named with a dot before ``idx`` (``train-images.idx3-ubyte``).

    Args:
        folder: the folder.
        flatten: images as rows ``(N, H * W)`` (``(N, 784)`` for MNIST) rather than
            ``(N, H, W)``.
        dtype: floating type of the images.
        device: where the tensors go.

    Returns:
        A :class:`~kanlab.data.Dataset`: train/test inputs ``(N, H * W)`` (or ``(N, H, W)``)
        with pixels scaled from 0..255 to ``[0, 1]``, labels int64 ``(N,)``.

    Raises:
        InputError: files missing (run ``make data``), unreadable, or of the wrong shape or type.
    """
    if not dtype.is_floating_point:
        raise InputError(f"dtype must be a floating type; got {dtype}")
    folder = Path(folder)
    found = {name: _find_idx_file(folder, name) for _, name in _IDX_FILES}
    missing = [name for name, path in found.items() if path is None]
    if missing:
        where = f"folder {str(folder)!r}" + ("" if folder.is_dir() else " (which does not exist)")
        raise InputError(
            f"{where} lacks {', '.join(missing)} (plain or .gz); "
            "`make data` fetches MNIST and Fashion-MNIST into data/"
        )
    tensors = {}
    for (field, name), is_images in zip(_IDX_FILES, (True, False, True, False)):
        path = found[name]
        t = read_idx(path)
        if t.dtype != torch.uint8 or t.dim() != (3 if is_images else 1):
            want = "(N, H, W)" if is_images else "(N,)"
            raise InputError(
                f"{path}: expected uint8 {'images' if is_images else 'labels'} of shape {want}; "
                f"got {t.dtype} of shape {tuple(t.shape)}"
            )
        if is_images:
            t = t.to(device=device).to(dtype).div_(255)
            tensors[field] = t.reshape(t.shape[0], -1) if flatten else t
        else:
            tensors[field] = t.to(device=device, dtype=torch.int64)
    for split in ("train", "test"):
        n_in, n_lab = len(tensors[f"{split}_input"]), len(tensors[f"{split}_label"])
        if n_in != n_lab:
            raise InputError(f"{folder}: {n_in} {split} images but {n_lab} {split} labels")
    return Dataset(**tensors)


def load_mnist(root: str | os.PathLike = "data", **kwargs) -> Dataset:
    """MNIST from ``<root>/mnist`` (``make data`` fetches it); options as :func:`load_idx_dataset`.

    Returns:
        train inputs ``(60000, 784)``, test inputs ``(10000, 784)`` in ``[0, 1]`` (or
        ``(N, 28, 28)`` with ``flatten=False``); labels int64 ``(N,)`` in 0..9.
    """
    return load_idx_dataset(Path(root) / "mnist", **kwargs)


def load_fashion_mnist(root: str | os.PathLike = "data", **kwargs) -> Dataset:
    """Fashion-MNIST from ``<root>/fashion-mnist`` (``make data`` fetches it).

    Options as :func:`load_idx_dataset`.

    Returns:
        train inputs ``(60000, 784)``, test inputs ``(10000, 784)`` in ``[0, 1]`` (or
        ``(N, 28, 28)`` with ``flatten=False``); labels int64 ``(N,)`` in 0..9.
    """
    return load_idx_dataset(Path(root) / "fashion-mnist", **kwargs)


def load_digits(
    *,
    test_fraction: float = 0.25,
    seed: int = 0,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> Dataset:
    """scikit-learn's bundled 8x8 digits (1797 images, no download), split train/test.

    The split is stratified: about ``test_fraction`` of each class goes to the test set,
    chosen by a local generator seeded with ``seed`` (the global RNG is not touched); both
    sets are then shuffled.

    Args:
        test_fraction: share of each class in the test set, in ``(0, 1)``.
        seed: seed of the split.
        dtype: floating type of the inputs.
        device: where the tensors go.

    Returns:
        A :class:`~kanlab.data.Dataset`: inputs ``(N, 64)`` with pixels scaled from 0..16 to
        ``[0, 1]``, labels int64 ``(N,)`` in 0..9 (1347 train and 450 test rows with the
        default fraction).

    Raises:
        ImportError: scikit-learn is not installed (``pip install 'kanlab[sklearn]'``).
        InputError: a ``test_fraction`` outside ``(0, 1)`` or one that leaves a set empty.
    """
    if isinstance(test_fraction, bool) or not isinstance(test_fraction, (int, float)) or not (
        0 < test_fraction < 1
    ):
        raise InputError(f"test_fraction must be a number in (0, 1); got {test_fraction!r}")
    if not dtype.is_floating_point:
        raise InputError(f"dtype must be a floating type; got {dtype}")
    sklearn_digits = optional_import("sklearn.datasets", "load_digits").load_digits
    images, labels = sklearn_digits(return_X_y=True)
    x = torch.from_numpy(np.asarray(images, dtype=np.float64) / 16.0)  # (1797, 64)
    y = torch.from_numpy(np.asarray(labels, dtype=np.int64))  # (1797,)

    gen = torch.Generator().manual_seed(seed)
    train_idx, test_idx = [], []
    for c in torch.unique(y).tolist():
        idx = torch.nonzero(y == c).squeeze(1)
        idx = idx[torch.randperm(len(idx), generator=gen)]
        n_test = round(test_fraction * len(idx))
        test_idx.append(idx[:n_test])
        train_idx.append(idx[n_test:])
    train, test = torch.cat(train_idx), torch.cat(test_idx)
    if len(train) == 0 or len(test) == 0:
        raise InputError(f"test_fraction {test_fraction} leaves the train or the test set empty")
    train = train[torch.randperm(len(train), generator=gen)]
    test = test[torch.randperm(len(test), generator=gen)]
    return Dataset(x[train], y[train], x[test], y[test]).to(device=device, dtype=dtype)
