"""``aiperf submit`` / ``aiperf check``: a deterministic bundle round-trips; every kind of tampering
fails the check with its own reason; a random single-byte edit of any member never passes."""

from __future__ import annotations

import gzip
import io
import json
import os
import re
import shutil
import tarfile
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ledgers import write_tiny_run
from test_report import make_run_dir

from aiperf.report.outputs import write_derived
from aiperf.rundir import RunDirError
from aiperf.submit import (
    BundleError,
    SystemDescription,
    SystemDescriptionError,
    check_bundle,
    load_system_file,
    make_bundle,
    read_system_file,
    system_from_run,
)
from aiperf.submit.bundle import MANIFEST, canonical_json, manifest_files, write_members
from aiperf.submit.check import read_members

SUBMITTER = {"submitter": "Test Lab"}


def scored_run(folder: Path, **spec_fields) -> Path:
    """A finished run directory: ledger, spec, system.json and the derived summary."""
    run_dir = make_run_dir(folder, **spec_fields)
    write_derived(run_dir)
    return run_dir


def bundle_of(run_dir: Path, out: Path) -> Path:
    return make_bundle(run_dir, out, system_from_run(run_dir, SUBMITTER))


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("bundle")
    run_dir = write_tiny_run(folder / "run")
    (run_dir / "tune").mkdir()
    (run_dir / "tune" / "experiment_state.json").write_text("{}")
    return bundle_of(run_dir, folder / "bundle.tar.gz")


@pytest.fixture(scope="module")
def members(bundle) -> dict[str, bytes]:
    return read_members(bundle)[0]


def repack(members: dict[str, bytes], out: Path, rehash: bool = False) -> Path:
    """Write ``members`` as a bundle; ``rehash`` re-computes the manifest's file entries (a
    forger's move) while keeping its claims."""
    members = dict(members)
    if rehash:
        manifest = json.loads(members[MANIFEST])
        others = {k: v for k, v in members.items() if k != MANIFEST}
        manifest["files"] = manifest_files(others)
        members[MANIFEST] = canonical_json(manifest)
    write_members(out, members)
    return out


def edit_json(data: bytes, **changes) -> bytes:
    return canonical_json({**json.loads(data), **changes})


def test_round_trip(bundle, members) -> None:
    result = check_bundle(bundle)
    assert result.ok and result.failures == []
    claimed = json.loads(members["run/summary.json"])["flops"]
    assert result.rescored.flops == pytest.approx(claimed)
    assert (result.division, result.unverified, result.signer) == ("closed", [], None)
    assert next(iter(members)) == MANIFEST
    assert "run/ledger.jsonl" in members and "system.json" in members
    assert not any(name.startswith("run/tune") for name in members)
    manifest = json.loads(members[MANIFEST])
    assert manifest["claimed"]["flops"] == claimed
    assert {f["path"] for f in manifest["files"]} == set(members) - {MANIFEST}
    assert json.loads(members["system.json"])["submitter"] == "Test Lab"


def test_same_inputs_same_bytes(tmp_path) -> None:
    run_dir = scored_run(tmp_path / "run")
    first = bundle_of(run_dir, tmp_path / "1.tar.gz").read_bytes()
    copy = shutil.copytree(run_dir, tmp_path / "copy" / "run")
    for path in copy.iterdir():
        os.utime(path, (1e9, 1e9))  # other mtimes, other folder: same bundle
    assert bundle_of(copy, tmp_path / "2.tar.gz").read_bytes() == first
    with tarfile.open(tmp_path / "2.tar.gz") as tar:
        infos = tar.getmembers()
    assert {(i.mtime, i.uid, i.gid, i.uname) for i in infos} == {(0, 0, 0, "")}
    assert [i.name for i in infos[1:]] == sorted(i.name for i in infos[1:])


def _ledger_flops_edited(m: dict[str, bytes]) -> dict[str, bytes]:
    text = m["run/ledger.jsonl"].decode()
    first = re.search(r'"train_flops": (\d)', text)
    other = "2" if first.group(1) == "1" else "1"
    edited = text.replace(first.group(0), f'"train_flops": {other}', 1)  # same length
    assert edited != text and len(edited) == len(text)
    return {**m, "run/ledger.jsonl": edited.encode()}


def _summary_edited(m: dict[str, bytes]) -> dict[str, bytes]:
    return {**m, "run/summary.json": edit_json(m["run/summary.json"], flops=99.0)}


