"""``aiperf report``: a run directory from the hand-made ledger gives hand-computed numbers, a
self-contained HTML page with every section, PNG plots and a parseable MLPerf-style log."""

from __future__ import annotations

import base64
import json
import math
import re
from pathlib import Path

import pytest
from ledgers import (
    CPU_MEASURED,
    CPU_PEAK,
    EXAMPLE,
    EXAMPLE_REPORT_FLOPS,
    T0,
    example_system,
    write_example_ledger,
)

from aiperf.report.build import build_report
from aiperf.report.console import si
from aiperf.report.html import SECTION_IDS
from aiperf.report.mllog import PREFIX
from aiperf.report.outputs import write_derived
from aiperf.report.plots import PLOT_TITLES, TrialSpan, pack_slots, trial_spans
from aiperf.rundir import (
    MLLOG,
    PLOTS,
    REPORT_HTML,
    SPEC,
    SUMMARY,
    SUMMARY_MD,
    SYSTEM,
    RunDirError,
)
from aiperf.score import read_ledger
from aiperf.spec import dump_spec, parse_spec

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
EXAMPLE_SPEC = {"name": "example", "seed": 1, "min_duration": 30, "quality_gate": 0.5, **EXAMPLE}
TOTAL = 3 * EXAMPLE_REPORT_FLOPS  # the example ledger's FLOPs


def make_run_dir(folder: Path, **spec_fields) -> Path:
    """A run directory as ``aiperf run`` leaves it: ledger, resolved spec, system.json."""
    folder.mkdir(parents=True, exist_ok=True)
    write_example_ledger(folder / "ledger.jsonl")
    raw = {**EXAMPLE_SPEC, "score": {"grid_points": 4}, **spec_fields}
    (folder / SPEC).write_text(dump_spec(parse_spec(raw)))
    (folder / SYSTEM).write_text(json.dumps(example_system(), indent=2))
    return folder


@pytest.fixture
def run_dir(tmp_path) -> Path:
    return make_run_dir(tmp_path / "run")


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[Path, dict]:
    """One report, built once for the module (plotting takes about a second)."""
    run_dir = make_run_dir(tmp_path_factory.mktemp("built") / "run")
    write_derived(run_dir, parse_spec({**EXAMPLE_SPEC, "score": {"grid_points": 4}}))
    (run_dir / "summary-as-run-wrote.json").write_bytes((run_dir / SUMMARY).read_bytes())
    return run_dir, build_report(run_dir)


def test_report_numbers_by_hand(built) -> None:
    _, summary = built
    assert summary.flops == pytest.approx(TOTAL / 40)
    assert summary.regulated_score == pytest.approx(TOTAL / 40 * abs(math.log(1 - 0.65)))
    assert summary.best_test_accuracy == 0.65  # trial b: best validation, not a's test 0.90
    assert summary.robust_accuracy_of_best == pytest.approx(0.55)
    assert summary.total_flops == TOTAL
    assert summary.utilisation_datasheet == pytest.approx(TOTAL / 40 / CPU_PEAK)
    assert summary.utilisation_measured == pytest.approx(TOTAL / 40 / CPU_MEASURED)
    assert summary.valid is True


def test_report_is_idempotent_and_equals_the_run(built) -> None:
    run_dir, _ = built
    as_run_wrote = (run_dir / "summary-as-run-wrote.json").read_bytes()
    assert (run_dir / SUMMARY).read_bytes() == as_run_wrote
    first = {p: p.read_bytes() for p in run_dir.rglob("*") if p.is_file()}
    build_report(run_dir)
    second = {p: p.read_bytes() for p in run_dir.rglob("*") if p.is_file()}
    assert first == second  # every file, plots included, byte for byte


def test_every_file_is_written(built) -> None:
    run_dir, _ = built
    for name in (REPORT_HTML, SUMMARY_MD, MLLOG, "trials.csv", "timeline.csv"):
        assert (run_dir / name).stat().st_size > 0
    plots = sorted(p.name for p in (run_dir / PLOTS).iterdir())
    assert plots == sorted(f"{name}.png" for name in PLOT_TITLES)
    assert all((run_dir / PLOTS / p).read_bytes().startswith(PNG_SIGNATURE) for p in plots)


