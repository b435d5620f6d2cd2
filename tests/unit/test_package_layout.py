"""The package's rooms and the direction of their imports (lambda/ddb_opensearch_sync).

`core` is pure and imports no other room; `index` builds on `core` only; `sync`, `search` and
`ops` build on both, and only `ops` on `sync` (``replay`` re-runs the function's own batch path:
mapping, writer, dead letters); `sync` and `search` never import `ops` or each other.
Subpackage ``__init__`` modules import nothing, so a zip traced from one handler does not pull
in its siblings.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "lambda" / "ddb_opensearch_sync"
ALLOWED = {
    "core": {"core"},
    "index": {"core", "index"},
    "sync": {"core", "index", "sync"},
    "search": {"core", "index", "search"},
    "ops": {"core", "index", "ops", "sync"},
}
# Standard-library and third-party modules that do I/O: none may be imported by `core`, but
# for boto3's pure type (de)serialiser.
IO_MODULES = {"boto3", "botocore", "opensearchpy", "requests", "urllib3", "socket", "http"}
PURE_EXCEPTIONS = ("boto3.dynamodb.types",)


def room_of(path: Path) -> str:
    return path.relative_to(PACKAGE).parts[0]


def imported_modules(path: Path) -> set[str]:
    """Absolute names of every module ``path`` imports (relative imports resolved)."""
    package = ["ddb_opensearch_sync", *path.relative_to(PACKAGE).parent.parts]
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, node.module] if node.module else base)
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return names


def rooms_imported(path: Path) -> set[str]:
    rooms = set()
    for name in imported_modules(path):
        parts = name.split(".")
        if parts[0] == "ddb_opensearch_sync" and len(parts) > 1 and parts[1] in ALLOWED:
            rooms.add(parts[1])
    return rooms


ROOM_MODULES = sorted(p for p in PACKAGE.rglob("*.py") if p.parent != PACKAGE)


def test_every_module_lives_in_a_room() -> None:
    loose = sorted(p.name for p in PACKAGE.glob("*.py") if p.name != "__init__.py")
    rooms = {p.name for p in PACKAGE.iterdir() if p.is_dir() and p.name != "__pycache__"}

    assert loose == []
    assert rooms == set(ALLOWED)


@pytest.mark.parametrize("path", ROOM_MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_point_down(path: Path) -> None:
    room = room_of(path)

    assert rooms_imported(path) <= ALLOWED[room]


@pytest.mark.parametrize(
    "path", sorted(PACKAGE.glob("core/*.py")), ids=lambda p: str(p.relative_to(PACKAGE))
)
def test_core_does_no_io(path: Path) -> None:
    io = {
        name
        for name in imported_modules(path)
        if name.split(".")[0] in IO_MODULES and not name.startswith(PURE_EXCEPTIONS)
    }

    assert io == set()


@pytest.mark.parametrize(
    "path", sorted(PACKAGE.glob("*/__init__.py")), ids=lambda p: str(p.relative_to(PACKAGE))
)
def test_subpackage_inits_import_nothing(path: Path) -> None:
    assert imported_modules(path) <= {"__future__", "__future__.annotations"}
