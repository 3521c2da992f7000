"""The spec: shipped specs load, overrides apply, every mistake is one line naming the field."""

from __future__ import annotations

import pytest

from aiperf.spec import (
    MAX_DURATION_S,
    SpecError,
    apply_overrides,
    dump_spec,
    load_spec,
    parse_duration,
    parse_spec,
)


@pytest.mark.parametrize("name", ["tiny", "small", "standard", "full"])
def test_shipped_specs_load(name: str) -> None:
    spec = load_spec(name)
    assert spec.name == name
    assert spec.duration > spec.min_duration > 0
    assert spec.rules_version == 1


def test_custom_specs_may_leave_the_rules_version_out() -> None:
    assert parse_spec({}).rules_version is None
    with pytest.raises(SpecError, match=r"^spec\.rules_version: Input should be greater than"):
        parse_spec({"rules_version": 0})


@pytest.mark.parametrize(
    ("text", "seconds"),
    [(90, 90.0), ("90s", 90.0), ("30m", 1800.0), ("2h", 7200.0), ("1.5m", 90.0)],
)
def test_durations(text: object, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", [float("inf"), float("nan"), "8d", 10**400, "1" + "0" * 400 + "s"])
def test_durations_are_finite_and_at_most_a_week(text: object) -> None:
    assert parse_duration("7d") == MAX_DURATION_S
    with pytest.raises(SpecError, match=r"^must be finite and at most 7d \(got "):
        parse_duration(text)


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


# Every field that costs time or memory has a ceiling: (field, the largest allowed, one more).
BOUNDS = [
    ("seed", 2**32 - 1, 2**32),
    ("duration", "7d", "604801s"),
    ("min_duration", "168h", "169h"),
    ("workload.train_size", 1_000_000, 1_000_001),
    ("workload.val_size", 1_000_000, 1_000_001),
    ("workload.test_size", 1_000_000, 1_000_001),
    ("train.eval_batch_size", 65_536, 65_537),
    ("uegr.mask_every", 1_000_000, 1_000_001),
    ("robustness.steps", 100, 101),
    ("robustness.samples", 1_000_000, 1_000_001),
    ("robustness.swaps", 64, 65),
    ("resources.cpus_per_trial", 4096, 4097),
    ("resources.num_cpus", 4096, 4097),
    ("resources.gpus_per_trial", 64, 65),
    ("search.max_trials", 10_000_000, 10_000_001),
    ("search.grace_period", 1000, 1001),
    ("failure.max_retries", 100, 101),
    ("score.grid_points", 10_000, 10_001),
    ("search.space.embed_dim.0", 8192, 8193),
    ("search.space.ffn_dim.0", 65_536, 65_537),
    ("search.space.heads.0", 256, 257),
    ("search.space.conv_kernel.0", 255, 256),
    ("search.space.conv_width.0", 65_536, 65_537),
    ("search.space.batch_size.0", 65_536, 65_537),
    ("search.space.num_blocks.max", 64, 65),
    ("search.space.epochs.max", 1000, 1001),
]


def _with(field: str, value: object) -> dict:
    """A raw spec with ``value`` at the dotted ``field`` (``.0``: a one-entry choice list)."""
    *parents, last = field.removesuffix(".0").split(".")
    node: dict = {"search": {"space": {"block_types": ["conv"]}}}  # no heads/embed_dim pairing
    raw = node
    for part in parents:
        node = node.setdefault(part, {})
    node[last] = [value] if field.endswith(".0") else value
    if last == "max":
        node["min"] = 1
    return raw


@pytest.mark.parametrize(("field", "largest", "too_big"), BOUNDS)
def test_costly_fields_have_a_ceiling(field: str, largest: object, too_big: object) -> None:
    parse_spec(_with(field, largest))
    with pytest.raises(SpecError) as info:
        parse_spec(_with(field, too_big))
    message = str(info.value)
    assert message.startswith(f"spec.{field}: "), message
    limit = "at most 7d" if "duration" in field else f"less than or equal to {largest}"
    assert limit in message, message


def _nested(dotted: str, value: object) -> dict:
    head, _, rest = dotted.partition(".")
    return {head: _nested(rest, value) if rest else value}


@pytest.mark.parametrize(
    ("field", "values"),
    [
        ("embed_dim", list(range(1, 66))),
        ("batch_size", list(range(1, 66))),
        ("pooling", ["mean", "max"] * 33),
        ("uegr", {"k": [2] * 65}),
    ],
)
def test_choice_lists_hold_at_most_64_entries(field: str, values: object) -> None:
    where = "uegr.k" if field == "uegr" else field
    with pytest.raises(SpecError, match=rf"^spec\.search\.space\.{where}: .*at most 64 items"):
        parse_spec({"search": {"space": {field: values}}})


@pytest.mark.parametrize(
    "field",
    ["quality_gate", "uegr.epsilon", "robustness.epsilon", "train.grad_clip", "score.cv_threshold"],
)
def test_float_fields_are_finite(field: str) -> None:
    for value in (float("inf"), float("nan")):
        with pytest.raises(SpecError, match=rf"^spec\.{field}: Input should be a finite number"):
            parse_spec(_nested(field, value))


@pytest.mark.parametrize("name", ["tiny", "my-run_2.b", "a" * 64, "_x", "-x"])
def test_names_that_make_a_safe_run_directory(name: str) -> None:
    assert parse_spec({"name": name}).name == name


@pytest.mark.parametrize(
    "name", ["", ".hidden", "..", "../../x", "a/b", "x$(touch PWNED)", "a b", "a\nb", "a" * 65, "é"]
)
def test_names_that_would_escape_or_break_the_run_directory(name: str) -> None:
    with pytest.raises(
        SpecError, match=r"^spec\.name: must be 1-64 letters, digits, '\.', '_' or '-'"
    ):
        parse_spec({"name": name})


def test_a_hostile_value_is_cut_short_in_the_error() -> None:
    with pytest.raises(SpecError) as info:
        parse_spec({"seed": "x" * 100_000})
    assert len(str(info.value)) < 200
    assert str(info.value).endswith("xxx...)")


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
