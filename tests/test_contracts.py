"""The typed contracts at each boundary: ledger records read back as their types, the Summary,
the Proposal, the recorder's lifecycle, progress, exit statuses — and run directories written
before the typed records re-scored to the same bytes."""

from __future__ import annotations

import json
import pickle
import shutil
from dataclasses import asdict, replace
from pathlib import Path
from types import SimpleNamespace

import pytest
from ledgers import (
    FT,
    GENOME,
    HPARAMS,
    T0,
    example_report,
    report,
    write_example_ledger,
)

from aiperf.cli import main
from aiperf.errors import EXIT_INTERNAL, EXIT_USAGE
from aiperf.rundir import SUMMARY, json_text
from aiperf.score import LedgerError, Summary, SummaryError, read_ledger, score_run
from aiperf.score.ledger import (
    LedgerReader,
    LedgerWriter,
    Report,
    RunStart,
    TrialStart,
    repair_tail,
)
from aiperf.score.progress import read_progress, run_progress
from aiperf.score.timeline import point_at
from aiperf.search.proposal import Hparams, Proposal, trial_seed
from aiperf.spec import parse_spec

FIXTURES = Path(__file__).parent / "fixtures" / "before-typed-records"


CHANGED_SINCE = {  # keys added, removed or re-derived since these ledgers were written
    *("padding_share", "rules_version", "division", "division_notes", "best_robust_accuracy"),
    *("peak_flops_datasheet", "peak_flops_measured", "utilisation_datasheet"),
    *("utilisation_measured", "energy_j", "flops_per_watt", "hardware_notes"),
    *("valid", "invalid_reasons", "slot_occupancy"),
}


@pytest.mark.parametrize("name", ["run", "events", "unfinished"])
def test_an_old_run_rescores_to_its_old_numbers(name, tmp_path, capsys) -> None:
    """Every number an old summary holds is re-derived the same; such a run predates the batch
    shapes the audit re-derives its FLOPs from, so it is INVALID now, saying why."""
    run_dir = shutil.copytree(FIXTURES / name, tmp_path / name)
    (run_dir / SUMMARY).unlink()
    assert main(["report", str(run_dir)]) == 0
    old = json.loads((FIXTURES / name / SUMMARY).read_text())
    new = json.loads((run_dir / SUMMARY).read_text())
    assert {k: v for k, v in new.items() if k not in CHANGED_SINCE} == {
        k: v for k, v in old.items() if k not in CHANGED_SINCE
    }
    assert set(old["invalid_reasons"]) < set(new["invalid_reasons"]) and not new["valid"]
    assert any("no batch shapes recorded" in r for r in new["invalid_reasons"])


def test_the_report_shows_the_cluster_as_a_table(tmp_path, capsys) -> None:
    run_dir = shutil.copytree(FIXTURES / "run", tmp_path / "run")
    assert main(["report", str(run_dir)]) == 0
    page = (run_dir / "report.html").read_text()
    system = page[page.index('<section id="system"') :]
    assert "<th>IP</th>" in system and "<td>192.0.2.2</td>" in system
    assert "[{" not in system and "{&#x27;" not in system  # no raw Python list of dicts


@pytest.fixture
def ledger_path(tmp_path) -> Path:
    path = tmp_path / "ledger.jsonl"
    write_example_ledger(path)
    return path


