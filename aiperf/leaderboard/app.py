"""The leaderboard's web service: a JSON API (its OpenAPI description at ``/openapi.json``) for
submitters, and server-rendered pages that work without JavaScript.

Writes need ``Authorization: Bearer <token>`` and are rate-limited per token; there are no
cookies and no forms that write, so no request can be forged from another site. Every page is
rendered from the re-scored numbers, never from an uploaded file, and sent with a
Content-Security-Policy that allows no script at all.
"""

from __future__ import annotations

import csv
import io
import math
import time
from collections.abc import Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Depends, FastAPI, Header, HTTPException, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from aiperf.leaderboard.db import AuditEntry, Submission, Submitter, open_database
from aiperf.leaderboard.pages import plot_png
from aiperf.leaderboard.ranking import SORTS, Filters, choices, ranked, tables
from aiperf.leaderboard.store import BundleStore
from aiperf.leaderboard.tokens import RateLimiter, token_hash
from aiperf.leaderboard.verifier import Verifier
from aiperf.leaderboard.verify import VerifyLimits
from aiperf.report.format import percent, si
from aiperf.submit.archive import DEFAULT_LIMITS

ROW_FIELDS = (
    *("id", "spec_name", "rules_version", "division", "hardware_verified", "system_name"),
    *("accelerator", "nodes", "accelerator_count", "regulated_score", "flops", "flops_per_watt"),
    *("flops_per_accelerator", "utilisation", "best_test_accuracy"),
)
SMALL_BODY_BYTES = 64 << 10  # any request body but an upload's (e.g. a hide reason)
CHOICES_TTL_S = 5.0  # a new value in the filter form may take this long to appear
HEADERS = {
    "Content-Security-Policy": "default-src 'none'; img-src 'self'; style-src 'self' "
    "'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Resource-Policy": "same-origin",
}


@dataclass(frozen=True)
class Settings:
    """How a leaderboard runs: its database, its bundle folder and its limits."""

    db_url: str
    store: Path
    max_upload_bytes: int = DEFAULT_LIMITS.compressed_bytes
    writes_per_minute: float = 30.0
    write_burst: int = 10
    verify: VerifyLimits = field(default_factory=VerifyLimits)
    background: bool = True  # verify in a thread (tests drain the queue themselves)


class SubmissionOut(BaseModel):
    id: int
    sha256: str
    status: str
    reasons: list[str]
    division: str | None
    hidden: bool
    url: str


class HideIn(BaseModel):
    reason: str


class Recent:
    """The value of ``compute(session)``, recomputed at most every ``ttl_s`` seconds."""

    def __init__(self, compute: Callable[[Session], Any], ttl_s: float) -> None:
        self.compute, self.ttl_s = compute, ttl_s
        self._value: Any = None
        self._at = -math.inf

    def __call__(self, session: Session) -> Any:
        if time.monotonic() - self._at > self.ttl_s:
            self._value, self._at = self.compute(session), time.monotonic()
        return self._value


def _session(request: Request) -> Iterator[Session]:
    with request.app.state.sessions() as db:
        yield db


Db = Annotated[Session, Depends(_session)]


def _writer(
    request: Request, db: Db, authorization: Annotated[str | None, Header()] = None
) -> Submitter:
    """The submitter a write's bearer token names; 401 without one, 429 over its rate."""
    scheme, _, token = (authorization or "").partition(" ")
    found = None
    if scheme.lower() == "bearer" and token:
        query = select(Submitter).where(Submitter.token_hash == token_hash(token.strip()))
        found = db.scalars(query).first()
    if found is None:
        raise HTTPException(401, "a valid API token is needed (Authorization: Bearer …)")
    if not request.app.state.limiter.allow(found.token_hash):
        raise HTTPException(429, "too many writes with this token: wait a minute")
    return found


Writer = Annotated[Submitter, Depends(_writer)]


