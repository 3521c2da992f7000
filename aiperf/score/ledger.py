"""The append-only ledger: one JSON object per line, written whole and flushed as it arrives.

Record kinds (``kind``): ``run_start`` (t0, seed), ``trial`` (a trial's proposal), ``report``
(the work of one report interval), ``trial_failure`` (an attempt failed; retried or not),
``trial_end`` (status), ``run_resume`` (the master came back), ``run_end``. The record types below
are the whole contract: the writer writes them and ``read_ledger`` returns them, each line
validated on read (known kind, every field present with its type, no unknown key, no NaN or
Infinity), so a reader never looks a key up by its spelling. A report is counted once per
(trial, epoch): a repeat is kept aside in ``Ledger.duplicates`` for the audit, which accepts it
only when it is identical to the first.
"""

from __future__ import annotations

import json
import math
import warnings
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Annotated, Any, Literal, TextIO

from pydantic import ConfigDict, Field, TypeAdapter, ValidationError

from aiperf.errors import UserError
from aiperf.flops import Work
from aiperf.flops.passes import Count

SCHEMA_VERSION = 1
READ_CHUNK_BYTES = 1 << 22  # a ledger is read 4 MiB at a time
# With strict validation: a typo, a wrong type, NaN or an infinity fails.
_STRICT = ConfigDict(extra="forbid", allow_inf_nan=False)


@dataclass(frozen=True, slots=True)
class RunStart:
    __pydantic_config__ = _STRICT

    run_id: str
    t0: float  # unix seconds when the search started: the origin of every timestamp
    seed: Count
    duration_s: float  # the spec's target duration
    slots: int = 1  # trials that fit at once
    trial_resources: dict[str, float] = field(default_factory=dict)  # what one trial asks for
    nodes: list[str] = field(default_factory=list)  # the alive nodes' IPs at t0
    simulated: bool = False  # ``aiperf simulate``: fake nodes, sleeping trials, never submittable
    kind: Literal["run_start"] = "run_start"
    schema: int = SCHEMA_VERSION


@dataclass(frozen=True, slots=True)
class TrialStart:
    __pydantic_config__ = _STRICT

    trial_id: str
    trial_index: Count
    time: float
    genome: dict[str, Any]
    hparams: dict[str, Any]
    uegr: dict[str, Any]  # the searched UEGR knobs of this trial (empty: the spec's)
    kind: Literal["trial"] = "trial"
    schema: int = SCHEMA_VERSION


@dataclass(frozen=True, slots=True)
class Report:
    """The work done in one report interval of one trial, and the model quality at its end."""

    __pydantic_config__ = _STRICT

    trial_id: str
    report_index: Count
    epoch: Count
    node: str  # the Ray node's IP (or the host name outside Ray)
    device: Literal["cpu", "cuda"]  # what torch trained on
    gpu_ids: list[str]  # the GPUs Ray assigned to the trial (logical ids; empty on CPU slots)
    visible_devices: str | None  # CUDA_VISIBLE_DEVICES as the trial saw it ("" = no GPU)
    start_time: float  # unix seconds, interval start (on the worker's clock)
    end_time: float  # unix seconds, interval end, after evaluation
    samples: Count  # training samples processed in this interval
    steps: Count  # optimizer steps in this interval
    train_flops: Count
    eval_flops: Count
    flops: Count  # train_flops + eval_flops
    loss: float | None  # mean training loss; None when it was not finite (the trial diverged)
    val_accuracy: float
    test_accuracy: float
    robust_accuracy: float | None  # test accuracy under the spec's attack (None: not measured)
    # |measured − analytic| / measured of the trial's FLOPs self-check (None: it did not run)
    flops_check_error: Annotated[float, Field(ge=0)] | None
    # The batch shapes behind the FLOPs (Σ B, Σ B·L, Σ B·L², real tokens): train_flops and
    # eval_flops re-derive from them and the trial's genome. None in ledgers older than them.
    train_work: Work | None = None  # the training steps (each runs the trial's StepPasses)
    eval_forward_work: Work | None = None  # evaluation's forward passes
    eval_input_grad_work: Work | None = None  # the attack's input-gradient passes
    num_classes: Count | None = None  # the workload's classes (the head's size); None: older
    # Rows per forward/backward at the report, as the batch probe (or an out-of-memory retry)
    # left it: the batch is reached by gradient accumulation. None: the whole batch at once.
    micro_batch: Count | None = None
    kind: Literal["report"] = "report"
    schema: int = SCHEMA_VERSION

    @property
    def label(self) -> str:
        """``report <trial>/<epoch>``: how messages name it."""
        return f"report {self.trial_id}/{self.epoch}"


