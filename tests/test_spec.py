"""The spec: shipped specs load, overrides apply, every mistake is one line naming the field."""

from __future__ import annotations

import pytest

from aiperf.spec import SpecError, apply_overrides, dump_spec, load_spec, parse_duration, parse_spec


@pytest.mark.parametrize("name", ["tiny", "small", "standard", "full"])
def test_shipped_specs_load(name: str) -> None:
    spec = load_spec(name)
    assert spec.name == name
    assert spec.duration > spec.min_duration > 0


@pytest.mark.parametrize(
    ("text", "seconds"),
    [(90, 90.0), ("90s", 90.0), ("30m", 1800.0), ("2h", 7200.0), ("1.5m", 90.0)],
)
def test_durations(text: object, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"workload": {"trian_size": 10}}, "spec.workload.trian_size: unknown key (allowed: kind,"),
        ({"seed": "abc"}, "spec.seed: Input should be a valid integer"),
        ({"duration": "-5m"}, "spec.duration: Input should be greater than 0"),
        ({"duration": "soon"}, "spec.duration: expected a duration like 90s"),
        ({"workload": {"kind": "csv"}}, "spec.workload.kind: Input should be 'synthetic' or 'tsv'"),
        ({"workload": {"kind": "tsv"}}, "spec.workload: kind 'tsv' needs train_path"),
        (
            {"search": {"searcher": "grid"}},
            "spec.search.searcher: Input should be 'random', 'morphism'",
        ),
        ({"search": {"space": {"epochs": {"min": 5, "max": 2}}}}, "spec.search.space.epochs: min"),
        ({"resources": {"cpus_per_trial": 0}}, "spec.resources.cpus_per_trial: Input should be"),
    ],
)
def test_errors_name_the_field(raw: dict, expected: str) -> None:
    with pytest.raises(SpecError) as info:
        parse_spec(raw)
    message = str(info.value)
    assert message.startswith(expected), message
    assert "\n" not in message


def test_unknown_key_lists_allowed_keys() -> None:
    with pytest.raises(SpecError, match=r"allowed: .*train_size.*max_len"):
        parse_spec({"workload": {"bogus": 1}})


def test_overrides_parse_values_as_yaml() -> None:
    raw = apply_overrides({"search": {"max_trials": 3}}, ["search.max_trials=7", "duration=45s"])
    spec = parse_spec(raw)
    assert spec.search.max_trials == 7
    assert spec.duration == 45.0


def test_override_typo_is_rejected() -> None:
    with pytest.raises(SpecError, match=r"spec\.serch: unknown key"):
        load_spec("tiny", ["serch.max_trials=2"])


def test_override_without_equals_is_rejected() -> None:
    with pytest.raises(SpecError, match=r"--set: expected key\.path=value"):
        load_spec("tiny", ["search.max_trials"])


def test_missing_spec_file() -> None:
    with pytest.raises(SpecError, match="no such file"):
        load_spec("does-not-exist")


def test_resolved_spec_round_trips(tmp_path) -> None:
    spec = load_spec("tiny", ["seed=99"])
    path = tmp_path / "spec.yaml"
    path.write_text(dump_spec(spec))
    again = load_spec(path)
    assert again.seed == 99
    assert again.aiperf_version is not None
    assert again.model_copy(update={"aiperf_version": None}) == spec


def test_specs_are_frozen() -> None:
    spec = load_spec("tiny")
    with pytest.raises(ValueError):
        spec.seed = 3  # type: ignore[misc]
