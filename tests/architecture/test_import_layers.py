"""Imports point down the data flow (DESIGN.md rule 6, docs/architecture.md): read every import of
``src/omnirouter`` with ``ast`` (module level, inside functions and under ``TYPE_CHECKING`` alike: an
annotation is a dependency too) and fail on an import from a lower layer to a higher one, on a cycle
between packages, and on aiohttp outside transport (and the mock upstream)."""

from __future__ import annotations

import ast
import graphlib
from pathlib import Path

import omnirouter

ROOT = Path(omnirouter.__file__).parent

# Lowest first (why this order: docs/architecture.md).  A unit (package, or top-level module) may
# import units of its own layer or below.
LAYERS: list[tuple[str, ...]] = [
    *[
        (unit,)
        for unit in ("background", "ir", "http", "protocols", "providers", "config", "storage", "transport", "routing")
    ],
    *[(unit,) for unit in ("relay", "billing", "usage", "observability", "limits", "accounts", "cluster")],
    *[(unit,) for unit in ("tasks", "notify", "gateway")],
    ("realtime",),  # the realtime relay: above gateway, below api (which registers its route)
    ("api", "dashboard"),  # the console (dashboard/) beside the routes it calls
    ("mock_upstream",),  # a separate tool: see TOOLS
    ("cli", "cli_channels", "cli_demo", "cli_keys", "cli_prepare", "cli_tasks", "cli_worker", "__main__"),
]
RANK = {unit: rank for rank, layer in enumerate(LAYERS) for unit in layer}
TOOLS = {"mock_upstream": {"ir", "http", "protocols", "providers"}}  # what a tool may import at all
AIOHTTP = {"transport", "mock_upstream"}


def _imports() -> list[tuple[str, int, str, str]]:
    """``(file, line, importing unit, imported unit)`` for every import of another omnirouter unit."""
    found = []
    for path in sorted(ROOT.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        unit = parts[0]
        package = ["omnirouter", *parts[:-1]]  # what a relative import of level 1 names
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = package[: len(package) - node.level + 1] if node.level else []
                names = [".".join([*base, node.module] if node.module else base)]
            else:
                continue
            for name in names:
                target = name.split(".")
                if target[0] == "aiohttp":
                    found.append((str(path.relative_to(ROOT.parent)), node.lineno, unit, "aiohttp"))
                elif target[0] == "omnirouter" and len(target) > 1 and target[1] != unit:
                    found.append((str(path.relative_to(ROOT.parent)), node.lineno, unit, target[1]))
    return found


def test_every_unit_has_a_layer() -> None:
    units = {p.relative_to(ROOT).with_suffix("").parts[0] for p in ROOT.rglob("*.py")} - {"__init__"}
    assert units <= set(RANK), f"give these a layer in LAYERS: {sorted(units - set(RANK))}"


def test_imports_point_down() -> None:
    wrong = []
    for file, line, unit, target in _imports():
        if target == "aiohttp":
            if unit not in AIOHTTP:
                wrong.append(f"{file}:{line}: {unit} imports aiohttp (only {sorted(AIOHTTP)} may)")
        elif RANK[target] > RANK[unit] or (unit in TOOLS and target not in TOOLS[unit]):
            wrong.append(f"{file}:{line}: {unit} (layer {RANK[unit]}) imports {target} (layer {RANK[target]})")
    assert not wrong, "imports against the layer order:\n" + "\n".join(wrong)


def test_no_package_cycles() -> None:
    graph: dict[str, set[str]] = {}
    for _, _, unit, target in _imports():
        if target != "aiohttp":
            graph.setdefault(unit, set()).add(target)
    try:
        tuple(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as exc:
        raise AssertionError(f"packages import each other in a cycle: {' -> '.join(exc.args[1])}") from None
