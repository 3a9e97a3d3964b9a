"""The shape of ``src/kanlab`` against the limits of docs/architecture.md, as a table.

Limits: no function over 80 lines, no class over 350, no module over 500 except the pure data
tables (:data:`DATA_TABLES`), no import cycle at any depth outside the model's facade, no
private name imported from another module. The import rules and the facade are those of
``tests/test_layering.py``, loaded from there.

Usage: ``python scripts/house_metrics.py [--all]`` (``--all`` lists every function, class and
module over half its limit). Exit status 1 when a limit is broken.
"""

from __future__ import annotations

import argparse
import ast
import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "kanlab"
LIMITS = {"function": 80, "class": 350, "module": 500}
#: modules that are tables of data, not code
DATA_TABLES = {"kanlab/data/feynman_catalog.py"}


def _layering():
    spec = importlib.util.spec_from_file_location("test_layering", ROOT / "tests/test_layering.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _lines(node: ast.AST) -> int:
    start = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
    return node.end_lineno - start + 1


def sizes() -> list[tuple[str, str, int]]:
    """``(kind, name, lines)`` of every module, class and function (methods and nested ones
    too) in ``src/kanlab``."""
    rows = []
    for path in sorted(SRC.rglob("*.py")):
        rel = str(path.relative_to(SRC.parent))
        text = path.read_text()
        rows.append(("module", rel, len(text.splitlines())))
        tree = ast.parse(text)

        def walk(node, prefix):
            for child in ast.iter_child_nodes(node):
                if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    rows.append(("function", f"{prefix}{child.name}", _lines(child)))
                    walk(child, f"{prefix}{child.name}.")
                elif isinstance(child, ast.ClassDef):
                    rows.append(("class", f"{prefix}{child.name}", _lines(child)))
                    walk(child, f"{prefix}{child.name}.")

        walk(tree, f"{rel}:")
    return rows


def import_findings() -> dict[str, list[str]]:
    """Import cycles, upward imports and private imports, as ``tests/test_layering.py`` sees
    them."""
    lay = _layering()
    found = {"cycle": [], "upward import": [], "private import": []}
    graph = {m: set() for m in lay.MODULES}
    for module, target, names in lay._kanlab_edges():
        if (module, target) in lay.FACADE or target == "kanlab":
            continue
        if target in graph:
            graph[module].add(target)
        key, other = lay._layer_key(module), lay._layer_key(target)
        if other != key and lay.LAYERS.get(other, 99) >= lay.LAYERS.get(key, -1):
            found["upward import"].append(f"{module} -> {target}")
        private = [n for n in names if n.startswith("_") and not n.startswith("__")]
        if private:
            found["private import"].append(f"{module} <- {target}.{','.join(private)}")
    found["cycle"] = [" -> ".join(c) for c in _cycles(graph)]
    return found


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (iterative Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack, on_stack, out = [], set(), []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            v, children = work[-1]
            for w in children:
                if w not in index:
                    index[w] = low[w] = len(index)
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(graph[w]))))
                    break
                if w in on_stack:
                    low[v] = min(low[v], index[w])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[v])
                if low[v] == index[v]:
                    component = []
                    while True:
                        w = stack.pop()
                        on_stack.discard(w)
                        component.append(w)
                        if w == v:
                            break
                    if len(component) > 1:
                        out.append(sorted(component))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--all", action="store_true", help="also list what is over half a limit")
    args = parser.parse_args(argv)
    rows = sizes()
    over = [(k, n, v) for k, n, v in rows
            if v > LIMITS[k] and not (k == "module" and n in DATA_TABLES)]
    near = [(k, n, v) for k, n, v in rows if LIMITS[k] / 2 < v <= LIMITS[k]]
    found = import_findings()
    print("| measure | limit | largest | over the limit |")
    print("|---|---:|---:|---:|")
    for kind in ("function", "class", "module"):
        sized = [r for r in rows if r[0] == kind
                 and not (kind == "module" and r[1] in DATA_TABLES)]
        top = max(sized, key=lambda r: r[2])
        n_over = sum(1 for r in over if r[0] == kind)
        print(f"| {kind} lines | {LIMITS[kind]} | {top[2]} ({top[1]}) | {n_over} |")
    for what, items in found.items():
        print(f"| {what}s | 0 | – | {len(items)} |")
    n_modules = sum(1 for r in rows if r[0] == "module")
    n_lines = sum(r[2] for r in rows if r[0] == "module")
    print(f"\n{n_modules} modules, {n_lines} lines in src/kanlab.")
    if over or any(found.values()):
        print("\nOver the limits:")
        for kind, name, n in sorted(over, key=lambda r: -r[2]):
            print(f"- {kind} {name}: {n} lines")
        for what, items in found.items():
            for item in items:
                print(f"- {what}: {item}")
    if args.all and near:
        print("\nOver half a limit:")
        for kind, name, n in sorted(near, key=lambda r: -r[2]):
            print(f"- {kind} {name}: {n} lines")
    return 1 if over or any(found.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
