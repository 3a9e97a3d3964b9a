"""Image datasets: IDX reading (plain, gzip, bad files), MNIST-layout folders, 8x8 digits."""

from __future__ import annotations

import gzip
import struct
import sys
from pathlib import Path

import pytest
import torch

from kanlab import InputError
from kanlab.data import Dataset
from kanlab.data.images import load_digits, load_idx_dataset, load_mnist, read_idx

DATA = Path(__file__).resolve().parents[1] / "data"

IMAGES = [[[0, 255], [128, 1]], [[10, 20], [30, 40]], [[255, 255], [0, 0]]]  # 3 images 2x2
LABELS = [7, 0, 9]
NAMES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}


def idx_bytes(values, shape, code=0x08, fmt="B") -> bytes:
    header = struct.pack(">BBBB", 0, 0, code, len(shape)) + struct.pack(f">{len(shape)}I", *shape)
    return header + struct.pack(f">{len(values)}{fmt}", *values)


def image_bytes(images=IMAGES) -> bytes:
    flat = [v for image in images for row in image for v in row]
    return idx_bytes(flat, (len(images), 2, 2))


def label_bytes(labels=LABELS) -> bytes:
    return idx_bytes(labels, (len(labels),))


def write_folder(folder: Path, gz: bool = False, dotted: bool = False) -> Path:
    """The four MNIST-layout files: train = IMAGES/LABELS, test = the first two of them."""
    folder.mkdir(parents=True, exist_ok=True)
    contents = {
        "train_images": image_bytes(),
        "train_labels": label_bytes(),
        "test_images": image_bytes(IMAGES[:2]),
        "test_labels": label_bytes(LABELS[:2]),
    }
    for key, data in contents.items():
        name = NAMES[key].replace("-idx", ".idx") if dotted else NAMES[key]
        if gz:
            (folder / f"{name}.gz").write_bytes(gzip.compress(data))
        else:
            (folder / name).write_bytes(data)
    return folder


# ---------------------------------------------------------------- read_idx


def test_read_idx_round_trip(tmp_path):
    path = tmp_path / "images"
    path.write_bytes(image_bytes())
    images = read_idx(path)
    assert images.dtype == torch.uint8 and images.shape == (3, 2, 2)
    assert torch.equal(images, torch.tensor(IMAGES, dtype=torch.uint8))
    (tmp_path / "labels").write_bytes(label_bytes())
    labels = read_idx(str(tmp_path / "labels"))
    assert labels.dtype == torch.uint8 and labels.tolist() == LABELS


def test_read_idx_gzip(tmp_path):
    (tmp_path / "images.gz").write_bytes(gzip.compress(image_bytes()))
    assert torch.equal(read_idx(tmp_path / "images.gz"), torch.tensor(IMAGES, dtype=torch.uint8))
    (tmp_path / "no_suffix").write_bytes(gzip.compress(image_bytes()))  # found by its magic
    assert read_idx(tmp_path / "no_suffix").shape == (3, 2, 2)


@pytest.mark.parametrize(
    "code, fmt, dtype, values",
    [
        (0x09, "b", torch.int8, [-3, 0, 5]),
        (0x0B, "h", torch.int16, [-300, 0, 500]),
        (0x0C, "i", torch.int32, [-70000, 1, 2**30]),
        (0x0D, "f", torch.float32, [-1.5, 0.0, 2.25]),
        (0x0E, "d", torch.float64, [-1.5, 0.1, 1e300]),
    ],
)
def test_read_idx_other_types_big_endian(tmp_path, code, fmt, dtype, values):
    (tmp_path / "x").write_bytes(idx_bytes(values, (3,), code=code, fmt=fmt))
    x = read_idx(tmp_path / "x")
    assert x.dtype == dtype and x.tolist() == values


def test_read_idx_bad_magic_names_file_and_format(tmp_path):
    path = tmp_path / "bad"
    path.write_bytes(b"\x12\x34\x08\x01" + bytes(8))
    with pytest.raises(InputError, match="magic number") as info:
        read_idx(path)
    message = str(info.value)
    assert str(path) in message and "0x12340801" in message and "00 00 <type> <ndim>" in message
    path.write_bytes(b"\x00\x00\x42\x01" + bytes(8))  # unknown type code
    with pytest.raises(InputError, match="magic number"):
        read_idx(path)


def test_read_idx_truncated_or_too_long(tmp_path):
    path = tmp_path / "short"
    path.write_bytes(image_bytes()[:-1])
    with pytest.raises(InputError, match=r"truncated.*\(3, 2, 2\).*28 bytes.*27 bytes") as info:
        read_idx(path)
    assert str(path) in str(info.value)
    path.write_bytes(image_bytes()[:10])  # inside the dimensions
    with pytest.raises(InputError, match="truncated IDX header"):
        read_idx(path)
    path.write_bytes(b"\x00\x00")
    with pytest.raises(InputError, match="too short"):
        read_idx(path)
    path.write_bytes(image_bytes() + b"\x00")
    with pytest.raises(InputError, match="trailing bytes"):
        read_idx(path)


def test_read_idx_broken_gzip(tmp_path):
    path = tmp_path / "x.gz"
    path.write_bytes(gzip.compress(image_bytes())[:-12])
    with pytest.raises(InputError, match="gzip") as info:
        read_idx(path)
    assert str(path) in str(info.value)


# ---------------------------------------------------------------- load_idx_dataset