@dataclass(frozen=True, slots=True)
class TrialEnd:
    __pydantic_config__ = _STRICT

    trial_id: str
    time: float
    status: Literal["completed", "failed", "stopped"]
    error: str | None = None
    kind: Literal["trial_end"] = "trial_end"
    schema: int = SCHEMA_VERSION


@dataclass(frozen=True, slots=True)
class RunEnd:
    __pydantic_config__ = _STRICT

    time: float
    reason: str  # deadline | max_trials | interrupted (SIGINT) | interrupted (SIGTERM)
    energy: dict[str, Any] | None = None  # EnergyResult of the master's node (joules, note)
    alive_nodes: list[str] | None = None  # nodes still alive at the end (None: not recorded)
    kind: Literal["run_end"] = "run_end"
    schema: int = SCHEMA_VERSION


@dataclass(frozen=True, slots=True)
class RunResume:
    __pydantic_config__ = _STRICT

    time: float  # when ``aiperf run --resume`` took over; the gap before it counts as elapsed
    kind: Literal["run_resume"] = "run_resume"
    schema: int = SCHEMA_VERSION


@dataclass(frozen=True, slots=True)
class TrialFailure:
    __pydantic_config__ = _STRICT

    trial_id: str
    time: float
    error: str
    retrying: bool  # True: Ray Tune restarts it from its last checkpoint
    kind: Literal["trial_failure"] = "trial_failure"
    schema: int = SCHEMA_VERSION


Record = RunStart | TrialStart | Report | TrialFailure | TrialEnd | RunResume | RunEnd
_RECORD = TypeAdapter(Annotated[Record, Field(discriminator="kind")])
_REPORT = TypeAdapter(Report)
_FROM_WORKER = [f.name for f in fields(Report) if f.name not in ("trial_id", "report_index")]


def report_from_metrics(trial_id: str, report_index: int, metrics: dict[str, Any]) -> Report:
    """A trial's reported metrics as a Report record, validated (what a worker sends is input).

    ``flops`` is train + eval; a loss that is not finite becomes None (the ledger holds no NaN);
    every other field comes from the metrics by name."""
    fields_ = {name: metrics[name] for name in _FROM_WORKER if name in metrics}
    fields_ |= {"flops": metrics["train_flops"] + metrics["eval_flops"]}
    loss = fields_.get("loss")
    if isinstance(loss, float) and not math.isfinite(loss):
        fields_["loss"] = None
    return _REPORT.validate_python({**fields_, "trial_id": trial_id, "report_index": report_index})


def is_simulated(path: Path) -> bool:
    """Whether the ledger's first line is the run_start of ``aiperf simulate``. Reads that line
    only (at most one chunk), so it answers for any file, a hostile one included."""
    try:
        with path.open("rb") as file:
            first = json.loads(file.readline(READ_CHUNK_BYTES))
    except (OSError, ValueError):
        return False
    if not isinstance(first, dict):
        return False
    return first.get("kind") == "run_start" and first.get("simulated") is True


class LedgerError(UserError):
    """A ledger that cannot be read: names the file and the line."""


class NotJsonError(LedgerError):
    """A line that is not JSON at all: a torn last line (a crash mid-write), or garbage."""


