"""Shared fixtures: one Ray session for the whole suite (start-up costs seconds and ~1 GB)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # lets tests import the helper modules beside them


@pytest.fixture(scope="session")
def ray_session():
    """An embedded 2-CPU Ray cluster, started once and shared by every Ray-backed test."""
    from aiperf.cluster import connect, disconnect

    cluster = connect(num_cpus=2)
    yield cluster
    disconnect()