def test_html_has_every_section_and_embedded_pngs(built) -> None:
    run_dir, summary = built
    page = (run_dir / REPORT_HTML).read_text()
    for section_id in SECTION_IDS:
        match = re.search(rf'<section id="{section_id}"[^>]*>\s*<h2>[^<]+</h2>', page)
        assert match, f"section {section_id} missing or without a heading"
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert len(images) == len(PLOT_TITLES)
    assert all(base64.b64decode(i).startswith(PNG_SIGNATURE) for i in images)
    assert not re.search(r'(src|href)="(https?:)?//', page)  # self-contained: no external assets
    assert "<script" not in page and "<link" not in page
    assert si(summary.flops, "FLOPS") in page and ">VALID<" in page
    assert "Test CPU 9000" in page and "1 multiply-add = 2 FLOPs" in page


def test_invalid_run_shows_its_reasons(tmp_path) -> None:
    run_dir = make_run_dir(tmp_path / "run", quality_gate=0.8)
    summary = build_report(run_dir)
    page = (run_dir / REPORT_HTML).read_text()
    assert summary.valid is False and ">INVALID<" in page
    assert "below the quality gate" in page
    assert "Verdict: INVALID" in (run_dir / SUMMARY_MD).read_text()
    stop = next(e for e in mllog_events(run_dir) if e["key"] == "run_stop")
    assert stop["metadata"]["status"] == "aborted"


def mllog_events(run_dir: Path) -> list[dict]:
    lines = (run_dir / MLLOG).read_text().splitlines()
    assert all(line.startswith(PREFIX) for line in lines)
    return [json.loads(line.removeprefix(PREFIX)) for line in lines]


def test_mllog_lines_parse_and_are_timed_from_the_ledger(built) -> None:
    run_dir, _ = built
    events = mllog_events(run_dir)
    by_key = {e["key"]: e for e in events}
    assert set(events[0]) == {"namespace", "time_ms", "event_type", "key", "value", "metadata"}
    assert by_key["submission_benchmark"]["value"] == "aiperf"
    assert by_key["seed"]["value"] == 1
    assert by_key["run_start"]["event_type"] == "INTERVAL_START"
    assert by_key["run_start"]["time_ms"] == T0 * 1000
    assert by_key["run_stop"]["event_type"] == "INTERVAL_END"
    assert by_key["run_stop"]["time_ms"] == (T0 + 40) * 1000
    assert by_key["run_stop"]["metadata"]["status"] == "success"
    assert events[-1]["key"] == "run_stop"
    assert by_key["flops"]["value"] == pytest.approx(TOTAL / 40)
    accuracy = [e for e in events if e["key"] == "eval_accuracy"]
    assert [(e["value"], e["metadata"]["epoch_num"]) for e in accuracy] == [
        (0.55, 1),
        (0.65, 1),
        (0.90, 2),
    ]
    assert [e["key"] for e in events].count("trial_start") == 2
    assert {e["event_type"] for e in events} <= {"POINT_IN_TIME", "INTERVAL_START", "INTERVAL_END"}


def test_trial_spans_and_slot_packing(run_dir) -> None:
    spans = trial_spans(read_ledger(run_dir / "ledger.jsonl"))
    by_id = {s.trial_id: s for s in spans}
    assert (by_id["a"].start_s, by_id["a"].end_s) == (5.0, 30.0)  # two intervals, a gap between
    assert len(by_id["a"].intervals) == 2
    rows = pack_slots(spans)["127.0.0.2"]
    assert [[s.trial_id for s in row] for row in rows] == [["a"], ["b"]]  # b overlaps a


def test_sequential_trials_share_a_slot() -> None:
    def span(trial: str, node: str, start: float, end: float) -> TrialSpan:
        return TrialSpan(trial, node, start, end, ())

    spans = [span("x", "n1", 0, 10), span("y", "n1", 10, 20), span("z", "n1", 5, 8)]
    spans.append(span("w", "n2", 0, 30))
    slots = pack_slots(spans)
    assert [[s.trial_id for s in row] for row in slots["n1"]] == [["x", "y"], ["z"]]
    assert [[s.trial_id for s in row] for row in slots["n2"]] == [["w"]]


def test_markdown_summary(built) -> None:
    run_dir, summary = built
    text = (run_dir / SUMMARY_MD).read_text()
    assert "**Verdict: VALID**" in text
    assert si(summary.regulated_score, "FLOPS") in text
    assert "](plots/flops.png)" in text


def test_not_a_run_directory(tmp_path) -> None:
    with pytest.raises(RunDirError, match=r"no ledger\.jsonl"):
        build_report(tmp_path)