class LedgerWriter:
    """Appends records to ``ledger.jsonl``; every line is written whole and flushed.

    Picklable (Ray Tune saves its callbacks with the experiment): the file reopens on demand.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: TextIO | None = None

    def append(self, record: Record) -> None:
        if self._file is None:
            self._file = self.path.open("a", encoding="utf-8")
        self._file.write(json.dumps(asdict(record), sort_keys=True, allow_nan=False) + "\n")
        self._file.flush()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def __getstate__(self) -> dict[str, Any]:
        return {"path": self.path, "_file": None}


@dataclass
class Ledger:
    """A ledger read back into its records, grouped by kind."""

    run_start: RunStart | None = None
    run_end: RunEnd | None = None
    trials: dict[str, TrialStart] = field(default_factory=dict)
    reports: list[Report] = field(default_factory=list)
    trial_ends: dict[str, TrialEnd] = field(default_factory=dict)
    failures: list[TrialFailure] = field(default_factory=list)
    resumes: list[RunResume] = field(default_factory=list)
    duplicates: list[Report] = field(default_factory=list)  # a (trial, epoch) seen again
    source: str = "ledger"  # where it was read from, for error messages
    _first: dict[tuple[str, int], Report] = field(default_factory=dict, repr=False)

    @property
    def duplicate_reports(self) -> int:
        """Reports of a (trial, epoch) already reported: not counted."""
        return len(self.duplicates)

    def first_report(self, duplicate: Report) -> Report:
        """The counted report of the (trial, epoch) that ``duplicate`` repeats."""
        return self._first[(duplicate.trial_id, duplicate.epoch)]

    @property
    def start(self) -> RunStart:
        """The run_start record; LedgerError when the ledger has none."""
        if self.run_start is None:
            raise LedgerError(f"{self.source}: no run_start record")
        return self.run_start

    @property
    def t0(self) -> float:
        """When the search started: the origin of every timestamp (the one rule for t0)."""
        return self.start.t0

    def open_trials(self) -> list[str]:
        """Trials that started and have no end record yet, in start order."""
        return [trial_id for trial_id in self.trials if trial_id not in self.trial_ends]

    def add(self, record: Record) -> None:
        """File one record under its kind."""
        match record:
            case Report():
                self._add_report(record)
            case TrialStart():
                self.trials[record.trial_id] = record
            case TrialEnd():
                self.trial_ends[record.trial_id] = record
            case TrialFailure():
                self.failures.append(record)
            case RunResume():
                self.resumes.append(record)
            case RunStart():
                self.run_start = record
            case RunEnd():
                self.run_end = record

    def _add_report(self, record: Report) -> None:
        key = (record.trial_id, record.epoch)
        if key in self._first:
            self.duplicates.append(record)
            return
        self._first[key] = record
        self.reports.append(record)


def parse_record(line: str | bytes, where: str) -> Record:
    """One ledger line as its record type, or a LedgerError naming ``where`` and the field."""
    try:
        return _RECORD.validate_json(line, strict=True)
    except ValidationError as err:
        first = err.errors()[0]
        if first["type"] == "json_invalid":
            why = first["msg"].removeprefix("Invalid JSON: ").split(" at line ")[0]
            raise NotJsonError(f"{where}: not a JSON object ({why})") from None
        raise LedgerError(f"{where}: {_first_problem(err)}") from None


def _first_problem(err: ValidationError) -> str:
    """``report.train_flops: Input should be a valid integer (got 4.0)``."""
    first = err.errors()[0]
    loc = ".".join(str(part) for part in first["loc"]) or "record"
    given = first.get("input")
    got = "" if isinstance(given, dict) else f" (got {given!r:.80})"
    message = "unknown key" if first["type"] == "unexpected_keyword_argument" else first["msg"]
    return f"{loc}: {message}{got}"


class LedgerReader:
    """Reads a ledger that may still be growing: each ``poll`` adds the lines completed since the
    last one, so a live view costs only what is new."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.ledger = Ledger(source=str(path))
        self._offset = 0
        self._lines = 0

    def poll(self) -> Ledger:
        """The ledger with every complete line read; a line still being written waits. Read in
        chunks, so a long ledger never sits in memory twice."""
        try:
            with self.path.open("rb") as file:
                file.seek(self._offset)
                pending = b""
                while chunk := file.read(READ_CHUNK_BYTES):
                    data = pending + chunk
                    end = data.rfind(b"\n") + 1
                    for line in data[:end].splitlines():
                        self._take(line)
                    self._offset += end
                    pending = data[end:]
        except OSError as err:
            raise LedgerError(f"ledger: cannot read {self.path}: {err.strerror}") from None
        return self.ledger

    def finish(self) -> Ledger:
        """``poll``, then the last line even without its newline; a torn one (a crash
        mid-write) is skipped with a warning."""
        self.poll()
        tail = self._rest()  # after poll: at most one line without its newline
        if tail.strip():
            try:
                self._take(tail)
            except NotJsonError:
                warnings.warn(f"{self.path}:{self._lines}: torn last line skipped", stacklevel=2)
            self._offset += len(tail)
        return self.ledger

    def _rest(self) -> bytes:
        try:
            with self.path.open("rb") as file:
                file.seek(self._offset)
                return file.read()
        except OSError as err:
            raise LedgerError(f"ledger: cannot read {self.path}: {err.strerror}") from None

    def _take(self, line: bytes) -> None:
        self._lines += 1
        if line.strip():
            self.ledger.add(parse_record(line, f"{self.path}:{self._lines}"))


def read_ledger(path: Path) -> Ledger:
    """Read a whole ledger; a torn last line (a crash mid-write) is skipped with a warning."""
    return LedgerReader(path).finish()


def repair_tail(path: Path) -> bool:
    """Cut a torn last line (a crash mid-write) before appending more; True if one was cut.

    A last line that is whole but lacks its newline is kept and the newline added, so a valid
    record (a finished run's ``run_end``) is never thrown away."""
    data = path.read_bytes()
    if not data or data.endswith(b"\n"):
        return False
    cut = data.rfind(b"\n") + 1
    try:
        json.loads(data[cut:])
    except ValueError:
        with path.open("r+b") as file:
            file.truncate(cut)
        warnings.warn(f"{path}: torn last line removed before resuming", stacklevel=2)
        return True
    with path.open("ab") as file:
        file.write(b"\n")
    return False
