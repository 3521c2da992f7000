"""Shared fixtures: one Ray session for the whole suite (start-up costs seconds and ~1 GB); one
throwaway PostgreSQL server, and a fresh database per test on SQLite and on PostgreSQL."""

from __future__ import annotations

import sys
import uuid
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


@pytest.fixture(scope="session")
def postgres_server():
    """A throwaway PostgreSQL server (tests/pgcluster.py) for the whole session (≈0.6 s up)."""
    from pgcluster import postgres_available, start_postgres, stop_postgres

    if not postgres_available():
        pytest.skip("PostgreSQL is not installed here (.ci/run installs postgresql)")
    server = start_postgres()
    yield server
    stop_postgres(server)


@pytest.fixture(scope="session")
def postgres_url(postgres_server) -> str:
    """The session server's ``testdb``, shared by every test that takes it (not emptied between)."""
    return postgres_server.url


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    """A fresh, empty database per test, once on SQLite and once on PostgreSQL: a test taking it
    runs on both (ids ``[sqlite]`` / ``[postgresql]``; the latter skips without PostgreSQL)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'leaderboard.db'}"
        return
    from pgcluster import create_database, drop_database

    server = request.getfixturevalue("postgres_server")
    name = f"test_{uuid.uuid4().hex[:16]}"
    yield create_database(server, name)
    drop_database(server, name)
