"""Each module of kanlab may import only the layers below it (DESIGN.md)."""

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "kanlab"
# lower number = lower layer; a module may import only modules of a lower layer
LAYERS = {
    "errors": 0, "_validation": 1, "_autodiff": 1,
    "splines": 2,
    "lstsq": 3,
    "symbolic": 2,
    "spline_linear": 3, "grids": 3, "optim": 3,
    "initialization": 3, "standardize": 3, "schedules": 3,
    "symbolic_edges": 3, "sparsity": 3,
    "layer": 4, "density": 4,
    "distributed": 4,
    "model": 5,
    "data": 5, "mlp": 5, "pde": 6,
    "train": 6, "datasets": 6, "science_data": 6, "feynman_catalog": 6,
    "importance": 6, "symbolic_model": 6, "formula": 6,
    "prune": 7, "plot": 7, "sweeps": 7, "unsupervised": 7, "demos": 8,
    "cli": 8, "report": 8, "estimators": 9, "__main__": 9, "__init__": 10,
}
OPTIONAL = {"sympy", "matplotlib", "sklearn", "tqdm", "scipy"}
# estimators subclasses sklearn's mixins, so it imports sklearn at module level; kanlab's
# __init__ imports it lazily (module __getattr__), so `import kanlab` still does not
ALLOWED_OPTIONAL = {"estimators": {"sklearn"}}


def _imports(path: Path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        top_level = node in tree.body
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            yield (node.module or "").split(".")[0], top_level
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module.split(".")[0], top_level
        elif isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name.split(".")[0], top_level


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_module_imports_only_lower_layers(name):
    for target, top_level in _imports(SRC / f"{name}.py"):
        if target in LAYERS and top_level:
            assert LAYERS[target] < LAYERS[name] or target == name, f"{name} imports {target}"
        if target in OPTIONAL and target not in ALLOWED_OPTIONAL.get(name, ()):
            assert not top_level, f"{name} imports optional dependency {target} at module level"


def test_every_module_is_placed():
    assert {p.stem for p in SRC.glob("*.py")} <= set(LAYERS)
