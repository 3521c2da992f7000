"""``aiperf check``: is a submission bundle intact, signed, honestly scored, valid — and in which
division, verified or not?

(a) The archive is read under caps (``aiperf.submit.archive``); the manifest lists exactly the
members present with matching sizes and SHA-256, is canonical, and claims what the summary says;
a signature, when given a public key, verifies. (b) Spec, ledger, summary and both system files
parse. (c) The run is re-scored from its ledger by the rules of the shipped spec it names
(``aiperf.score.rules``), every report's work re-derived and the ledger's logic audited
(``aiperf.score.audit``); every field of the bundled summary must equal the re-scored one. (d) The
re-scored run is VALID and a shipped benchmark's (closed or open). (e) The system description
agrees with the run's ``system.json``. Hardware whose datasheet peak cannot be re-derived leaves
the result *unverified*: shown, never ranked. Every problem is one sentence in ``failures``; only
an archive that cannot be read at all raises BundleError.
"""

from __future__ import annotations

import hashlib
import json
import math
import tempfile
import warnings
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from aiperf.errors import UserError, short_repr
from aiperf.rundir import LEDGER, SPEC, SUMMARY, SYSTEM
from aiperf.score import Ledger, Summary, SummaryError, read_ledger, score_run
from aiperf.score.hardware import rederived_nodes
from aiperf.score.timeline import TimelinePoint
from aiperf.spec import Spec, load_spec
from aiperf.submit.archive import BundleError, read_members
from aiperf.submit.bundle import (
    CLAIMED_KEYS,
    FORMAT,
    MANIFEST,
    RUN_PREFIX,
    SIGNATURE,
    SYSTEM_MEMBER,
    canonical_json,
)
from aiperf.submit.signing import signer_fingerprint, verify_signature
from aiperf.submit.system import (
    SystemDescription,
    SystemDescriptionError,
    recorded_hardware,
    validate_system,
)

REL_TOLERANCE = 1e-9
UNVERIFIED_NOTES = ("no datasheet peak", "system.json:")  # the notes saying why a peak is unknown

__all__ = ["BundleError", "CheckResult", "check_bundle"]


@dataclass
class CheckResult:
    """The verdict on a bundle: ok when there is no failure; the re-scored summary if any."""

    failures: list[str] = field(default_factory=list)
    rescored: Summary | None = None
    unverified: list[str] = field(default_factory=list)  # why the hardware is not verified
    signer: str | None = None  # fingerprint of the key that signed the manifest

    @property
    def ok(self) -> bool:
        return not self.failures

    @property
    def division(self) -> str | None:
        return self.rescored.division if self.rescored else None

    def to_json(self) -> dict[str, Any]:
        """What ``aiperf check --json`` prints (and a leaderboard stores)."""
        summary = self.rescored
        return {
            "verdict": "PASS" if self.ok else "FAIL",
            "failures": self.failures,
            "division": self.division,
            "division_notes": summary.division_notes if summary else [],
            "rules_version": summary.rules_version if summary else None,
            "spec_name": summary.spec_name if summary else None,
            "verified": not self.unverified,
            "unverified": self.unverified,
            "signer": self.signer,
            "rescored": summary.to_json() if summary else None,
        }


def check_bundle(path: Path, public_key: Path | None = None) -> CheckResult:
    """Verify the bundle at ``path`` (and its signature against ``public_key``, when given)."""
    members, failures = read_members(path)
    if MANIFEST not in members:
        raise BundleError(f"bundle {path}: no {MANIFEST} — not an aiperf submission bundle")
    signature = members.get(SIGNATURE)
    signer = signer_fingerprint(members[MANIFEST], signature) if signature is not None else None
    if public_key is not None:
        failures += verify_signature(members[MANIFEST], signature, public_key)
    elif signature is not None and signer is None:
        failures.append(f"{SIGNATURE} is not a valid signature of {MANIFEST}")
    summary, summary_failures = _summary(members)
    failures += manifest_failures(members, summary) + summary_failures
    description = _system_description(members, failures)
    run_system = _json_object(RUN_PREFIX + SYSTEM, members.get(RUN_PREFIX + SYSTEM), failures)
    rescored = _rescore(members, run_system, failures)
    if rescored is not None:
        if summary is not None:
            failures += summary_differences(summary, rescored)
        failures += verdict_failures(rescored)
    if description is not None and run_system is not None:
        failures += description_failures(description, run_system)
    return CheckResult(
        failures=failures,
        rescored=rescored,
        unverified=unverified_reasons(rescored),
        signer=signer,
    )


