"""The ledger audit: each rule an honest run cannot break fires on a ledger that breaks it, with
a sentence naming the report, and stays quiet on the honest example."""

from __future__ import annotations

from dataclasses import replace

import pytest
from ledgers import EXAMPLE, GENOME, example_report, example_system, write_example_ledger

from aiperf.flops import Work
from aiperf.score import read_ledger, score_run, spec_audit
from aiperf.score.audit import MAX_NAMED, audit_ledger
from aiperf.score.hardware import rederived_nodes
from aiperf.spec import parse_spec

SPEC = parse_spec({"min_duration": 30, "score": {"grid_points": 4}, **EXAMPLE})
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
    ledger.add(example_report("b", 1, 1025.0, 0.5, 0.5))
    ledger.add(example_report("b", 2, 1029.0, 0.5, 0.5))
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
        ledger.add(example_report("ghost", index, 1030.0, 0.5, 0.5))
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


def _all_reports(ledger, **changes) -> None:
    ledger.reports[:] = [replace(r, **changes) for r in ledger.reports]


def test_an_epoch_is_one_pass_over_the_training_split(ledger) -> None:
    ledger.reports[0] = replace(ledger.reports[0], samples=200)
    assert "report a/1: trained 200 samples, an epoch is 100" in audit(ledger)


def test_steps_follow_from_samples_and_batch_size(ledger) -> None:
    ledger.reports[0] = replace(ledger.reports[0], steps=9)
    assert "report a/1: 9 steps for 100 samples in batches of 32" in audit(ledger)


def test_padding_beyond_what_sorted_batches_leave(ledger) -> None:
    work = ledger.reports[0].train_work
    padded = replace(work, tokens=work.tokens + 32 * 31 + 1, tokens_sq=work.tokens_sq * 2)
    ledger.reports[0] = replace(ledger.reports[0], train_work=padded)
    assert any("more padding than length-sorted batches of 32 leave" in f for f in audit(ledger))


def test_every_report_trains_on_the_same_tokens(ledger) -> None:
    work = ledger.reports[1].train_work
    ledger.reports[1] = replace(ledger.reports[1], train_work=replace(work, real_tokens=1799))
    assert "report b/1: trained on other real tokens than report a/1" in audit(ledger)


def test_every_report_evaluates_the_same_work(ledger) -> None:
    forward = ledger.reports[2].eval_forward_work
    ledger.reports[2] = replace(ledger.reports[2], eval_forward_work=forward * 2)
    assert "report a/2: evaluated other work than report a/1" in audit(ledger)


def test_the_evaluation_is_the_specs(ledger) -> None:
    forward = ledger.reports[0].eval_forward_work
    _all_reports(ledger, eval_forward_work=replace(forward, samples=forward.samples * 2))
    failures = audit(ledger)
    assert any("evaluation ran 320 forward and 100 input-gradient samples" in f for f in failures)


def test_sentences_all_at_max_len_are_implausible(ledger) -> None:
    long = Work(samples=100, tokens=3200, tokens_sq=102400, real_tokens=3200)
    _all_reports(ledger, train_work=long)
    assert "report a/1: train_work holds sentences of implausible lengths" in audit(ledger)


def test_an_accuracy_is_a_count_of_sentences(ledger) -> None:
    ledger.reports[0] = replace(ledger.reports[0], val_accuracy=0.61)
    assert "report a/1: val_accuracy 0.61 is no count of 20 sentences" in audit(ledger)


def test_no_accuracy_above_the_label_noise_ceiling(ledger) -> None:
    noisy = parse_spec({**EXAMPLE, "workload": {"train_size": 100, "test_size": 1000,
                                                "label_noise": 0.3}})  # fmt: skip
    failures = list(spec_audit.accuracy_grain(ledger, noisy))
    assert failures == ["report a/2: test_accuracy 0.9 is above what label noise 0.3 allows on "
                        "1000 sentences"]  # fmt: skip
    assert spec_audit.ceiling(0.05, 1000) == pytest.approx(0.95 + 5 * 0.0068920 + 0.001, 1e-4)


def test_trials_must_lie_in_the_search_space(ledger) -> None:
    trial = ledger.trials["b"]
    ledger.trials["b"] = replace(trial, hparams={**trial.hparams, "lr": 0.5})
    assert (
        "trial b: outside the spec's search space: hparams.lr: 0.5 is outside [0.001, 0.005]"
        in (audit(ledger))
    )


def test_reports_at_once_cannot_exceed_their_nodes_peak(ledger) -> None:
    nodes = rederived_nodes(example_system())[0]
    rate = ledger.reports[0].flops / 5
    nodes[0]["cpu"]["estimated_peak_flops"] = {"fp32": 1.5 * rate}  # one fits, two do not
    ledger.reports[1] = replace(ledger.reports[1], start_time=1005.0, end_time=1010.0)
    failures = audit(ledger, nodes)
    assert any(f.startswith("node 127.0.0.2: reports at once claim") for f in failures)
    assert not any("more than its devices' peak" in f for f in failures)


def test_no_more_slots_than_cores(ledger) -> None:
    ledger.run_start = replace(ledger.start, slots=100)
    assert "the run claims 100 slots; its nodes' 2 cores hold 2 trials of 1 CPUs" in audit(ledger)


def test_a_gpu_report_on_a_node_without_gpus(ledger) -> None:
    ledger.reports[0] = replace(ledger.reports[0], device="cuda", gpu_ids=["0"])
    assert any("devices' peak (0.000e+00 FLOPS) allows" in f for f in audit(ledger))
