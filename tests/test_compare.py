"""``aiperf compare``: synthetic runs whose FLOPS differ by known amounts give the expected
mean, sample std and CV at the same timestamps, and flag the unstable ones."""

from __future__ import annotations

import math
import statistics
from pathlib import Path

import pandas as pd
import pytest
from ledgers import FT, GENOME, HPARAMS, report

from aiperf.report.compare import CSV_NAME, PNG_NAME, comparison_table, write_comparison
from aiperf.rundir import SPEC, RunDirError
from aiperf.score.compare import compare_runs
from aiperf.score.ledger import LedgerWriter, RunEnd, RunStart, TrialEnd, TrialStart
from aiperf.spec import dump_spec, parse_spec


def write_run(
    folder: Path,
    work: list[int],
    length_s: float,
    test_acc: float,
    t0: float = 5000.0,
    grid_points: int = 4,
) -> Path:
    """One trial reporting ``work[i]`` train units (``work[i]`` · FT FLOPs) at t0 + 10·(i+1);
    accuracy ``test_acc`` from the first report on (validation rises, so the last report is the
    selected one)."""
    folder.mkdir(parents=True)
    spec = {"name": "cmp", "min_duration": 1, "score": {"grid_points": grid_points}}
    (folder / SPEC).write_text(dump_spec(parse_spec(spec)))
    writer = LedgerWriter(folder / "ledger.jsonl")
    writer.append(RunStart(run_id=folder.name, t0=t0, seed=1, duration_s=length_s))
    writer.append(TrialStart("t", 0, t0, GENOME, HPARAMS, {}))
    for i, flops in enumerate(work):
        writer.append(report("t", i, t0 + 10 * (i + 1), flops, 0, 0.5 + 0.01 * i, test_acc))
    writer.append(TrialEnd("t", t0 + 10 * len(work), "completed"))
    writer.append(RunEnd(time=t0 + length_s, reason="deadline"))
    writer.close()
    return folder


@pytest.fixture
def three_runs(tmp_path) -> list[Path]:
    """Runs of 40, 50 and 60 s (and different t0): FLOPS equal up to 30 s, then 10 % apart."""
    base = [100, 100, 100]
    return [
        write_run(tmp_path / "a", [*base, 100, 100], 40.0, 0.80),
        write_run(tmp_path / "b", [*base, 140, 100, 100], 50.0, 0.85, t0=9000.0),
        write_run(tmp_path / "c", [*base, 60, 100, 100, 100], 60.0, 0.90, t0=100.0),
    ]


def test_aligned_at_the_shortest_run(three_runs) -> None:
    comparison = compare_runs(three_runs)
    assert comparison.runs == ["a", "b", "c"]
    assert comparison.run_lengths_s == [40.0, 50.0, 60.0]
    assert comparison.grid_s == [10.0, 20.0, 30.0, 40.0]  # min(T)/grid_points up to min(T)


def test_mean_std_cv_by_hand(three_runs) -> None:
    rows = compare_runs(three_runs).rows
    for row, t in zip(rows[:3], (10, 20, 30), strict=True):
        assert row["flops_mean"] == pytest.approx(10.0 * FT)  # 100 units every 10 s in every run
        assert row["flops_std"] == 0 and row["flops_cv"] == 0
        assert row["t_s"] == t and not row["flagged"]
    last = rows[3]
    flops = [400 * FT / 40, 440 * FT / 40, 360 * FT / 40]  # 10, 11, 9 units per second
    assert [last[f"flops[{r}]"] for r in "abc"] == pytest.approx(flops)
    assert last["flops_mean"] == pytest.approx(10.0 * FT)
    assert last["flops_std"] == pytest.approx(1.0 * FT)  # sample std (n − 1)
    assert last["flops_cv"] == pytest.approx(0.1)
    regulated = [f * abs(math.log(1 - a)) for f, a in zip(flops, (0.8, 0.85, 0.9), strict=True)]
    assert last["regulated_mean"] == pytest.approx(statistics.fmean(regulated))
    assert last["regulated_std"] == pytest.approx(statistics.stdev(regulated))
    assert last["regulated_cv"] == pytest.approx(
        statistics.stdev(regulated) / statistics.fmean(regulated)
    )