def test_records_come_back_as_their_types(ledger_path) -> None:
    ledger = read_ledger(ledger_path)
    assert isinstance(ledger.run_start, RunStart) and ledger.t0 == T0
    assert all(isinstance(r, Report) for r in ledger.reports)
    assert isinstance(ledger.trials["a"], TrialStart) and ledger.trials["a"].genome == GENOME
    assert ledger.reports[0] == example_report("a", 0, T0 + 10, 0.60, 0.55)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            (f'"train_flops": {100 * FT}', '"train_flops": 1.5'),
            r":4: report\.train_flops: .*integer",
        ),
        ((f'"train_flops": {100 * FT}', '"train_flops": "100"'), r":4: report\.train_flops"),
        (('"trial_id": "a"', '"trial_id": ["a"]'), r":4: report\.trial_id: .*string"),
        (('"epoch": 1,', '"epoch": 1, "extra": 1,'), r":4: report\.extra: unknown key"),
        (('"kind": "report"', '"kind": "repor"'), r":4: record: .*'repor'"),
        (('"val_accuracy": 0.6,', ""), r":4: report\.val_accuracy: Field required"),
        (
            (f'"train_flops": {100 * FT}', '"train_flops": -100'),
            r":4: report\.train_flops: .*greater than or equal to 0",
        ),
        (
            (f'"train_flops": {100 * FT}', f'"train_flops": {10**400}'),
            r":4: report\.train_flops: .*less",
        ),
        (
            (
                '"eval_forward_work": {"real_tokens": 2880',
                '"eval_forward_work": {"real_tokens": -1',
            ),
            r":4: report\.eval_forward_work\.real_tokens: .*greater than or equal to 0",
        ),
        (('"loss": 0.5', '"loss": NaN'), r":4: report\.loss: .*finite number"),
        (
            ('"flops_check_error": 0.0', '"flops_check_error": -0.5'),
            r":4: report\.flops_check_error: .*greater than or equal to 0",
        ),
    ],
)
def test_a_bad_record_names_its_line_and_field(ledger_path, edit, message) -> None:
    lines = ledger_path.read_text().splitlines()
    lines[3] = lines[3].replace(*edit, 1)
    assert lines[3] != ledger_path.read_text().splitlines()[3], "the edit must apply"
    ledger_path.write_text("\n".join(lines) + "\n")
    with pytest.raises(LedgerError, match=message):
        read_ledger(ledger_path)


def test_no_run_start_is_one_error_naming_the_file(tmp_path) -> None:
    path = tmp_path / "ledger.jsonl"
    writer = LedgerWriter(path)
    writer.append(report("a", 0, 10.0, 1, 1, 0.5, 0.5))
    writer.close()
    ledger = read_ledger(path)
    with pytest.raises(LedgerError, match=rf"{path}: no run_start record"):
        ledger.t0  # noqa: B018
    with pytest.raises(LedgerError, match="no run_start record"):
        score_run(ledger, parse_spec({}))


