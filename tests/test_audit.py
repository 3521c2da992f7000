"""The ledger audit: each rule an honest run cannot break fires on a ledger that breaks it, with
a sentence naming the report, and stays quiet on the honest example."""

from __future__ import annotations

from dataclasses import replace

import pytest
from ledgers import GENOME, example_system, report, write_example_ledger

from aiperf.flops import Work
from aiperf.score import read_ledger, score_run
from aiperf.score.audit import MAX_NAMED, audit_ledger
from aiperf.score.hardware import rederived_nodes
from aiperf.spec import parse_spec

SPEC = parse_spec({"min_duration": 30, "score": {"grid_points": 4}})
NODES = rederived_nodes(example_system())[0]


@pytest.fixture
def ledger(tmp_path):
    write_example_ledger(tmp_path / "ledger.jsonl")
    return read_ledger(tmp_path / "ledger.jsonl")


def audit(ledger, nodes=NODES) -> list[str]:
    return audit_ledger(ledger, SPEC, nodes)


def test_the_honest_example_passes(ledger) -> None:
    assert audit(ledger) == []


def test_epochs_must_run_one_to_n(ledger) -> None:
    ledger.reports[2] = replace(ledger.reports[2], epoch=3)  # trial a: epochs 1 and 3
    assert "trial a: epochs 1, 3 are not 1..2" in audit(ledger)


def test_more_epochs_than_planned(ledger) -> None:
    ledger.add(report("b", 1, 1025.0, 10, 0, 0.5, 0.5))
    ledger.add(report("b", 2, 1029.0, 10, 0, 0.5, 0.5))
    assert "trial b: 3 epochs reported, its hparams say 2" in audit(ledger)


def test_more_intervals_in_flight_than_slots(ledger) -> None:
    ledger.run_start = replace(ledger.start, slots=1)
    ledger.reports[1] = replace(ledger.reports[1], start_time=1005.0)  # overlaps a's first
    assert "2 report intervals are open at once, but the run has 1 slots" in audit(ledger)


def test_samples_must_match_the_batch_shapes(ledger) -> None:
    ledger.reports[0] = replace(ledger.reports[0], samples=999)
    assert any("samples 999 differ from its batch shapes' total" in f for f in audit(ledger))


@pytest.mark.parametrize(
    "work",
    [
        Work(samples=1, tokens=40, tokens_sq=1600, real_tokens=40),  # L = 40 > max_len 32
        Work(samples=2, tokens=8, tokens_sq=16, real_tokens=8),  # Σ B·L² below (Σ B·L)² / Σ B
        Work(samples=1, tokens=4, tokens_sq=16, real_tokens=5),  # more real tokens than places
    ],
)
def test_impossible_batch_shapes(ledger, work) -> None:
    ledger.reports[0] = replace(ledger.reports[0], eval_forward_work=work)
    assert any("eval_forward_work" in f and "impossible" in f for f in audit(ledger))


def test_the_head_must_have_the_workloads_classes(ledger) -> None:
    ledger.reports[0] = replace(ledger.reports[0], num_classes=1000)
    assert "report a/1: num_classes 1000 is not the workload's" in audit(ledger)


def test_flops_must_be_their_sum(ledger) -> None:
    ledger.reports[0] = replace(ledger.reports[0], flops=ledger.reports[0].flops + 1)
    assert "report a/1: flops is not train_flops + eval_flops" in audit(ledger)


def test_a_report_faster_than_its_devices_peak(ledger) -> None:
    slow = rederived_nodes(example_system())[0]
    slow[0]["cpu"]["estimated_peak_flops"] = {"fp32": 1.0, "tf32": 1.0, "bf16": 1.0, "fp16": 1.0}
    failures = audit(ledger, slow)
    assert any("is more than its devices' peak (1.000e+00 FLOPS) allows" in f for f in failures)


def test_a_report_from_an_unlisted_node(ledger) -> None:
    ledger.reports[0] = replace(ledger.reports[0], node="10.9.9.9")
    assert any("node '10.9.9.9', which system.json does not list" in f for f in audit(ledger))


def test_an_unpriceable_genome(ledger) -> None:
    trial = ledger.trials["a"]
    ledger.trials["a"] = replace(trial, genome={**trial.genome, "embed_dim": -1})
    assert any(f.startswith("report a/1: trial a cannot be priced") for f in audit(ledger))


def test_many_failures_of_one_rule_are_counted_not_listed(ledger) -> None:
    for index in range(10):
        ledger.add(replace(report("ghost", index, 1030.0, 1, 0, 0.5, 0.5)))
    failures = audit(ledger)
    assert sum("never started" in f for f in failures) == MAX_NAMED
    assert f"… and {10 - MAX_NAMED} more like it" in failures


def test_a_trial_without_a_self_check_makes_the_run_invalid(ledger) -> None:
    ledger.reports[1] = replace(ledger.reports[1], flops_check_error=None)
    summary, _ = score_run(ledger, SPEC)
    assert "trials without a FLOPs self-check result: b" in summary.invalid_reasons
    assert summary.valid is False


def test_pricing_stops_at_its_block_budget(ledger, monkeypatch) -> None:
    monkeypatch.setattr("aiperf.score.audit.MAX_PRICED_BLOCKS", 1)
    ledger.trials["b"] = replace(ledger.trials["b"], genome={**GENOME, "embed_dim": 16})
    failures = audit(ledger)
    assert any("more than 1 blocks of distinct genomes" in f for f in failures)
