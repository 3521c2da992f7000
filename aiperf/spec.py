"""The benchmark spec: typed, frozen models parsed once from YAML; the rules a valid run follows.

Every section rejects unknown keys (a typo must never silently become a default) and every error
names the field, e.g. ``spec.workload.train_size: Input should be greater than 0 (got -5)``.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from aiperf import __version__
from aiperf.errors import UserError
from aiperf.safe_yaml import dump_yaml, load_yaml, load_yaml_file

_DURATION_RE = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*([smhd]?)\s*$")
_DURATION_UNIT_S = {"": 1.0, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}

# Bounds on what a spec may ask for: far above every shipped spec, low enough that a hostile spec
# fails validation instead of running for days or allocating terabytes.
MAX_EMBED_DIM = 8_192  # genome sizes (aiperf.models.genome bounds every genome by these too)
MAX_FFN_DIM = 65_536  # also the classifier's hidden width
MAX_HEADS = 256
MAX_CONV_KERNEL = 255
MAX_CONV_WIDTH = 65_536
MAX_BLOCKS = 64
MAX_DURATION_S = 7 * 86400.0  # a week: the full benchmark runs 12 h
MAX_GRID_POINTS = 10_000  # score grid: the shipped specs read 20 points
MAX_SYNTHETIC_SAMPLES = 1_000_000  # per split: the full spec trains on 1,000,000
MAX_BATCH_SIZE = 65_536  # training and evaluation batches
MAX_EPOCHS = 1_000
MAX_CHOICES = 64  # entries in one search-space choice list
MAX_TRIALS = 10_000_000
MAX_RETRIES = 100
MAX_CPUS = 4_096  # per trial, and for an embedded local Ray
MAX_GPUS_PER_TRIAL = 64  # what a spec may say; a run takes at most 1 (``check_runnable``)
MAX_SEED = 2**32 - 1  # 32 bits: numpy's seed range (the NNI tuners)
NAME_RE = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}")  # a path component, never hidden


class SpecError(UserError):
    """A user mistake in a spec, an override or a path: one line that names the field."""


def parse_duration(value: Any) -> float:
    """Seconds from ``90``, ``"90s"``, ``"30m"``, ``"2h"`` or ``"1d"``; finite, at most 7 days."""
    seconds = _duration_seconds(value)
    if not math.isfinite(seconds) or seconds > MAX_DURATION_S:
        raise SpecError(f"must be finite and at most 7d (got {_short_repr(value)})")
    return seconds


def _duration_seconds(value: Any) -> float:
    """The number of seconds ``value`` says, maybe infinite; SpecError if it is no duration."""
    if isinstance(value, bool):
        raise SpecError(f"expected a duration like 90s, 30m or 2h (got {value!r})")
    try:
        if isinstance(value, int | float):
            return float(value)
        match = _DURATION_RE.match(str(value))
        if not match:
            raise SpecError(f"expected a duration like 90s, 30m or 2h (got {_short_repr(value)})")
        return float(match.group(1)) * _DURATION_UNIT_S[match.group(2)]
    except OverflowError:  # an integer beyond float range
        return math.inf


Duration = Annotated[float, BeforeValidator(parse_duration), Field(gt=0, le=MAX_DURATION_S)]


class _Section(BaseModel):
    # allow_inf_nan=False: every float field is finite (``.inf`` or ``.nan`` is an error).
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class IntRange(_Section):
    """An inclusive integer range ``[min, max]``."""

    min: int = Field(ge=0)
    max: int = Field(ge=0)

    @model_validator(mode="after")
    def _ordered(self) -> IntRange:
        if self.min > self.max:
            raise ValueError(f"min must be ≤ max (got min={self.min}, max={self.max})")
        return self


class DepthRange(IntRange):
    """The number of blocks a genome may have: at most ``MAX_BLOCKS``."""

    max: int = Field(ge=0, le=MAX_BLOCKS)


class EpochRange(IntRange):
    """The number of epochs a trial may train: at most ``MAX_EPOCHS``."""

    max: int = Field(ge=0, le=MAX_EPOCHS)


class FloatRange(_Section):
    """A float range ``[min, max]``; ``log: true`` samples it log-uniformly."""

    min: float = Field(ge=0)
    max: float = Field(ge=0)
    log: bool = False

    @model_validator(mode="after")
    def _ordered(self) -> FloatRange:
        if self.min > self.max:
            raise ValueError(f"min must be ≤ max (got min={self.min}, max={self.max})")
        if self.log and self.min <= 0:
            raise ValueError(f"a log range needs min > 0 (got min={self.min})")
        return self


SYNTHETIC_MIN_LEN = 8  # room for a synthetic review's longest clause (6 tokens) and fillers


def length_range(max_len: int) -> tuple[int, int]:
    """The shortest and longest length (in tokens) of a synthetic review for ``max_len``: every
    length in between is equally likely (the ledger audit relies on it)."""
    return max(4, max_len // 8), max_len


class WorkloadSpec(_Section):
    """Which data every trial trains on: the synthetic language task or local GLUE-style TSV."""

    kind: Literal["synthetic", "tsv"] = "synthetic"
    train_size: int = Field(4000, gt=0, le=MAX_SYNTHETIC_SAMPLES)  # synthetic only
    val_size: int = Field(1000, gt=0, le=MAX_SYNTHETIC_SAMPLES)  # synthetic only
    test_size: int = Field(1000, gt=0, le=MAX_SYNTHETIC_SAMPLES)  # synthetic only
    label_noise: float = Field(0.05, ge=0, lt=0.5)  # synthetic: keeps the best accuracy below 1
    max_len: int = Field(32, ge=4, le=4096)  # tokens; longer sentences are cut, shorter padded
    min_freq: int = Field(1, ge=1)  # vocabulary: rarer train words map to <unk>
    train_path: Path | None = None  # tsv only
    val_path: Path | None = None  # tsv only
    test_path: Path | None = None  # tsv only; without it the val file is split in half

    @model_validator(mode="after")
    def _paths_for_tsv(self) -> WorkloadSpec:
        if self.kind == "tsv" and (self.train_path is None or self.val_path is None):
            raise ValueError("kind 'tsv' needs train_path and val_path")
        if self.kind == "synthetic" and self.max_len < SYNTHETIC_MIN_LEN:
            raise ValueError(f"max_len must be at least {SYNTHETIC_MIN_LEN} for the synthetic task")
        return self


class TrainSpec(_Section):
    """Settings every trial's training loop shares (per-trial choices come from the search)."""

    precision: Literal["fp32", "bf16", "fp16"] = "fp32"
    eval_batch_size: int = Field(512, gt=0, le=MAX_BATCH_SIZE)
    grad_clip: float = Field(1.0, ge=0)  # 0 turns clipping off
    flops_self_check: bool = True  # count one real step with FlopCounterMode at trial start
    activation_checkpointing: bool = False  # recompute block activations (not counted as FLOPs)