def test_flags_and_final_accuracy(three_runs) -> None:
    comparison = compare_runs(three_runs)
    assert comparison.cv_threshold == 0.02  # the spec's default
    assert comparison.flagged_s == [40.0]
    acc = comparison.final_accuracy
    assert (acc["min"], acc["max"]) == (0.80, 0.90)
    assert acc["std"] == pytest.approx(0.05)


def test_explicit_grid_points(three_runs) -> None:
    comparison = compare_runs(three_runs, grid_points=8)
    assert comparison.grid_s == [5.0 * i for i in range(1, 9)]
    assert comparison.rows[0]["flops_mean"] == 0.0 and comparison.rows[0]["flops_cv"] is None
    assert not comparison.rows[0]["flagged"]  # no work yet: CV undefined, not unstable


def test_small_differences_are_not_flagged(tmp_path) -> None:
    runs = [
        write_run(tmp_path / name, [100, 100, 100, work], 40.0, 0.8)
        for name, work in (("x", 100), ("y", 102), ("z", 98))
    ]
    comparison = compare_runs(runs)
    assert comparison.rows[-1]["flops_cv"] == pytest.approx(0.005)  # std 0.05 / mean 10
    assert comparison.flagged_s == []


def test_frame_csv_png_and_table(three_runs, tmp_path) -> None:
    comparison = compare_runs(three_runs)
    frame = comparison.frame()
    assert isinstance(frame, pd.DataFrame) and len(frame) == 4
    assert {"t_s", "flops_mean", "flops_std", "flops_cv", "regulated_cv"} <= set(frame.columns)
    paths = write_comparison(comparison, tmp_path / "out")
    assert {p.name for p in paths} >= {CSV_NAME, PNG_NAME}
    assert pd.read_csv(tmp_path / "out" / CSV_NAME)["flops_cv"].iloc[-1] == pytest.approx(0.1)
    assert (tmp_path / "out" / PNG_NAME).read_bytes().startswith(b"\x89PNG")
    text = rendered(comparison_table(comparison), width=160)
    assert "flag" in text and "10.00%" in text


def rendered(table, width: int) -> str:
    from rich.console import Console

    console = Console(record=True, width=width)
    console.print(table)
    return console.export_text()


def test_table_rows_fit_an_80_column_terminal(tmp_path) -> None:
    work = 240_000_000_000 // FT  # ~24 GFLOPS per 10 s report: used to wrap as "24" / "GFLOPS"
    runs = [
        write_run(tmp_path / n, [work] * 3 + [w], 40.0, 0.8) for n, w in (("a", work), ("b", 0))
    ]
    comparison = compare_runs(runs)
    text = rendered(comparison_table(comparison), width=80)
    assert max(len(line) for line in text.splitlines()) <= 80
    assert "in GFLOPS" in text and "…" not in text
    for row in comparison.rows:  # every row on one line: time, mean and CV side by side
        cells = (
            f"{row['t_s']:.1f}",
            f"{row['flops_mean'] / 1e9:.3g}",
            f"{100 * row['flops_cv']:.2f}%",
        )
        assert any(all(cell in line for cell in cells) for line in text.splitlines()), cells


def test_same_directory_names_get_distinct_labels(tmp_path) -> None:
    runs = [write_run(tmp_path / side / "run", [100] * 4, 40.0, 0.8) for side in ("l", "r")]
    assert compare_runs(runs).runs == ["run#0", "run#1"]


def test_needs_two_runs_and_run_directories(three_runs, tmp_path) -> None:
    with pytest.raises(ValueError, match="at least 2 run directories"):
        compare_runs(three_runs[:1])
    with pytest.raises(RunDirError, match="no such run directory"):
        compare_runs([three_runs[0], tmp_path / "nothing"])
