"""fit's progress bar: drawn on a terminal, never into a log file or a pipe."""

import io
import logging
import sys

import pytest
import torch

from kanlab import KAN, fit
from kanlab.data import make_toy_dataset

pytest.importorskip("tqdm")


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture(scope="module")
def data():
    return make_toy_dataset("exp_sin_sq", n_train=50, n_test=10, seed=0, dtype=torch.float64)


def _fit(data, **kw):
    model = KAN([2, 1, 1], grid_size=3, seed=0, dtype=torch.float64)
    return fit(model, data, steps=10, opt="adam", update_grid=False, **kw)


def test_no_bar_is_drawn_into_a_stream_that_is_not_a_terminal(data, monkeypatch, caplog):
    log = io.StringIO()  # stderr redirected to a file, a pipe, CI
    monkeypatch.setattr(sys, "stderr", log)
    with caplog.at_level(logging.INFO, logger="kanlab.training.loop"):
        _fit(data)  # progress=True, the default
    assert log.getvalue() == ""  # before: "fit: 100%|..." with carriage returns
    # the loss is logged instead, ten times a run
    assert [r.getMessage() for r in caplog.records][-1].startswith("step 10/10 loss")


def test_the_bar_is_drawn_on_a_terminal_unless_progress_is_false(data, monkeypatch):
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    _fit(data)
    assert "fit" in terminal.getvalue() and "10/10" in terminal.getvalue()
    hidden = _Terminal()
    monkeypatch.setattr(sys, "stderr", hidden)
    _fit(data, progress=False)
    assert hidden.getvalue() == ""


def test_a_closed_stream_counts_as_no_terminal():
    from kanlab.training.records import is_terminal, progress_bar

    closed = io.StringIO()
    closed.close()  # its isatty() raises ValueError
    assert not is_terminal(closed) and not is_terminal(object())
    assert progress_bar(5, True, io.StringIO()) is None
    bar = progress_bar(5, True, _Terminal())
    assert bar is not None
    bar.close()