def _manifest_claim_edited(m: dict[str, bytes]) -> dict[str, bytes]:
    manifest = json.loads(m[MANIFEST])
    manifest["claimed"]["regulated_score"] = 1e12
    return {**m, MANIFEST: canonical_json(manifest)}


def _without(name: str):
    return lambda m: {k: v for k, v in m.items() if k != name}


def _torn_ledger(m: dict[str, bytes]) -> dict[str, bytes]:
    return {**m, "run/ledger.jsonl": m["run/ledger.jsonl"] + b'{"kind": "report", "tri'}


def _invalid_system(m: dict[str, bytes]) -> dict[str, bytes]:
    return {**m, "system.json": edit_json(m["system.json"], nodes=0)}


def _summary_key_dropped(m: dict[str, bytes]) -> dict[str, bytes]:
    summary = json.loads(m["run/summary.json"])
    del summary["flops_convention"]
    return {**m, "run/summary.json": canonical_json(summary)}


def _extra_member(m: dict[str, bytes]) -> dict[str, bytes]:
    return {**m, "run/notes.txt": b"hello"}


def _manifest_reformatted(m: dict[str, bytes]) -> dict[str, bytes]:
    return {**m, MANIFEST: json.dumps(json.loads(m[MANIFEST]), sort_keys=True).encode()}


TAMPER_CASES = {  # name: (edit, re-hash the manifest?, the reason the check must give)
    "ledger edited, manifest re-hashed": (
        _ledger_flops_edited,
        True,
        "summary.json: flops is ",
    ),
    "ledger edited": (_ledger_flops_edited, False, "run/ledger.jsonl: SHA-256 differs"),
    "file missing": (
        _without("run/trials.csv"),
        False,
        "run/trials.csv is listed in the manifest but missing",
    ),
    "summary edited, manifest re-hashed": (
        _summary_edited,
        True,
        "but summary.json says 99.0",
    ),
    "manifest claim edited": (
        _manifest_claim_edited,
        False,
        "manifest.json claims regulated_score=1000000000000.0",
    ),
    "manifest reformatted": (_manifest_reformatted, False, "not in canonical form"),
    "torn ledger": (_torn_ledger, True, "run/ledger.jsonl: torn last line"),
    "spec missing": (_without("run/spec.yaml"), True, "cannot re-score the run: run/spec.yaml"),
    "system description invalid": (
        _invalid_system,
        True,
        "system.json: invalid system description — system.json.nodes",
    ),
    "summary key dropped": (
        _summary_key_dropped,
        True,
        "summary.json: flops_convention: Field required",
    ),
    "extra member": (_extra_member, False, "run/notes.txt is in the bundle but not listed"),
}


@pytest.mark.parametrize("case", TAMPER_CASES)
def test_tampering_fails_with_its_reason(case, members, tmp_path) -> None:
    edit, rehash, reason = TAMPER_CASES[case]
    result = check_bundle(repack(edit(members), tmp_path / "b.tar.gz", rehash))
    assert not result.ok
    assert any(reason in failure for failure in result.failures), result.failures
    others = [r for name, (_, _, r) in TAMPER_CASES.items() if name != case]
    assert not any(r in f for r in others for f in result.failures[:1])  # its own first reason


def test_rehashed_ledger_edit_is_caught_only_by_rescoring(members, tmp_path) -> None:
    result = check_bundle(repack(_ledger_flops_edited(members), tmp_path / "b.tar.gz", True))
    kinds = ("summary.json: ", "the run is INVALID: ")
    assert all(f.startswith(kinds) for f in result.failures), result.failures
    assert any(f.startswith("summary.json: total_flops is") for f in result.failures)
    assert any("genome and batch shapes give" in f for f in result.failures)


def test_invalid_run_fails_with_its_reasons(tmp_path) -> None:
    run_dir = scored_run(tmp_path / "run", quality_gate=0.8)
    result = check_bundle(bundle_of(run_dir, tmp_path / "b.tar.gz"))
    assert result.failures == [
        "not a shipped benchmark, so no rules to check the run by: spec 'example' is not a "
        "shipped benchmark spec",
        "the run is INVALID: best test accuracy 0.6500 is below the quality gate 0.8000",
    ]


