"""The ranking: accepted, visible submissions grouped by (spec, rules version, division), verified
apart from unverified, sorted by one figure; the filters a page or the API can ask for."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from aiperf.leaderboard.db import Submission

SORTS = {  # what a table may be sorted by, and how it is named on the page
    "regulated_score": "Regulated score",
    "flops": "FLOPS",
    "flops_per_watt": "FLOPS per watt",
    "flops_per_accelerator": "FLOPS per accelerator",
    "utilisation": "Utilisation",
}
ROWS_PER_TABLE = 25  # on a page; the API and the CSV give every match
API_ROWS = 10_000


@dataclass(frozen=True)
class Filters:
    """What the reader asked for: every field optional."""

    division: str | None = None
    rules_version: int | None = None
    spec_name: str | None = None
    accelerator: str | None = None
    nodes: int | None = None
    sort: str = "regulated_score"

    def query(self) -> dict[str, Any]:
        """The non-empty filters, as URL query parameters."""
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name)}


def _matching(filters: Filters) -> Select:
    """Accepted, visible submissions matching ``filters``, best first by ``filters.sort``."""
    column = getattr(Submission, filters.sort if filters.sort in SORTS else "regulated_score")
    query: Select = select(Submission).where(
        Submission.status == "accepted", Submission.hidden_reason.is_(None)
    )
    for name in ("division", "rules_version", "spec_name", "accelerator", "nodes"):
        value = getattr(filters, name)
        if value not in (None, ""):
            query = query.where(getattr(Submission, name) == value)
    return query.order_by(column.desc().nulls_last(), Submission.id)


def ranked(session: Session, filters: Filters, limit: int = API_ROWS) -> list[Submission]:
    """Every match, best first (the API's and the CSV's rows)."""
    return list(session.scalars(_matching(filters).limit(limit)))


def tables(session: Session, filters: Filters) -> tuple[dict[tuple, list[Submission]], list]:
    """The page's tables: the best ``ROWS_PER_TABLE`` verified rows per (spec, rules version,
    division) — closed before open, never mixed — and the unverified rows apart."""
    base = _matching(filters)
    key_columns = (Submission.spec_name, Submission.rules_version, Submission.division)
    keys = session.execute(
        base.with_only_columns(*key_columns, Submission.hardware_verified).order_by(None).distinct()
    ).all()
    grouped = {}
    for spec_name, rules_version, division in sorted(
        {tuple(key[:3]) for key in keys if key[3]},
        key=lambda key: (key[0] or "", -(key[1] or 0), key[2] != "closed"),
    ):
        group = base.where(
            Submission.hardware_verified.is_(True),
            Submission.spec_name == spec_name,
            Submission.rules_version == rules_version,
            Submission.division == division,
        )
        grouped[(spec_name, rules_version, division)] = list(
            session.scalars(group.limit(ROWS_PER_TABLE))
        )
    unverified = base.where(Submission.hardware_verified.is_(False)).limit(ROWS_PER_TABLE)
    return grouped, list(session.scalars(unverified))


def choices(session: Session) -> dict[str, list[Any]]:
    """The values the filter form offers: those accepted submissions hold."""
    accepted = Submission.status == "accepted"
    return {
        name: sorted(
            v
            for v in session.scalars(select(getattr(Submission, name)).where(accepted).distinct())
            if v is not None
        )
        for name in ("division", "rules_version", "spec_name", "accelerator", "nodes")
    }