class UegrSpec(_Section):
    """UEGR: adversarial embeddings + adaptive-dropout sub-models + JS divergence, then saliency-
    masked selective updates. Defaults are the method's starting points; the search may tune."""

    enabled: bool = True  # false: plain training (one clean pass, every parameter updates)
    k: int = Field(2, ge=1, le=16)  # sub-model passes on the adversarial input
    dropout_min: float = Field(0.05, ge=0, lt=1)
    dropout_max: float = Field(0.3, ge=0, lt=1)
    dropout_schedule: Literal["even", "random"] = "even"  # spaced over the range, or redrawn
    alpha: float = Field(1.0, ge=0)  # weight of the adversarial CE of the K passes
    beta: float = Field(1.0, ge=0)  # weight of the K-way JS divergence
    js_include_clean: bool = False  # the clean distribution joins the JS as member K+1
    epsilon: float = Field(0.3, ge=0)  # L2 radius of δ per example (1.0 collapses tiny models)
    adv_steps: int = Field(1, ge=1, le=16)  # 1 = FGM; more = PGD projected steps
    adv_init: Literal["zero", "random"] = "zero"  # random: a tiny random start for δ
    saliency: Literal["theta_grad", "grad_squared", "grad"] = "theta_grad"  # |θ·g|, g², |g|
    saliency_ema: float = Field(0.0, ge=0, lt=1)  # 0: scores of this step only
    rho: float = Field(0.3, gt=0, le=1)  # fraction of the maskable parameters that update
    mask_scope: Literal["global", "per_tensor"] = "global"
    mask_every: int = Field(1, ge=1, le=1_000_000)  # steps between mask recomputations
    rescale: bool = False  # scale kept gradients by 1/rho

    def with_overrides(self, overrides: dict[str, Any] | None) -> UegrSpec:
        """These settings with a trial's searched knobs applied (validated like the spec)."""
        if not overrides:
            return self
        return UegrSpec.model_validate({**self.model_dump(), **overrides})

    @model_validator(mode="after")
    def _range(self) -> UegrSpec:
        if self.dropout_min > self.dropout_max:
            raise ValueError(
                f"dropout_min must be ≤ dropout_max (got {self.dropout_min} > {self.dropout_max})"
            )
        return self


