"""The layers of docs/architecture.md hold: imports point down, never up or sideways between faces,
the engine, services and faces name no vendor, and no two packages import each other."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2] / "rightly"
RANK = {
    "domain": 0,
    "settings": 0,
    "loop": 0,
    "store": 1,
    "http": 2,
    "connectors": 3,
    "engine": 4,
    "services": 5,
    "faces": 6,
    "api": 7,
    "web": 7,
    "cli": 7,
    "app": 8,
}
# The emulator is a CleverTap stand-in: a tool beside the product. Only these may load it.
EMULATOR_USERS = {"rightly.cli.demo", "rightly.cli.main"}


def _imports() -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in ROOT.rglob("*.py"):
        if "migrations" in path.parts:
            continue
        module = ".".join(path.relative_to(ROOT.parent).with_suffix("").parts).removesuffix(".__init__")
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module)
                names |= {f"{node.module}.{a.name}" for a in node.names}
            elif isinstance(node, ast.Import):
                names |= {a.name for a in node.names}
        found[module] = {n for n in names if n.startswith("rightly.")}
    return found


def _package(module: str) -> str:
    return module.split(".")[1] if module.count(".") else module


def test_imports_point_down_and_faces_do_not_import_each_other() -> None:
    wrong = []
    for module, names in _imports().items():
        mine = _package(module)
        for name in names:
            theirs = _package(name)
            if mine == theirs or mine == "emulator":
                continue
            if theirs == "emulator":
                if module not in EMULATOR_USERS:
                    wrong.append(f"{module} loads the emulator ({name})")
                continue
            if RANK.get(theirs, -1) >= RANK.get(mine, 99):
                wrong.append(f"{module} ({mine}) imports {name} ({theirs})")
    assert wrong == []


def test_engine_services_and_faces_name_no_vendor() -> None:
    wrong = [
        f"{module} imports {name}"
        for module, names in _imports().items()
        if _package(module) in ("engine", "services", "faces", "api", "web", "cli", "domain", "store", "http")
        for name in names
        if name.startswith("rightly.connectors.") and not name.startswith("rightly.connectors.base")
    ]
    assert wrong == []


def test_no_two_packages_import_each_other() -> None:
    edges = {
        (_package(module), _package(name))
        for module, names in _imports().items()
        for name in names
        if _package(module) != _package(name)
    }
    assert sorted((a, b) for a, b in edges if (b, a) in edges) == []
