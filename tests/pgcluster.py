"""A throwaway PostgreSQL server for tests: its own cluster in a temp dir, never the system one.

``initdb`` refuses root, so as root every server command runs as ``postgres`` (runuser) in a
temp dir chowned to it (pytest's dirs are 0700: the server user could not reach inside). The
server listens on 127.0.0.1 at a free port with its socket in the temp dir, trusts every local
connection and skips fsync: it holds test data only. Stopped with ``-m immediate``, then deleted.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

SERVER_USER = "postgres"
FAST_UNSAFE = "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"  # test data only


@dataclass
class PostgresServer:
    root: Path  # the temp dir: data/, postgres.log and the Unix socket
    bin: Path
    port: int

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/testdb"

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def log(self) -> Path:
        return self.root / "postgres.log"


def postgres_bin() -> Path | None:
    """The newest ``/usr/lib/postgresql/<ver>/bin`` that has ``initdb`` (Debian's layout)."""
    found = [p.parent for p in Path("/usr/lib/postgresql").glob("*/bin/initdb")]
    return max(found, key=lambda p: float(p.parent.name), default=None)


def postgres_available() -> bool:
    return postgres_bin() is not None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _run(server: PostgresServer, tool: str, *args: str) -> None:
    """One of the server's tools, as ``postgres`` when we are root; its stderr and the server
    log's tail in the error when it fails."""
    argv = [str(server.bin / tool), *args]
    if os.geteuid() == 0:
        argv = ["runuser", "-u", SERVER_USER, "--", *argv]
    done = subprocess.run(argv, cwd=server.root, capture_output=True, text=True)
    if done.returncode != 0:
        tail = server.log.read_text()[-2000:] if server.log.exists() else ""
        raise RuntimeError(f"{tool} failed ({done.returncode}):\n{done.stderr}{tail}")


def start_postgres() -> PostgresServer:
    """initdb, pg_ctl start and createdb testdb; returns once it accepts connections (≈0.6 s)."""
    bindir = postgres_bin()
    if bindir is None:
        raise RuntimeError("no /usr/lib/postgresql/*/bin/initdb: apt-get install postgresql")
    root = Path(tempfile.mkdtemp(prefix="aiperf-pg-"))
    if os.geteuid() == 0:
        shutil.chown(root, SERVER_USER, SERVER_USER)
    server = PostgresServer(root, bindir, _free_port())
    options = f"-k {root} -p {server.port} -c listen_addresses=127.0.0.1 {FAST_UNSAFE}"
    try:
        _run(server, "initdb", "-D", str(server.data), "-U", "postgres", "-A", "trust",
             "-E", "UTF8", "--locale=C.UTF-8", "--no-sync")  # fmt: skip
        _run(server, "pg_ctl", "-D", str(server.data), "-l", str(server.log),
             "-w", "-t", "30", "-o", options, "start")  # fmt: skip
        _run(server, "createdb", "-h", "127.0.0.1", "-p", str(server.port), "-U", "postgres",
             "testdb")  # fmt: skip
    except BaseException:
        stop_postgres(server)
        raise
    return server


def stop_postgres(server: PostgresServer) -> None:
    """``pg_ctl -m immediate stop`` (no checkpoint: the data is thrown away), then delete it all."""
    try:
        if (server.data / "postmaster.pid").exists():
            _run(server, "pg_ctl", "-D", str(server.data), "-m", "immediate", "-w", "stop")
    finally:
        shutil.rmtree(server.root, ignore_errors=True)


def create_database(server: PostgresServer, name: str) -> str:
    """A new empty database on ``server`` (a copy of template1: ≈0.1 s); its URL."""
    _run(server, "createdb", "-h", "127.0.0.1", "-p", str(server.port), "-U", "postgres", name)
    return server.url.rsplit("/", 1)[0] + f"/{name}"


def drop_database(server: PostgresServer, name: str) -> None:
    """Drop ``name``, closing connections a test left open (an engine not disposed)."""
    _run(server, "dropdb", "--force", "-h", "127.0.0.1", "-p", str(server.port), "-U", "postgres",
         name)  # fmt: skip
