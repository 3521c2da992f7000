"""Bad input, fuzzed: every invalid spec, genome, run directory or bundle gives one line naming
the problem and exit status 2 — never a traceback."""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ledgers import EXAMPLE, write_example_ledger

from aiperf.cli import main
from aiperf.spec import dump_spec, parse_spec

FUZZ = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
KEYS = [
    "name", "seed", "duration", "workload", "train_size", "kind", "search", "space", "epochs",
    "min", "max", "uegr", "k", "rho", "embed_dim", "blocks", "type", "heads", "kernel", "width",
    "pooling", "dropout", "bogus", "robustness", "attack", "score",
]  # fmt: skip
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-5, 300), st.floats(allow_nan=True),
    st.text(max_size=8), st.sampled_from(["transformer", "conv", "mean", "tsv", "5m", "-1h"]),
)  # fmt: skip
VALUES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(KEYS), inner, max_size=5)
    ),
    max_leaves=12,
)
GENOME = {"embed_dim": 16, "blocks": [{"type": "conv", "kernel": 3, "width": 16}]}


def assert_one_line_or_ok(code: int, err: str) -> None:
    assert code in (0, 2), err
    if code == 2:
        assert err.count("\n") == 1 and "Traceback" not in err, err


@FUZZ
@given(raw=st.dictionaries(st.sampled_from(KEYS), VALUES, max_size=6))
def test_fuzzed_specs(tmp_path_factory, capsys, raw) -> None:
    folder = tmp_path_factory.mktemp("spec")
    (folder / "spec.yaml").write_text(yaml.safe_dump(raw))
    (folder / "g.json").write_text(json.dumps(GENOME))
    code = main(["flops", "--genome", str(folder / "g.json"), "--spec", str(folder / "spec.yaml")])
    assert_one_line_or_ok(code, capsys.readouterr().err)


@FUZZ
@given(raw=VALUES)
def test_fuzzed_genomes(tmp_path_factory, capsys, raw) -> None:
    path = tmp_path_factory.mktemp("genome") / "g.json"
    path.write_text(json.dumps(raw, allow_nan=True))
    assert_one_line_or_ok(main(["flops", "--genome", str(path)]), capsys.readouterr().err)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("run")
    write_example_ledger(folder / "ledger.jsonl")
    spec = parse_spec({"min_duration": 30, "score": {"grid_points": 4}, **EXAMPLE})
    (folder / "spec.yaml").write_text(dump_spec(spec))
    (folder / "system.json").write_text(json.dumps({"nodes": [{"peak_flops": {}}]}))
    return folder


@FUZZ
@given(
    name=st.sampled_from(["ledger.jsonl", "spec.yaml", "system.json"]),
    seed=st.integers(0, 10**6),
    mode=st.sampled_from(["flip", "truncate", "delete", "garbage"]),
)
def test_fuzzed_run_directories(run_dir, tmp_path_factory, capsys, name, seed, mode) -> None:
    folder = tmp_path_factory.mktemp("copy") / "run"
    shutil.copytree(run_dir, folder)
    path, rng = folder / name, random.Random(seed)
    data = bytearray(path.read_bytes())
    if mode == "flip":
        data[rng.randrange(len(data))] = rng.randrange(256)
        path.write_bytes(bytes(data))
    elif mode == "truncate":
        path.write_bytes(bytes(data[: rng.randrange(len(data))]))
    elif mode == "delete":
        path.unlink()
    else:
        path.write_bytes(rng.randbytes(rng.randrange(1, 200)))
    assert_one_line_or_ok(main(["report", str(folder)]), capsys.readouterr().err)


@FUZZ
@given(data=st.binary(max_size=400))
def test_fuzzed_bundles(tmp_path_factory, capsys, data) -> None:
    path = tmp_path_factory.mktemp("bundle") / "b.tar.gz"
    path.write_bytes(data)
    assert main(["check", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_missing_paths_are_one_line(tmp_path, capsys) -> None:
    for argv in (["report", str(tmp_path / "nope")], ["check", str(tmp_path / "nope.tgz")],
                 ["compare", str(tmp_path / "a"), str(tmp_path / "b")],
                 ["run", "--resume", str(tmp_path / "nope")]):  # fmt: skip
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert err.count("\n") == 1, err


def test_unwritable_output_is_caught_before_the_run(tmp_path, capsys) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    assert main(["run", "--out", str(blocker / "run")]) == 2
    assert "--out" in capsys.readouterr().err


def test_a_full_disk_is_caught_before_the_run(tmp_path, capsys, monkeypatch) -> None:
    import shutil as shell

    usage = shell.disk_usage(tmp_path)
    monkeypatch.setattr(shell, "disk_usage", lambda path: usage._replace(free=10_000_000))
    assert main(["run", "--out", str(tmp_path / "run")]) == 2
    assert "only 10 MB free" in capsys.readouterr().err
