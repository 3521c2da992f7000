"""``aiperf check`` on an uploaded bundle, in a separate process with limits on CPU time, memory
and wall-clock time, so a hostile bundle can cost the server a bounded amount and nothing more.

The verdict is check's ``--json`` output: accepted when it passes (closed or open, verified or
not — the ranking shows which), rejected with its reasons otherwise, and rejected with a reason
when check errs, refuses the input or runs out of its limits.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class VerifyLimits:
    """What one verification may use (check needs ≤ 2 s and 300 MB on any accepted bundle)."""

    cpu_s: int = 20
    memory_bytes: int = 2 << 30  # address space: Python maps more than it touches
    wall_s: float = 60.0


@dataclass(frozen=True)
class Verdict:
    """The outcome of one verification."""

    accepted: bool
    reasons: list[str] = field(default_factory=list)
    result: dict[str, Any] | None = None  # check --json, when check gave one


def verify_bundle(bundle: Path, public_key_pem: str, limits: VerifyLimits) -> Verdict:
    """Run ``aiperf check BUNDLE --public-key KEY --json`` under ``limits``."""
    with tempfile.TemporaryDirectory(prefix="aiperf-verify-") as tmp:
        key = Path(tmp) / "submitter.pub"
        key.write_text(public_key_pem, encoding="utf-8")
        argv = [sys.executable, "-m", "aiperf.cli", "check", str(bundle)]
        argv += ["--public-key", str(key), "--json"]
        try:
            done = subprocess.run(
                argv,
                capture_output=True,
                text=True,
                timeout=limits.wall_s,
                preexec_fn=lambda: _limit(limits),  # runs in the child, before check starts
                env={**os.environ, "PYTHONHASHSEED": "0"},
                check=False,
            )
        except subprocess.TimeoutExpired:
            return Verdict(False, [f"check ran past its {limits.wall_s:g} s limit"])
    return _verdict(done)


def _limit(limits: VerifyLimits) -> None:
    resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_s, limits.cpu_s))
    resource.setrlimit(resource.RLIMIT_AS, (limits.memory_bytes, limits.memory_bytes))
    big = 64 << 20  # check writes a member or two to a temporary folder, nothing larger
    resource.setrlimit(resource.RLIMIT_FSIZE, (big, big))


def _verdict(done: subprocess.CompletedProcess) -> Verdict:
    if done.returncode in (0, 1):
        try:
            result = json.loads(done.stdout)
        except ValueError:
            return Verdict(False, ["check printed no verdict"])
        return Verdict(done.returncode == 0, list(result.get("failures") or []), result)
    last = (done.stderr.strip().splitlines() or done.stdout.strip().splitlines() or [""])[-1]
    if done.returncode == 2:
        return Verdict(False, [last.removeprefix("aiperf check: error: ")[:500]])
    if done.returncode < 0 or done.returncode in (137, 152):  # killed: CPU or memory limit
        return Verdict(False, ["check ran out of its CPU or memory limit"])
    return Verdict(False, [f"check failed ({last[:400]})"])
