"""``aiperf check`` against the hostile-bundle corpus (``hostile.py``): every forgery fails with
its specific reason (or passes only as open or unverified), nothing crashes, and the untouched
bundle passes as closed and verified."""

from __future__ import annotations

from pathlib import Path

import pytest
from hostile import CASES
from ledgers import write_tiny_run

from aiperf.cli import main
from aiperf.submit import make_bundle, system_from_run
from aiperf.submit.check import read_members


@pytest.fixture(scope="module")
def honest(tmp_path_factory) -> dict[str, bytes]:
    folder = tmp_path_factory.mktemp("honest")
    run_dir = write_tiny_run(folder / "run")
    system = system_from_run(run_dir, {"submitter": "Test Lab"})
    return read_members(make_bundle(run_dir, folder / "bundle.tar.gz", system))[0]


@pytest.mark.parametrize("name", CASES)
def test_hostile_bundle_gets_its_verdict(name: str, honest, tmp_path: Path, capsys) -> None:
    case = CASES[name]
    bundle = case.make(honest, tmp_path)
    key = ["--public-key", str(tmp_path / "expected.pub")] if case.public_key else []
    status = main(["check", str(bundle), *key])
    out, err = capsys.readouterr()
    assert (status, case.phrase in out + err) == (case.status, True), out + err
    lines = (out or err).splitlines()
    if case.verdict == "PASS":
        assert lines[0].startswith("PASS")
    else:
        assert lines and all(line.startswith(case.verdict) for line in lines), out
    assert "Traceback" not in err
