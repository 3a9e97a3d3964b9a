"""kanlab.data.csv: the one CSV reader (load_csv, kanlab fit and kanlab predict read with it)."""

import csv
import math

import pytest
import torch

from kanlab.data.csv import (
    CsvTable,
    check_split,
    csv_header,
    parse_float,
    read_columns,
    read_csv,
    sniff_delimiter,
)
from kanlab.data.science import load_csv
from kanlab.errors import InputError


def _write(tmp_path, text, name="t.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_read_csv_skips_blank_lines_and_keeps_line_numbers(tmp_path):
    path = _write(tmp_path, "\n a , b,c\n1,2,3\n\n , ,\n4,5,6\n")
    table = read_csv(path)
    assert isinstance(table, CsvTable) and table.path == path
    assert table.header == ["a", "b", "c"]  # stripped
    assert table.rows == [(3, ["1", "2", "3"]), (6, ["4", "5", "6"])]
    assert csv_header(path) == ["a", "b", "c"]


def test_columns_by_name_in_file_order_as_float64(tmp_path):
    path = _write(tmp_path, "id,x,y\n7,0.5,-1e3\n8,1.25,2\n")
    table = read_csv(path)
    x = table.columns(["y", "x"])
    assert x.dtype == torch.float64 and x.shape == (2, 2)
    assert x.tolist() == [[-1000.0, 0.5], [2.0, 1.25]]
    assert torch.equal(read_columns(path, ["y", "x"]), x)


def test_values_round_trip_exactly(tmp_path):
    values = [math.pi, -1 / 3, 1e-300, 2.0**60 + 1]
    path = tmp_path / "r.csv"
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["v"])
        writer.writerows([repr(v)] for v in values)
    assert read_columns(path, ["v"])[:, 0].tolist() == values


@pytest.mark.parametrize("text, names, match", [
    ("a,b\n1,2\n", ["c"], r"no column 'c'; the header has \['a', 'b'\]"),
    ("a,b\n1,2\n3\n", ["a"], "line 3 has 1 cells; the header has 2"),
    ("a,b\n1,2\nx,4\n", ["b", "a"], r"line 3, column 'a': 'x' is not a number"),
    ("a,b\n1,\n", ["b"], r"line 2, column 'b': '' is not a number"),
    ("a,b\n1,inf\n", ["b"], r"line 2, column 'b': 'inf' is not finite"),
    ("a,b\n\n", ["a"], "no data rows below the header"),
    ("\n\n", ["a"], "empty file; a header row naming the columns is required"),
])
def test_reader_errors_name_the_file_line_and_column(tmp_path, text, names, match):
    path = _write(tmp_path, text)
    with pytest.raises(InputError, match=match) as err:
        read_columns(path, names)
    assert str(err.value).startswith(str(path))


def test_parse_float():
    assert parse_float(" 1.5e2 ", "f.csv", 4, "x") == 150.0
    with pytest.raises(InputError, match=r"f.csv: line 4, column 'x': 'nan' is not finite"):
        parse_float("nan", "f.csv", 4, "x")


def test_dataset_is_load_csv(tmp_path):
    rows = "".join(f"{i},{i * i},{-i}\n" for i in range(20))
    path = _write(tmp_path, "a,b,y\n" + rows)
    table = read_csv(path)
    ds = table.dataset("y", ["b", "a"], test_fraction=0.25, seed=3, dtype=torch.float64)
    ref = load_csv(path, "y", ["b", "a"], test_fraction=0.25, seed=3, dtype=torch.float64)
    for name in ("train_input", "train_label", "test_input", "test_label"):
        assert torch.equal(getattr(ds, name), getattr(ref, name)), name
    assert ds.train_input.shape == (15, 2) and ds.test_input.shape == (5, 2)
    # rows stay whole through the shuffle: b = a^2 and y = -a in every row
    x = torch.cat([ds.train_input, ds.test_input])
    y = torch.cat([ds.train_label, ds.test_label])
    assert torch.equal(x[:, 0], x[:, 1] ** 2) and torch.equal(y[:, 0], -x[:, 1])
    assert sorted(x[:, 1].tolist()) == [float(i) for i in range(20)]


def test_features_default_and_checks(tmp_path):
    table = read_csv(_write(tmp_path, "a,b,c\n1,2,3\n"))
    assert table.features(["b"], None) == ["a", "c"]
    assert table.features(["b"], ["c"]) == ["c"]
    with pytest.raises(InputError, match=r"no column 'z'"):
        table.features(["z"], ["q"])  # the targets are named first
    with pytest.raises(InputError, match=r"columns \['a'\] are both target and feature"):
        table.features(["a"], ["a", "b"])
    with pytest.raises(InputError, match="no feature columns left"):
        read_csv(_write(tmp_path, "a\n1\n", "one.csv")).features(["a"], None)
    with pytest.raises(InputError, match=r"repeated column names \['a'\]"):
        read_csv(_write(tmp_path, "a,a,b\n1,2,3\n", "rep.csv")).features(["b"], None)


