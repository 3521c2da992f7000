"""Bring a leaderboard database's schema to the newest Alembic migration, from code.

No ``alembic.ini``: the configuration is built here and the scripts ship inside the package
(``migrations/``). ``upgrade`` runs every pending migration in one transaction that also keeps a
second server, starting at the same moment, waiting until the first has finished (and, as
``alembic.context`` is one global per process, a second thread too).

A new migration, from a checkout: write ``migrations/versions/NNNN_what.py`` by hand, or let
Alembic draft it against an up-to-date database and check every line::

    with engine.begin() as connection:
        alembic.command.revision(alembic_config(connection), "what", autogenerate=True)
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

MIGRATIONS = Path(__file__).with_name("migrations")
_LOCK_KEY = 0x41495045524642  # any fixed bigint: the PostgreSQL advisory lock migrations hold
_IN_PROCESS = threading.Lock()  # Alembic keeps the running migration in module globals


def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic's configuration built in code; ``migrations/env.py`` runs on ``connection``."""
    config = Config()
    # ConfigParser would read a '%' in the path as interpolation.
    config.set_main_option("script_location", str(MIGRATIONS).replace("%", "%%"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def upgrade(engine: Engine) -> None:
    """Apply every migration the database lacks (none: a no-op), all or nothing."""
    with _IN_PROCESS, engine.connect() as connection, _migration_transaction(connection):
        command.upgrade(alembic_config(connection), "head")


@contextmanager
def _migration_transaction(connection: Connection) -> Iterator[None]:
    """One transaction around the whole upgrade that also serialises concurrent upgrades."""
    if connection.dialect.name == "sqlite":
        with _sqlite_immediate(connection):
            yield
        return
    with connection.begin():
        if connection.dialect.name == "postgresql":  # held until commit
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
        yield


@contextmanager
def _sqlite_immediate(connection: Connection) -> Iterator[None]:
    """``BEGIN IMMEDIATE`` by hand: Python's sqlite3 runs DDL outside any transaction, so a
    failed migration would leave half a schema; IMMEDIATE takes the write lock up front, making
    a concurrent upgrade wait (up to the driver's busy timeout) instead of racing."""
    connection.execution_options(isolation_level="AUTOCOMMIT")  # the driver emits no BEGIN
    connection.exec_driver_sql("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        connection.exec_driver_sql("ROLLBACK")
        raise
    connection.exec_driver_sql("COMMIT")
