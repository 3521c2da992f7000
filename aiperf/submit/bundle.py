"""``aiperf submit``: a run packed into one deterministic ``.tar.gz`` a reviewer can re-score.

Members: ``manifest.json`` (first), ``signature.json`` (when signed with a private key), then
``system.json`` (the SystemDescription) and ``run/…`` (the run directory without ``tune/``). The
manifest lists every other member's path, size and SHA-256 (all but itself and the signature) and
the key numbers the summary claims; the signature covers the manifest's exact bytes, so all of
them. Entries are sorted, mtimes, owners and modes fixed, the gzip header carries no name or
time, Ed25519 signatures are deterministic: the same inputs always give the same bytes.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import tarfile
from pathlib import Path
from typing import Any

from aiperf.rundir import (
    LEDGER,
    SPEC,
    SUMMARY,
    SYSTEM,
    TUNE,
    RunDirError,
    json_text,
    write_bytes_atomic,
)
from aiperf.score import Summary
from aiperf.score.ledger import is_simulated
from aiperf.submit.system import SystemDescription

MANIFEST = "manifest.json"
SIGNATURE = "signature.json"  # aiperf.submit.signing: an Ed25519 signature of the manifest
SYSTEM_MEMBER = "system.json"
RUN_PREFIX = "run/"
FORMAT = "aiperf-submission/1"
CLAIMED_KEYS = (
    "run_id",
    "spec_name",
    "seed",
    "aiperf_version",
    "flops",
    "regulated_score",
    "best_test_accuracy",
    "total_flops",
    "duration_s",
    "valid",
    "invalid_reasons",
)
REQUIRED_RUN_FILES = (SPEC, SYSTEM, LEDGER, SUMMARY)
FIXED_MTIME = 0


def make_bundle(
    run_dir: Path, out: Path, system: SystemDescription, private_key: Path | None = None
) -> Path:
    """Pack ``run_dir`` (minus ``tune/``) with ``system`` and a manifest into ``out``, signed by
    ``private_key`` when one is given."""
    for name in REQUIRED_RUN_FILES:
        if not (run_dir / name).is_file():
            raise RunDirError(f"{run_dir}: not a complete run directory (no {name})")
    if is_simulated(run_dir / LEDGER):
        raise RunDirError(f"{run_dir}: a simulated run (aiperf simulate) is never submittable")
    members = {RUN_PREFIX + rel: data for rel, data in run_files(run_dir).items()}
    members[SYSTEM_MEMBER] = canonical_json(system.model_dump(mode="json"))
    from aiperf.submit.archive import over_limits  # archive reads what this writes: no cycle

    too_big = over_limits({name: len(data) for name, data in members.items()})
    if too_big:
        raise RunDirError(f"{run_dir}: {too_big}, so aiperf check would refuse the bundle")
    summary = Summary.from_json((run_dir / SUMMARY).read_bytes(), where=str(run_dir / SUMMARY))
    manifest = canonical_json(build_manifest(members, summary))
    head = {MANIFEST: manifest}
    if private_key is not None:
        from aiperf.submit.signing import sign_manifest  # cryptography only to sign; no cycle

        head[SIGNATURE] = sign_manifest(manifest, private_key)  # Ed25519: deterministic bytes
    write_members(out, {**head, **dict(sorted(members.items()))})
    return out


def run_files(run_dir: Path) -> dict[str, bytes]:
    """Relative POSIX path → bytes of every regular file of the run, except ``tune/``, hidden
    files (temporaries) and symbolic links."""
    files = {}
    for path in sorted(run_dir.rglob("*")):
        rel = path.relative_to(run_dir)
        if rel.parts[0] == TUNE or any(p.startswith(".") for p in rel.parts):
            continue
        if path.is_file() and not path.is_symlink():
            files[rel.as_posix()] = path.read_bytes()
    return files


def build_manifest(members: dict[str, bytes], summary: Summary) -> dict[str, Any]:
    """Every member's path, size and SHA-256 (sorted by path), and the summary's claims."""
    return {"format": FORMAT, "files": manifest_files(members), "claimed": claimed(summary)}


def manifest_files(members: dict[str, bytes]) -> list[dict[str, Any]]:
    """The manifest's ``files``: path, size and SHA-256 of every member, sorted by path."""
    return [
        {"path": name, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
        for name, data in sorted(members.items())
    ]


def claimed(summary: Summary) -> dict[str, Any]:
    """The key numbers and verdict a summary claims (what the manifest records)."""
    fields = summary.to_json()
    return {key: fields[key] for key in CLAIMED_KEYS}


def canonical_json(data: Any) -> bytes:
    """The one byte form of a JSON document the bundle uses: the run directory's JSON form."""
    return json_text(data).encode("utf-8")


def write_members(out: Path, members: dict[str, bytes]) -> None:
    """A deterministic tar.gz of ``members`` in the given order, written atomically."""
    buffer = io.BytesIO()
    with (
        gzip.GzipFile(filename="", mode="wb", fileobj=buffer, mtime=FIXED_MTIME) as gz,
        tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar,
    ):
        for name, data in members.items():
            tar.addfile(_tar_info(name, len(data)), io.BytesIO(data))
    out.parent.mkdir(parents=True, exist_ok=True)
    write_bytes_atomic(out, buffer.getvalue())


def _tar_info(name: str, size: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = size
    info.mtime = FIXED_MTIME
    info.mode = 0o644
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info
