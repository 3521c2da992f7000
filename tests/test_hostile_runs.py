"""Run directories and command lines that try to make aiperf lose or overwrite results, or print
what it should not: each gets one line and exit status 2 (or ``check``'s ERROR and 3), and
nothing on disk changes that should not."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from ledgers import write_tiny_run

from aiperf.cli import main
from aiperf.rundir import LEDGER, REPORT_HTML, SYSTEM


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    return write_tiny_run(tmp_path_factory.mktemp("finished") / "run")


def test_resume_never_alters_a_finished_run(finished, tmp_path, capsys) -> None:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    for path in finished.iterdir():
        if path.is_file():
            (run_dir / path.name).write_bytes(path.read_bytes())
    (run_dir / "tune").mkdir()
    ledger = run_dir / LEDGER
    ledger.write_bytes(ledger.read_bytes().rstrip(b"\n"))  # run_end lacks only its newline
    before = ledger.read_bytes()
    assert main(["run", "--resume", str(run_dir)]) == 2
    assert "not an unfinished run" in capsys.readouterr().err
    assert ledger.read_bytes() == before


def test_report_never_writes_through_a_planted_link(finished, tmp_path) -> None:
    target = tmp_path / "victim.txt"
    target.write_text("keep me")
    (finished / REPORT_HTML).unlink(missing_ok=True)
    (finished / REPORT_HTML).symlink_to(target)  # the file itself, and the old temporary name
    (finished / f".{REPORT_HTML}.tmp").symlink_to(target)
    assert main(["report", str(finished)]) == 0
    assert target.read_text() == "keep me"
    assert not (finished / REPORT_HTML).is_symlink()
    assert (finished / REPORT_HTML).read_text().startswith("<!doctype html>")


def test_an_unreadable_file_is_one_line_and_exit_2(tmp_path, capsys) -> None:
    if os.geteuid() == 0:
        pytest.skip("root reads any file")
    spec = tmp_path / "spec.yaml"
    spec.write_text("name: x\n")
    spec.chmod(0)
    assert main(["flops", "--spec", str(spec), "--genome", str(spec)]) == 2
    assert len(capsys.readouterr().err.splitlines()) == 1


def test_a_directory_where_a_file_is_expected_is_one_line(tmp_path, capsys) -> None:
    assert main(["check", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "aiperf check: error:" in err


def test_an_unexpected_error_in_check_is_an_error_line_and_exit_3(
    finished, tmp_path, capsys, monkeypatch
) -> None:
    from aiperf.submit import make_bundle, system_from_run

    bundle = make_bundle(
        finished, tmp_path / "b.tar.gz", system_from_run(finished, {"submitter": "x"})
    )

    def broken(*args, **kwargs):
        raise ZeroDivisionError("a bug\nPASS forged")

    monkeypatch.setattr("aiperf.submit.check.score_run", broken)
    assert main(["check", str(bundle)]) == 3
    out = capsys.readouterr().out
    assert out == "ERROR ZeroDivisionError: a bug\\nPASS forged\n"


def test_a_resume_on_new_nodes_records_them(finished, tmp_path) -> None:
    from aiperf.cluster import Cluster
    from aiperf.cluster.connect import Node
    from aiperf.run import record_new_nodes

    run_dir = tmp_path / "run"
    shutil.copytree(finished, run_dir)
    before = json.loads((run_dir / SYSTEM).read_text())
    known = Node("a", before["nodes"][0]["ray_node_ip"], 2.0, 0.0)
    joined = Node("b", "10.1.1.1", 2.0, 0.0)
    seen = []

    def inventory(cluster: Cluster) -> list[dict]:
        seen.append(cluster.nodes)
        return [
            {**before["nodes"][0], "hostname": "new", "ray_node_ip": n.ip} for n in cluster.nodes
        ]

    record_new_nodes(run_dir, Cluster(None, (known, joined)), inventory)
    after = json.loads((run_dir / SYSTEM).read_text())
    assert seen == [(joined,)]  # only the node that joined is inventoried
    assert [n["ray_node_ip"] for n in after["nodes"]] == [known.ip, joined.ip]
    record_new_nodes(run_dir, Cluster(None, (known, joined)), inventory)
    assert json.loads((run_dir / SYSTEM).read_text()) == after and len(seen) == 1


def test_rules_never_come_from_the_working_directory(tmp_path, monkeypatch) -> None:
    from aiperf.score.rules import rules_for, shipped_rules
    from aiperf.spec import load_spec

    spec = load_spec("tiny")
    (tmp_path / "benchmark_specs").mkdir()
    lax = "name: tiny\nrules_version: 1\nmin_duration: 1s\nquality_gate: 0.0\n"
    (tmp_path / "benchmark_specs" / "tiny.yaml").write_text(lax)
    monkeypatch.chdir(tmp_path)
    shipped_rules.cache_clear()
    rules = rules_for(spec)
    assert (rules.spec.min_duration, rules.spec.quality_gate) == (60.0, 0.6)
