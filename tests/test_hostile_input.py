"""Hostile specs, system files and genomes: each is a one-line error naming the field, fast.

A YAML alias bomb, deep nesting, an oversize file, a budget that would run for days or allocate
terabytes, a name that would escape the results folder or a shell line: none may cost more than
reading the file.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from aiperf.cli import main
from aiperf.models import GenomeError, genome_from_dict
from aiperf.models.genome import MAX_PARAMETERS, check_parameter_budget, parameter_count
from aiperf.safe_yaml import MAX_YAML_BYTES, MAX_YAML_DEPTH, load_yaml, read_text_capped
from aiperf.spec import SpecError, load_spec

LE = "Input should be less than or equal to"
FINITE = "must be finite and at most 7d"

# The classic "billion laughs": 372 bytes that expand to 9^9 strings.
ALIAS_BOMB = """\
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
"""


def spec_error(tmp_path: Path, text: str, overrides: tuple[str, ...] = ()) -> str:
    """The one-line SpecError that loading ``text`` as a spec file raises."""
    path = tmp_path / "hostile.yaml"
    path.write_text(text)
    with pytest.raises(SpecError) as info:
        load_spec(path, overrides)
    message = str(info.value)
    assert "\n" not in message, message
    return message


def test_alias_bomb_is_refused_fast(tmp_path: Path) -> None:
    start = time.perf_counter()
    message = spec_error(tmp_path, ALIAS_BOMB)
    assert time.perf_counter() - start < 2.0
    assert "hostile.yaml: line 1: YAML anchors and aliases" in message, message


def test_alias_in_an_override_value_is_refused(tmp_path: Path) -> None:
    message = spec_error(tmp_path, "name: ok\n", ("search.space.embed_dim=[&x 32, *x]",))
    assert message.startswith("--set search.space.embed_dim: line 1: YAML anchors"), message


def test_deep_nesting_is_refused(tmp_path: Path) -> None:
    depth = MAX_YAML_DEPTH + 5
    message = spec_error(tmp_path, "search: " + "[" * depth + "]" * depth + "\n")
    assert f"nested deeper than {MAX_YAML_DEPTH} levels" in message, message


def test_nesting_up_to_the_limit_parses() -> None:
    depth = MAX_YAML_DEPTH - 1  # the mapping itself is the first level
    assert load_yaml("a: " + "[" * depth + "]" * depth, "x") == {
        "a": eval("[" * depth + "]" * depth)
    }


def test_oversize_spec_is_refused_before_reading(tmp_path: Path) -> None:
    text = "name: big\n" + "#" * MAX_YAML_BYTES + "\n"
    message = spec_error(tmp_path, text)
    assert f"bytes is over the limit of {MAX_YAML_BYTES} bytes" in message, message


def test_a_file_that_lies_about_its_size_is_cut_off() -> None:
    # /dev/zero's stat size is 0: only reading limit + 1 bytes shows that it is too big.
    with pytest.raises(SpecError, match=r"^/dev/zero: over the limit of 4096 bytes$"):
        read_text_capped(Path("/dev/zero"), "/dev/zero", SpecError, limit=4096)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("score: {grid_points: 100000000}", f"spec.score.grid_points: {LE} 10000"),
        ("duration: .inf", f"spec.duration: {FINITE} (got inf)"),
        ("duration: .nan", f"spec.duration: {FINITE} (got nan)"),
        ("duration: 1.0e+400", f"spec.duration: {FINITE}"),
        ("duration: 1e400", "spec.duration: expected a duration like 90s"),
        ("duration: 8d", f"spec.duration: {FINITE} (got '8d')"),
        ("min_duration: 9999999999999999999999999", f"spec.min_duration: {FINITE}"),
        ("duration: 99999999999999999999h", f"spec.duration: {FINITE}"),
        ("workload: {train_size: 1000000000}", f"spec.workload.train_size: {LE} 1000000"),
        ("quality_gate: .nan", "spec.quality_gate: Input should be a finite number"),
        ("name: x$(touch PWNED)", "spec.name: must be 1-64 letters, digits"),
        ("name: ../../x", "spec.name: must be 1-64 letters, digits"),
    ],
)  # fmt: skip
def test_costly_or_unsafe_values_are_refused(tmp_path: Path, text: str, expected: str) -> None:
    message = spec_error(tmp_path, text + "\n")
    assert message.startswith(expected), message
    assert len(message) < 300, message


def test_an_integer_too_long_to_convert_is_a_yaml_error(tmp_path: Path) -> None:
    message = spec_error(tmp_path, "seed: " + "9" * 5000 + "\n")
    assert "hostile.yaml: invalid YAML (Exceeds the limit (4300 digits)" in message, message


def test_a_system_file_with_an_alias_is_refused(tmp_path: Path) -> None:
    from aiperf.submit.system import SystemDescriptionError, read_system_file

    path = tmp_path / "system.yaml"
    path.write_text("submitter: &s Lab\nsystem_name: *s\n")
    with pytest.raises(SystemDescriptionError) as info:
        read_system_file(path)
    assert str(info.value).startswith(f"system file {path}: line 1: YAML anchors and aliases")


def test_a_huge_genome_fails_in_aiperf_train_before_allocating(tmp_path: Path, capsys) -> None:
    path = tmp_path / "g.json"
    genome = {"embed_dim": 1_000_000_000, "blocks": [{"type": "conv", "kernel": 3, "width": 8}]}
    path.write_text(json.dumps(genome))
    start = time.perf_counter()
    assert main(["train", "--genome", str(path)]) == 2
    assert time.perf_counter() - start < 10.0
    err = capsys.readouterr().err.strip()
    assert "\n" not in err, err
    assert f"genome.embed_dim: {LE} 8192" in err, err


def test_the_parameter_budget_is_checked_before_the_model_is_built(monkeypatch) -> None:
    from aiperf.models import builder

    def never(*args: object) -> None:
        raise AssertionError("the model was built: the parameter budget was not checked first")

    monkeypatch.setattr(builder, "TextClassifier", never)
    wide = {"type": "transformer", "heads": 8, "ffn_dim": 65_536}
    genome = genome_from_dict({"embed_dim": 8192, "blocks": [wide] * 64})  # every field in range
    assert parameter_count(genome, 100, 2, 32) > MAX_PARAMETERS
    with pytest.raises(GenomeError, match=r"^genome\.blocks\.0: the model would have [\d,]+ param"):
        builder.build_model(genome, 100, 2, 32)


def test_a_big_vocabulary_is_named_as_the_embedding() -> None:
    genome = genome_from_dict(
        {"embed_dim": 8192, "blocks": [{"type": "conv", "kernel": 1, "width": 8}]}
    )
    check_parameter_budget(genome, 100_000, 2, 32)  # 0.8 billion: allowed
    with pytest.raises(GenomeError, match=r"^genome\.embed_dim: .* vocabulary 200,000\)$"):
        check_parameter_budget(genome, 200_000, 2, 32)


def test_genome_files_are_capped_and_deep_json_is_an_error(tmp_path: Path) -> None:
    from aiperf.models import load_genome

    (tmp_path / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(GenomeError, match=r"^genome: invalid JSON"):
        load_genome(tmp_path / "deep.json")
    (tmp_path / "big.json").write_text(" " * (2 << 20) + "{}")
    with pytest.raises(GenomeError, match=r"big\.json: .* over the limit"):
        load_genome(tmp_path / "big.json")


def test_what_aiperf_writes_it_can_read_back() -> None:
    from aiperf.safe_yaml import dump_yaml

    shared = {"min": 1, "max": 2}  # PyYAML's safe_dump would write &id001 / *id001 here
    text = dump_yaml({"a": shared, "b": shared})
    assert "&" not in text and "*" not in text, text
    assert load_yaml(text, "x") == {"a": shared, "b": shared}
