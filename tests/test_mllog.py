"""``mllog.txt`` through mlperf-logging: the fixture runs' logs pass aiperf's compliance rules,
parse with mlperf-logging's own parser, are strict JSON, timed in order and the same bytes on
every render; a log with a line missing, repeated or out of range fails the rules."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import replace
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from mlperf_logging.compliance_checker import mlp_parser
from mlperf_logging.compliance_checker.mlp_compliance import ComplianceChecker

from aiperf.report.mllog import PREFIX, RULES, Event, mllog_events, render_mllog
from aiperf.rundir import read_system
from aiperf.score import Summary, read_ledger, score_run
from aiperf.score.ledger import Ledger
from aiperf.spec import Spec, load_spec

FIXTURES = Path(__file__).parent / "fixtures" / "before-typed-records"
RUNS = ("run", "events", "unfinished")
PARSER_RULESET = "6.1.0"  # picks mlperf-logging 4.1.68's newest line parser
FIELDS = ["namespace", "time_ms", "event_type", "key", "value", "metadata"]

Inputs = tuple[Ledger, Spec, Summary, dict[str, Any] | None]


def inputs(name: str) -> Inputs:
    """A fixture run directory read and scored the way ``aiperf report`` does."""
    run_dir = FIXTURES / name
    ledger, spec = read_ledger(run_dir / "ledger.jsonl"), load_spec(run_dir / "spec.yaml")
    system = read_system(run_dir)
    summary, _ = score_run(ledger, spec, system)
    return ledger, spec, summary, system


@cache
def fixture_log(name: str) -> str:
    return render_mllog(mllog_events(*inputs(name)))


def parsed(text: str) -> list[dict[str, Any]]:
    """Each line's JSON, strictly: NaN or Infinity in a line fails."""

    def no_constant(word: str) -> None:
        raise ValueError(f"not strict JSON: {word}")

    lines = text.splitlines()
    assert all(line.startswith(PREFIX) for line in lines)
    return [json.loads(line.removeprefix(PREFIX), parse_constant=no_constant) for line in lines]


def unparsed(events: list[dict[str, Any]]) -> str:
    return "".join(PREFIX + json.dumps(e) + "\n" for e in events)


def complies(text: str, folder: Path) -> bool:
    """mlperf-logging's compliance checker with aiperf's rules on ``text``; warnings are errors."""
    path = folder / "mllog.txt"
    path.write_text(text)
    checker = ComplianceChecker("training", PARSER_RULESET, quiet=False, werror=True)
    return checker.check_file(str(path), str(RULES))


