"""The first layout's module paths (``kanlab.layer``, ``kanlab.train``, ...) still import, as
the very modules that now live in the subpackages."""

import importlib
import subprocess
import sys

import pytest

import kanlab
from kanlab import _aliases


@pytest.mark.parametrize("old", sorted(set(_aliases.MOVED) - {"estimators"}))
def test_old_path_is_the_new_module(old):
    module = importlib.import_module(f"kanlab.{old}")
    new = importlib.import_module(f"kanlab.{_aliases.MOVED[old]}")
    assert module is new
    assert getattr(kanlab, old) is new
    assert new.__spec__.name == f"kanlab.{_aliases.MOVED[old]}"  # its own spec is kept


def test_readme_style_imports_give_the_same_objects():
    from kanlab.density import DensityGrid
    from kanlab.layer import KANLinear
    from kanlab.train import fit

    from kanlab.grids import DensityGrid as NewDensityGrid

    assert DensityGrid is NewDensityGrid
    assert KANLinear is kanlab.KANLinear
    assert fit is kanlab.fit


def test_an_unknown_name_is_still_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'not_a_module'"):
        kanlab.not_a_module  # noqa: B018
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("kanlab.not_a_module")


def test_old_path_in_a_fresh_interpreter():
    code = "import kanlab.sweeps as s, kanlab.science.sweeps as n; assert s is n"
    subprocess.run([sys.executable, "-c", code], check=True)
