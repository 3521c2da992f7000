"""``aiperf.submit.signing``: key pairs round-trip with safe modes and are never overwritten; a
signed manifest verifies, and another key, a flipped byte, a missing or malformed signature and
unusable key files each fail with their own one-line reason; signed bundles stay deterministic."""

from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from test_report import make_run_dir

from aiperf.errors import UserError
from aiperf.report.outputs import write_derived
from aiperf.submit.archive import read_members
from aiperf.submit.bundle import MANIFEST, SIGNATURE, canonical_json, make_bundle
from aiperf.submit.signing import (
    KEY_FILE_BYTES,
    SigningError,
    fingerprint,
    generate_key_pair,
    load_private_key,
    load_public_key,
    sign_manifest,
    signer_fingerprint,
    verify_signature,
)
from aiperf.submit.system import system_from_run

PEM = serialization.Encoding.PEM
SPKI = serialization.PublicFormat.SubjectPublicKeyInfo
PKCS8 = serialization.PrivateFormat.PKCS8
MANIFEST_BYTES = canonical_json({"format": "aiperf-submission/1", "files": [], "claimed": {}})


def key_pair(folder: Path, name: str = "key") -> tuple[Path, Path, str]:
    private, public = folder / name, folder / f"{name}.pub"
    return private, public, generate_key_pair(private, public)


@pytest.fixture(scope="module")
def keys(tmp_path_factory) -> tuple[Path, Path, str]:
    return key_pair(tmp_path_factory.mktemp("keys"))


@pytest.fixture(scope="module")
def other_keys(tmp_path_factory) -> tuple[Path, Path, str]:
    return key_pair(tmp_path_factory.mktemp("other"))


def test_key_pair_round_trip(keys) -> None:
    private, public, printed = keys
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert not stat.S_IMODE(public.stat().st_mode) & 0o022  # nobody else may write it
    assert private.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    assert public.read_bytes().startswith(b"-----BEGIN PUBLIC KEY-----")
    loaded = load_public_key(public)
    assert load_private_key(private).public_key().public_bytes_raw() == loaded.public_bytes_raw()
    assert printed == fingerprint(loaded)
    assert printed.startswith("SHA256:") and len(printed) == len("SHA256:") + 43


def test_generate_never_overwrites(keys, tmp_path) -> None:
    private, public, _ = keys
    before = private.read_bytes(), public.read_bytes()
    with pytest.raises(SigningError, match=r"already exists: a key file is never overwritten"):
        generate_key_pair(private, tmp_path / "new.pub")
    with pytest.raises(SigningError, match=r"already exists"):
        generate_key_pair(tmp_path / "new", public)
    assert not (tmp_path / "new").exists() and not (tmp_path / "new.pub").exists()
    assert (private.read_bytes(), public.read_bytes()) == before
    (tmp_path / "link").symlink_to(tmp_path / "nowhere")  # a dangling link is not followed
    with pytest.raises(SigningError, match=r"link already exists"):
        generate_key_pair(tmp_path / "link", tmp_path / "link.pub")
    assert not (tmp_path / "nowhere").exists()
    with pytest.raises(SigningError, match=r"two different files"):
        generate_key_pair(tmp_path / "same", tmp_path / "same")
    with pytest.raises(SigningError, match=r"^cannot create .*no-dir/k \(No such file"):
        generate_key_pair(tmp_path / "no-dir" / "k", tmp_path / "k.pub")


def test_sign_and_verify(keys) -> None:
    private, public, printed = keys
    member = sign_manifest(MANIFEST_BYTES, private)
    assert sign_manifest(MANIFEST_BYTES, private) == member  # deterministic
    assert set(json.loads(member)) == {"algorithm", "public_key", "signature"}
    assert member == canonical_json(json.loads(member))
    assert verify_signature(MANIFEST_BYTES, member, public) == []
    assert signer_fingerprint(MANIFEST_BYTES, member) == printed


def test_another_key_fails_naming_both_fingerprints(keys, other_keys) -> None:
    member = sign_manifest(MANIFEST_BYTES, other_keys[0])
    assert verify_signature(MANIFEST_BYTES, member, keys[1]) == [
        f"{SIGNATURE}: signed by key {other_keys[2]}, not by the expected {keys[2]}"
    ]
    assert signer_fingerprint(MANIFEST_BYTES, member) == other_keys[2]


def flipped(data: bytes, position: int) -> bytes:
    return data[:position] + bytes([data[position] ^ 1]) + data[position + 1 :]


def with_field(member: bytes, key: str, value: object) -> bytes:
    return canonical_json({**json.loads(member), key: value})


