"""End to end: `aiperf run` on the tiny spec writes a complete, self-consistent run directory."""

from __future__ import annotations

import csv
import json

import pytest

from aiperf.cli import main
from aiperf.rundir import json_text
from aiperf.score import read_ledger, score_run
from aiperf.score.rederive import rederived_flops
from aiperf.spec import load_spec

pytestmark = pytest.mark.slow

SUMMARY_FIELDS = {
    "flops", "regulated_score", "best_test_accuracy", "valid", "invalid_reasons", "duration_s",
    "total_flops", "trials_completed", "trials_failed", "flops_convention", "aiperf_version",
    "seed",
}  # fmt: skip


@pytest.fixture(scope="module")
def run_dir(ray_session, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "tiny"
    args = ["run", "--spec", "tiny", "--duration", "25s", "--out", str(out), "--json"]
    args += ["--set=min_duration=10s", "--set=workload.train_size=1500", "--set=quality_gate=0"]
    args += ["--set=search.space.epochs={min: 1, max: 2}"]
    assert main(args) == 0
    return out


def test_run_directory_is_complete(run_dir) -> None:
    for name in (
        "spec.yaml",
        "system.json",
        "ledger.jsonl",
        "summary.json",
        "trials.csv",
        "timeline.csv",
    ):
        assert (run_dir / name).is_file(), name
    assert (run_dir / "tune").is_dir()


def short_run_reasons(reasons: list[str]) -> list[str]:
    """What a 25-second run's reasons hold besides its length and (maybe) its accuracy: the
    ledger audit's, which an honest run never has."""
    expected = ("below the spec's minimum", "below the quality gate")
    return [r for r in reasons if not any(phrase in r for phrase in expected)]


def test_summary_has_the_promised_fields(run_dir) -> None:
    summary = json.loads((run_dir / "summary.json").read_text())
    assert set(summary) >= SUMMARY_FIELDS
    assert summary["flops"] > 0 and summary["total_flops"] > 0
    assert summary["trials_completed"] >= 1
    assert 0.5 < summary["best_test_accuracy"] <= 1.0
    assert summary["seed"] == 1234
    # 25 s with a smaller workload: open division, INVALID only for its length; the ledger
    # audit (every report re-derived, the run's logic) finds nothing
    assert summary["division"] == "open"
    assert any("spec.workload.train_size" in note for note in summary["division_notes"])
    assert summary["valid"] is False
    assert short_run_reasons(summary["invalid_reasons"]) == []
    for key in ("utilisation_datasheet", "utilisation_measured", "energy_j", "flops_per_watt"):
        assert key in summary
    assert 0 < summary["utilisation_measured"] < 1  # this CPU's measured GEMM peak is known
    assert summary["robust_accuracy_of_best"] is not None


def test_summary_equals_a_recomputation_from_the_ledger(run_dir) -> None:
    system = json.loads((run_dir / "system.json").read_text())
    recomputed, timeline = score_run(
        read_ledger(run_dir / "ledger.jsonl"), load_spec(run_dir / "spec.yaml"), system
    )
    assert json_text(recomputed.to_json()) == (run_dir / "summary.json").read_text()
    rows = list(csv.DictReader((run_dir / "timeline.csv").open()))
    assert len(rows) == len(timeline) == 20
    assert float(rows[-1]["flops"]) == pytest.approx(recomputed.flops)


def test_ledger_records_node_device_and_flops(run_dir) -> None:
    ledger = read_ledger(run_dir / "ledger.jsonl")
    assert ledger.run_start and ledger.run_end
    assert ledger.reports, "no report reached the ledger"
    for report in ledger.reports:
        assert report.node and report.device == "cpu"
        assert report.flops == report.train_flops + report.eval_flops > 0
        assert report.trial_id in ledger.trials
    assert set(ledger.trial_ends) == set(ledger.trials)  # every started trial has an end


def test_every_reports_flops_rederive_from_genome_and_batch_shapes(run_dir) -> None:
    ledger = read_ledger(run_dir / "ledger.jsonl")
    spec = load_spec(run_dir / "spec.yaml")
    for report in ledger.reports:
        trial = ledger.trials[report.trial_id]
        rederived = rederived_flops(report, trial, spec, num_classes=2)
        assert rederived == (report.train_flops, report.eval_flops)
        assert report.train_work.samples == report.samples
    summary = json.loads((run_dir / "summary.json").read_text())
    assert 0 <= summary["padding_share"] <= 0.10


def test_resolved_spec_records_the_overrides(run_dir) -> None:
    spec = load_spec(run_dir / "spec.yaml")
    assert spec.duration == 25.0 and spec.workload.train_size == 1500


def test_report_regenerates_the_same_summary(run_dir, capsys) -> None:
    before = (run_dir / "summary.json").read_text()
    assert main(["report", str(run_dir)]) == 0
    assert (run_dir / "summary.json").read_text() == before
    html = (run_dir / "report.html").read_text()
    assert "data:image/png;base64," in html and "VALID" in html
    assert (run_dir / "mllog.txt").read_text().startswith(":::MLLOG")


def test_submit_then_check_passes_and_a_flipped_byte_fails(run_dir, tmp_path, capsys) -> None:
    bundle = tmp_path / "bundle.tar.gz"
    argv = ["submit", str(run_dir), "--out", str(bundle), "--submitter", "ci"]
    assert main([*argv, "--system-name", "ci-box"]) == 0
    capsys.readouterr()
    assert main(["check", str(bundle)]) == 1  # a 25 s run: INVALID for its length, nothing else
    failures = capsys.readouterr().out.splitlines()
    assert any("run length" in line for line in failures)
    assert (
        short_run_reasons([line.removeprefix("FAIL the run is INVALID: ") for line in failures])
        == []
    )
    import gzip
    import io
    import tarfile

    with tarfile.open(bundle) as tar:
        members = {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}
    ledger = next(name for name in members if name.endswith("ledger.jsonl"))
    members[ledger] = members[ledger].replace(b'"epoch": 1', b'"epoch": 2', 1)
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    tampered = tmp_path / "tampered.tar.gz"
    tampered.write_bytes(gzip.compress(raw.getvalue()))
    assert main(["check", str(tampered)]) == 1
    assert "run/ledger.jsonl: SHA-256 differs" in capsys.readouterr().out


def test_rerun_and_compare(run_dir, tmp_path, capsys) -> None:
    assert main(["rerun", str(run_dir)]) == 0
    again = run_dir.parent / f"{run_dir.name}-rerun1"
    origin = json.loads((again / "rerun_of.json").read_text())
    assert origin["rerun_of"] == str(run_dir.resolve())
    assert load_spec(again / "spec.yaml").seed == load_spec(run_dir / "spec.yaml").seed
    assert main(["compare", str(run_dir), str(again), "--out", str(tmp_path)]) == 0
    rows = list(csv.DictReader((tmp_path / "comparison.csv").open()))
    assert len(rows) == 20 and all(float(r["flops_mean"]) > 0 for r in rows[-5:])
