"""The import graph of the four packages, computed statically (issue 17, items 2 and 10).

What counts as an import: every `import x` / `from x import y` anywhere in a module, at module
level or inside a function (a lazy import still ties the two modules together: a cycle through
lazy imports is still a layering cycle, only one that happens not to crash at start-up). Imports
under `if TYPE_CHECKING:` are exempt (they never run). The parent packages Python initialises
implicitly (`import a.b.c` also runs `a/__init__` and `a/b/__init__`) are not counted; a package
`__init__` that is named explicitly is a module like any other. `from pkg import name` points at
`pkg.name` when that is a module, else at `pkg`.

The rules checked:
- no cycle between modules (strongly connected components of the graph, size > 1 or a
  self-import), except the ones listed in KNOWN_CYCLES (to be emptied);
- layering integrity <- transcode <- ingest <- server: integrity imports none of the others,
  transcode only integrity, ingest only integrity and transcode, server anything;
- the domain packages of server/ (all but server/http/ and server/cli/) import neither aiohttp
  nor server.http.* nor the command line (server.cli.*).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("integrity", "transcode", "ingest", "server")
# Which top-level packages each one may import (besides itself).
ALLOWED = {
    "integrity": set(),
    "transcode": {"integrity"},
    "ingest": {"integrity", "transcode"},
    "server": {"integrity", "transcode", "ingest"},
}
# Packages of server/ that are not domain code: they may import aiohttp and server.http.
NOT_DOMAIN = ("server.http", "server.cli")
# Cycles that exist on a helper's branch while another helper moves the code they run through;
# each is a frozenset of module names. The lead empties this at merge.
KNOWN_CYCLES: set[frozenset[str]] = set()
# Domain modules still importing aiohttp / server.http, for the same reason: "module -> target".
KNOWN_HTTP_IMPORTS: set[str] = set()


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def all_modules() -> dict[str, Path]:
    found = {}
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            found[module_name(path)] = path
    return found


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _walk(node: ast.AST) -> Iterator[ast.AST]:
    """ast.walk without the bodies of `if TYPE_CHECKING:` (their else branch is kept)."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and _is_type_checking(child.test):
            for sub in child.orelse:
                yield sub
                yield from _walk(sub)
            continue
        yield child
        yield from _walk(child)


def imports_of(name: str, path: Path, modules: dict[str, Path]) -> Iterator[tuple[str, int]]:
    """(imported module name, line) for every import in the file; external names as written."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    is_pkg = path.name == "__init__.py"
    for node in _walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".")
                drop = node.level - 1 if is_pkg else node.level
                base = base[: len(base) - drop] if drop else base
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                yield (sub if sub in modules else target), node.lineno


def graph() -> tuple[dict[str, set[str]], dict[tuple[str, str], int], dict[str, list[str]]]:
    """Edges between our modules, the line of each edge, and each module's external imports."""
    modules = all_modules()
    edges: dict[str, set[str]] = {m: set() for m in modules}
    lines: dict[tuple[str, str], int] = {}
    external: dict[str, list[str]] = {m: [] for m in modules}
    for name, path in modules.items():
        for target, line in imports_of(name, path, modules):
            if target.split(".")[0] not in PACKAGES:
                external[name].append(target)
                continue
            # `import a.b.c` where a.b.c is an attribute, not a module: the deepest module.
            while target not in modules and "." in target:
                target = target.rsplit(".", 1)[0]
            if target in modules:
                edges[name].add(target)
                lines.setdefault((name, target), line)
    return edges, lines, external


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module, or a module importing itself
    (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    counter = 0
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges[child]))))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    m = stack.pop()
                    on_stack.discard(m)
                    component.append(m)
                    if m == node:
                        break
                if len(component) > 1 or node in edges[node]:
                    out.append(sorted(component))
    return out


def describe(component: list[str], edges: dict[str, set[str]], lines: dict) -> str:
    members = set(component)
    inner = [f"    {a}:{lines[a, b]} -> {b}" for a in component for b in sorted(edges[a] & members)]
    return "{" + ", ".join(component) + "}\n" + "\n".join(inner)


@pytest.fixture(scope="module")
def import_graph() -> tuple[dict[str, set[str]], dict[tuple[str, str], int], dict[str, list[str]]]:
    return graph()


def test_the_graph_sees_lazy_imports_and_skips_type_checking(tmp_path: Path) -> None:
    """The analyser itself: a function-level import is an edge, a TYPE_CHECKING one is not."""
    src = (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from server.catalogue import models\n"
        "def f():\n    from server.custody import ledger\n"
        "from . import db\n"
    )
    path = tmp_path / "m.py"
    path.write_text(src)
    modules = {
        "server.catalogue.m": path,
        "server.catalogue.db": path,
        "server.custody.ledger": path,
        "server.catalogue.models": path,
    }
    found = {t for t, _ in imports_of("server.catalogue.m", path, modules)}
    assert "server.custody.ledger" in found
    assert "server.catalogue.db" in found
    assert "server.catalogue.models" not in found
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"a"}}) == [["a"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycles(import_graph) -> None:
    edges, lines, _ = import_graph
    found = cycles(edges)
    new = [c for c in found if frozenset(c) not in KNOWN_CYCLES]
    assert not new, "import cycles:\n" + "\n".join(describe(c, edges, lines) for c in new)
    gone = KNOWN_CYCLES - {frozenset(c) for c in found}
    assert not gone, f"KNOWN_CYCLES lists cycles that no longer exist: {gone}"


def test_layering(import_graph) -> None:
    """integrity <- transcode <- ingest <- server."""
    edges, lines, _ = import_graph
    wrong = [
        f"{a}:{lines[a, b]} imports {b}"
        for a, targets in sorted(edges.items())
        for b in sorted(targets)
        if b.split(".")[0] != a.split(".")[0] and b.split(".")[0] not in ALLOWED[a.split(".")[0]]
    ]
    assert not wrong, "imports against integrity <- transcode <- ingest <- server:\n" + "\n".join(
        wrong
    )


def test_domain_modules_do_not_import_http(import_graph) -> None:
    edges, lines, external = import_graph
    wrong = []
    for mod in sorted(edges):
        if not mod.startswith("server.") or ".".join(mod.split(".")[:2]) in NOT_DOMAIN:
            continue
        for target in sorted(edges[mod]):
            if ".".join(target.split(".")[:2]) in NOT_DOMAIN:
                wrong.append(f"{mod} -> {target}")
        for target in sorted(set(external[mod])):
            if target.split(".")[0] == "aiohttp":
                wrong.append(f"{mod} -> {target}")
    new = [w for w in wrong if w not in KNOWN_HTTP_IMPORTS]
    assert not new, "domain modules importing aiohttp or server.http:\n" + "\n".join(new)
    gone = KNOWN_HTTP_IMPORTS - set(wrong)
    assert not gone, f"KNOWN_HTTP_IMPORTS lists imports that no longer exist: {gone}"


def test_the_graph_covers_every_module(import_graph) -> None:
    edges, _, _ = import_graph
    assert "integrity.verify_package" in edges and "server.cli" in edges
    assert len(edges) > 100