class RobustnessSpec(_Section):
    """The attack robust accuracy is measured under, at every report, on part of the test split."""

    attack: Literal["pgd", "word_substitution"] = "pgd"
    epsilon: float = Field(1.0, ge=0)  # pgd: L2 radius per example in embedding space
    steps: int = Field(5, ge=1, le=100)  # pgd: projected gradient steps
    swaps: int = Field(2, ge=1, le=64)  # word_substitution: synonym swaps allowed per sentence
    samples: int = Field(500, ge=0, le=1_000_000)  # attacked per report (0 = robustness off)


class ResourcesSpec(_Section):
    """How trials are placed: one slot = ``cpus_per_trial`` cores (+ ``gpus_per_trial`` GPUs)."""

    cpus_per_trial: int = Field(1, ge=1, le=MAX_CPUS)
    # None: 1 on GPU nodes, 0 on CPU-only ones
    gpus_per_trial: float | None = Field(None, ge=0, le=MAX_GPUS_PER_TRIAL)
    num_cpus: int | None = Field(None, ge=1, le=MAX_CPUS)  # local Ray only; None = all cores


def _choice_list(item: Any) -> Any:
    """The type of a search-space choice list: 1 to ``MAX_CHOICES`` entries of ``item``."""
    return Annotated[tuple[item, ...], Field(min_length=1, max_length=MAX_CHOICES)]


def _size(limit: int) -> Any:
    """The type of one size: an int in ``[1, limit]``."""
    return Annotated[int, Field(ge=1, le=limit)]


EmbedDims = _choice_list(_size(MAX_EMBED_DIM))
HeadCounts = _choice_list(_size(MAX_HEADS))
FfnDims = _choice_list(_size(MAX_FFN_DIM))
ConvKernels = _choice_list(_size(MAX_CONV_KERNEL))
ConvWidths = _choice_list(_size(MAX_CONV_WIDTH))
BatchSizes = _choice_list(_size(MAX_BATCH_SIZE))
BlockTypes = _choice_list(Literal["transformer", "conv"])
Poolings = _choice_list(Literal["mean", "max"])
UegrChoices = _choice_list(float | int | str | bool)


class SearchSpace(_Section):
    """Ranges for the genome (architecture) and the per-trial hyperparameters; sizes are bounded
    like the genome's own fields (``aiperf.models.genome``)."""

    embed_dim: EmbedDims = (32, 64)
    num_blocks: DepthRange = DepthRange(min=1, max=3)
    block_types: BlockTypes = ("transformer", "conv")
    heads: HeadCounts = (2, 4)
    ffn_dim: FfnDims = (64, 128)
    conv_kernel: ConvKernels = (3, 5)
    conv_width: ConvWidths = (32, 64)
    pooling: Poolings = ("mean", "max")
    dropout: FloatRange = FloatRange(min=0.0, max=0.2)
    lr: FloatRange = FloatRange(min=1e-3, max=5e-3, log=True)
    batch_size: BatchSizes = (32, 64)
    weight_decay: FloatRange = FloatRange(min=0.0, max=0.05)
    epochs: EpochRange = EpochRange(min=2, max=6)
    uegr: dict[str, UegrChoices | FloatRange] = {}  # e.g. k: [2, 3]

    @model_validator(mode="after")
    def _consistent(self) -> SearchSpace:
        unknown = set(self.uegr) - (set(UegrSpec.model_fields) - {"enabled"})
        if unknown:
            allowed = ", ".join(f for f in UegrSpec.model_fields if f != "enabled")
            raise ValueError(f"uegr: unknown knob {sorted(unknown)} (allowed: {allowed})")
        if self.num_blocks.min < 1:
            raise ValueError("num_blocks.min must be ≥ 1")
        if self.epochs.min < 1:
            raise ValueError("epochs.min must be ≥ 1")
        if "transformer" in self.block_types and not any(
            d % h == 0 for d in self.embed_dim for h in self.heads
        ):
            raise ValueError("no heads value divides any embed_dim: transformer blocks impossible")
        if self.dropout.max >= 1:
            raise ValueError(f"dropout.max must be < 1 (got {self.dropout.max})")
        return self


