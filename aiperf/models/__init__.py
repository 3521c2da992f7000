"""Architectures: the genome that describes a text classifier, and the builder that makes it."""

from aiperf.models.blocks import BLOCKS, Dropout, build_block
from aiperf.models.builder import TextClassifier, build_model
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
