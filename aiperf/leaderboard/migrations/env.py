"""Alembic's environment for the leaderboard: online only, on the connection that
``aiperf.leaderboard.migrate`` passes in ``config.attributes["connection"]``."""

from __future__ import annotations

from alembic import context

from aiperf.leaderboard.db import Base


def run_migrations_online() -> None:
    """Run the pending migrations on the caller's connection, inside the caller's transaction."""
    connection = context.config.attributes.get("connection")
    if connection is None:
        raise RuntimeError(
            "the leaderboard's migrations run through aiperf.leaderboard.migrate.upgrade(engine), "
            "which passes them a connection; there is no alembic.ini with a URL"
        )
    # render_as_batch: SQLite alters a table by copying it, which Alembic's batch mode does.
    context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise RuntimeError("offline (--sql) migrations are not supported: run migrate.upgrade(engine)")
run_migrations_online()
