"""The genome: a typed, frozen, JSON-serialisable description of one text-classifier architecture.

Every invalid genome fails with a one-line ``GenomeError`` that names the field, e.g.
``genome.blocks.1.heads: 3 does not divide embed_dim 64``. Every size is bounded (``MAX_*``, the
same bounds the spec's search space has), and ``check_parameter_budget`` refuses a model of more
than ``MAX_PARAMETERS`` before anything is allocated: a hostile genome file is an error, not an
out-of-memory kill.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from aiperf.errors import UserError
from aiperf.safe_yaml import read_text_capped
from aiperf.spec import (
    MAX_BLOCKS,
    MAX_CONV_KERNEL,
    MAX_CONV_WIDTH,
    MAX_EMBED_DIM,
    MAX_FFN_DIM,
    MAX_HEADS,
)

MAX_PARAMETERS = 1_000_000_000  # 4 GB of fp32 weights, before gradients and optimizer state
MAX_GENOME_BYTES = 1 << 20  # a genome file is a few hundred bytes


class GenomeError(UserError):
    """An invalid genome, genome file or block type: one line that names the field."""


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class TransformerGene(_Frozen):
    """A pre-LayerNorm transformer encoder block: self-attention then a GELU feed-forward."""

    type: Literal["transformer"] = "transformer"
    heads: int = Field(ge=1, le=MAX_HEADS)
    ffn_dim: int = Field(gt=0, le=MAX_FFN_DIM)
    residual: bool = True


class ConvGene(_Frozen):
    """A 1-D convolution block over the sequence: conv(kernel, width) → GELU → pointwise conv."""

    type: Literal["conv"] = "conv"
    kernel: int = Field(ge=1, le=MAX_CONV_KERNEL)
    width: int = Field(gt=0, le=MAX_CONV_WIDTH)
    residual: bool = True

    @field_validator("kernel")
    @classmethod
    def _odd(cls, kernel: int) -> int:
        if kernel % 2 == 0:
            raise ValueError("must be odd so the output keeps the sequence length")
        return kernel


BlockGene = Annotated[TransformerGene | ConvGene, Field(discriminator="type")]
BLOCK_TYPES: tuple[str, ...] = tuple(
    gene.model_fields["type"].default for gene in (TransformerGene, ConvGene)
)


class Genome(_Frozen):
    """A whole architecture: embedding width, the block stack, pooling, head and dropout rate."""

    embed_dim: int = Field(gt=0, le=MAX_EMBED_DIM)
    blocks: tuple[BlockGene, ...] = Field(min_length=1, max_length=MAX_BLOCKS)
    pooling: Literal["mean", "max"] = "mean"
    classifier_hidden: int = Field(0, ge=0, le=MAX_FFN_DIM)  # 0 = a linear head
    dropout: float = Field(0.0, ge=0, lt=1)

    @model_validator(mode="after")
    def _heads_divide_embed_dim(self) -> Genome:
        for index, block in enumerate(self.blocks):
            if isinstance(block, TransformerGene) and self.embed_dim % block.heads:
                # The message starts with the field path: a model-level error carries no loc.
                dim = self.embed_dim
                raise ValueError(
                    f"blocks.{index}.heads: {block.heads} does not divide embed_dim {dim}"
                )
        return self

    def to_json(self) -> str:
        """The canonical JSON text (sorted keys, no spaces): what ``genome_id`` hashes."""
        return json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> Genome:
        """Parse JSON text; raise GenomeError with one line on anything invalid."""
        try:
            data = json.loads(text)
        except (ValueError, RecursionError) as err:  # ValueError: bad JSON or a 5000-digit int
            raise GenomeError(f"genome: invalid JSON: {_short_repr(str(err), 120)}") from None
        return genome_from_dict(data)


def genome_from_dict(data: Any) -> Genome:
    """Validate a raw mapping into a Genome; the first problem becomes a one-line GenomeError."""
    try:
        return Genome.model_validate(data)
    except ValidationError as err:
        raise GenomeError(describe_genome_error(err)) from None


def load_genome(path: str | Path) -> Genome:
    """Read a genome from a JSON file; raise GenomeError on an unreadable or invalid file."""
    text = read_text_capped(Path(path), f"genome: {path}", GenomeError, MAX_GENOME_BYTES)
    return Genome.from_json(text)


def genome_id(genome: Genome) -> str:
    """A short, stable id: the first 12 hex digits of the SHA-256 of the canonical JSON."""
    return hashlib.sha256(genome.to_json().encode()).hexdigest()[:12]


def _transformer_parameters(gene: TransformerGene, dim: int) -> int:
    """Two LayerNorms, the Q/K/V/out projections and the two FFN linears, with biases."""
    norms = 2 * 2 * dim
    attention = 4 * (dim * dim + dim)
    ffn = (dim * gene.ffn_dim + gene.ffn_dim) + (gene.ffn_dim * dim + dim)
    return norms + attention + ffn


def _conv_parameters(gene: ConvGene, dim: int) -> int:
    """One LayerNorm, the k-wide conv (D → width) and the pointwise conv back, with biases."""
    return 2 * dim + (dim * gene.width * gene.kernel + gene.width) + (gene.width * dim + dim)


# The parameter count of one block, by gene type (``aiperf.models.blocks.BLOCKS`` builds them).
BLOCK_PARAMETERS: dict[str, Callable[[Any, int], int]] = {
    "transformer": _transformer_parameters,
    "conv": _conv_parameters,
}


def _parameter_shares(
    genome: Genome, vocab_size: int, num_classes: int, max_len: int
) -> dict[str, int]:
    """The parameters ``build_model`` would make, by the genome field that sizes them."""
    dim, hidden = genome.embed_dim, genome.classifier_hidden
    head = dim * num_classes + num_classes
    if hidden:
        head = (dim * hidden + hidden) + (hidden * num_classes + num_classes)
    shares = {"embed_dim": (vocab_size + max_len) * dim + 2 * dim}  # embeddings, final norm
    for index, gene in enumerate(genome.blocks):
        shares[f"blocks.{index}"] = BLOCK_PARAMETERS[gene.type](gene, dim)
    return {**shares, "classifier_hidden": head}


def parameter_count(genome: Genome, vocab_size: int, num_classes: int, max_len: int) -> int:
    """The number of parameters of the genome's model, counted without building it."""
    return sum(_parameter_shares(genome, vocab_size, num_classes, max_len).values())


