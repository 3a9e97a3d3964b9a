"""The shape limits of docs/architecture.md hold (scripts/house_metrics.py), and the script
measures what it says it does."""

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("house_metrics", ROOT / "scripts/house_metrics.py")
house_metrics = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(house_metrics)


def test_src_is_within_the_limits(capsys):
    assert house_metrics.main([]) == 0, capsys.readouterr().out


def test_sizes_count_functions_classes_and_decorators():
    rows = {(kind, name): n for kind, name, n in house_metrics.sizes()}
    text = (ROOT / "src/kanlab/_modes.py").read_text()
    assert rows[("module", "kanlab/_modes.py")] == len(text.splitlines())
    start = text.splitlines().index("@contextmanager") + 1  # the decorator counts
    end = len(text.splitlines())  # evaluating runs to the end of the module
    assert rows[("function", "kanlab/_modes.py:evaluating")] == end - start + 1


def test_cycles_are_found():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert house_metrics._cycles(graph) == [["a", "b", "c"]]
    assert house_metrics._cycles({"a": {"b"}, "b": set()}) == []
