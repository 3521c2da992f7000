"""The rules a run is scored by, and its division.

Every shipped spec carries a ``rules_version``. A run is scored by the rules of the shipped spec
its ``name`` names, at the version it names — never by the run's own copy of them: the minimum
duration, the quality gate and the score grid come from aiperf's installed spec files (never from
the working directory). Divisions, in the spirit of MLPerf's:

- **closed**: the run's spec equals that shipped spec except the free fields (the seed, a
  duration at least the minimum, resources and placement, the stamped aiperf version);
- **open**: anything else (another workload, search space, UEGR setting, …), each differing
  field named; scored by the same rules, never ranked with closed;
- **unofficial**: a spec that names no shipped spec, or a rules version this aiperf does not
  ship; scored by its own rules, and ``aiperf check`` fails it.

Earlier rules versions stay loadable from ``benchmark_specs/rules/<name>-v<N>.yaml``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from aiperf.errors import short_repr
from aiperf.spec import Spec, SpecError, load_spec, shipped_file

SPECS = Path("benchmark_specs")
ARCHIVE = SPECS / "rules"  # earlier rules versions: <name>-v<N>.yaml
FREE_FIELDS = ("seed", "duration", "resources", "aiperf_version")
_NAMED_APART = ("name", "rules_version")  # how a spec names its rules: checked on their own
Division = Literal["closed", "open", "unofficial"]


@dataclass(frozen=True)
class Rules:
    """The spec whose rules apply (min_duration, quality_gate, score) and the run's division."""

    spec: Spec
    division: Division
    notes: tuple[str, ...] = ()  # why the run is open or unofficial, one sentence each


def rules_for(spec: Spec) -> Rules:
    """The rules ``spec``'s run is scored by, and its division with the reasons for it."""
    version = spec.rules_version
    current = shipped_rules(spec.name, None)
    if current is None:
        return Rules(spec, "unofficial", (f"spec {spec.name!r} is not a shipped benchmark spec",))
    if version is None:
        notes = (f"rules_version: missing (shipped {spec.name} is at {current.rules_version})",)
        return Rules(current, "open", notes + tuple(differences(spec, current)))
    rules = shipped_rules(spec.name, version)
    if rules is None:
        why = f"rules_version: {spec.name} v{version} is not shipped with this aiperf"
        return Rules(spec, "unofficial", (f"{why} (current: v{current.rules_version})",))
    notes = tuple(differences(spec, rules))
    return Rules(rules, "open" if notes else "closed", notes)


def differences(spec: Spec, rules: Spec) -> list[str]:
    """One sentence per field where ``spec`` leaves the rules outside the free fields."""
    ours, theirs = spec.model_dump(mode="json"), rules.model_dump(mode="json")
    notes = [
        f"{path}: {short_repr(mine, 60)} differs from the rules' {short_repr(shipped, 60)}"
        for path, mine, shipped in _leaf_differences(ours, theirs, "spec")
        if path.split(".")[1] not in FREE_FIELDS + _NAMED_APART
    ]
    if spec.duration < rules.min_duration:
        notes.append(
            f"spec.duration: {spec.duration:g}s is below the rules' minimum {rules.min_duration:g}s"
        )
    return notes


def _leaf_differences(ours: Any, theirs: Any, path: str) -> list[tuple[str, Any, Any]]:
    if isinstance(ours, dict) and isinstance(theirs, dict):
        found = []
        for key in sorted(set(ours) | set(theirs)):
            found += _leaf_differences(ours.get(key), theirs.get(key), f"{path}.{key}")
        return found
    return [] if ours == theirs else [(path, ours, theirs)]


@functools.lru_cache(maxsize=64)
def shipped_rules(name: str, version: int | None) -> Spec | None:
    """The installed shipped spec ``name`` at rules ``version`` (None: the current one)."""
    current = _installed(SPECS / f"{name}.yaml")
    if current is None:
        return None
    spec = _load(current)
    if version is None or (spec is not None and spec.rules_version == version):
        return spec
    archived = _installed(ARCHIVE / f"{name}-v{version}.yaml")
    return _load(archived) if archived is not None else None


def _installed(relative: Path) -> Path | None:
    """A file of aiperf's own installation, never the working directory's."""
    if not relative.name.replace("-", "").replace(".", "").replace("_", "").isalnum():
        return None
    return shipped_file(relative, from_cwd=False)


def _load(path: Path) -> Spec | None:
    try:
        return load_spec(path)
    except SpecError:
        return None
