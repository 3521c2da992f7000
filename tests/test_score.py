"""Scoring: a hand-made ledger gives hand-computed FLOPS, accuracy and regulated score (FLOPs in
the ledger's FLOPs per report, ``F``)."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ledgers import (
    CPU_MEASURED,
    CPU_PEAK,
    EXAMPLE,
    EXAMPLE_REPORT_FLOPS,
    cpu_node,
    example_report,
    example_system,
    flops,
    report,
    write_example_ledger,
)

from aiperf.score import read_ledger, score_run
from aiperf.score.ledger import LedgerError
from aiperf.score.timeline import (
    best_report,
    build_timeline,
    point_at,
    regulated_score,
    stability_cv,
)
from aiperf.spec import parse_spec


@pytest.fixture
def ledger(tmp_path):
    write_example_ledger(tmp_path / "ledger.jsonl")
    return read_ledger(tmp_path / "ledger.jsonl")


def spec(**fields):
    return parse_spec(
        {"min_duration": 30, "quality_gate": 0.5, "score": {"grid_points": 4}, **EXAMPLE, **fields}
    )


F = EXAMPLE_REPORT_FLOPS  # every report of the example: one epoch and one evaluation
TOTAL = 3 * F


def test_timeline_by_hand(ledger) -> None:
    summary, timeline = score_run(ledger, spec())
    assert [p.t_s for p in timeline] == [10.0, 20.0, 30.0, 40.0]
    assert [p.ops_flops for p in timeline] == [F, 2 * F, TOTAL, TOTAL]
    expected = [F / 10, 2 * F / 20, TOTAL / 30, TOTAL / 40]
    assert [p.flops for p in timeline] == pytest.approx(expected)
    # selection on validation, reported on test: trial b's 0.65 even after a's test 0.90
    assert [p.best_test_accuracy for p in timeline] == [0.55, 0.65, 0.65, 0.65]
    assert timeline[0].regulated_score == pytest.approx(expected[0] * abs(math.log(0.45)))
    assert summary.flops == pytest.approx(TOTAL / 40)
    assert summary.regulated_score == pytest.approx(TOTAL / 40 * abs(math.log(0.35)))
    assert summary.total_flops == TOTAL
    assert summary.train_flops == 3 * flops(100, 0)  # 100 training sentences an epoch
    assert summary.eval_flops == TOTAL - summary.train_flops
    assert summary.duration_s == pytest.approx(40.0)
    # robust accuracy of the validation-selected model, never the best any report reached (0.8)
    assert [p.robust_accuracy for p in timeline] == pytest.approx([0.45, 0.55, 0.55, 0.55])
    assert summary.robust_accuracy_of_best == pytest.approx(0.55)  # trial b, selected on val


def test_counts_and_validity(ledger) -> None:
    summary, _ = score_run(ledger, spec())
    assert (summary.trials_completed, summary.trials_stopped) == (1, 1)
    assert summary.trials_failed == 0
    assert summary.valid is True and summary.invalid_reasons == []
    assert summary.best_trial_id == "b"
    for key in ("flops_convention", "aiperf_version", "seed", "best_genome"):
        assert getattr(summary, key) is not None


def test_short_run_and_low_accuracy_are_invalid(ledger) -> None:
    summary, _ = score_run(ledger, spec(min_duration=60, quality_gate=0.8))
    assert summary.valid is False
    assert any("below the spec's minimum" in r for r in summary.invalid_reasons)
    assert any("below the quality gate" in r for r in summary.invalid_reasons)


def test_stability_cv_uses_second_half(ledger) -> None:
    _, timeline = score_run(ledger, spec())
    values = [TOTAL / 30, TOTAL / 40]
    mean = sum(values) / 2
    expected = math.sqrt(sum((v - mean) ** 2 for v in values)) / mean  # n - 1 = 1
    assert stability_cv(timeline) == pytest.approx(expected)


def test_nan_accuracy_never_wins() -> None:
    reports = [
        replace(report("a", 0, 1.0, 1, 1, float("nan"), 0.99)),
        report("b", 0, 2.0, 1, 1, 0.6, 0.6),
    ]
    assert best_report(reports).test_accuracy == 0.6


def test_a_tie_goes_to_the_earliest_report() -> None:
    reports = [report("late", 0, 9.0, 1, 1, 0.7, 0.9), report("early", 0, 3.0, 1, 1, 0.7, 0.5)]
    assert best_report(reports).trial_id == "early"


@settings(max_examples=60, deadline=None, derandomize=True)
@given(
    st.lists(
        st.tuples(st.integers(0, 40), st.sampled_from([0.5, 0.6, 0.7, float("nan")])),
        max_size=12,
    ),
    st.integers(1, 9),
)
def test_the_timeline_sweep_equals_reading_each_point(rows, grid_points) -> None:
    """build_timeline's one sweep gives, at every grid point, what point_at reads from scratch
    (ties in end time and validation accuracy included)."""
    reports = [
        replace(report(f"t{i}", 0, 1000.0 + end, 1 + i, i, val, 0.5), val_accuracy=val)
        for i, (end, val) in enumerate(rows)
    ]
    timeline = build_timeline(reports, 1000.0, 40.0, grid_points)
    ordered = sorted(reports, key=lambda r: r.end_time)
    assert timeline == [point_at(ordered, 1000.0, p.t_s) for p in timeline]


def test_regulated_score_is_finite_at_perfect_accuracy() -> None:
    assert math.isfinite(regulated_score(1e9, 1.0))
    assert regulated_score(1e9, None) == 0.0


def test_torn_last_line_is_skipped(tmp_path) -> None:
    path = tmp_path / "ledger.jsonl"
    write_example_ledger(path)
    with path.open("a") as file:
        file.write('{"kind": "report", "trial_')
    with pytest.warns(UserWarning, match="torn last line"):
        ledger = read_ledger(path)
    assert len(ledger.reports) == 3


def test_corrupt_middle_line_is_an_error(tmp_path) -> None:
    path = tmp_path / "ledger.jsonl"
    write_example_ledger(path)
    lines = path.read_text().splitlines()
    lines[2] = "garbage"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(LedgerError, match=":3: not a JSON object"):
        read_ledger(path)


def test_ledger_lines_are_whole_json(tmp_path) -> None:
    path = tmp_path / "ledger.jsonl"
    write_example_ledger(path)
    records = [json.loads(line) for line in path.read_text().splitlines()]
    assert all(r["schema"] == 1 for r in records)
    assert records[0]["kind"] == "run_start"


def two_nodes(measured: float = CPU_MEASURED) -> dict:
    node = cpu_node()
    node["measured_gemm_flops"]["cpu"]["fp32"] = measured
    return example_system([node, {**node, "hostname": "node-b", "ray_node_ip": "127.0.0.3"}])


def test_utilisation_against_both_peaks(ledger) -> None:
    summary, _ = score_run(ledger, spec(), two_nodes())  # two nodes: the peaks add up
    assert summary.utilisation_datasheet == pytest.approx(TOTAL / 40 / (2 * CPU_PEAK))
    assert summary.utilisation_measured == pytest.approx(TOTAL / 40 / (2 * CPU_MEASURED))
    assert summary.valid is True


def test_datasheet_peak_is_rederived_not_read(ledger) -> None:
    system = two_nodes()
    for node in system["nodes"]:  # a forger's figures: ignored
        node["cpu"]["estimated_peak_flops"] = {"fp32": 1e30}
        node["peak_flops"] = {"fp32": {"datasheet_flops": 1e30, "measured_flops": 1e30}}
    summary, _ = score_run(ledger, spec(), system)
    assert summary.peak_flops_datasheet == pytest.approx(2 * CPU_PEAK)


def test_utilisation_at_or_above_one_is_invalid(ledger) -> None:
    summary, _ = score_run(ledger, spec(), two_nodes(measured=TOTAL / 40 / 2))
    assert summary.utilisation_measured == pytest.approx(1.0)
    assert summary.valid is False
    assert any("utilisation_measured" in r for r in summary.invalid_reasons)


def test_unknown_peaks_and_energy_are_null_with_reasons(ledger) -> None:
    node = {**cpu_node(), "cpu": {"model": "unknown"}, "measured_gemm_flops": {}}
    summary, _ = score_run(ledger, spec(), example_system([node]))
    for key in ("utilisation_datasheet", "utilisation_measured", "energy_j", "flops_per_watt"):
        assert getattr(summary, key) is None
    assert len(summary.hardware_notes) == 3


def test_energy_gives_flops_per_watt(tmp_path) -> None:
    path = tmp_path / "ledger.jsonl"
    write_example_ledger(path)
    lines = path.read_text().splitlines()
    lines[-1] = lines[-1].replace('"energy": null', '"energy": {"total_j": 65.0}')
    path.write_text("\n".join(lines) + "\n")
    summary, _ = score_run(read_ledger(path), spec())
    assert summary.energy_j == 65.0
    assert summary.flops_per_watt == pytest.approx(TOTAL / 65.0)


def test_energy_of_one_node_is_not_reported_for_a_cluster(tmp_path) -> None:
    path = tmp_path / "ledger.jsonl"
    write_example_ledger(path)
    lines = path.read_text().splitlines()
    lines[-1] = lines[-1].replace('"energy": null', '"energy": {"total_j": 65.0}')
    path.write_text("\n".join(lines) + "\n")
    summary, _ = score_run(read_ledger(path), spec(), two_nodes())
    assert summary.energy_j is None and summary.flops_per_watt is None
    assert any("master's node only" in note for note in summary.hardware_notes)


def test_a_report_after_the_end_is_never_the_selected_model(ledger) -> None:
    late = example_report("b", 1, 1040.5, 0.95, 0.95)  # ends 0.5 s after run_end (clock skew)
    ledger.add(late)
    summary, timeline = score_run(ledger, spec())
    assert summary.best_trial_id == "b" and summary.best_val_accuracy == 0.70
    assert summary.robust_accuracy_of_best == timeline[-1].robust_accuracy == pytest.approx(0.55)