def test_a_growing_ledger_is_read_line_by_completed_line(tmp_path) -> None:
    path = tmp_path / "ledger.jsonl"
    write_example_ledger(path)
    text = path.read_text()
    cut = text.index("\n", len(text) // 2) + 20  # inside a line
    path.write_text(text[:cut])
    reader = LedgerReader(path)
    first = len(reader.poll().reports)
    path.write_text(text)
    assert len(reader.poll().reports) == 3 > first


def test_repair_keeps_a_whole_last_line_without_its_newline(ledger_path) -> None:
    ledger_path.write_text(ledger_path.read_text().rstrip("\n"))
    assert repair_tail(ledger_path) is False
    assert read_ledger(ledger_path).run_end is not None  # the finished run stays finished
    ledger_path.write_text(ledger_path.read_text() + '{"kind": "rep')
    with pytest.warns(UserWarning, match="torn last line removed"):
        assert repair_tail(ledger_path) is True
    assert ledger_path.read_text().endswith("\n")
    assert read_ledger(ledger_path).run_end is not None


def test_summary_round_trips_through_its_json(ledger_path) -> None:
    summary, _ = score_run(read_ledger(ledger_path), parse_spec({"min_duration": 30}))
    assert Summary.from_json(json_text(summary.to_json())) == summary
    broken = json_text({**summary.to_json(), "flops": "fast"})
    with pytest.raises(SummaryError, match=r"summary\.json: flops: "):
        Summary.from_json(broken)
    missing = json_text({k: v for k, v in summary.to_json().items() if k != "valid"})
    with pytest.raises(SummaryError, match="valid: Field required"):
        Summary.from_json(missing)


def test_proposal_round_trips_through_tunes_config() -> None:
    draw = {"genome": GENOME, "hparams": HPARAMS, "uegr": {"k": 3}}
    proposal = Proposal.from_draw(draw, trial_index=4, run_seed=7)
    assert proposal.trial_seed == trial_seed(7, 4) == 7 * 1_000_003 + 4
    assert proposal.hparams == Hparams(**HPARAMS)
    config = proposal.to_config()
    assert set(config) == {"genome", "hparams", "uegr", "trial_index", "trial_seed"}
    assert Proposal.from_config(config) == proposal
    with pytest.raises(ValueError, match="missing keys \\['epochs'\\]"):
        Proposal.from_config(
            {**config, "hparams": {k: 1 for k in ("lr", "batch_size", "weight_decay")}}
        )


def fake_trial(trial_id: str, index: int) -> SimpleNamespace:
    draw = {"genome": GENOME, "hparams": HPARAMS}
    config = Proposal.from_draw(draw, index, run_seed=1).to_config()
    return SimpleNamespace(trial_id=trial_id, config=config, error_file=None)


def started_recorder(path: Path):
    """A recorder set up on a ledger that holds only its run_start (what Tune starts with)."""
    from aiperf.score.recorder import LedgerRecorder

    writer = LedgerWriter(path)
    writer.append(RunStart(run_id="r", t0=T0, seed=1, duration_s=60.0))
    writer.close()
    recorder = LedgerRecorder(path)
    recorder.setup()
    return recorder


def test_a_restored_recorder_rebuilds_open_trials_from_the_ledger(tmp_path) -> None:
    path = tmp_path / "ledger.jsonl"
    first = started_recorder(path)
    for index, trial_id in enumerate(("a", "b")):
        first.on_trial_start(0, [], fake_trial(trial_id, index))
    first.on_trial_complete(0, [], fake_trial("a", 0))
    first.writer.close()  # the master died here
    restored = pickle.loads(pickle.dumps(first))  # what Tune saves with the experiment
    assert vars(restored).keys() == vars(first).keys() and restored.open_trials == set()
    restored.setup()  # Tune calls it when `aiperf run --resume` restores the experiment
    assert restored.open_trials == {"b"}
    restored.on_experiment_end([])
    ledger = read_ledger(path)
    assert {t: e.status for t, e in ledger.trial_ends.items()} == {"a": "completed", "b": "stopped"}
    assert ledger.open_trials() == []


def test_a_restored_recorder_never_writes_an_epoch_twice(tmp_path) -> None:
    path = tmp_path / "ledger.jsonl"
    recorder = started_recorder(path)
    recorder.on_trial_start(0, [], fake_trial("b", 1))
    first = {**asdict(report("b", 0, T0 + 10, 10, 1, 0.6, 0.6)), "training_iteration": 1}
    recorder.on_trial_result(0, [], fake_trial("b", 1), first)
    recorder.writer.close()  # the master died before Tune saved the trial's new checkpoint
    restored = pickle.loads(pickle.dumps(recorder))
    restored.setup()
    redone = {**first, "end_time": T0 + 30, "val_accuracy": 0.9}  # the epoch, run again
    restored.on_trial_result(0, [], fake_trial("b", 1), redone)
    restored.writer.close()
    ledger = read_ledger(path)
    assert ledger.duplicate_reports == 0 and [r.val_accuracy for r in ledger.reports] == [0.6]


def test_progress_is_the_scorers_view(ledger_path) -> None:
    ledger = read_ledger(ledger_path)
    now = T0 + 25
    progress = run_progress(replace(ledger, run_end=None), now)
    assert progress.elapsed_s == 25 and progress.trials_started == 2
    assert progress.score == point_at(sorted(ledger.reports, key=lambda r: r.end_time), T0, 25)
    assert progress.score.best_test_accuracy == 0.65 and not progress.finished
    assert run_progress(ledger, now).elapsed_s == 40  # finished: to its end, not to now
    assert read_progress(ledger_path.parent) is not None
    assert read_progress(ledger_path.parent / "nowhere") is None


def test_user_errors_exit_2_and_bugs_exit_3_with_a_traceback(monkeypatch, tmp_path, capsys):
    assert main(["report", str(tmp_path / "nowhere")]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no such run directory" in err

    def broken(run_dir: Path) -> None:
        raise ValueError("an internal invariant failed")

    monkeypatch.setattr("aiperf.report.build.build_report", broken)
    assert main(["report", str(tmp_path)]) == EXIT_INTERNAL
    err = capsys.readouterr().err
    assert "Traceback" in err and "an internal invariant failed" in err and "a bug" in err
