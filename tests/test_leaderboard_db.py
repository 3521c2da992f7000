"""The leaderboard's schema on SQLite and PostgreSQL: Alembic creates it, it matches the models,
upgrades are idempotent and atomic, and rows (JSON, timestamps, constraints) round-trip."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

pytest.importorskip("sqlalchemy", reason="needs the leaderboard extra")
pytest.importorskip("alembic", reason="needs the leaderboard extra")

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Column, Integer, MetaData, String, inspect, select
from sqlalchemy.exc import IntegrityError

from aiperf.leaderboard import migrate
from aiperf.leaderboard.db import Base, Submission, Submitter, open_database

TABLES = {"submitters", "submissions", "audit_log", "alembic_version"}


def head() -> str:
    return ScriptDirectory.from_config(migrate.alembic_config()).get_current_head()


def versions(engine) -> list[str]:
    with engine.connect() as connection:
        return list(connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalars())


def schema_diff(engine, metadata: MetaData) -> list:
    """What Alembic's autogenerate would change to turn the database into ``metadata``."""
    with engine.connect() as connection:
        return compare_metadata(MigrationContext.configure(connection), metadata)


def submitter(name: str = "lab") -> Submitter:
    return Submitter(name=name, public_key="-----BEGIN PUBLIC KEY-----\n…", fingerprint="SHA256:ab",
                     token_hash=name.encode().hex().ljust(64, "0"))  # fmt: skip


def test_open_database_creates_the_schema(database_url) -> None:
    engine, _ = open_database(database_url)
    assert set(inspect(engine).get_table_names()) == TABLES
    assert versions(engine) == [head()]
    engine.dispose()


def test_migrated_schema_matches_the_models(database_url) -> None:
    engine, _ = open_database(database_url)
    assert schema_diff(engine, Base.metadata) == []
    engine.dispose()


def test_the_schema_check_sees_a_drift(database_url) -> None:
    """The comparison above is not blind: a column, a length, a unique constraint and an index
    that differ from the migrated database are each reported, on either backend."""
    engine, _ = open_database(database_url)
    drifted = MetaData(naming_convention=Base.metadata.naming_convention)
    for table in Base.metadata.sorted_tables:
        table.to_metadata(drifted)
    submissions = drifted.tables["submissions"]
    submissions.append_column(Column("extra", Integer, nullable=True))
    submissions.c.status.type = String(30)
    submissions.constraints -= {c for c in submissions.constraints if c.name.endswith("sha256")}
    submissions.indexes -= {i for i in submissions.indexes if i.name == "ix_submissions_status"}
    # Each difference is a tuple ("add_column", …), or a list of them for a column's changes.
    diffs = [d if isinstance(d, tuple) else d[0] for d in schema_diff(engine, drifted)]
    assert sorted(d[0] for d in diffs) == [
        "add_column", "modify_type", "remove_constraint", "remove_index"]  # fmt: skip
    engine.dispose()


def test_upgrading_twice_is_a_no_op(database_url) -> None:
    engine, sessions = open_database(database_url)
    with sessions.begin() as session:
        session.add(submitter())
    migrate.upgrade(engine)
    again, sessions_again = open_database(database_url)
    assert versions(again) == [head()]
    with sessions_again() as session:
        assert session.scalars(select(Submitter.name)).all() == ["lab"]
    assert schema_diff(again, Base.metadata) == []
    engine.dispose()
    again.dispose()


def test_servers_starting_together_migrate_once(database_url, tmp_path) -> None:
    """Three processes open one empty database at the same moment: one migrates, the others wait
    for it (PostgreSQL: advisory lock; SQLite: BEGIN IMMEDIATE) and find nothing left to do."""
    script = (
        "import pathlib, sys, time\n"
        "from sqlalchemy import Engine, event\n"
        "from aiperf.leaderboard.db import open_database\n"
        "def slow(conn, cursor, statement, *args):  # widens the window a race needs\n"
        "    if statement.lstrip().startswith('CREATE TABLE'):\n"
        "        time.sleep(0.1)\n"
        "event.listen(Engine, 'before_cursor_execute', slow)\n"
        "pathlib.Path(sys.argv[2] + sys.argv[3]).touch()\n"
        "while not pathlib.Path(sys.argv[2] + 'go').exists():\n"
        "    time.sleep(0.002)  # released together once all have imported\n"
        "open_database(sys.argv[1])[0].dispose()\n"
    )
    argv = [sys.executable, "-c", script, database_url, f"{tmp_path}/"]
    servers = [subprocess.Popen([*argv, f"ready{i}"], stderr=subprocess.PIPE, text=True)
               for i in range(3)]  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while len(list(tmp_path.glob("ready*"))) < 3 and time.monotonic() < deadline:
            time.sleep(0.01)  # the children are importing
        (tmp_path / "go").touch()
        errors = [server.communicate(timeout=60)[1] for server in servers]
    finally:
        for server in servers:
            server.kill()
    assert [server.returncode for server in servers] == [0, 0, 0], errors
    engine, _ = open_database(database_url)
    assert versions(engine) == [head()]
    engine.dispose()


