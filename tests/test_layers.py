"""The layering promised in the README, read from the source: which package imports which.

Every import counts, including those inside functions (aiperf imports heavy modules lazily, and a
lazy import still ties two layers together)."""

from __future__ import annotations

import ast
from pathlib import Path

import aiperf

ROOT = Path(aiperf.__file__).parent
BELOW_REPORT = ("score", "flops", "models", "train", "workload", "search", "hw")
# the package root (its version) and the base layer
BASE = ("aiperf", "errors", "safe_yaml", "spec", "rundir")


def unit(module: str) -> str:
    """The layer a module belongs to: its sub-package, or the top-level module itself."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "aiperf"


def modules() -> dict[str, Path]:
    found = {}
    for path in ROOT.rglob("*.py"):
        parts = path.relative_to(ROOT.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def imports(path: Path) -> set[str]:
    """Every ``aiperf.…`` module the file imports, at any depth of the code."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return {name for name in found if name == "aiperf" or name.startswith("aiperf.")}


def edges() -> dict[str, set[str]]:
    """Layer → the other layers it imports."""
    graph: dict[str, set[str]] = {}
    for name, path in modules().items():
        graph.setdefault(unit(name), set()).update(
            unit(target) for target in imports(path) if unit(target) != unit(name)
        )
    return graph


def cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle between layers, or None."""
    state: dict[str, str] = {}

    def visit(node: str, path: list[str]) -> list[str] | None:
        state[node] = "open"
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                return [*path[path.index(nxt) :], nxt] if nxt in path else [node, nxt]
            if nxt not in state and (found := visit(nxt, [*path, nxt])):
                return found
        state[node] = "done"
        return None

    for start in sorted(graph):
        if start not in state and (found := visit(start, [start])):
            return found
    return None


def test_nothing_below_report_imports_report_or_cli() -> None:
    offenders = [
        f"{name} imports {target}"
        for name, path in modules().items()
        if unit(name) in BELOW_REPORT
        for target in imports(path)
        if unit(target) in ("report", "cli")
    ]
    assert offenders == []


def test_no_import_cycle_between_layers() -> None:
    assert cycle(edges()) is None


def test_base_modules_import_only_each_other() -> None:
    graph = edges()
    for base in BASE:
        assert graph.get(base, set()) <= set(BASE) - {base}, base


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert cycle({"a": {"b"}, "b": set()}) is None
