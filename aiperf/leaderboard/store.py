"""Bundles on disk, content-addressed: ``<root>/bundles/<sha256[:2]>/<sha256>.tar.gz``; the same
bytes twice are one file. Server-rendered plots are cached beside them, per bundle."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from aiperf.errors import UserError
from aiperf.rundir import write_bytes_atomic

_SHA256 = re.compile(r"[0-9a-f]{64}")


class StoreError(UserError):
    """A bundle address that is not a SHA-256, or a bundle the store does not hold."""


class BundleStore:
    """The folder the leaderboard keeps bundles (and their rendered plots) in."""

    def __init__(self, root: Path) -> None:
        self.root = root
        (root / "bundles").mkdir(parents=True, exist_ok=True)
        (root / "plots").mkdir(parents=True, exist_ok=True)

    def put(self, data: bytes) -> str:
        """Store ``data`` under its SHA-256 (once) and return the address."""
        sha = hashlib.sha256(data).hexdigest()
        path = self.path(sha)
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            write_bytes_atomic(path, data)
        return sha

    def path(self, sha: str) -> Path:
        """Where the bundle ``sha`` is (or would be) kept."""
        if not _SHA256.fullmatch(sha):
            raise StoreError(f"not a bundle address: {sha[:80]!r}")
        return self.root / "bundles" / sha[:2] / f"{sha}.tar.gz"

    def plot(self, sha: str, name: str) -> Path:
        """Where the rendered plot ``name`` of bundle ``sha`` is cached."""
        self.path(sha)  # validates the address
        if not re.fullmatch(r"[a-z_]{1,32}", name):
            raise StoreError(f"not a plot name: {name[:40]!r}")
        return self.root / "plots" / sha / f"{name}.png"
