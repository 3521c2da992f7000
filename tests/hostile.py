"""A generated corpus of hostile bundles: what a dishonest or malicious submitter can upload.

Every forgery is made the way a submitter would make it — with aiperf's own functions: unpack an
honest bundle, edit the run's files, re-score them (``write_derived``), re-pack (``make_bundle``,
which rebuilds the manifest and its hashes). Each case says the verdict ``aiperf check`` must give,
its exit status and a phrase its output must contain.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from ledgers import T0

from aiperf.report.outputs import write_derived
from aiperf.score.ledger import parse_record
from aiperf.score.rederive import report_flops, trial_pricing
from aiperf.spec import load_spec
from aiperf.submit import SystemDescription, make_bundle
from aiperf.submit.archive import read_members
from aiperf.submit.bundle import (
    MANIFEST,
    RUN_PREFIX,
    SYSTEM_MEMBER,
    canonical_json,
    manifest_files,
    write_members,
)
from aiperf.submit.signing import generate_key_pair

Records = list[dict[str, Any]]


@dataclass(frozen=True)
class Case:
    make: Callable[[dict[str, bytes], Path], Path]  # honest members, a folder → bundle path
    verdict: str  # PASS, FAIL, ERROR, or "aiperf check: error:" (one line on stderr)
    status: int  # aiperf check's exit status
    phrase: str  # what its output must contain
    public_key: bool = False  # check with --public-key <folder>/expected.pub


def forge(
    members: dict[str, bytes],
    folder: Path,
    ledger: Callable[[Records], Records] | None = None,
    spec: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    run_system: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    summary: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    description: dict[str, Any] | None = None,
    raw_ledger: Callable[[bytes], bytes] | None = None,
    key: Path | None = None,
) -> Path:
    """Unpack, edit, re-score with aiperf's scorer (when it can), re-pack consistently."""
    run_dir = folder / "run"
    shutil.rmtree(run_dir, ignore_errors=True)
    for name, data in members.items():
        if name.startswith(RUN_PREFIX):
            (run_dir / name.removeprefix(RUN_PREFIX)).parent.mkdir(parents=True, exist_ok=True)
            (run_dir / name.removeprefix(RUN_PREFIX)).write_bytes(data)
    if ledger:
        lines = (run_dir / "ledger.jsonl").read_text().splitlines()
        records = ledger([json.loads(line) for line in lines])
        (run_dir / "ledger.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    if raw_ledger:
        path = run_dir / "ledger.jsonl"
        path.write_bytes(raw_ledger(path.read_bytes()))
    _edit_file(run_dir / "spec.yaml", spec, yaml.safe_load, yaml.safe_dump)
    _edit_file(run_dir / "system.json", run_system, json.loads, json.dumps)
    with contextlib.suppress(ValueError):  # inputs aiperf cannot score: the stale summary ships
        write_derived(run_dir)  # the forger's own re-scoring
    _edit_file(run_dir / "summary.json", summary, json.loads, json.dumps)
    system = {**json.loads(members[SYSTEM_MEMBER]), **(description or {})}
    out = folder / "forged.tar.gz"
    return make_bundle(run_dir, out, SystemDescription(**system), key)


def _edit_file(path: Path, edit: Callable | None, load: Callable, dump: Callable) -> None:
    if edit is not None:
        path.write_text(dump(edit(load(path.read_text()))))


def raw(members: dict[str, bytes], folder: Path, changes: dict[str, bytes] | None = None) -> Path:
    """The bundle with members replaced byte for byte and the manifest's hashes re-computed."""
    edited = {**members, **(changes or {})}
    manifest = json.loads(edited.pop(MANIFEST))
    manifest["files"] = manifest_files(edited)
    out = folder / "raw.tar.gz"
    write_members(out, {MANIFEST: canonical_json(manifest), **dict(sorted(edited.items()))})
    return out


def reports(records: Records) -> Records:
    return [r for r in records if r["kind"] == "report"]


def each_report(change: Callable[[dict[str, Any]], None]) -> Callable[[Records], Records]:
    def edit(records: Records) -> Records:
        for record in reports(records):
            change(record)
        return records

    return edit


def scale_flops(factor: int) -> Callable[[dict[str, Any]], None]:
    def change(r: dict[str, Any]) -> None:
        r["train_flops"] *= factor
        r["flops"] = r["train_flops"] + r["eval_flops"]

    return change


def scale_peaks(system: dict[str, Any]) -> dict[str, Any]:
    for node in system["nodes"]:
        node["cpu"]["max_mhz"] *= 10
        node["measured_gemm_flops"] = {
            key: {p: v * 10 for p, v in figures.items()}
            for key, figures in node["measured_gemm_flops"].items()
        }
    return system


def repriced(edit: Callable[[Records], Records]) -> Callable[[Records], Records]:
    """``edit``, then every report's FLOPs re-derived from its (edited) work with aiperf's own
    counter: a forgery whose FLOPs match its claims exactly."""

    def forged(records: Records) -> Records:
        records = edit(records)
        spec = load_spec("tiny")
        trials = {r["trial_id"]: r for r in records if r["kind"] == "trial"}
        for record in reports(records):
            report = parse_record(json.dumps(record), "forged")
            trial = parse_record(json.dumps(trials[record["trial_id"]]), "forged")
            train, evaluation = report_flops(report, trial_pricing(trial, spec, 2))
            record.update(train_flops=train, eval_flops=evaluation, flops=train + evaluation)
        return records

    return forged


def more_samples(records: Records) -> Records:
    for record in reports(records):
        record["samples"] *= 200
        record["steps"] = -(-record["samples"] // 32)
        record["train_work"] = {k: v * 200 for k, v in record["train_work"].items()}
    return records


def padded_to_max_len(records: Records) -> Records:
    for record in reports(records):
        work = record["train_work"]
        work["tokens"], work["tokens_sq"] = work["samples"] * 24, work["samples"] * 24 * 24
    return records


def bigger_genome(records: Records) -> Records:
    genome = {"embed_dim": 128, "pooling": "mean", "blocks": [
        {"type": "transformer", "heads": 8, "ffn_dim": 512}] * 2}  # fmt: skip
    for record in records:
        if record["kind"] == "trial":
            record["genome"] = genome
    return records


def stacked_on_100_slots(records: Records) -> Records:
    for record in records:
        if record["kind"] == "run_start":
            record["slots"] = 100
        if record["kind"] == "report":
            record["start_time"], record["end_time"] = T0 + 5, T0 + 10
    return records


def phantom_reports(records: Records) -> Records:
    template = reports(records)[0]
    extra = [
        {**template, "trial_id": "ghost", "epoch": 1 + i, "report_index": i} for i in range(2000)
    ]
    return records[:-1] + extra + records[-1:]


def copy_before_real(records: Records) -> Records:
    first = reports(records)[0]
    fake = {**first, "train_flops": first["train_flops"] * 3}
    fake["flops"] = fake["train_flops"] + fake["eval_flops"]
    index = records.index(first)
    return [*records[:index], fake, *records[index:]]


def set_first_report(**fields: Any) -> Callable[[Records], Records]:
    def edit(records: Records) -> Records:
        reports(records)[0].update(fields)
        return records

    return edit


def short_run(records: Records) -> Records:
    """A 10-second run: only what ended by t0 + 10, and the run's end there."""
    kept = [r for r in records if r["kind"] != "report" or r["end_time"] <= T0 + 10]
    for record in kept:
        if record["kind"] == "run_end":
            record["time"] = T0 + 10
    return kept


def in_first_report(old: str, new: str) -> Callable[[dict[str, bytes], Path], Path]:
    """A case maker: the first report's line with ``old`` replaced by ``new``, byte for byte."""

    def change(data: bytes) -> bytes:
        lines = data.decode().splitlines()
        at = next(i for i, line in enumerate(lines) if '"kind": "report"' in line)
        assert old in lines[at], f"the case must apply: {old!r} is not in the report"
        lines[at] = lines[at].replace(old, new, 1)
        return ("\n".join(lines) + "\n").encode()

    return lambda m, f: forge(m, f, raw_ledger=change)


def keys(folder: Path) -> tuple[Path, Path]:
    """The submitter's key (the leaderboard holds expected.pub) and a stranger's."""
    generate_key_pair(folder / "expected", folder / "expected.pub")
    generate_key_pair(folder / "stranger", folder / "stranger.pub")
    return folder / "expected", folder / "stranger"


def signed_by(which: int) -> Callable[[dict[str, bytes], Path], Path]:
    return lambda m, f: forge(m, f, key=keys(f)[which])


def signed_then_edited(members: dict[str, bytes], folder: Path) -> Path:
    signed = read_members(forge(members, folder, key=keys(folder)[0]))[0]
    return raw(signed, folder, {"run/summary.json": signed["run/summary.json"] + b" "})


def gzip_bomb(members: dict[str, bytes], folder: Path) -> Path:
    path = folder / "bomb.tar.gz"
    with gzip.open(path, "wb") as out:
        for _ in range(80):
            out.write(bytes(1 << 20))
    return path


ALIAS_BOMB = (
    "a: &a [x, x, x, x, x, x, x, x, x]\n"
    + "".join(
        f"{b}: &{b} [{', '.join(['*' + a] * 9)}]\n"
        for a, b in zip("abcdefgh", "bcdefghi", strict=True)
    )
).encode()

H100_CLUSTER = {
    "nodes": 64,
    "accelerator": "NVIDIA H100 80GB HBM3",
    "accelerators_per_node": 8,
    "accelerator_count": 512,
}


def _spec_field(**changes: Any) -> Callable[[dict[str, Any]], dict[str, Any]]:
    def edit(spec: dict[str, Any]) -> dict[str, Any]:
        for dotted, value in changes.items():
            node = spec
            *parents, last = dotted.split("__")
            for part in parents:
                node = node[part]
            node[last] = value
        return spec

    return edit


def _summary_field(**changes: Any) -> Callable[[dict[str, Any]], dict[str, Any]]:
    return lambda summary: {**summary, **changes}


CASES: dict[str, Case] = {
    "untouched": Case(raw, "PASS", 0, "closed division, tiny rules v1, verified, unsigned"),
    "signed by the expected key": Case(signed_by(0), "PASS", 0, "signed by SHA256:", True),
    "signed by another key": Case(signed_by(1), "FAIL", 1, "not by the expected", True),
    "unsigned where a key is expected": Case(
        lambda m, f: (keys(f), raw(m, f))[1], "FAIL", 1, "signature.json is missing", True
    ),
    "signed, then a member edited": Case(
        signed_then_edited, "FAIL", 1, "the signature does not match manifest.json", True
    ),
    "a newline in a member name": Case(
        lambda m, f: raw(m, f, {"run/x\nPASS forged": b"1"}),
        "FAIL",
        1,
        "run/x\\nPASS forged",
    ),
    "gzip bomb": Case(gzip_bomb, "aiperf check: error:", 2, "inflates to over 41 MiB"),
    "train FLOPs x5, re-scored": Case(
        lambda m, f: forge(m, f, ledger=each_report(scale_flops(5))),
        "FAIL",
        1,
        "genome and batch shapes give",
    ),
    "FLOPs x10 and peaks x10": Case(
        lambda m, f: forge(m, f, ledger=each_report(scale_flops(10)), run_system=scale_peaks),
        "FAIL",
        1,
        "genome and batch shapes give",
    ),
    "FLOPs x1000 with no nodes": Case(
        lambda m, f: forge(
            m, f, ledger=each_report(scale_flops(1000)), run_system=lambda s: {**s, "nodes": []}
        ),
        "FAIL",
        1,
        "genome and batch shapes give",
    ),
    "200x samples, FLOPs re-derived": Case(
        lambda m, f: forge(m, f, ledger=repriced(more_samples)),
        "FAIL",
        1,
        "trained 800000 samples, an epoch is 4000",
    ),
    "padded to max_len, FLOPs re-derived": Case(
        lambda m, f: forge(m, f, ledger=repriced(padded_to_max_len)),
        "FAIL",
        1,
        "more padding than length-sorted batches of 32 leave",
    ),
    "a genome outside the space, FLOPs re-derived": Case(
        lambda m, f: forge(m, f, ledger=repriced(bigger_genome)),
        "FAIL",
        1,
        "outside the spec's search space: genome.embed_dim: 128 is not among [32, 48]",
    ),
    "accuracy 0.9999": Case(
        lambda m, f: forge(m, f, ledger=set_first_report(val_accuracy=0.9999)),
        "FAIL",
        1,
        "val_accuracy 0.9999 is no count of 500 sentences",
    ),
    "100 slots, every report at once": Case(
        lambda m, f: forge(m, f, ledger=stacked_on_100_slots),
        "FAIL",
        1,
        "the run claims 100 slots; its nodes' 2 cores hold 2 trials of 1 CPUs",
    ),
    "an unknown device": Case(
        lambda m, f: forge(m, f, ledger=set_first_report(device="x")),
        "FAIL",
        1,
        "report.device: Input should be 'cpu' or 'cuda'",
    ),
    "2000 reports of a trial never started": Case(
        lambda m, f: forge(m, f, ledger=phantom_reports), "FAIL", 1, "never started"
    ),
    "a x3 copy before the real report": Case(
        lambda m, f: forge(m, f, ledger=copy_before_real), "FAIL", 1, "reported twice"
    ),
    "negative FLOPs": Case(
        lambda m, f: forge(m, f, ledger=set_first_report(eval_flops=-5)),
        "FAIL",
        1,
        "eval_flops: Input should be greater than or equal to 0",
    ),
    "report ending before t0": Case(
        lambda m, f: forge(m, f, ledger=set_first_report(start_time=T0 - 50, end_time=T0 - 40)),
        "FAIL",
        1,
        "before the run's t0",
    ),
    "report ending after run_end": Case(
        lambda m, f: forge(m, f, ledger=set_first_report(end_time=T0 + 500)),
        "FAIL",
        1,
        "after the run ended",
    ),
    "test accuracy 7.0": Case(
        lambda m, f: forge(m, f, ledger=set_first_report(test_accuracy=7.0)),
        "FAIL",
        1,
        "test_accuracy 7.0 is not a fraction",
    ),
    "own rules on a 10-second run": Case(
        lambda m, f: forge(
            m, f, ledger=short_run, spec=_spec_field(min_duration=1, quality_gate=0)
        ),
        "FAIL",
        1,
        "below the spec's minimum 60.0s",
    ),
    "system description claims 64 x 8 H100": Case(
        lambda m, f: forge(m, f, description=H100_CLUSTER),
        "FAIL",
        1,
        "system.json: nodes is 64, but the run's system.json records 1",
    ),
    "utilisation set by hand": Case(
        lambda m, f: forge(m, f, summary=_summary_field(utilisation_datasheet=0.5)),
        "FAIL",
        1,
        "utilisation_datasheet is 0.5, re-scoring gives",
    ),
    "energy and FLOPS/W set by hand": Case(
        lambda m, f: forge(m, f, summary=_summary_field(energy_j=10.0, flops_per_watt=1e12)),
        "FAIL",
        1,
        "energy_j is 10.0, re-scoring gives None",
    ),
    "duration_s changed": Case(
        lambda m, f: forge(m, f, summary=_summary_field(duration_s=3600.0)),
        "FAIL",
        1,
        "duration_s is 3600.0, re-scoring gives 120.0",
    ),
    "run_id and seed changed": Case(
        lambda m, f: forge(m, f, summary=_summary_field(run_id="other", seed=7)),
        "FAIL",
        1,
        "run_id is 'other', re-scoring gives 'tiny-test'",
    ),
    "spec renamed to a custom one": Case(
        lambda m, f: forge(m, f, spec=_spec_field(name="mine")),
        "FAIL",
        1,
        "not a shipped benchmark",
    ),
    "unknown rules version": Case(
        lambda m, f: forge(m, f, spec=_spec_field(rules_version=99)),
        "FAIL",
        1,
        "tiny v99 is not shipped",
    ),
    "training setting changed: open division": Case(
        lambda m, f: forge(m, f, spec=_spec_field(train__grad_clip=0.5)),
        "PASS",
        0,
        "OPEN spec.train.grad_clip: 0.5 differs from the rules' 1.0",
    ),
    "max_len changed, same ledger": Case(
        lambda m, f: forge(m, f, spec=_spec_field(workload__max_len=32)),
        "FAIL",
        1,
        "holds sentences of implausible lengths",
    ),
    "seed changed: still closed": Case(
        lambda m, f: forge(m, f, spec=_spec_field(seed=7)),
        "PASS",
        0,
        "closed division",
    ),
    "CPU without SIMD flags: unverified": Case(
        lambda m, f: forge(
            m,
            f,
            run_system=lambda s: {**s, "nodes": [{**s["nodes"][0], "cpu": {"model": "x"}}]},
            description={"cpu": "x"},
        ),
        "PASS",
        0,
        "UNVERIFIED no datasheet peak for every device at fp32",
    ),
    "alias bomb spec": Case(
        lambda m, f: raw(m, f, {"run/spec.yaml": ALIAS_BOMB}), "FAIL", 1, "anchors and aliases"
    ),
    "grid_points 100000000": Case(
        lambda m, f: forge(m, f, spec=_spec_field(score={"grid_points": 100_000_000})),
        "FAIL",
        1,
        "spec.score.grid_points",
    ),
    "ledger value 1e400": Case(
        in_first_report('"loss": 0.5', '"loss": 1e400'),
        "FAIL",
        1,
        "loss: Input should be a finite number",
    ),
    "ledger value 10**400": Case(
        in_first_report('"steps": 125', '"steps": 1' + "0" * 400),
        "FAIL",
        1,
        "steps: Input should be less than",
    ),
    "ledger NaN": Case(
        in_first_report('"loss": 0.5', '"loss": NaN'),
        "FAIL",
        1,
        "loss: Input should be a finite number",
    ),
    "deeply nested ledger": Case(
        in_first_report('"gpu_ids": []', '"gpu_ids": ' + "[" * 100_000 + "]" * 100_000),
        "FAIL",
        1,
        "not a JSON object",
    ),
    "a list as trial_id": Case(
        in_first_report('"trial_id": "t1"', '"trial_id": ["t1"]'),
        "FAIL",
        1,
        "trial_id: Input should be a valid string",
    ),
}