def test_unreadable_input_raises_bundle_error(members, tmp_path) -> None:
    not_gzip = tmp_path / "x.tar.gz"
    not_gzip.write_bytes(b"not a bundle")
    with pytest.raises(BundleError, match=r"not a readable tar\.gz"):
        check_bundle(not_gzip)
    no_manifest = repack(_without(MANIFEST)(members), tmp_path / "y.tar.gz")
    with pytest.raises(BundleError, match=r"no manifest\.json"):
        check_bundle(no_manifest)
    plain_tar = tmp_path / "z.tar.gz"
    plain_tar.write_bytes(gzip.decompress(no_manifest.read_bytes()))
    with pytest.raises(BundleError):
        check_bundle(plain_tar)


@settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_any_single_byte_edit_fails(members, data) -> None:
    name = data.draw(st.sampled_from(sorted(members)), label="member")
    position = data.draw(st.integers(0, len(members[name]) - 1), label="position")
    flip = data.draw(st.integers(1, 255), label="xor")
    edited = bytearray(members[name])
    edited[position] ^= flip
    with tempfile.TemporaryDirectory() as tmp:
        path = repack({**members, name: bytes(edited)}, Path(tmp) / "b.tar.gz")
        try:
            result = check_bundle(path)
        except BundleError:
            return
    assert not result.ok, f"{name}[{position}] ^= {flip} passed the check"


def test_system_prefilled_from_the_run(tmp_path) -> None:
    run_dir = make_run_dir(tmp_path / "run")
    system = system_from_run(run_dir, {**SUBMITTER, "interconnect": "none"})
    assert (system.nodes, system.accelerator, system.accelerator_count) == (1, "none", 0)
    assert (system.cpu, system.memory_gb, system.system_name) == ("Test CPU 9000", 8.0, "node-a")
    assert system.software["python"] == "3.11" and system.interconnect == "none"


def test_system_errors_are_one_line_naming_the_field(tmp_path) -> None:
    run_dir = make_run_dir(tmp_path / "run")
    cases = [
        ({}, "system.submitter: required"),
        ({**SUBMITTER, "nodes": 0}, "system.nodes: Input should be greater than or equal to 1"),
        ({**SUBMITTER, "gpu": "x"}, "system.gpu: unknown key (allowed: submitter,"),
    ]
    for overrides, message in cases:
        with pytest.raises(SystemDescriptionError) as err:
            system_from_run(run_dir, overrides)
        assert str(err.value).startswith(message) and "\n" not in str(err.value)


def test_system_files_yaml_and_json(tmp_path) -> None:
    full = system_from_run(make_run_dir(tmp_path / "run"), SUBMITTER).model_dump()
    (tmp_path / "s.json").write_text(json.dumps(full))
    (tmp_path / "s.yaml").write_text("submitter: Lab\ninterconnect: InfiniBand NDR\n")
    assert load_system_file(tmp_path / "s.json") == SystemDescription(**full)
    assert read_system_file(tmp_path / "s.yaml") == {
        "submitter": "Lab",
        "interconnect": "InfiniBand NDR",
    }
    with pytest.raises(SystemDescriptionError, match=r"^system\.system_name: Field required"):
        load_system_file(tmp_path / "s.yaml")
    (tmp_path / "bad.yaml").write_text("- a list\n")
    with pytest.raises(SystemDescriptionError, match="expected a mapping"):
        read_system_file(tmp_path / "bad.yaml")
    with pytest.raises(SystemDescriptionError, match="cannot read"):
        read_system_file(tmp_path / "missing.yaml")


def test_bundle_needs_a_complete_run(tmp_path) -> None:
    run_dir = make_run_dir(tmp_path / "run")  # no summary.json yet
    with pytest.raises(RunDirError, match=r"no summary\.json"):
        make_bundle(run_dir, tmp_path / "b.tar.gz", system_from_run(run_dir, SUBMITTER))


def test_bundle_reads_back_as_a_plain_tar(bundle) -> None:
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(bundle.read_bytes()))) as tar:
        assert tar.getnames()[0] == MANIFEST


def test_submit_refuses_a_bundle_check_could_not_read(tmp_path) -> None:
    run_dir = write_tiny_run(tmp_path / "run")
    (run_dir / "trials.csv").write_bytes(b"x" * (21 << 20))
    with pytest.raises(RunDirError, match=r"trials\.csv is 21 MiB, over the 20 MiB a member may"):
        bundle_of(run_dir, tmp_path / "b.tar.gz")
    assert not (tmp_path / "b.tar.gz").exists()
