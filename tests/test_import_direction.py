"""The imports point one way: app → layers → adapters → kernel, with the sideways imports between
layers that docs/architecture.md declares. Both tables are read from that document, so the picture
there and the code cannot drift apart."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ARCHITECTURE = ROOT / "docs" / "architecture.md"
TIER_ORDER = ("kernel", "adapters", "layers", "tooling", "app")


def _table_after(marker: str, text: str) -> list[list[str]]:
    """The rows of the Markdown table that follows ``<!-- marker…`` (header and rule skipped)."""
    lines = text[text.index(f"<!-- {marker}"):].splitlines()[1:]
    rows = []
    for line in lines[2:]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return rows


def _names(cell: str) -> list[str]:
    return re.findall(r"`([\w.]+)`", cell)


def declared_rules(text: str) -> tuple[dict[str, str], set[tuple[str, str]]]:
    """(package → tier, {(layer, layer it may import)}) as the document declares them."""
    tiers = {package: tier for tier, packages, _ in _table_after("tiers", text) for package in _names(packages)}
    sideways = {(_names(a)[0], _names(b)[0]) for a, b, _ in _table_after("sideways", text)}
    return tiers, sideways


def room_of(module: str, tiers: dict[str, str]) -> str | None:
    """The longest declared package that holds ``module`` (``adapters.kafka.seam`` → ``adapters.kafka``)."""
    parts = module.split(".")
    for n in range(len(parts), 0, -1):
        if ".".join(parts[:n]) in tiers:
            return ".".join(parts[:n])
    return None


def imports_of(path: Path) -> list[tuple[int, str]]:
    """Every absolute import of a module, also those inside functions (line, module)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found += [(node.lineno, f"{node.module}.{alias.name}") for alias in node.names]
    return found


def violation(source_room: str, target_room: str, tiers: dict[str, str], sideways: set) -> str | None:
    """Why ``source_room`` may not import ``target_room``, or None when it may."""
    if source_room == target_room:
        return None
    source, target = TIER_ORDER.index(tiers[source_room]), TIER_ORDER.index(tiers[target_room])
    if source == TIER_ORDER.index("app"):
        return None
    if target > source:
        return f"{tiers[source_room]} imports {tiers[target_room]} (upward)"
    if target == source and tiers[source_room] == "adapters":
        return "one adapter imports another"
    if target == source and (source_room, target_room) not in sideways:
        return "one layer imports another sideways, undeclared"
    return None


def violations(tiers: dict[str, str], sideways: set) -> list[str]:
    out = []
    for path in sorted(ROOT.glob("*/**/*.py")):
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        source_room = room_of(module, tiers)
        if source_room is None:
            continue  # tests, benchmarks, the virtualenv: not part of the house
        for line, imported in imports_of(path):
            target_room = room_of(imported, tiers)
            why = target_room and violation(source_room, target_room, tiers, sideways)
            if why:
                out.append(f"{path.relative_to(ROOT)}:{line} imports {imported}: {why}")
    return out


def test_every_import_points_down_or_is_declared():
    tiers, sideways = declared_rules(ARCHITECTURE.read_text())
    assert violations(tiers, sideways) == []


def test_the_tables_name_every_package_of_the_tree():
    tiers, sideways = declared_rules(ARCHITECTURE.read_text())
    packages = {p.parent.name for p in ROOT.glob("*/__init__.py")} | {"dags"}
    top_level = {room.split(".")[0] for room in tiers}
    assert packages - {"tests", "bench"} == top_level
    adapters = {p.parent.name for p in (ROOT / "adapters").glob("*/__init__.py")}
    assert adapters == {room.split(".")[1] for room in tiers if room.startswith("adapters.")}
    assert all(tiers[a] == tiers[b] == "layers" for a, b in sideways)


@pytest.mark.parametrize("source, target, expected", [
    ("viewcount", "app", "kernel imports app (upward)"),
    ("adapters.redis", "speed_layer", "adapters imports layers (upward)"),
    ("adapters.kafka", "adapters.files", "one adapter imports another"),
    ("serving_layer", "billing", "one layer imports another sideways, undeclared"),
    ("batch_layer", "audit", None),
    ("devtools", "app", "tooling imports app (upward)"),
    ("app", "devtools", None),
    ("speed_layer", "viewcount", None),
])
def test_the_checker_refuses_what_the_tables_forbid(source, target, expected):
    tiers, sideways = declared_rules(ARCHITECTURE.read_text())
    assert violation(source, target, tiers, sideways) == expected
