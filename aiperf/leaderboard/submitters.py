"""Registering submitters: a name, their Ed25519 public key, and an API token shown once."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from aiperf.errors import UserError
from aiperf.leaderboard.db import AuditEntry, Submitter, open_database
from aiperf.leaderboard.tokens import new_token, token_hash
from aiperf.submit.signing import fingerprint, load_public_key


class SubmitterError(UserError):
    """A submitter that cannot be registered (a taken name): one line."""


def add_submitter(db_url: str, name: str, public_key: Path, organiser: bool = False) -> str:
    """Register ``name`` with the key in ``public_key``; the new API token (never stored)."""
    key = load_public_key(public_key)  # a SigningError unless an Ed25519 public key
    if not 1 <= len(name) <= 200 or not name.isprintable():
        raise SubmitterError(f"submitter name: 1-200 printable characters (got {name[:40]!r})")
    _, sessions = open_database(db_url)
    token = new_token()
    with sessions.begin() as session:
        if session.scalars(select(Submitter).where(Submitter.name == name)).first():
            raise SubmitterError(f"submitter {name!r} is already registered")
        session.add(
            Submitter(
                name=name,
                public_key=public_key.read_text(encoding="utf-8"),
                fingerprint=fingerprint(key),
                token_hash=token_hash(token),
                organiser=organiser,
            )
        )
        session.add(AuditEntry(actor="organiser", action="add-submitter", reason=name))
    return token
