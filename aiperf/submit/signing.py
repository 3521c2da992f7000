"""Ed25519 signatures of a bundle's manifest: who vouches for a submission.

``generate_key_pair`` writes a new key pair (the private key mode 0600, never over an existing
file); ``sign_manifest`` makes the ``signature.json`` member — the signer's public key and its
signature over the exact bytes of ``manifest.json``, which hashes every other member, so one
signature covers the whole bundle; ``verify_signature`` checks one against the public key a
leaderboard trusts. Ed25519 signatures are deterministic, so a signed bundle stays reproducible.
Fingerprints are ``SHA256:`` and the unpadded base64 of the SHA-256 of the raw 32-byte key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import stat
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from aiperf.errors import UserError
from aiperf.submit.bundle import MANIFEST, SIGNATURE, canonical_json

ALGORITHM = "ed25519"
SIGNATURE_KEYS = ("algorithm", "public_key", "signature")
KEY_FILE_BYTES = 64 * 1024  # a PEM Ed25519 key is ~120 bytes: a larger file is not one
PUBLIC_KEY_BYTES = 32
SIGNATURE_BYTES = 64
PRIVATE_MODE = 0o600  # only the owner may read the private key
PUBLIC_MODE = 0o644  # the public key is meant to be shared
NEW_FILE = os.O_CREAT | os.O_EXCL | os.O_WRONLY | getattr(os, "O_NOFOLLOW", 0)


class SigningError(UserError):
    """A key file that cannot be used (missing, unreadable, too large, not an Ed25519 key) or
    that key generation would overwrite."""


class _Malformed(Exception):
    """A signature member that is not one; its message is the failure sentence."""


def generate_key_pair(private_path: Path, public_path: Path) -> str:
    """Write a new Ed25519 key pair to two new files (PEM PKCS8 private key, mode 0600; PEM
    SubjectPublicKeyInfo public key) and return the public key's fingerprint."""
    if private_path.absolute() == public_path.absolute():
        raise SigningError(f"{private_path}: the private and public key need two different files")
    for path in (private_path, public_path):
        if os.path.lexists(path):
            raise _exists(path)
    key = Ed25519PrivateKey.generate()
    private_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    _write_new(private_path, private_pem, PRIVATE_MODE)
    try:
        _write_new(public_path, public_pem, PUBLIC_MODE)
    except SigningError:
        private_path.unlink()  # never leave half a key pair behind
        raise
    return fingerprint(key.public_key())


def fingerprint(public_key: Ed25519PublicKey) -> str:
    """``SHA256:`` and the unpadded base64 of the SHA-256 of the raw key: how people name a key."""
    digest = hashlib.sha256(public_key.public_bytes_raw()).digest()
    return "SHA256:" + base64.b64encode(digest).decode("ascii").rstrip("=")


def load_private_key(path: Path) -> Ed25519PrivateKey:
    """The unencrypted PEM Ed25519 private key in ``path``; SigningError (one line) otherwise."""
    data = _read_key_file(path)
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except TypeError:  # it needs a password
        raise SigningError(f"{path}: an encrypted private key (aiperf needs one without)") from None
    except (ValueError, UnsupportedAlgorithm):
        raise SigningError(f"{path}: not a PEM private key (aiperf keygen writes one)") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningError(f"{path}: not an Ed25519 private key (an {_kind(key)} one)")
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    """The PEM Ed25519 public key in ``path``; SigningError (one line) otherwise."""
    data = _read_key_file(path)
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, UnsupportedAlgorithm):
        raise SigningError(f"{path}: not a PEM public key (aiperf keygen writes one)") from None
    if not isinstance(key, Ed25519PublicKey):
        raise SigningError(f"{path}: not an Ed25519 public key (an {_kind(key)} one)")
    return key


def sign_manifest(manifest: bytes, private_key: Path) -> bytes:
    """The ``signature.json`` member: canonical JSON of the algorithm, the signer's raw public key
    and the signature over ``manifest``'s exact bytes (both base64)."""
    key = load_private_key(private_key)
    return canonical_json(
        {
            "algorithm": ALGORITHM,
            "public_key": _b64(key.public_key().public_bytes_raw()),
            "signature": _b64(key.sign(manifest)),
        }
    )


