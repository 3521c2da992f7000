"""The leaderboard's tables (SQLAlchemy 2) and how to open a database.

``submitters`` hold a name, an Ed25519 public key and a hashed API token; ``submissions`` hold a
bundle's SHA-256 (its address in the store), who sent it, its status (queued → verifying →
accepted / rejected, or withdrawn), ``check``'s verdict and the re-scored numbers the ranking
sorts and filters by; ``audit_log`` records every change an organiser or submitter makes. The
schema is created and upgraded by Alembic (``migrations/``), never by ``create_all``.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    create_engine,
)
from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship, sessionmaker

STATUSES = ("queued", "verifying", "accepted", "rejected", "withdrawn")


# Constraint names are fixed here so migrations can name what they alter (SQLite's batch mode
# cannot drop an unnamed constraint) and are the same on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def now() -> datetime:
    """The current time in UTC, timezone-aware: what every timestamp column stores."""
    return datetime.now(timezone.utc)


class UTCDateTime(TypeDecorator[datetime]):
    """``DateTime(timezone=True)``, aware on every backend: SQLite keeps no zone, so values are
    stored as UTC and read back tagged UTC; a naive datetime is refused (its zone is a guess)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"timestamps must be timezone-aware (use db.now()), got {value!r}")
        return value.astimezone(timezone.utc)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:  # SQLite: stored as UTC without a zone
            return value.replace(tzinfo=timezone.utc)
        return value


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    # none_as_null: Python None is SQL NULL, so `column.is_(None)` finds it; plain JSON would
    # store an explicitly assigned None as the JSON text 'null' instead.
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        dict[str, Any]: JSON(none_as_null=True),
        list[str]: JSON(none_as_null=True),
    }


class Submitter(Base):
    __tablename__ = "submitters"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    public_key: Mapped[str] = mapped_column(Text)  # PEM
    fingerprint: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)  # SHA-256 of the token
    organiser: Mapped[bool] = mapped_column(Boolean, default=False)
    created: Mapped[datetime] = mapped_column(UTCDateTime(), default=now)


RANKING_INDEX = (
    "status",
    "spec_name",
    "rules_version",
    "division",
    "hardware_verified",
    "regulated_score",
)  # fmt: skip  (a ranking table's rows, best first, from the index)


class Submission(Base):
    __tablename__ = "submissions"
    __table_args__ = (Index("ix_submissions_ranking", *RANKING_INDEX),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    size: Mapped[int] = mapped_column(Integer)
    submitter_id: Mapped[int] = mapped_column(ForeignKey("submitters.id"), index=True)
    submitter: Mapped[Submitter] = relationship()
    status: Mapped[str] = mapped_column(String(20), default="queued", index=True)
    reasons: Mapped[list[str]] = mapped_column(default=list)  # check's FAIL lines, or why not
    hidden_reason: Mapped[str | None] = mapped_column(Text, default=None)  # set by an organiser
    created: Mapped[datetime] = mapped_column(UTCDateTime(), default=now, index=True)
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    # From check --json, once verified: what the ranking sorts and filters by.
    spec_name: Mapped[str | None] = mapped_column(String(64), default=None)
    rules_version: Mapped[int | None] = mapped_column(Integer, default=None)
    division: Mapped[str | None] = mapped_column(String(20), default=None)
    hardware_verified: Mapped[bool] = mapped_column(Boolean, default=False)
    system_name: Mapped[str | None] = mapped_column(String(200), default=None, index=True)
    accelerator: Mapped[str | None] = mapped_column(String(200), default=None)
    nodes: Mapped[int | None] = mapped_column(Integer, default=None)
    accelerator_count: Mapped[int | None] = mapped_column(Integer, default=None)
    regulated_score: Mapped[float | None] = mapped_column(Float, default=None, index=True)
    flops: Mapped[float | None] = mapped_column(Float, default=None)
    flops_per_watt: Mapped[float | None] = mapped_column(Float, default=None)
    flops_per_accelerator: Mapped[float | None] = mapped_column(Float, default=None)
    utilisation: Mapped[float | None] = mapped_column(Float, default=None)
    best_test_accuracy: Mapped[float | None] = mapped_column(Float, default=None)
    verdict: Mapped[dict[str, Any] | None] = mapped_column(default=None)  # check --json
    system: Mapped[dict[str, Any] | None] = mapped_column(default=None)  # the description


class AuditEntry(Base):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    time: Mapped[datetime] = mapped_column(UTCDateTime(), default=now)
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(40))  # submit, verify, withdraw, hide, unhide
    submission_id: Mapped[int | None] = mapped_column(ForeignKey("submissions.id"), default=None)
    reason: Mapped[str | None] = mapped_column(Text, default=None)


def open_database(url: str) -> tuple[Engine, sessionmaker]:
    """An engine and a session factory for ``url`` (``sqlite:///FILE`` or
    ``postgresql+psycopg://…``), the schema upgraded to the newest migration; an SQLite file's
    folder is made when missing."""
    from aiperf.leaderboard.migrate import upgrade

    if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, pool_pre_ping=True)
    upgrade(engine)
    return engine, sessionmaker(engine, expire_on_commit=False)
