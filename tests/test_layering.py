"""The import rules of docs/architecture.md, checked on every import at any depth.

Each module of ``kanlab`` may import modules of its own subpackage and of subpackages in a lower
layer, never a higher one -- inside functions too. The one exception is the model's documented
convenience facade (:data:`FACADE`). There is no import cycle between modules, no private name
imported from another module, no optional dependency imported at module level, and the GPL
packages of the ``knots`` extra (SnapPy) never imported at all.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "kanlab"

#: lower number = lower layer; keys are subpackages or top-level modules of kanlab
LAYERS = {
    "errors": 0, "_validation": 1, "_autodiff": 1, "_optional": 1, "_modes": 1, "_version": 1,
    "splines": 2, "symbolic": 2, "data": 2,
    "grids": 3,
    "nn": 4,
    "training": 5, "interpret": 5,
    "science": 6,
    "apps": 7,
    "_aliases": 8, "__init__": 9, "__main__": 9,
}
#: the model's pykan-style convenience methods (docs/architecture.md, "The facade"): the methods
#: of ``kanlab.nn.facade.KANFacade`` (a mixin of ``KAN``), each importing a higher layer inside
#: its body. These are the only upward imports; no other module may import a higher layer.
FACADE = {
    ("kanlab.nn.facade", "kanlab.interpret.importance"),
    ("kanlab.nn.facade", "kanlab.interpret.prune"),
    ("kanlab.nn.facade", "kanlab.interpret.symbolic_model"),
    ("kanlab.nn.facade", "kanlab.interpret.plot"),
    ("kanlab.nn.facade", "kanlab.interpret.lan_plot"),
    ("kanlab.nn.facade", "kanlab.training.loop"),
}
OPTIONAL = {"sympy", "matplotlib", "sklearn", "tqdm", "scipy"}
#: the ``knots`` extra (GPL): only experiments/knot_data.py and its tests may import these
NEVER = {"snappy", "spherogram", "snappy_manifolds", "snappy_15_knots", "cypari", "plink"}
# estimators subclasses sklearn's mixins, so it imports sklearn at module level; kanlab's
# __init__ imports it lazily (module __getattr__), so `import kanlab` still does not
ALLOWED_OPTIONAL = {"kanlab.apps.estimators": {"sklearn"}}


def _module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in sorted(SRC.rglob("*.py"))}


def _layer_key(module: str) -> str:
    parts = module.split(".")
    if len(parts) == 1:
        return "__init__"
    if len(parts) == 2 and (SRC / f"{parts[1]}.py").exists():
        return parts[1]
    return parts[1]


def _resolve(module: str, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    package = module.split(".") if MODULES[module].name == "__init__.py" else module.split(".")[:-1]
    base = package[: len(package) - node.level + 1]
    return ".".join(base + ([node.module] if node.module else []))


def imports(module: str):
    """``(imported module, names, top_level)`` for every import statement in ``module``."""
    tree = ast.parse(MODULES[module].read_text())
    top = set(map(id, tree.body))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            target = _resolve(module, node)
            names = [a.name for a in node.names]
            if target == "kanlab" or f"{target}.{names[0]}" in MODULES:
                # ``from kanlab.grids import density``: submodules, one import each
                for name in names:
                    full = f"{target}.{name}"
                    yield (full if full in MODULES else target), [], id(node) in top
            else:
                yield target, names, id(node) in top
        elif isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, [], id(node) in top


def _kanlab_edges():
    for module in MODULES:
        for target, names, _ in imports(module):
            if target.startswith("kanlab.") or target == "kanlab":
                yield module, target, names


@pytest.mark.parametrize("module", sorted(MODULES))
def test_module_imports_only_its_package_and_lower_layers(module):
    key = _layer_key(module)
    assert key in LAYERS, f"{module} is in no layer: place it in LAYERS and docs/architecture.md"
    for _, target, _ in (e for e in _kanlab_edges() if e[0] == module):
        if target == "kanlab" or (module, target) in FACADE:
            continue
        other = _layer_key(target)
        assert other == key or LAYERS[other] < LAYERS[key], (
            f"{module} imports {target} (layer {other!r} is not below {key!r})"
        )


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_optional_dependency_at_module_level(module):
    for target, _, top_level in imports(module):
        root = target.split(".")[0]
        if root in OPTIONAL and root not in ALLOWED_OPTIONAL.get(module, ()):
            assert not top_level, f"{module} imports optional dependency {root} at module level"


@pytest.mark.parametrize("module", sorted(MODULES))
def test_the_library_never_imports_the_gpl_knot_packages(module):
    found = {target.split(".")[0] for target, _, _ in imports(module)} & NEVER
    assert not found, f"{module} imports {sorted(found)} (GPL: only experiments may)"


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_private_name_imported_from_another_module(module):
    for _, target, names in (e for e in _kanlab_edges() if e[0] == module):
        private = [n for n in names if n.startswith("_") and not n.startswith("__")]
        assert not private, f"{module} imports private {private} from {target}"


def _house_metrics():
    """``scripts/house_metrics.py`` (its strongly-connected-components finder)."""
    import importlib.util

    path = SRC.parents[1] / "scripts" / "house_metrics.py"
    spec = importlib.util.spec_from_file_location("house_metrics", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_no_import_cycle_outside_the_facade():
    graph: dict[str, set[str]] = {m: set() for m in MODULES}
    for module, target, _ in _kanlab_edges():
        if (module, target) in FACADE or target not in MODULES:
            continue
        graph[module].add(target)
    # a package's __init__ imports its modules; a module importing its own package's __init__
    # (``from kanlab.grids import X`` inside kanlab.grids) would close a cycle
    cycles = _house_metrics()._cycles(graph)
    assert not cycles, f"import cycles: {cycles}"


def _is_upward(module: str, target: str) -> bool:
    key, other = _layer_key(module), _layer_key(target)
    return target != "kanlab" and other != key and LAYERS[other] > LAYERS[key]


def test_the_facade_is_exactly_what_the_model_imports_upwards():
    """FACADE is the set of upward imports, no more (the list documents the code, not a wish)
    and no less (test_module_imports_only_its_package_and_lower_layers checks that side), and
    every entry is an import inside a method, never at module level."""
    upward = {(m, t) for m, t, _ in _kanlab_edges() if _is_upward(m, t)}
    assert upward == FACADE, f"not in FACADE: {sorted(upward - FACADE)}; " \
                             f"unused: {sorted(FACADE - upward)}"
    for module in {m for m, _ in FACADE}:
        for target, _, top_level in imports(module):
            if (module, target) in FACADE:
                assert not top_level, f"{module} imports {target} at module level"
