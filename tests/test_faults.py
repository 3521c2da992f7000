"""Faults: failed trials retried from their checkpoint, NaN trials, graceful stop, a killed
master resumed — with nothing lost and nothing counted twice."""

from __future__ import annotations

import json
import signal
import subprocess

import pytest
from runner import SMALL, aiperf_env, cleanup, start_aiperf, wait_for_reports

from aiperf.score import read_ledger

pytestmark = pytest.mark.slow


@pytest.fixture
def ray_tmp(tmp_path_factory):
    path = tmp_path_factory.mktemp("rt")
    yield path
    cleanup(path)


def run(
    args: list[str], env: dict[str, str], timeout_s: float = 240
) -> subprocess.CompletedProcess:
    process = start_aiperf(args, env)
    out, err = process.communicate(timeout=timeout_s)
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


def per_trial_epochs(ledger) -> dict[str, list[int]]:
    epochs: dict[str, list[int]] = {}
    for report in ledger.reports:
        epochs.setdefault(report.trial_id, []).append(report.epoch)
    return epochs


def test_failed_trials_retry_from_their_last_report(tmp_path, ray_tmp) -> None:
    env = aiperf_env(ray_tmp, AIPERF_FAULTS="0:2:error,1:1:oom", AIPERF_FAULTS_DIR=str(tmp_path))
    args = ["run", "--duration", "45s", "--out", str(tmp_path / "run"), "--json", *SMALL]
    args += ["--set=search.max_trials=3", "--set=search.space.epochs={min: 3, max: 3}"]
    done = run(args, env)
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads(done.stdout)
    ledger = read_ledger(tmp_path / "run" / "ledger.jsonl")
    assert (summary["trial_failures"], summary["trial_retries"]) == (2, 2)
    assert summary["trials_failed"] == 0 and summary["trials_completed"] == 3
    assert sorted(per_trial_epochs(ledger).values()) == [[1, 2, 3]] * 3  # resumed, not redone
    assert ledger.duplicate_reports == 0
    errors = sorted(f.error for f in ledger.failures)
    assert errors[0].endswith("injected error in trial 0 at epoch 2")
    assert errors[1].endswith("injected oom in trial 1 at epoch 1")


def test_a_nan_trial_fails_and_never_poisons_accuracy(tmp_path, ray_tmp) -> None:
    args = ["run", "--duration", "30s", "--out", str(tmp_path / "run"), "--json", *SMALL]
    args += ["--set=search.max_trials=1", "--set=failure.max_retries=1"]
    args += ["--set=search.space.lr={min: 1.0e+20, max: 1.0e+20}"]
    done = run(args, aiperf_env(ray_tmp))
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads(done.stdout)
    assert summary["trials_failed"] == 1 and summary["trial_retries"] == 1
    assert summary["best_test_accuracy"] is None and summary["valid"] is False
    ledger = read_ledger(tmp_path / "run" / "ledger.jsonl")
    assert any("loss became nan" in f.error for f in ledger.failures)


def test_sigint_stops_gracefully_with_a_partial_summary(tmp_path, ray_tmp) -> None:
    out = tmp_path / "run"
    process = start_aiperf(
        ["run", "--duration", "5m", "--out", str(out), *SMALL], aiperf_env(ray_tmp)
    )
    wait_for_reports(out / "ledger.jsonl", 1, 120, process)
    process.send_signal(signal.SIGINT)
    process.communicate(timeout=120)
    assert process.returncode == 130
    summary = json.loads((out / "summary.json").read_text())
    assert summary["partial"] is True and summary["end_reason"] == "interrupted (SIGINT)"
    assert summary["valid"] is False and summary["reports"] >= 1
    ledger = read_ledger(out / "ledger.jsonl")
    assert ledger.run_end.reason == "interrupted (SIGINT)"
    assert set(ledger.trial_ends) == set(ledger.trials)


def test_a_second_sigint_exits_at_once_leaving_whole_files(tmp_path, ray_tmp) -> None:
    out = tmp_path / "run"
    process = start_aiperf(
        ["run", "--duration", "5m", "--out", str(out), *SMALL], aiperf_env(ray_tmp)
    )
    wait_for_reports(out / "ledger.jsonl", 1, 120, process)
    process.send_signal(signal.SIGINT)
    process.send_signal(signal.SIGINT)
    process.communicate(timeout=60)
    assert process.returncode == 130
    for line in (out / "ledger.jsonl").read_text().splitlines():
        json.loads(line)  # every line whole
    assert not list(out.glob(".*.tmp"))  # no half-written derived file left in place


def test_a_killed_master_resumes_the_same_run(tmp_path, ray_tmp) -> None:
    out = tmp_path / "run"
    env = aiperf_env(ray_tmp)
    args = ["run", "--duration", "50s", "--out", str(out), *SMALL]
    first = start_aiperf([*args, "--set=search.space.epochs={min: 4, max: 6}"], env)
    wait_for_reports(out / "ledger.jsonl", 3, 150, first)
    first.send_signal(signal.SIGKILL)
    first.communicate(timeout=30)
    cleanup(ray_tmp)  # the embedded Ray the master left behind
    killed_at = read_ledger(out / "ledger.jsonl")
    assert killed_at.run_end is None
    done = run(["run", "--resume", str(out), "--json"], env)
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads(done.stdout)
    ledger = read_ledger(out / "ledger.jsonl")
    assert summary["resumed"] == 1 and not summary["partial"]
    assert ledger.run_start.t0 == killed_at.run_start.t0  # one clock: the gap counts
    assert summary["duration_s"] >= 50
    assert len(ledger.reports) > len(killed_at.reports)  # it went on
    assert ledger.duplicate_reports == 0  # no (trial, epoch) written twice, even redone
    assert set(ledger.trial_ends) == set(ledger.trials)
