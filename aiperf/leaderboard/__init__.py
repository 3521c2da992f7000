"""The leaderboard: a server that takes signed bundles, verifies each with ``aiperf check`` in a
limited subprocess, stores them content-addressed with their verdict in a database (SQLite by
default, PostgreSQL by URL) and ranks them on server-rendered pages.

Modules: ``db`` (the tables and sessions; Alembic migrations in ``migrations/``), ``store`` (the
bundle files), ``verify`` (``aiperf check`` under limits), ``tokens`` (API tokens and the rate
limit), ``app`` (the FastAPI routes and pages). Needs the ``leaderboard`` extra.
"""
