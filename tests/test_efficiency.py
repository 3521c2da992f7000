"""``aiperf efficiency``: each trial's FLOP/s over its report intervals against its peak."""

from __future__ import annotations

import json

import pytest
from ledgers import CPU_PEAK, cpu_node, example_system, write_tiny_run

from aiperf.cli import main
from aiperf.report.efficiency import run_efficiency
from aiperf.score.ledger import read_ledger


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return write_tiny_run(tmp_path_factory.mktemp("eff") / "run")


def test_each_trial_is_its_flops_over_its_busy_seconds_against_the_peak(run) -> None:
    result = run_efficiency(run)
    assert result["precision"] == "fp32"  # the tiny spec's training precision
    reports = read_ledger(run / "ledger.jsonl").reports
    rows = {row["trial_id"]: row for row in result["trials"]}
    assert list(rows) == ["t1", "t2", "t3", "t4"]
    t1 = [r for r in reports if r.trial_id == "t1"]
    assert rows["t1"]["busy_s"] == pytest.approx(15.0)  # three 5-second epochs
    assert rows["t1"]["flops"] == sum(r.flops for r in t1)
    achieved = rows["t1"]["flops"] / 15.0
    assert rows["t1"]["share_of_peak"] == pytest.approx(achieved / CPU_PEAK)
    shares = sorted(row["share_of_peak"] for row in rows.values())
    assert result["best_share_of_peak"] == shares[-1]
    assert result["median_share_of_peak"] == pytest.approx((shares[1] + shares[2]) / 2)


def test_a_trial_on_an_unlisted_node_gets_no_share(run, tmp_path) -> None:
    other = write_tiny_run(tmp_path / "run")
    (other / "system.json").write_text(json.dumps(example_system([cpu_node(ip="10.9.9.9")])))
    result = run_efficiency(other, "bf16")
    assert result["precision"] == "bf16"
    assert all(row["share_of_peak"] is None for row in result["trials"])
    assert result["median_share_of_peak"] is None


def test_the_cli_prints_json_and_refuses_a_missing_run(run, tmp_path, capsys) -> None:
    assert main(["efficiency", str(run), "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)["trials"]) == 4
    assert main(["efficiency", str(tmp_path / "nowhere")]) == 2
    assert "no such run directory" in capsys.readouterr().err
