"""Architectures: the genome that describes a text classifier, and the builder that makes it.

The genome is plain pydantic; the builder and blocks need torch, so they load on first use: the
scorer, the checker and ``aiperf --help`` read genomes without importing torch.
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

from aiperf.models.genome import (
    BLOCK_TYPES,
    BlockGene,
    ConvGene,
    Genome,
    GenomeError,
    TransformerGene,
    genome_from_dict,
    genome_id,
    load_genome,
)

if TYPE_CHECKING:
    from aiperf.models.blocks import BLOCKS, Dropout, build_block
    from aiperf.models.builder import TextClassifier, build_model

_NEEDS_TORCH = {
    "BLOCKS": "aiperf.models.blocks",
    "Dropout": "aiperf.models.blocks",
    "build_block": "aiperf.models.blocks",
    "TextClassifier": "aiperf.models.builder",
    "build_model": "aiperf.models.builder",
}


def __getattr__(name: str) -> Any:
    if name in _NEEDS_TORCH:
        return getattr(import_module(_NEEDS_TORCH[name]), name)
    raise AttributeError(f"module 'aiperf.models' has no attribute {name!r}")


__all__ = [
    "BLOCKS",
    "BLOCK_TYPES",
    "BlockGene",
    "ConvGene",
    "Dropout",
    "Genome",
    "GenomeError",
    "TextClassifier",
    "TransformerGene",
    "build_block",
    "build_model",
    "genome_from_dict",
    "genome_id",
    "load_genome",
]