def verify_signature(
    manifest: bytes, signature_member: bytes | None, public_key: Path
) -> list[str]:
    """Why ``signature_member`` is not a valid signature of ``manifest`` by the key in
    ``public_key`` (no failure when it is); SigningError when the key file is unusable."""
    expected = load_public_key(public_key)
    if signature_member is None:
        return [f"{SIGNATURE} is missing: the bundle is not signed by {fingerprint(expected)}"]
    try:
        signer, signature = _parse_signature(signature_member)
    except _Malformed as err:
        return [str(err)]
    if signer.public_bytes_raw() != expected.public_bytes_raw():
        return [
            f"{SIGNATURE}: signed by key {fingerprint(signer)}, not by the expected"
            f" {fingerprint(expected)}"
        ]
    try:
        expected.verify(signature, manifest)
    except InvalidSignature:
        return [f"{SIGNATURE}: the signature does not match {MANIFEST} (one changed after signing)"]
    return []


def signer_fingerprint(manifest: bytes, signature_member: bytes) -> str | None:
    """The fingerprint of the key whose valid signature of ``manifest`` this member holds; None
    when it is malformed or does not verify under its own key (so never a name it cannot back)."""
    try:
        signer, signature = _parse_signature(signature_member)
        signer.verify(signature, manifest)
    except (_Malformed, InvalidSignature):
        return None
    return fingerprint(signer)


def _parse_signature(member: bytes) -> tuple[Ed25519PublicKey, bytes]:
    """The public key and signature that a ``signature.json`` member holds (_Malformed, with the
    failure sentence, when it is not exactly the canonical form ``sign_manifest`` writes)."""
    try:
        fields = json.loads(member)
    except (ValueError, RecursionError):
        raise _Malformed(f"{SIGNATURE} is not valid JSON") from None
    if not isinstance(fields, dict) or set(fields) != set(SIGNATURE_KEYS):
        raise _Malformed(f"{SIGNATURE} must hold exactly the keys {', '.join(SIGNATURE_KEYS)}")
    if fields["algorithm"] != ALGORITHM:
        said = str(fields["algorithm"])[:40]
        raise _Malformed(f"{SIGNATURE}: algorithm {said!r} is not {ALGORITHM!r}")
    raw_key = _unb64(fields["public_key"], PUBLIC_KEY_BYTES, "public_key")
    signature = _unb64(fields["signature"], SIGNATURE_BYTES, "signature")
    if canonical_json(fields) != member:
        raise _Malformed(f"{SIGNATURE} is not in canonical form: it was edited after signing")
    try:
        return Ed25519PublicKey.from_public_bytes(raw_key), signature
    except ValueError:
        raise _Malformed(f"{SIGNATURE}: public_key is not an Ed25519 public key") from None


def _read_key_file(path: Path) -> bytes:
    """The bytes of a key file: a regular file of at most KEY_FILE_BYTES."""
    try:
        status = path.stat()
        if not stat.S_ISREG(status.st_mode):
            raise SigningError(f"{path}: not a regular file, so not a key file")
        with path.open("rb") as file:
            data = file.read(KEY_FILE_BYTES + 1)
    except OSError as err:
        raise SigningError(f"cannot read key file {path} ({err.strerror or err})") from None
    if len(data) > KEY_FILE_BYTES:
        raise SigningError(f"{path}: over {KEY_FILE_BYTES // 1024} KiB, so not a key file")
    return data


def _write_new(path: Path, data: bytes, mode: int) -> None:
    """Write ``data`` to a file that must not exist yet (nor be a link), created with ``mode``."""
    try:
        fd = os.open(path, NEW_FILE, mode)
    except FileExistsError:
        raise _exists(path) from None
    except OSError as err:
        raise SigningError(f"cannot create {path} ({err.strerror or err})") from None
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
    except OSError as err:
        path.unlink(missing_ok=True)
        raise SigningError(f"cannot write {path} ({err.strerror or err})") from None


def _exists(path: Path) -> SigningError:
    return SigningError(f"{path} already exists: a key file is never overwritten (move it away)")


def _kind(key: Any) -> str:
    return type(key).__name__.removeprefix("_").removesuffix("PrivateKey").removesuffix("PublicKey")


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _unb64(value: Any, size: int, field: str) -> bytes:
    """``value`` as the canonical base64 of exactly ``size`` bytes (_Malformed otherwise)."""
    try:
        raw = base64.b64decode(value, validate=True) if isinstance(value, str) else b""
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != size or _b64(raw) != value:
        raise _Malformed(f"{SIGNATURE}: {field} is not the base64 of {size} bytes")
    return raw