def manifest_failures(members: dict[str, bytes], summary: Summary | None) -> list[str]:
    """The manifest parses, has the expected shape and canonical bytes, matches the files, and
    claims what the summary says."""
    raw = members[MANIFEST]
    try:
        manifest = json.loads(raw)
    except (ValueError, RecursionError) as err:
        return [f"{MANIFEST} is not valid JSON ({str(err)[:100]})"]
    shape = _manifest_shape(manifest)
    if shape:
        return shape
    failures = file_failures(manifest["files"], members)
    failures += _claims_vs_summary(manifest["claimed"], summary)
    if not failures and canonical_json(manifest) != raw:
        failures.append(f"{MANIFEST} is not in canonical form: it was edited after bundling")
    return failures


def _manifest_shape(manifest: Any) -> list[str]:
    if not isinstance(manifest, dict) or set(manifest) != {"format", "files", "claimed"}:
        return [f"{MANIFEST} must hold exactly the keys format, files and claimed"]
    if manifest["format"] != FORMAT:
        return [f"{MANIFEST}: format {str(manifest['format'])[:40]!r} is not {FORMAT!r}"]
    files = manifest["files"]
    entry_keys = {"path", "size", "sha256"}
    if not isinstance(files, list) or not all(
        isinstance(f, dict) and set(f) == entry_keys and isinstance(f["path"], str) for f in files
    ):
        return [f"{MANIFEST}: every files entry must hold exactly path, size and sha256"]
    paths = [f["path"] for f in files]
    if paths != sorted(set(paths)):
        return [f"{MANIFEST}: files must be listed once each, sorted by path"]
    if not isinstance(manifest["claimed"], dict):
        return [f"{MANIFEST}: claimed must be a mapping"]
    return []


def file_failures(files: list[dict[str, Any]], members: dict[str, bytes]) -> list[str]:
    """Exactly the listed files are present, each with the listed size and SHA-256."""
    listed = {f["path"]: f for f in files}
    present = set(members) - {MANIFEST, SIGNATURE}
    failures = [
        f"{name} is listed in the manifest but missing from the bundle"
        for name in sorted(set(listed) - present)
    ]
    failures += [
        f"{name} is in the bundle but not listed in the manifest"
        for name in sorted(present - set(listed))
    ]
    for name in sorted(present & set(listed)):
        data, entry = members[name], listed[name]
        if len(data) != entry["size"]:
            failures.append(f"{name}: size {len(data)} differs from the manifest's")
        elif hashlib.sha256(data).hexdigest() != entry["sha256"]:
            failures.append(f"{name}: SHA-256 differs from the manifest (changed after bundling)")
    return failures


def _claims_vs_summary(claims: dict[str, Any], summary: Summary | None) -> list[str]:
    if set(claims) != set(CLAIMED_KEYS):
        return [f"{MANIFEST}: claimed must hold exactly {', '.join(CLAIMED_KEYS)}"]
    if summary is None:
        return []  # a missing or broken summary fails elsewhere, with its own reason
    said = summary.to_json()
    return [
        f"{MANIFEST} claims {key}={short_repr(claims[key])} but {SUMMARY} says "
        f"{short_repr(said[key])}"
        for key in CLAIMED_KEYS
        if claims[key] != said[key]
    ]


def _summary(members: dict[str, bytes]) -> tuple[Summary | None, list[str]]:
    """The bundled summary (the claimed score), or None and why it cannot be read."""
    name = RUN_PREFIX + SUMMARY
    if name not in members:
        return None, [f"{name} is missing: there is no claimed score"]
    try:
        return Summary.from_json(members[name], where=name), []
    except SummaryError as err:
        return None, [str(err)]


def _system_description(members: dict[str, bytes], failures: list[str]) -> SystemDescription | None:
    raw = _json_object(SYSTEM_MEMBER, members.get(SYSTEM_MEMBER), failures)
    if raw is None:
        return None
    try:
        return validate_system(raw, SYSTEM_MEMBER)
    except SystemDescriptionError as err:
        failures.append(f"{SYSTEM_MEMBER}: invalid system description — {err}")
        return None


def _json_object(name: str, data: bytes | None, failures: list[str]) -> dict[str, Any] | None:
    """``data`` parsed as a JSON object, or None with the reason appended to ``failures``."""
    if data is None:
        failures.append(f"{name} is missing")
        return None
    try:
        value = json.loads(data, parse_constant=_refuse_constant)
    except (ValueError, RecursionError) as err:
        failures.append(f"{name} is not valid JSON ({str(err)[:100]})")
        return None
    if not isinstance(value, dict):
        failures.append(f"{name} must hold a JSON object")
        return None
    return value


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


@dataclass(frozen=True)
class Scored:
    """A bundle's run re-scored: what ``check`` compares and what a leaderboard draws."""

    spec: Spec
    ledger: Ledger
    summary: Summary
    timeline: list[TimelinePoint]


