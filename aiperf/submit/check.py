"""``aiperf check``: is a submission bundle intact, well-formed, honestly scored and valid?

(a) the manifest lists exactly the members present, with matching sizes and SHA-256, and is
itself in canonical form with claims equal to the summary's; (b) spec, ledger, summary and system
description parse; (c) the ledger re-scores to the claimed numbers; (d) the run is VALID. Every
problem is one sentence in ``failures``; only an unreadable archive raises BundleError.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import math
import tarfile
import tempfile
import warnings
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiperf.errors import UserError
from aiperf.rundir import LEDGER, SPEC, SUMMARY, SYSTEM
from aiperf.score import Ledger, Summary, SummaryError, read_ledger, score_run
from aiperf.spec import Spec, load_spec
from aiperf.submit.bundle import (
    CLAIMED_KEYS,
    FORMAT,
    MANIFEST,
    RUN_PREFIX,
    SYSTEM_MEMBER,
    canonical_json,
)
from aiperf.submit.system import SystemDescriptionError, validate_system

RESCORED_KEYS = ("flops", "regulated_score", "best_test_accuracy", "total_flops", "valid")
REL_TOLERANCE = 1e-9


class BundleError(UserError):
    """Input that is not a submission bundle at all (not a tar.gz, or no manifest.json)."""


@dataclass
class CheckResult:
    """The verdict on a bundle: ok when there is no failure; the re-scored summary if any."""

    ok: bool
    failures: list[str] = field(default_factory=list)
    rescored: Summary | None = None


def check_bundle(path: Path) -> CheckResult:
    """Verify integrity, schemas, the claimed score and validity of the bundle at ``path``."""
    members, failures = read_members(path)
    summary, summary_failures = _summary(members)
    failures += manifest_failures(members, summary) + summary_failures
    _system_description(members, failures)
    rescored = _rescore(members, failures)
    if rescored is not None and summary is not None:
        failures += claim_failures(summary, rescored)
    if rescored is not None and not rescored.valid:
        failures += [f"the run is INVALID: {reason}" for reason in rescored.invalid_reasons]
    return CheckResult(ok=not failures, failures=failures, rescored=rescored)


def read_members(path: Path) -> tuple[dict[str, bytes], list[str]]:
    """Every regular member's bytes (read in memory, never extracted), and failures for odd
    members; BundleError when the archive is unreadable or has no manifest."""
    try:
        raw = gzip.decompress(path.read_bytes())  # checks the gzip CRC of the whole stream
        with tarfile.open(fileobj=io.BytesIO(raw), mode="r:") as tar:
            members, failures = _members(tar)
    except (OSError, EOFError, zlib.error, tarfile.TarError) as err:
        raise BundleError(f"bundle {path}: not a readable tar.gz ({err})") from None
    if MANIFEST not in members:
        raise BundleError(f"bundle {path}: no {MANIFEST} — not an aiperf submission bundle")
    return members, failures


def _members(tar: tarfile.TarFile) -> tuple[dict[str, bytes], list[str]]:
    members: dict[str, bytes] = {}
    failures = []
    for info in tar.getmembers():
        name = info.name
        if not info.isfile():
            failures.append(f"bundle member {name} is not a regular file")
        elif name.startswith("/") or ".." in name.split("/"):
            failures.append(f"bundle member {name} has an unsafe path")
        elif name in members:
            failures.append(f"bundle member {name} appears twice")
        else:
            members[name] = tar.extractfile(info).read()
    return members, failures


def manifest_failures(members: dict[str, bytes], summary: Summary | None) -> list[str]:
    """The manifest parses, has the expected shape and canonical bytes, matches the files, and
    claims what the summary says."""
    raw = members[MANIFEST]
    try:
        manifest = json.loads(raw)
    except ValueError as err:
        return [f"{MANIFEST} is not valid JSON ({err})"]
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
        return [f"{MANIFEST}: format {manifest['format']!r} is not {FORMAT!r}"]
    files = manifest["files"]
    entry_keys = {"path", "size", "sha256"}
    if not isinstance(files, list) or not all(
        isinstance(f, dict) and set(f) == entry_keys for f in files
    ):
        return [f"{MANIFEST}: every files entry must hold exactly path, size and sha256"]
    paths = [f["path"] for f in files]
    if paths != sorted(set(map(str, paths))):
        return [f"{MANIFEST}: files must be listed once each, sorted by path"]
    if not isinstance(manifest["claimed"], dict):
        return [f"{MANIFEST}: claimed must be a mapping"]
    return []


def file_failures(files: list[dict[str, Any]], members: dict[str, bytes]) -> list[str]:
    """Exactly the listed files are present, each with the listed size and SHA-256."""
    listed = {f["path"]: f for f in files}
    present = set(members) - {MANIFEST}
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
            failures.append(f"{name}: size {len(data)} differs from the manifest's {entry['size']}")
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
        f"{MANIFEST} claims {key}={claims[key]!r} but {SUMMARY} says {said[key]!r}"
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


def _system_description(members: dict[str, bytes], failures: list[str]) -> None:
    if SYSTEM_MEMBER not in members:
        failures.append(f"{SYSTEM_MEMBER} (the system description) is missing")
        return
    try:
        validate_system(json.loads(members[SYSTEM_MEMBER]), SYSTEM_MEMBER)
    except SystemDescriptionError as err:
        failures.append(f"{SYSTEM_MEMBER}: invalid system description — {err}")
    except ValueError as err:
        failures.append(f"{SYSTEM_MEMBER} is not valid JSON ({err})")


def _rescore(members: dict[str, bytes], failures: list[str]) -> Summary | None:
    """The summary re-computed from the bundled ledger, spec and run system.json (None when
    one of them is missing or broken; the reason joins ``failures``)."""
    needed = [RUN_PREFIX + name for name in (SPEC, LEDGER, SYSTEM)]
    missing = [name for name in needed if name not in members]
    if missing:
        failures.append(f"cannot re-score the run: {', '.join(missing)} missing")
        return None
    with tempfile.TemporaryDirectory(prefix="aiperf-check-") as tmp:
        folder = Path(tmp)
        for name in (SPEC, LEDGER):
            (folder / name).write_bytes(members[RUN_PREFIX + name])
        spec = _spec(folder / SPEC, failures)
        ledger = _ledger(folder / LEDGER, failures)
    system = _run_system(members[RUN_PREFIX + SYSTEM], failures)
    if spec is None or ledger is None or system is None:
        return None
    try:
        return score_run(ledger, spec, system)[0]
    except (KeyError, TypeError, ValueError, AttributeError) as err:  # odd system.json values
        failures.append(f"{RUN_PREFIX + LEDGER}: cannot be re-scored ({type(err).__name__}: {err})")
        return None


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


def _run_system(data: bytes, failures: list[str]) -> dict[str, Any] | None:
    return _json_object(RUN_PREFIX + SYSTEM, data, failures)


def _json_object(name: str, data: bytes, failures: list[str]) -> dict[str, Any] | None:
    """``data`` parsed as a JSON object, or None with the reason appended to ``failures``."""
    try:
        value = json.loads(data)
    except ValueError as err:
        failures.append(f"{name} is not valid JSON ({err})")
        return None
    if not isinstance(value, dict):
        failures.append(f"{name} must hold a JSON object")
        return None
    return value


def claim_failures(summary: Summary, rescored: Summary) -> list[str]:
    """The claimed numbers and verdict that the ledger does not reproduce (relative 1e-9)."""
    claimed, actual = summary.to_json(), rescored.to_json()
    return [
        f"re-scoring the ledger gives {key}={actual[key]!r}, but {SUMMARY} claims {claimed[key]!r}"
        for key in RESCORED_KEYS
        if not same(claimed[key], actual[key])
    ]


def same(claimed: Any, actual: Any) -> bool:
    """Equal verdicts and strings; numbers equal to a relative 1e-9."""
    if isinstance(claimed, bool) or isinstance(actual, bool) or claimed is None or actual is None:
        return claimed is actual
    if isinstance(claimed, int | float) and isinstance(actual, int | float):
        return math.isclose(claimed, actual, rel_tol=REL_TOLERANCE, abs_tol=0.0)
    return claimed == actual