def test_a_failed_migration_leaves_nothing_behind(database_url, tmp_path, monkeypatch) -> None:
    """All or nothing, on SQLite too (whose driver would run DDL outside the transaction)."""
    scripts = tmp_path / "migrations"
    shutil.copytree(migrate.MIGRATIONS, scripts, ignore=shutil.ignore_patterns("__pycache__"))
    (scripts / "versions" / "0002_broken.py").write_text(
        'revision = "0002"\ndown_revision = "0001"\n\nfrom alembic import op\n\n'
        "def upgrade():\n"
        '    op.create_table("scratch", __import__("sqlalchemy").Column("id", '
        '__import__("sqlalchemy").Integer, primary_key=True))\n'
        '    raise RuntimeError("broken migration")\n'
    )
    monkeypatch.setattr(migrate, "MIGRATIONS", Path(scripts))
    with pytest.raises(RuntimeError, match="broken migration"):
        open_database(database_url)
    monkeypatch.undo()
    engine, _ = open_database(database_url)  # the real migrations still apply cleanly
    assert "scratch" not in inspect(engine).get_table_names()
    assert versions(engine) == [head()]
    engine.dispose()


def test_submitter_and_submission_round_trip(database_url) -> None:
    engine, sessions = open_database(database_url)
    verified = datetime(2026, 12, 2, 15, 30, 1, 123456, tzinfo=timezone(timedelta(hours=2)))
    verdict = {"passed": True, "score": {"regulated": 1.25e15, "notes": ["ünïcode", None]}}
    with sessions.begin() as session:
        lab = submitter()
        session.add(lab)
        session.add(Submission(sha256="a" * 64, size=1234, submitter=lab, status="accepted",
                               reasons=["FAIL x", "FAIL y"], verified_at=verified,
                               regulated_score=0.5, hardware_verified=True, verdict=verdict,
                               system={"nodes": 2, "gpus": [{"name": "H100"}]}))  # fmt: skip
    with sessions() as session:
        got = session.scalars(select(Submission)).one()
        assert (got.sha256, got.size, got.status) == ("a" * 64, 1234, "accepted")
        assert got.regulated_score == 0.5
        assert got.reasons == ["FAIL x", "FAIL y"]
        assert got.verdict == verdict
        assert got.system == {"nodes": 2, "gpus": [{"name": "H100"}]}
        assert got.hardware_verified is True and got.submitter.organiser is False
        assert got.submitter.name == "lab"
        assert got.verified_at == verified and got.verified_at.utcoffset() == timedelta(0)
        assert got.created.tzinfo is not None  # aware on SQLite too
        assert abs(datetime.now(timezone.utc) - got.created) < timedelta(minutes=5)
    engine.dispose()


def test_json_none_is_sql_null(database_url) -> None:
    """An explicitly assigned None is SQL NULL (not the JSON text 'null'), so IS NULL finds it."""
    engine, sessions = open_database(database_url)
    with sessions.begin() as session:
        lab = submitter()
        session.add(Submission(sha256="a" * 64, size=1, submitter=lab, verdict=None))
        session.add(Submission(sha256="b" * 64, size=1, submitter=lab, verdict={}))
    with sessions() as session:
        unverified = session.scalars(select(Submission.sha256).where(Submission.verdict.is_(None)))
        assert unverified.all() == ["a" * 64]
    engine.dispose()


def test_naive_timestamps_are_refused(database_url) -> None:
    engine, sessions = open_database(database_url)
    with pytest.raises(Exception, match="timezone-aware"), sessions.begin() as session:
        session.add(Submission(sha256="a" * 64, size=1, submitter=submitter(),
                               verified_at=datetime(2026, 12, 2, 15, 30)))  # fmt: skip
    engine.dispose()


def test_a_bundle_is_stored_once(database_url) -> None:
    engine, sessions = open_database(database_url)
    with sessions.begin() as session:
        lab = submitter()
        session.add(Submission(sha256="c" * 64, size=1, submitter=lab))
    with pytest.raises(IntegrityError), sessions.begin() as session:
        lab = session.scalars(select(Submitter)).one()
        session.add(Submission(sha256="c" * 64, size=2, submitter=lab))
    with sessions() as session:
        assert session.scalars(select(Submission.size)).all() == [1]
    engine.dispose()