def _rescore(
    members: dict[str, bytes], system: dict[str, Any] | None, failures: list[str]
) -> Summary | None:
    """The summary re-computed from the bundled ledger and spec and the run's system.json
    (None when one of them is missing or broken; the reason joins ``failures``)."""
    scored = rescore_members(members, system, failures)
    return scored.summary if scored else None


def rescore_members(
    members: dict[str, bytes], system: dict[str, Any] | None, failures: list[str]
) -> Scored | None:
    """``_rescore`` with the spec, ledger and timeline behind the summary."""
    missing = [RUN_PREFIX + name for name in (SPEC, LEDGER) if RUN_PREFIX + name not in members]
    if missing:
        failures.append(f"cannot re-score the run: {', '.join(missing)} missing")
        return None
    with tempfile.TemporaryDirectory(prefix="aiperf-check-") as tmp:
        folder = Path(tmp)
        for name in (SPEC, LEDGER):
            (folder / name).write_bytes(members[RUN_PREFIX + name])
        spec = _spec(folder / SPEC, failures)
        ledger = _ledger(folder / LEDGER, failures)
    if spec is None or ledger is None or system is None:
        return None
    try:
        summary, timeline = score_run(ledger, spec, system)
    except UserError as err:  # e.g. a ledger without run_start
        failures.append(f"{RUN_PREFIX + LEDGER}: cannot be re-scored ({err})")
        return None
    return Scored(spec, ledger, summary, timeline)


def _spec(path: Path, failures: list[str]) -> Spec | None:
    try:
        return load_spec(path)
    except UserError as err:  # SpecError: a bad spec, or bytes that are not UTF-8
        failures.append(_named(err, path, RUN_PREFIX + SPEC))
        return None


def _ledger(path: Path, failures: list[str]) -> Ledger | None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            ledger = read_ledger(path)
        except UserError as err:
            failures.append(_named(err, path, RUN_PREFIX + LEDGER))
            return None
    if any("torn last line" in str(w.message) for w in caught):
        failures.append(f"{RUN_PREFIX + LEDGER}: torn last line (the ledger was cut mid-write)")
        return None
    return ledger


def _named(err: Exception, path: Path, name: str) -> str:
    """The error's sentence with the temporary path replaced by the member's name."""
    text = str(err)
    return text.replace(str(path), name) if str(path) in text else f"{name}: {text}"


def summary_differences(claimed: Summary, rescored: Summary) -> list[str]:
    """Every field of the bundled summary that re-scoring does not reproduce."""
    ours, theirs = rescored.to_json(), claimed.to_json()
    return [
        f"{SUMMARY}: {f.name} is {short_repr(theirs[f.name])}, re-scoring gives "
        f"{short_repr(ours[f.name])}"
        for f in fields(Summary)
        if not same(theirs[f.name], ours[f.name])
    ]


def same(claimed: Any, actual: Any) -> bool:
    """Equal verdicts, strings and structures; numbers equal to a relative 1e-9."""
    if isinstance(claimed, bool) or isinstance(actual, bool) or claimed is None or actual is None:
        return claimed is actual
    if isinstance(claimed, int | float) and isinstance(actual, int | float):
        return math.isclose(claimed, actual, rel_tol=REL_TOLERANCE, abs_tol=0.0)
    return bool(claimed == actual)


def verdict_failures(rescored: Summary) -> list[str]:
    """The re-scored run must be VALID and scored by a shipped benchmark's rules."""
    failures = []
    if rescored.division == "unofficial":
        notes = "; ".join(rescored.division_notes)
        failures.append(f"not a shipped benchmark, so no rules to check the run by: {notes}")
    failures += [f"the run is INVALID: {reason}" for reason in rescored.invalid_reasons]
    return failures


def description_failures(description: SystemDescription, system: dict[str, Any]) -> list[str]:
    """The submitted system description must say what the run's system.json recorded: nodes,
    accelerator model and counts, CPU and memory."""
    recorded = recorded_hardware(rederived_nodes(system)[0])
    said = description.model_dump()
    return [
        f"{SYSTEM_MEMBER}: {key} is {short_repr(said[key])}, but the run's system.json records "
        f"{short_repr(value)}"
        for key, value in recorded.items()
        if said[key] != value
    ]


def unverified_reasons(rescored: Summary | None) -> list[str]:
    """Why the hardware's peak could not be re-derived (empty: verified)."""
    if rescored is None:
        return ["the run could not be re-scored"]
    if rescored.peak_flops_datasheet is not None:
        return []
    return [note for note in rescored.hardware_notes if note.startswith(UNVERIFIED_NOTES)]