def check_parameter_budget(genome: Genome, vocab_size: int, num_classes: int, max_len: int) -> None:
    """GenomeError naming the largest part unless the model has at most ``MAX_PARAMETERS``."""
    shares = _parameter_shares(genome, vocab_size, num_classes, max_len)
    total = sum(shares.values())
    if total > MAX_PARAMETERS:
        field = max(shares, key=lambda name: shares[name])
        raise GenomeError(
            f"genome.{field}: the model would have {total:,} parameters, over the limit of "
            f"{MAX_PARAMETERS:,} ({shares[field]:,} of them here; vocabulary {vocab_size:,})"
        )


def describe_genome_error(err: ValidationError) -> str:
    """One line for the first error: ``genome.<dotted field>: <what is wrong> (got <input>)``."""
    first = err.errors()[0]
    valid = ", ".join(sorted(BLOCK_TYPES))
    field = ".".join(["genome", *_field_path(first["loc"])])
    msg = first["msg"].removeprefix("Value error, ")
    given = first.get("input")
    if first["type"] == "value_error" and not first["loc"]:
        return f"genome.{msg}"
    if first["type"] == "union_tag_invalid":
        return f"{field}.type: unknown block type {first['ctx']['tag']!r} (valid: {valid})"
    if first["type"] == "union_tag_not_found":
        return f"{field}.type: missing block type (valid: {valid})"
    if first["type"] == "extra_forbidden":
        return f"{field}: unknown key"
    if first["type"] == "missing" or isinstance(given, dict):
        return f"{field}: {msg}"
    return f"{field}: {msg} (got {_short_repr(given)})"


def _field_path(loc: tuple[int | str, ...]) -> list[str]:
    """The dotted location without the union tag pydantic inserts after a block index."""
    parts: list[str] = []
    for i, part in enumerate(loc):
        after_index = i > 0 and isinstance(loc[i - 1], int)
        if not (after_index and part in BLOCK_TYPES):
            parts.append(str(part))
    return parts


def _short_repr(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
