"""The verification queue: submissions go queued → verifying → accepted / rejected, one at a time
in a background thread (each in its own limited ``aiperf check`` process), so uploads return at
once and a burst of hostile bundles only lengthens the queue."""

from __future__ import annotations

import threading
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import sessionmaker

from aiperf.leaderboard.db import AuditEntry, Submission
from aiperf.leaderboard.store import BundleStore
from aiperf.leaderboard.verify import Verdict, VerifyLimits, verify_bundle
from aiperf.submit.archive import read_members
from aiperf.submit.bundle import SYSTEM_MEMBER


class Verifier:
    """Verifies queued submissions; ``wake`` after queueing one, ``run_pending`` to drain."""

    def __init__(self, sessions: sessionmaker, store: BundleStore, limits: VerifyLimits) -> None:
        self.sessions, self.store, self.limits = sessions, store, limits
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Requeue what a previous server left verifying, then verify in the background."""
        with self.sessions.begin() as session:
            session.execute(
                update(Submission).where(Submission.status == "verifying").values(status="queued")
            )
        self._thread = threading.Thread(target=self._loop, name="aiperf-verifier", daemon=True)
        self._thread.start()
        self.wake()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=120)

    def wake(self) -> None:
        self._wake.set()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait()
            self._wake.clear()
            self.run_pending()

    def run_pending(self) -> int:
        """Verify every queued submission, oldest first; how many were verified."""
        count = 0
        while not self._stop.is_set() and (claimed := self._claim()) is not None:
            submission_id, sha, public_key = claimed
            verdict = verify_bundle(self.store.path(sha), public_key, self.limits)
            self._record(submission_id, sha, verdict)
            count += 1
        return count

    def _claim(self) -> tuple[int, str, str] | None:
        with self.sessions.begin() as session:
            query = select(Submission).where(Submission.status == "queued").order_by(Submission.id)
            submission = session.scalars(query.limit(1)).first()
            if submission is None:
                return None
            submission.status = "verifying"
            return submission.id, submission.sha256, submission.submitter.public_key

    def _record(self, submission_id: int, sha: str, verdict: Verdict) -> None:
        with self.sessions.begin() as session:
            submission = session.get(Submission, submission_id)
            if submission.status != "verifying":
                return  # withdrawn meanwhile
            submission.status = "accepted" if verdict.accepted else "rejected"
            submission.reasons = verdict.reasons
            submission.verdict = verdict.result
            submission.verified_at = datetime.now(timezone.utc)
            if verdict.accepted and verdict.result:
                _ranked_fields(submission, verdict.result, self._description(sha))
            action = "accept" if verdict.accepted else "reject"
            reason = "; ".join(verdict.reasons)[:2000] or None
            session.add(AuditEntry(actor="verifier", action=action, submission_id=submission_id,
                                   reason=reason))  # fmt: skip

    def _description(self, sha: str) -> dict[str, Any]:
        """The system description of an accepted bundle (check has read it under its caps)."""
        import json

        members, _ = read_members(self.store.path(sha))
        return json.loads(members[SYSTEM_MEMBER])


def _ranked_fields(submission: Submission, result: dict[str, Any], system: dict[str, Any]) -> None:
    """Copy what the ranking sorts and filters by from the re-scored summary and description."""
    summary = result["rescored"]
    count = system.get("accelerator_count") or 0
    submission.spec_name = result["spec_name"]
    submission.rules_version = result["rules_version"]
    submission.division = result["division"]
    submission.hardware_verified = bool(result["verified"])
    submission.system = system
    submission.system_name = system.get("system_name")
    submission.accelerator = system.get("accelerator")
    submission.nodes = system.get("nodes")
    submission.accelerator_count = count
    submission.flops = summary["flops"]
    submission.regulated_score = summary["regulated_score"]
    submission.flops_per_watt = summary["flops_per_watt"]
    submission.flops_per_accelerator = summary["flops"] / count if count else None
    submission.utilisation = summary["utilisation_datasheet"]
    submission.best_test_accuracy = summary["best_test_accuracy"]
