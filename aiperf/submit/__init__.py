"""Submission bundles: pack a run with its system description, sign it, and check a bundle
offline."""

from aiperf.submit.archive import BundleLimits, read_members
from aiperf.submit.bundle import make_bundle
from aiperf.submit.check import BundleError, CheckResult, check_bundle
from aiperf.submit.signing import (
    SigningError,
    generate_key_pair,
    sign_manifest,
    signer_fingerprint,
    verify_signature,
)
from aiperf.submit.system import (
    SystemDescription,
    SystemDescriptionError,
    load_system_file,
    read_system_file,
    system_from_run,
)

__all__ = [
    "BundleError",
    "BundleLimits",
    "CheckResult",
    "SigningError",
    "SystemDescription",
    "SystemDescriptionError",
    "check_bundle",
    "generate_key_pair",
    "load_system_file",
    "make_bundle",
    "read_members",
    "read_system_file",
    "sign_manifest",
    "signer_fingerprint",
    "system_from_run",
    "verify_signature",
]