def test_check_split():
    assert check_split("y", 0.0, torch.float32) == ["y"]
    assert check_split(("y", "z"), 0.5, torch.float64) == ["y", "z"]
    with pytest.raises(InputError, match="target must name at least one column"):
        check_split([], 0.2, torch.float32)
    with pytest.raises(InputError, match=r"test_fraction must be in \[0, 1\); got 1"):
        check_split("y", 1, torch.float32)
    with pytest.raises(InputError, match="dtype must be a floating type"):
        check_split("y", 0.2, torch.int64)


def test_load_csv_checks_its_options_before_opening_the_file(tmp_path):
    with pytest.raises(InputError, match="test_fraction"):
        load_csv(tmp_path / "missing.csv", "y", test_fraction=1.5)
    with pytest.raises(FileNotFoundError):
        load_csv(tmp_path / "missing.csv", "y")


# ------------------------------------------------- byte-order marks and sniffed delimiters
COMMA = "x1,x2,y\n0.5,-1,2.25\n1e-3,7,-3\n\n4,5,6\n"


@pytest.mark.parametrize("text", [
    pytest.param("\ufeff" + COMMA, id="bom"),
    pytest.param(COMMA.replace(",", ";"), id="semicolon"),
    pytest.param(COMMA.replace(",", "\t"), id="tab"),
    pytest.param(COMMA.replace(",", "|"), id="pipe"),
    pytest.param("\ufeff" + COMMA.replace(",", ";").replace("\n", "\r\n"), id="bom-semicolon-crlf"),
])
def test_bom_and_delimiters_read_as_the_comma_file(tmp_path, text):
    """Excel's UTF-8 byte-order mark is dropped and ; tab | separators are sniffed: the
    table, load_csv's split and the line numbers are those of the comma file."""
    path = tmp_path / "t.csv"
    path.write_bytes(text.encode("utf-8"))
    ref = read_csv(_write(tmp_path, COMMA, "ref.csv"))
    table = read_csv(path)
    assert table.header == ["x1", "x2", "y"] and table.rows == ref.rows
    assert torch.equal(table.columns(["y", "x1"]), ref.columns(["y", "x1"]))
    ds = load_csv(path, "y", test_fraction=0.34, seed=1, dtype=torch.float64)
    ds_ref = load_csv(tmp_path / "ref.csv", "y", test_fraction=0.34, seed=1, dtype=torch.float64)
    assert torch.equal(ds.train_input, ds_ref.train_input)
    assert torch.equal(ds.test_label, ds_ref.test_label)


@pytest.mark.parametrize("text, delimiter", [
    (COMMA, ","),
    ("v\n3.5\n-1\n", ","),                   # one column: nothing to sniff, a comma as before
    ("a,b\n1,2\n3\n", ","),                  # the sniffer gives up: the header's comma
    ("a;b\n1;2\n3\n", ";"),                  # the same with semicolons
    ('"p;q",b\n1,2\n3,4\n', ","),            # a quoted name holding a semicolon
    ("a;b;c\n1,5;2;3\n", ";"),               # decimal commas inside ; cells
])
def test_sniff_delimiter(text, delimiter):
    assert sniff_delimiter(text) == delimiter


def test_semicolon_file_with_decimal_commas_says_so(tmp_path):
    path = _write(tmp_path, "a;b\n1,5;2\n")
    with pytest.raises(InputError, match=r"line 2, column 'a': '1,5' is not a number; "
                                         r"decimal commas are not read"):
        read_columns(path, ["a"])
    with pytest.raises(InputError, match=r"line 3 has 1 cells; the header has 2"):
        read_columns(_write(tmp_path, "a;b\n1;2\n3\n", "short.csv"), ["a"])


def test_comma_files_read_as_before(tmp_path):
    """Cells with ; | or tabs inside quotes, and spaces, stay as they were with commas."""
    text = 'id,"x;1",y\n"a|b",1,2\n"c\td", 3 ,4\n'
    table = read_csv(_write(tmp_path, text))
    assert table.delimiter == ","
    assert table.header == ["id", "x;1", "y"]
    assert table.rows == list(enumerate(csv.reader(text.splitlines()), start=1))[1:]
    assert table.columns(["x;1", "y"]).tolist() == [[1.0, 2.0], [3.0, 4.0]]