def create_app(settings: Settings) -> FastAPI:
    """The leaderboard application for ``settings``."""
    _, sessions = open_database(settings.db_url)
    store = BundleStore(settings.store)
    verifier = Verifier(sessions, store, settings.verify)
    limiter = RateLimiter(settings.writes_per_minute, settings.write_burst)
    templates = page_templates()
    offered = Recent(choices, CHOICES_TTL_S)  # the filter form's values: a scan of every row

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if settings.background:
            verifier.start()
        yield
        verifier.stop()

    app = FastAPI(title="aiperf leaderboard", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.verifier, app.state.sessions, app.state.store = verifier, sessions, store
    app.state.limiter = limiter

    @app.middleware("http")
    async def guarded(request: Request, call_next):
        """Every response gets the security headers; a body other than an upload must say its
        length and stay small (an upload's is capped as it streams)."""
        refusal = _body_refusal(request)
        response = await call_next(request) if refusal is None else refusal
        response.headers.update(HEADERS)
        return response

    @app.post("/api/submissions", status_code=202)
    async def upload(request: Request, response: Response, db: Db, who: Writer) -> SubmissionOut:
        """Upload a bundle (the request body, as ``aiperf submit --to`` sends it): 202 and
        queued, or 200 and the existing submission when these bytes were sent before."""
        data = await _body(request, settings.max_upload_bytes)
        sha = store.put(data)
        existing = db.scalars(select(Submission).where(Submission.sha256 == sha)).first()
        if existing is not None:
            response.status_code = 200
            return _out(existing)
        submission = Submission(sha256=sha, size=len(data), submitter_id=who.id)
        db.add(submission)
        db.flush()
        db.add(AuditEntry(actor=who.name, action="submit", submission_id=submission.id))
        db.commit()
        verifier.wake()
        return _out(submission)

    @app.get("/api/submissions/{submission_id}")
    def status(submission_id: int, db: Db) -> SubmissionOut:
        return _out(_visible(db, submission_id))

    @app.post("/api/submissions/{submission_id}/withdraw")
    def withdraw(submission_id: int, db: Db, who: Writer) -> SubmissionOut:
        """A submitter takes back one of their own submissions."""
        submission = _visible(db, submission_id)
        if submission.submitter_id != who.id:
            raise HTTPException(403, "only its submitter can withdraw a submission")
        submission.status = "withdrawn"
        db.add(AuditEntry(actor=who.name, action="withdraw", submission_id=submission_id))
        db.commit()
        return _out(submission)

    @app.post("/api/submissions/{submission_id}/hide")
    def hide(submission_id: int, body: HideIn, db: Db, who: Writer) -> SubmissionOut:
        """An organiser hides a result from the ranking, with the reason recorded."""
        if not who.organiser:
            raise HTTPException(403, "only an organiser can hide a result")
        submission = _visible(db, submission_id)
        submission.hidden_reason = body.reason[:2000] or "hidden by an organiser"
        db.add(AuditEntry(actor=who.name, action="hide", submission_id=submission_id,
                          reason=submission.hidden_reason))  # fmt: skip
        db.commit()
        return _out(submission)

    @app.get("/api/leaderboard")
    def leaderboard(db: Db, filters: Annotated[Filters, Depends(_filters)]) -> list[dict]:
        return [_row(s) for s in ranked(db, filters)]

    @app.get("/leaderboard.csv")
    def leaderboard_csv(db: Db, filters: Annotated[Filters, Depends(_filters)]) -> Response:
        rows = [_row(s) for s in ranked(db, filters)]
        out = io.StringIO()
        writer_ = csv.DictWriter(out, fieldnames=list(_row(Submission()).keys()))
        writer_.writeheader()
        writer_.writerows(rows)
        disposition = {"Content-Disposition": "attachment; filename=leaderboard.csv"}
        return Response(out.getvalue(), media_type="text/csv", headers=disposition)

    @app.get("/", response_class=HTMLResponse)
    def ranking_page(
        request: Request, db: Db, filters: Annotated[Filters, Depends(_filters)]
    ) -> HTMLResponse:
        grouped, unverified = tables(db, filters)
        context = {"groups": grouped, "unverified": unverified, "filters": filters,
                   "choices": offered(db), "sorts": SORTS}  # fmt: skip
        return templates.TemplateResponse(request, "ranking.html", context)

    @app.get("/submissions/{submission_id}", response_class=HTMLResponse)
    def submission_page(request: Request, submission_id: int, db: Db) -> HTMLResponse:
        submission = _visible(db, submission_id)
        return templates.TemplateResponse(request, "submission.html", {"s": submission})

    @app.get("/submissions/{submission_id}/plots/{name}.png")
    def plot(submission_id: int, name: str, db: Db) -> Response:
        submission = _visible(db, submission_id)
        if submission.status != "accepted":
            raise HTTPException(404, "only accepted submissions have plots")
        return Response(plot_png(store, submission.sha256, name), media_type="image/png")

    @app.get("/submissions/{submission_id}/bundle")
    def bundle(submission_id: int, db: Db) -> FileResponse:
        submission = _visible(db, submission_id)
        return FileResponse(store.path(submission.sha256), media_type="application/gzip",
                            filename=f"aiperf-{submission.sha256[:12]}.tar.gz")  # fmt: skip

    @app.get("/systems/{name}", response_class=HTMLResponse)
    def system_page(request: Request, name: str, db: Db) -> HTMLResponse:
        query = select(Submission).where(Submission.system_name == name)
        history = list(db.scalars(query.order_by(Submission.created)))
        return templates.TemplateResponse(request, "system.html", {"name": name, "rows": history})

    @app.get("/compare", response_class=HTMLResponse)
    def compare_page(
        request: Request, db: Db, a: Annotated[int, Query()], b: Annotated[int, Query()]
    ) -> HTMLResponse:
        pair = [_visible(db, a), _visible(db, b)]
        return templates.TemplateResponse(request, "compare.html", {"pair": pair})

    @app.get("/compare.png")
    def compare_plot(db: Db, a: Annotated[int, Query()], b: Annotated[int, Query()]) -> Response:
        from aiperf.leaderboard.pages import compare_png

        pair = [_visible(db, a), _visible(db, b)]
        return Response(compare_png(store, pair), media_type="image/png")

    return app


def page_templates() -> Jinja2Templates:
    """The pages' Jinja templates (autoescaped) with the report's number formats."""
    templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
    templates.env.filters["si"] = lambda value, unit="": si(value, unit)
    templates.env.filters["percent"] = percent
    templates.env.filters["urlencode_except"] = lambda query, key: "".join(
        f"{urlencode({k: v})}&" for k, v in query.items() if k != key
    )
    return templates


def _body_refusal(request: Request) -> Response | None:
    """413/411 for a non-upload body over ``SMALL_BODY_BYTES`` or of unknown length."""
    if request.method in ("GET", "HEAD") or request.url.path == "/api/submissions":
        return None
    declared = request.headers.get("content-length")
    if declared is None and request.headers.get("transfer-encoding"):
        return JSONResponse({"detail": "say the body's length (Content-Length)"}, 411)
    if declared and (not declared.isdigit() or int(declared) > SMALL_BODY_BYTES):
        return JSONResponse(
            {"detail": f"a request body may be at most {SMALL_BODY_BYTES} bytes"}, 413
        )
    return None


async def _body(request: Request, cap: int) -> bytes:
    """The request body, refused as soon as it passes ``cap`` bytes."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > cap:
        raise HTTPException(413, f"a bundle may be at most {cap} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > cap:
            raise HTTPException(413, f"a bundle may be at most {cap} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _filters(
    division: str | None = None,
    rules_version: str | None = None,
    spec_name: str | None = None,
    accelerator: str | None = None,
    nodes: str | None = None,
    sort: str = "regulated_score",
) -> Filters:
    """The filters a page's form or an API call asked for; an empty field means any (the form
    sends every field, empty ones too)."""
    return Filters(division or None, _number(rules_version), spec_name or None,
                   accelerator or None, _number(nodes),
                   sort if sort in SORTS else "regulated_score")  # fmt: skip


def _number(text: str | None) -> int | None:
    return int(text) if text and text.strip().isdigit() and len(text) < 10 else None


def _visible(db: Session, submission_id: int) -> Submission:
    submission = db.get(Submission, submission_id)
    if submission is None:
        raise HTTPException(404, f"no submission {submission_id}")
    return submission


def _out(submission: Submission) -> SubmissionOut:
    return SubmissionOut(
        id=submission.id,
        sha256=submission.sha256,
        status=submission.status,
        reasons=list(submission.reasons or []),
        division=submission.division,
        hidden=submission.hidden_reason is not None,
        url=f"/submissions/{submission.id}",
    )


def _row(submission: Submission) -> dict[str, Any]:
    """One submission as a table row (JSON and CSV)."""
    row = {name: getattr(submission, name) for name in ROW_FIELDS}
    row["submitter"] = submission.submitter.name if submission.submitter else None
    return row