# The searchers a spec may name; ``aiperf.search.SEARCHERS`` binds each to its implementation.
SearcherName = Literal["random", "morphism", "nni-tpe", "nni-evolution"]


class SearchSpec(_Section):
    """Which searcher proposes trials, over which space, and how many at most."""

    searcher: SearcherName = "random"
    max_trials: int = Field(0, ge=0, le=MAX_TRIALS)  # 0: propose until the duration ends
    space: SearchSpace = SearchSpace()
    scheduler: Literal["none", "asha"] = "none"  # asha: stop weak trials early (Ray Tune ASHA)
    grace_period: int = Field(1, ge=1, le=MAX_EPOCHS)  # asha: epochs before a trial may stop
    reduction_factor: int = Field(3, ge=2)  # asha: keep the best 1/reduction_factor per rung


class FailureSpec(_Section):
    """What happens when a trial fails (an exception, out of memory, a lost node)."""

    max_retries: int = Field(2, ge=0, le=MAX_RETRIES)  # a retry resumes from the last report


class ScoreSpec(_Section):
    """The timestamp grid the score is read on, and the reproducibility threshold."""

    grid_points: int = Field(20, ge=1, le=MAX_GRID_POINTS)  # FLOPS(t) every T/grid_points, at T
    cv_threshold: float = Field(0.02, gt=0)


class Spec(_Section):
    """A whole benchmark run: what to train, how long, how to search and how to score."""

    name: str = "custom"  # names the run directory: results/<name>-<date>-s<seed>
    # The version of the shipped benchmark rules this spec follows: the shipped specs carry one,
    # a custom spec may leave it None.
    rules_version: int | None = Field(None, ge=1)
    seed: int = Field(0, ge=0, le=MAX_SEED)
    duration: Duration = 120.0  # seconds of search (wall-clock, after the cluster is up)
    min_duration: Duration = 60.0  # a shorter run is INVALID
    quality_gate: float = Field(0.0, ge=0, lt=1)  # acc(T) must reach this for a valid run
    aiperf_version: str | None = None  # filled in when the resolved spec is written
    workload: WorkloadSpec = WorkloadSpec()
    train: TrainSpec = TrainSpec()
    uegr: UegrSpec = UegrSpec()
    robustness: RobustnessSpec = RobustnessSpec()
    resources: ResourcesSpec = ResourcesSpec()
    search: SearchSpec = SearchSpec()
    failure: FailureSpec = FailureSpec()
    score: ScoreSpec = ScoreSpec()

    @field_validator("name")
    @classmethod
    def _safe_name(cls, name: str) -> str:
        if not NAME_RE.fullmatch(name):
            raise ValueError("must be 1-64 letters, digits, '.', '_' or '-', not starting with '.'")
        return name


def resolve_spec_path(name_or_path: str | Path) -> Path:
    """A spec file from a path, or a shipped spec by name (``tiny``, ``small``, …)."""
    path = Path(name_or_path)
    if path.is_file():
        return path
    shipped = shipped_file(Path("benchmark_specs") / f"{name_or_path}.yaml")
    if shipped is None:
        raise SpecError(f"spec: no such file or shipped spec name: {name_or_path}")
    return shipped


