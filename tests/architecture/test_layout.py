"""The layout holds: rooms of ``common`` know only the rooms below them, ``common`` has
no import cycles and never imports ``services``, and no service imports another's code.

Imports are read from the source (every ``import`` statement, also inside functions),
so a lazy import cannot hide a dependency; imports under ``if TYPE_CHECKING:`` are for
annotations only and are left out.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

from common.core.registry import ROOT

#: Each room of common/ and the rooms it may import (besides itself).
ROOMS = {
    "core": set(),
    "client": {"core"},
    "media": {"core"},
    "alexa": {"core"},
    "serving": {"core", "client"},
    "batch": {"core", "client"},
    "pipeline": {"core", "client", "serving"},
    "training": set(),
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _statements(tree: ast.AST):
    """Every import statement of a module, skipping ``if TYPE_CHECKING:`` bodies."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and _is_type_checking(node):
            stack.extend(node.orelse)
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        stack.extend(ast.iter_child_nodes(node))


def imports_of(path: Path, own: str | None = None) -> set[str]:
    """The absolute names of the modules ``path`` (module ``own``) imports: ``from x
    import y`` counts as ``x`` and ``x.y``, since ``y`` may be a module."""
    own = own or module_name(path)
    package = own if path.name == "__init__.py" else own.rpartition(".")[0]
    found: set[str] = set()
    for node in _statements(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
            continue
        base = node.module or ""
        if node.level:
            anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
            base = ".".join(anchor + ([base] if base else []))
        found.add(base)
        found |= {f"{base}.{alias.name}" for alias in node.names}
    return found


def modules_under(folder: str) -> dict[str, Path]:
    return {module_name(p): p for p in sorted((ROOT / folder).rglob("*.py"))}


COMMON = modules_under("common")


def internal_graph() -> dict[str, set[str]]:
    """Module -> the modules of common/ it imports."""
    return {name: {i for i in imports_of(path) if i in COMMON and i != name}
            for name, path in COMMON.items()}


def room_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in ROOMS else None


def test_every_module_of_common_sits_in_a_room():
    loose = [m for m in COMMON if m != "common" and room_of(m) is None]
    assert loose == [], f"modules outside the rooms {sorted(ROOMS)}: {loose}"


def test_there_are_no_import_cycles_inside_common():
    graph, state, cycles = internal_graph(), {}, []

    def visit(node: str, path: list[str]) -> None:
        state[node] = "open"
        for child in sorted(graph[node]):
            if state.get(child) == "open":
                cycles.append(path[path.index(child):] + [child] if child in path
                              else [node, child])
            elif child not in state:
                visit(child, path + [child])
        state[node] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert cycles == []


@pytest.mark.parametrize("module", sorted(m for m in COMMON if room_of(m)))
def test_a_room_imports_only_the_rooms_below_it(module):
    room = room_of(module)
    targets = {i for i in imports_of(COMMON[module])
               if i == "common" or i.startswith("common.")}
    bad = sorted(t for t in targets if t == "common"
                 or (room_of(t) not in ROOMS[room] | {room} and t in COMMON))
    assert bad == [], f"{module} (room {room}) imports {bad}"


@pytest.mark.parametrize("folder", ["common", "tools", "deploy"])
def test_library_and_tooling_never_import_a_service(folder):
    """tools/ and deploy/ name services only through the registry, as strings."""
    offenders = {name: sorted(i for i in imports_of(path) if i.startswith("services"))
                 for name, path in modules_under(folder).items()}
    assert {k: v for k, v in offenders.items() if v} == {}


def test_no_service_imports_another_service():
    crossings = {}
    for name, path in modules_under("services").items():
        own = ".".join(name.split(".")[:2])
        foreign = sorted(i for i in imports_of(path)
                         if i.startswith("services.") and not i.startswith(own + ".")
                         and i != own)
        if foreign:
            crossings[name] = foreign
    assert crossings == {}


def test_the_import_reader_sees_lazy_and_relative_imports_but_not_annotations(tmp_path):
    """The checks above can fail: the reader finds what they look for."""
    sample = tmp_path / "sample.py"
    sample.write_text("from typing import TYPE_CHECKING\nfrom .batcher import X\n"
                      "if TYPE_CHECKING:\n    from common.client import Algo\n"
                      "def f():\n    from services.meme import app\n")
    found = imports_of(sample, "common.serving.sample")
    assert {"common.serving.batcher", "services.meme", "services.meme.app"} <= found
    assert "common.client" not in found