@pytest.mark.parametrize("gz, dotted", [(False, False), (True, False), (False, True), (True, True)])
def test_load_idx_dataset(tmp_path, gz, dotted):
    ds = load_idx_dataset(write_folder(tmp_path / "set", gz=gz, dotted=dotted))
    assert isinstance(ds, Dataset)
    assert ds.train_input.shape == (3, 4) and ds.test_input.shape == (2, 4)
    assert ds.train_input.dtype == torch.float32 and ds.train_label.dtype == torch.int64
    assert ds.train_label.shape == (3,) and ds.test_label.shape == (2,)
    expected = torch.tensor(IMAGES, dtype=torch.float64).reshape(3, 4) / 255
    torch.testing.assert_close(ds.train_input, expected.float())
    assert ds.train_input.min() == 0 and ds.train_input.max() == 1
    assert ds.train_label.tolist() == LABELS and ds.test_label.tolist() == LABELS[:2]


def test_load_idx_dataset_unflattened_dtype(tmp_path):
    ds = load_idx_dataset(write_folder(tmp_path), flatten=False, dtype=torch.float64)
    assert ds.train_input.shape == (3, 2, 2) and ds.train_input.dtype == torch.float64
    assert ds.train_input[0, 0, 1] == 1.0 and ds.train_label.dtype == torch.int64


def test_load_idx_dataset_missing_files_say_make_data(tmp_path):
    folder = write_folder(tmp_path / "partial")
    (folder / NAMES["test_labels"]).unlink()
    (folder / NAMES["train_images"]).unlink()
    with pytest.raises(InputError, match="make data") as info:
        load_idx_dataset(folder)
    message = str(info.value)
    assert str(folder) in message
    assert NAMES["test_labels"] in message and NAMES["train_images"] in message
    assert NAMES["train_labels"] not in message
    with pytest.raises(InputError, match=r"does not exist.*make data"):
        load_mnist(root=tmp_path / "nowhere")


def test_load_idx_dataset_checks_shapes(tmp_path):
    folder = write_folder(tmp_path)
    (folder / NAMES["test_labels"]).write_bytes(label_bytes([1, 2, 3]))  # 2 images, 3 labels
    with pytest.raises(InputError, match="2 test images but 3 test labels"):
        load_idx_dataset(folder)
    (folder / NAMES["test_labels"]).write_bytes(image_bytes())  # images where labels belong
    with pytest.raises(InputError, match=r"labels of shape \(N,\)"):
        load_idx_dataset(folder)
    with pytest.raises(InputError, match="floating"):
        load_idx_dataset(folder, dtype=torch.int32)


@pytest.mark.skipif(not (DATA / "mnist").is_dir(), reason="no data/mnist (run `make data`)")
def test_real_mnist_shapes():
    ds = load_mnist(root=DATA)
    assert ds.train_input.shape == (60000, 784) and ds.test_input.shape == (10000, 784)
    assert ds.train_label.shape == (60000,) and ds.test_label.shape == (10000,)
    assert 0 <= ds.train_input.min() and ds.train_input.max() <= 1
    assert ds.train_label.tolist()[:8] == [5, 0, 4, 1, 9, 2, 1, 3]


# ---------------------------------------------------------------- load_digits


def test_digits_shapes_range_labels():
    pytest.importorskip("sklearn")
    ds = load_digits()
    n_train, n_test = len(ds.train_input), len(ds.test_input)
    assert n_train + n_test == 1797 and abs(n_test - 0.25 * 1797) < 10
    assert ds.train_input.shape == (n_train, 64) and ds.test_input.shape == (n_test, 64)
    assert ds.train_input.dtype == torch.float32 and ds.train_label.dtype == torch.int64
    both = torch.cat([ds.train_input, ds.test_input])
    assert both.min() == 0 and both.max() == 1
    assert set(ds.train_label.tolist()) == set(range(10)) == set(ds.test_label.tolist())
    assert ds.train_label.shape == (n_train,)


def test_digits_seeded_without_global_rng():
    pytest.importorskip("sklearn")
    state = torch.random.get_rng_state()
    a, b = load_digits(seed=1), load_digits(seed=1)
    assert torch.equal(torch.random.get_rng_state(), state)
    assert torch.equal(a.train_input, b.train_input) and torch.equal(a.test_label, b.test_label)
    c = load_digits(seed=2)
    assert not torch.equal(a.train_input, c.train_input)
    # the same rows either way: a split, not a resampling
    rows = torch.cat([a.train_input, a.test_input]).double()
    rows_c = torch.cat([c.train_input, c.test_input]).double()
    assert torch.equal(rows.sum(0), rows_c.sum(0))


def test_digits_options():
    pytest.importorskip("sklearn")
    ds = load_digits(test_fraction=0.5, dtype=torch.float64)
    assert ds.train_input.dtype == torch.float64 and ds.test_label.dtype == torch.int64
    assert abs(len(ds.test_input) - 1797 / 2) < 10
    for bad in (0, 1, -0.1, 1.5, "0.2", True):
        with pytest.raises(InputError, match="test_fraction"):
            load_digits(test_fraction=bad)
    with pytest.raises(InputError, match="empty"):
        load_digits(test_fraction=0.001)


def test_digits_without_sklearn_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn", None)  # import sklearn... raises ImportError
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(ImportError, match=r"scikit-learn with pip install 'kanlab\[sklearn\]'"):
        load_digits()
