"""The layers import downwards only: retrieval/ imports none of ingest/, eval/ or app/; ingest/ and
eval/ import nothing of app/ (the CLI, API and app sit on top and are imported by nothing below).
And no two of our modules import each other, directly or round a cycle."""

import ast
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
BELOW = {"retrieval": {"ingest", "eval", "app"}, "ingest": {"eval", "app"}, "eval": {"app"}}


def imported(path: Path) -> set[str]:
    """The top-level packages `path` imports, wherever in the file the import stands."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module.split(".")[0])
    return found


@pytest.mark.parametrize("package", sorted(BELOW))
def test_a_layer_imports_nothing_from_the_layers_above_it(package):
    upward = {str(path.relative_to(ROOT)): sorted(imported(path) & BELOW[package]) for path in sorted((ROOT / package).rglob("*.py"))}
    assert {path: above for path, above in upward.items() if above} == {}


def _module(path: Path) -> str:
    name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
    return name.removesuffix(".__init__")


def _graph() -> dict[str, set[str]]:
    ours = {"retrieval", "ingest", "eval", "app"}
    graph: dict[str, set[str]] = {}
    for package in ours:
        for path in (ROOT / package).rglob("*.py"):
            deps: set[str] = set()
            for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
                if isinstance(node, ast.ImportFrom) and node.module and not node.level:
                    deps.add(node.module)
                elif isinstance(node, ast.Import):
                    deps |= {alias.name for alias in node.names}
            graph[_module(path)] = {d for d in deps if d.split(".")[0] in ours}
    return graph


def _cycles(graph: dict[str, set[str]]) -> set[frozenset[str]]:
    """The modules of each strongly connected component of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: set[frozenset[str]] = set()

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in graph.get(node, ()):
            if nxt not in graph:
                continue
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                component.add(member)
                if member == node:
                    break
            if len(component) > 1:
                found.add(frozenset(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycle_between_our_modules():
    """Imports inside functions count: a cycle hidden in a function is still two modules that must change together."""
    assert _cycles(_graph()) == set()


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == {frozenset({"a", "b", "c"})}