@pytest.fixture(autouse=True)
def _in_tmp_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Anything the checker writes into the working directory lands in tmp_path, not the repo."""
    monkeypatch.chdir(tmp_path)


@pytest.mark.parametrize("name", RUNS)
def test_fixture_logs_pass_the_rules(name: str, tmp_path: Path, caplog) -> None:
    assert complies(fixture_log(name), tmp_path), caplog.text


def test_lines_parse_with_mlperf_logging_in_time_order(tmp_path: Path) -> None:
    text = fixture_log("run")
    path = tmp_path / "mllog.txt"
    path.write_text(text)
    lines, errors = mlp_parser.parse_file(str(path), ruleset=PARSER_RULESET)
    events = parsed(text)
    assert errors == [] and len(lines) == len(events) == 152
    assert all(list(e) == FIELDS and isinstance(e["time_ms"], int) for e in events)
    times = [line.timestamp for line in lines]
    assert times == sorted(times)
    keys = [e["key"] for e in events]
    assert keys.index("run_start") < keys.index("trial_start") and keys[-1] == "run_stop"


def test_same_inputs_give_the_same_bytes() -> None:
    first = render_mllog(mllog_events(*inputs("events")))
    assert render_mllog(mllog_events(*inputs("events"))) == first
    places = {(e["metadata"]["file"], e["metadata"]["lineno"]) for e in parsed(first)}
    assert len(places) == 1 and next(iter(places))[0] == "aiperf/report/mllog.py"
    assert str(Path(__file__).parents[1]) not in first


def test_nan_and_inf_become_null(tmp_path: Path, caplog) -> None:
    ledger, spec, summary, system = inputs("events")
    nan, inf = float("nan"), float("inf")
    ledger.reports[0] = replace(ledger.reports[0], test_accuracy=nan, loss=inf)
    summary = replace(summary, regulated_score=nan, best_test_accuracy=nan)
    text = render_mllog(mllog_events(ledger, spec, summary, system))
    events = parsed(text)
    first = ledger.reports[0].trial_id
    accuracy = next(e for e in events if e["key"] == "eval_accuracy")
    stop = next(e for e in events if e["key"] == "epoch_stop")
    assert accuracy["metadata"]["trial_id"] == stop["metadata"]["trial_id"] == first
    assert accuracy["value"] is None and stop["metadata"]["loss"] is None
    by_key = {e["key"]: e for e in events}
    assert by_key["regulated_score"]["value"] is None
    assert by_key["best_test_accuracy"]["value"] is None
    assert complies(text, tmp_path), caplog.text


def drop_all(key: str) -> Callable[[list[dict]], list[dict]]:
    return lambda events: [e for e in events if e["key"] != key]


def drop_first(key: str) -> Callable[[list[dict]], list[dict]]:
    def edit(events: list[dict]) -> list[dict]:
        index = [e["key"] for e in events].index(key)
        return events[:index] + events[index + 1 :]

    return edit


def twice(key: str) -> Callable[[list[dict]], list[dict]]:
    def edit(events: list[dict]) -> list[dict]:
        index = [e["key"] for e in events].index(key)
        return events[: index + 1] + events[index:]

    return edit


def set_first(key: str, where: str, value: Any) -> Callable[[list[dict]], list[dict]]:
    """Sets ``value`` (where="value") or ``metadata[where]`` on the first line of ``key``."""

    def edit(events: list[dict]) -> list[dict]:
        event = next(e for e in events if e["key"] == key)
        target = event if where == "value" else event["metadata"]
        target[where] = value
        return events

    return edit


def run_stop_first(events: list[dict]) -> list[dict]:
    stop = [e for e in events if e["key"] == "run_stop"]
    return stop + [e for e in events if e["key"] != "run_stop"]


BROKEN = {
    "no run_stop": drop_all("run_stop"),
    "no run_start": drop_all("run_start"),
    "run_stop before run_start": run_stop_first,
    "no cache_clear": drop_all("cache_clear"),
    "no total_flops": drop_all("total_flops"),
    "seed twice": twice("seed"),
    "submission_org twice": twice("submission_org"),
    "regulated_score twice": twice("regulated_score"),
    "an epoch_start without its epoch_stop": drop_first("epoch_stop"),
    "accuracy above 1": set_first("eval_accuracy", "value", 1.5),
    "run_stop status running": set_first("run_stop", "status", "running"),
    "unknown division": set_first("submission_division", "value", "closed-ish"),
}


@pytest.mark.parametrize("broken", BROKEN.values(), ids=BROKEN.keys())
def test_broken_logs_fail_the_rules(broken, tmp_path: Path) -> None:
    events = parsed(fixture_log("events"))
    assert not complies(unparsed(broken(events)), tmp_path)


def test_rendering_leaves_no_logging_behind(capsys) -> None:
    loggers, handlers = set(logging.root.manager.loggerDict), list(logging.root.handlers)
    fixture_log.cache_clear()
    assert fixture_log("events")
    assert set(logging.root.manager.loggerDict) == loggers and logging.root.handlers == handlers
    assert capsys.readouterr() == ("", "")


def test_disabled_logging_raises_instead_of_a_short_log() -> None:
    logging.disable(logging.CRITICAL)
    try:
        with pytest.raises(RuntimeError, match="logging is disabled"):
            render_mllog(mllog_events(*inputs("events")))
    finally:
        logging.disable(logging.NOTSET)


def test_a_value_mlperf_logging_cannot_encode_raises() -> None:
    with pytest.raises(ValueError, match="Failed to encode"):
        render_mllog([Event(0, "POINT_IN_TIME", "seed", object())])