def test_flipped_bytes_fail(keys) -> None:
    private, public, _ = keys
    member = sign_manifest(MANIFEST_BYTES, private)
    mismatch = f"{SIGNATURE}: the signature does not match {MANIFEST} (one changed after signing)"
    for position in (0, len(MANIFEST_BYTES) // 2, len(MANIFEST_BYTES) - 1):
        edited = flipped(MANIFEST_BYTES, position)
        assert verify_signature(edited, member, public) == [mismatch]
        assert signer_fingerprint(edited, member) is None
    signature = bytearray(base64.b64decode(json.loads(member)["signature"]))
    for position in (0, 31, 63):
        signature[position] ^= 1
        forged = with_field(member, "signature", base64.b64encode(signature).decode())
        assert verify_signature(MANIFEST_BYTES, forged, public) == [mismatch]
        signature[position] ^= 1


MALFORMED = {  # signature member: its failure
    b"not json": f"{SIGNATURE} is not valid JSON",
    b"[]": f"{SIGNATURE} must hold exactly the keys algorithm, public_key, signature",
    b'{"algorithm": "ed25519"}': f"{SIGNATURE} must hold exactly the keys",
}


def test_missing_and_malformed_signatures(keys) -> None:
    private, public, printed = keys
    assert verify_signature(MANIFEST_BYTES, None, public) == [
        f"{SIGNATURE} is missing: the bundle is not signed by {printed}"
    ]
    member = sign_manifest(MANIFEST_BYTES, private)
    cases = dict(MALFORMED)
    cases[with_field(member, "algorithm", "rsa\n")] = f"{SIGNATURE}: algorithm 'rsa\\n' is not"
    cases[with_field(member, "public_key", "AAAA")] = "public_key is not the base64 of 32 bytes"
    cases[with_field(member, "signature", "!" * 88)] = "signature is not the base64 of 64 bytes"
    cases[with_field(member, "signature", 7)] = "signature is not the base64 of 64 bytes"
    cases[json.dumps(json.loads(member)).encode()] = f"{SIGNATURE} is not in canonical form"
    for bad, reason in cases.items():
        failures = verify_signature(MANIFEST_BYTES, bad, public)
        assert len(failures) == 1 and reason in failures[0], (bad, failures)
        assert "\n" not in failures[0]
        assert signer_fingerprint(MANIFEST_BYTES, bad) is None


def test_unusable_key_files_are_one_line_errors(keys, tmp_path) -> None:
    private, public, _ = keys
    garbage = tmp_path / "garbage"
    garbage.write_bytes(b"\x00\xff not a key\n" * 10)
    huge = tmp_path / "huge"
    huge.write_bytes(b"-" * (KEY_FILE_BYTES + 1))
    rsa_key = rsa.generate_private_key(65537, 1024)
    rsa_public, rsa_private = tmp_path / "rsa.pub", tmp_path / "rsa"
    rsa_public.write_bytes(rsa_key.public_key().public_bytes(PEM, SPKI))
    rsa_private.write_bytes(rsa_key.private_bytes(PEM, PKCS8, serialization.NoEncryption()))
    locked = tmp_path / "encrypted"
    password = serialization.BestAvailableEncryption(b"secret")
    locked.write_bytes(Ed25519PrivateKey.generate().private_bytes(PEM, PKCS8, password))
    cases = [
        (load_public_key, garbage, "not a PEM public key"),
        (load_private_key, garbage, "not a PEM private key"),
        (load_public_key, private, "not a PEM public key"),
        (load_private_key, public, "not a PEM private key"),
        (load_public_key, huge, "over 64 KiB, so not a key file"),
        (load_public_key, rsa_public, "not an Ed25519 public key (an RSA one)"),
        (load_private_key, rsa_private, "not an Ed25519 private key (an RSA one)"),
        (load_private_key, locked, "an encrypted private key (aiperf needs one without)"),
        (load_public_key, tmp_path, "not a regular file, so not a key file"),
        (load_private_key, tmp_path / "missing", "cannot read key file"),
        (load_public_key, garbage / "key", "(Not a directory)"),
    ]
    for load, path, reason in cases:
        with pytest.raises(SigningError) as err:
            load(path)
        assert reason in str(err.value) and "\n" not in str(err.value), str(err.value)
        assert isinstance(err.value, UserError)
    with pytest.raises(SigningError, match="not a PEM public key"):
        verify_signature(MANIFEST_BYTES, b"{}", garbage)
    with pytest.raises(SigningError, match="not a PEM private key"):
        sign_manifest(MANIFEST_BYTES, garbage)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_unreadable_key_file(keys, tmp_path) -> None:
    locked = tmp_path / "locked"
    locked.write_bytes(keys[1].read_bytes())
    locked.chmod(0)
    with pytest.raises(SigningError, match=r"cannot read key file .*Permission denied"):
        load_public_key(locked)


def test_signed_bundles(keys, other_keys, tmp_path) -> None:
    run_dir = make_run_dir(tmp_path / "run")
    write_derived(run_dir)
    system = system_from_run(run_dir, {"submitter": "Test Lab"})
    first = make_bundle(run_dir, tmp_path / "1.tar.gz", system, keys[0])
    again = make_bundle(run_dir, tmp_path / "2.tar.gz", system, keys[0])
    assert first.read_bytes() == again.read_bytes()  # still deterministic
    members, failures = read_members(first)
    assert failures == [] and list(members)[:2] == [MANIFEST, SIGNATURE]
    listed = {entry["path"] for entry in json.loads(members[MANIFEST])["files"]}
    assert SIGNATURE not in listed and listed == set(members) - {MANIFEST, SIGNATURE}
    assert verify_signature(members[MANIFEST], members[SIGNATURE], keys[1]) == []
    assert verify_signature(members[MANIFEST], members[SIGNATURE], other_keys[1]) != []
    unsigned = read_members(make_bundle(run_dir, tmp_path / "3.tar.gz", system))[0]
    assert SIGNATURE not in unsigned and unsigned[MANIFEST] == members[MANIFEST]
    with pytest.raises(SigningError):
        make_bundle(run_dir, tmp_path / "4.tar.gz", system, keys[1])  # a public key
    assert not (tmp_path / "4.tar.gz").exists()
