"""Submission bundles: pack a run with its system description, and check a bundle offline."""

from aiperf.submit.bundle import make_bundle
from aiperf.submit.check import BundleError, CheckResult, check_bundle
from aiperf.submit.system import (
    SystemDescription,
    SystemDescriptionError,
    load_system_file,
    read_system_file,
    system_from_run,
)

__all__ = [
    "BundleError",
    "CheckResult",
    "SystemDescription",
    "SystemDescriptionError",
    "check_bundle",
    "load_system_file",
    "make_bundle",
    "read_system_file",
    "system_from_run",
]
