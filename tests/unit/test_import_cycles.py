"""No import circle in ncclient_twisted: the graph of its modules' imports, read with ``ast``.

Every ``import`` counts, at module level or inside a function (a function-level import
only hides a circle until that function runs, and then each half needs the other to be
loaded first); only those under ``if TYPE_CHECKING:`` do not (never run). An import of
``a.b.c`` counts as an edge to ``a.b.c`` alone, not to the packages ``a`` and ``a.b`` that
Python loads first: a package's ``__init__`` re-exports its modules, so every module
would otherwise be in a circle with it.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Set

import pytest

PACKAGE = "ncclient_twisted"
ROOT = Path(__file__).resolve().parents[2] / PACKAGE


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> Dict[str, Path]:
    return {_module_name(p): p for p in ROOT.rglob("*.py")}


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST) -> Iterator[ast.stmt]:
    """Every import statement of *tree*, at any depth, but those under ``if TYPE_CHECKING``."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.orelse:
                yield from _imports(ast.Module(body=[child], type_ignores=[]))
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        else:
            yield from _imports(node)


def _resolve(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".")
    if not is_package:
        base = base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def import_graph() -> Dict[str, Set[str]]:
    """Module -> the ncclient_twisted modules it imports."""
    modules = _modules()
    graph: Dict[str, Set[str]] = {}
    for name, path in modules.items():
        edges: Set[str] = set()
        tree = ast.parse(path.read_text(), str(path))
        for node in _imports(tree):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                source = _resolve(name, path.name == "__init__.py", node)
                # "from a import b": the module a.b if there is one, else a.
                targets = [
                    "%s.%s" % (source, alias.name) if "%s.%s" % (source, alias.name) in modules else source
                    for alias in node.names
                ]
            edges.update(t for t in targets if t in modules and t != name)
        graph[name] = edges
    return graph


def find_cycle(graph: Dict[str, Set[str]]) -> Optional[List[str]]:
    """A circle of *graph* (its modules in order, the first repeated at the end), or None."""
    state: Dict[str, int] = {}  # 1: on the current path, 2: done
    path: List[str] = []

    def visit(node: str) -> Optional[List[str]]:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_no_module_of_the_package_is_in_an_import_circle() -> None:
    graph = import_graph()
    assert len(graph) > 50  # the walk found the package
    cycle = find_cycle(graph)
    assert cycle is None, "import circle: " + " -> ".join(cycle or [])


@pytest.mark.parametrize(
    "graph, expected",
    [
        ({"a": {"b"}, "b": {"c"}, "c": {"a"}}, ["a", "b", "c", "a"]),
        ({"a": {"b"}, "b": set(), "c": {"c2"}, "c2": {"c"}}, ["c", "c2", "c"]),
        ({"a": {"b"}, "b": set()}, None),
    ],
)
def test_the_check_names_the_circle(graph: Dict[str, Set[str]], expected: Optional[List[str]]) -> None:
    assert find_cycle(graph) == expected


def test_function_level_imports_count_and_type_checking_ones_do_not() -> None:
    tree = ast.parse(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    import hidden\n"
        "def f():\n    import inside\n"
        "import top\n"
    )
    names = {alias.name for node in _imports(tree) for alias in node.names}  # type: ignore[attr-defined]
    assert names == {"TYPE_CHECKING", "inside", "top"}


def test_the_two_transports_do_not_import_each_other() -> None:
    graph = import_graph()
    crossing = [
        (module, target)
        for module, targets in graph.items()
        for target in targets
        for a, b in (("reactor", "threads"), ("threads", "reactor"))
        if module.startswith("%s.transport.%s" % (PACKAGE, a))
        and target.startswith("%s.transport.%s" % (PACKAGE, b))
    ]
    assert crossing == []


def test_the_reactor_transport_does_not_import_paramiko_sessions() -> None:
    """io="reactor" uses paramiko's key classes (host keys), never ncclient's SSH session."""
    for path in sorted((ROOT / "transport" / "reactor").glob("*.py")):
        imported = [
            (node.module or "") if isinstance(node, ast.ImportFrom) else alias.name
            for node in _imports(ast.parse(path.read_text()))
            for alias in node.names  # type: ignore[attr-defined]
        ]
        assert [m for m in imported if m.startswith("ncclient.transport.ssh")] == [], path