def shipped_file(relative: Path, from_cwd: bool = True) -> Path | None:
    """A file aiperf ships outside the package (specs, launch templates): under the working
    directory (unless ``from_cwd`` is false: the rules a bundle is checked by come from aiperf's
    own installation only), the source tree, or the install prefix's ``share/aiperf``, first
    found wins."""
    import sys

    source_tree = Path(__file__).resolve().parent.parent
    bases = [Path.cwd()] if from_cwd else []
    for base in (*bases, source_tree, Path(sys.prefix) / "share/aiperf"):
        if (base / relative).is_file():
            return base / relative
    return None


def check_runnable(spec: Spec) -> None:
    """A SpecError for what a spec may say but a new run cannot do: a trial spanning GPUs (one
    trial per GPU, or a share of one, is the benchmark's unit; older specs still parse)."""
    gpus = spec.resources.gpus_per_trial
    if gpus is not None and gpus > 1:
        raise SpecError(
            f"resources.gpus_per_trial: {gpus} — a trial runs on one GPU or a share of one (≤ 1)"
        )


def load_spec(name_or_path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> Spec:
    """Read, override (``key.path=value``) and validate a spec; SpecError on anything invalid."""
    path = resolve_spec_path(name_or_path)
    raw = load_yaml_file(path, f"spec {path}", SpecError) or {}
    if not isinstance(raw, dict):
        raise SpecError(f"spec: {path} must hold a mapping of sections (got {type(raw).__name__})")
    return parse_spec(apply_overrides(raw, overrides))


def parse_spec(raw: dict[str, Any]) -> Spec:
    """Validate a raw mapping into a Spec; the first problem becomes a one-line SpecError."""
    try:
        return Spec.model_validate(raw)
    except ValidationError as err:
        raise SpecError(describe_validation_error(err, "spec", Spec)) from None


def apply_overrides(raw: dict[str, Any], overrides: list[str] | tuple[str, ...]) -> dict[str, Any]:
    """Apply ``--set key.path=value`` overrides (values parsed as YAML) to a copy of ``raw``."""
    import copy

    result = copy.deepcopy(raw)
    for item in overrides:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise SpecError(f"--set: expected key.path=value (got {item!r})")
        node = result
        parts = key.strip().split(".")
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise SpecError(f"--set {key}: spec.{part} is not a section")
            node = child
        node[parts[-1]] = load_yaml(text, f"--set {key}", SpecError) if text.strip() else None
    return result


def dump_spec(spec: Spec) -> str:
    """The resolved spec as YAML, stamped with this aiperf version."""
    data = spec.model_copy(update={"aiperf_version": __version__}).model_dump(mode="json")
    return dump_yaml(data)


def describe_validation_error(err: ValidationError, prefix: str, model: type[BaseModel]) -> str:
    """One line for the first error: the dotted field, what is wrong, what was given."""
    first = err.errors()[0]
    # A union member's label (``tuple[int, ...]``, ``FloatRange``) is no field: leave it out.
    loc = [str(part) for part in first["loc"] if not _is_union_label(str(part))]
    field = ".".join([prefix, *loc])
    if first["type"] == "extra_forbidden":
        allowed = ", ".join(_fields_at(model, loc[:-1])) or "none"
        return f"{field}: unknown key (allowed: {allowed})"
    msg = first["msg"].removeprefix("Value error, ")
    given = first.get("input")
    if first["type"] == "missing" or isinstance(given, dict) or "(got " in msg:
        return f"{field}: {msg}"
    return f"{field}: {msg} (got {_short_repr(given)})"


_UNION_LABELS = {"int", "float", "str", "bool", "FloatRange"}  # members of SearchSpace.uegr


def _is_union_label(part: str) -> bool:
    """Whether a location part names a union member (a type or class) rather than a field."""
    return "[" in part or part in _UNION_LABELS


def _short_repr(value: Any, limit: int = 80) -> str:
    """``repr(value)``, cut to ``limit`` characters: a hostile value must not flood the error."""
    try:
        text = repr(value)
    except ValueError:  # an int past Python's digit limit for str()
        text = f"<{type(value).__name__} too long to show>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _fields_at(model: type[BaseModel], loc: list[str]) -> list[str]:
    """The field names of the nested model found by following ``loc`` from ``model``."""
    current: Any = model
    for name in loc:
        field = getattr(current, "model_fields", {}).get(name)
        if field is None:
            return []
        current = field.annotation
    return list(getattr(current, "model_fields", {}))
