"""No module of the package imports another that imports it back, at any depth: the import graph,
built from the source with ast (imports inside functions included), has no cycle."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).parent.parent / "svdgrad_cli"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def package_of(path: Path) -> str:
    name = module_name(path)
    return name if path.name == "__init__.py" else name.rpartition(".")[0]


def imported_names(path: Path) -> set[str]:
    """Every dotted name a module imports, anywhere in it; ``from X import y`` gives X and X.y."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package_of(path).split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            names.add(base)
            names |= {f"{base}.{alias.name}" for alias in node.names}
    return names


def import_graph() -> dict[str, set[str]]:
    """Module -> the package's modules it imports (a name resolves to the module it is, or is in)."""
    paths = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    return {name: {n for n in imported_names(path) if n in paths} - {name} for name, path in paths.items()}


def reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    """Every module that importing ``start`` imports, at any depth."""
    seen: set[str] = set()
    todo = list(graph[start])
    while todo:
        node = todo.pop()
        if node not in seen:
            seen.add(node)
            todo.extend(graph[node])
    return seen


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The groups of modules that import each other (at any depth), each sorted, in name order."""
    reach = {node: reachable(graph, node) for node in graph}
    groups = {
        tuple(sorted(n for n in reach[node] if node in reach[n])) for node in graph if node in reach[node]
    }
    return sorted(list(group) for group in groups)


def test_the_graph_sees_imports_inside_functions_and_relative_ones(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from svdgrad_cli.numerics import svd\n    import svdgrad_cli.errors\n")
    assert {"svdgrad_cli.numerics.svd", "svdgrad_cli.errors"} <= imported_names(module)


def test_cycles_are_found():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert cycles(graph) == [["a", "b", "c"]]


def test_no_module_imports_one_that_imports_it_back():
    assert cycles(import_graph()) == []
