"""Sampling genomes and hyperparameters from the spec's search space (plain dicts, always valid)."""

from __future__ import annotations

import math
import random
from typing import Any

from aiperf.spec import FloatRange, IntRange, SearchSpace


def sample_float(rng: random.Random, bounds: FloatRange) -> float:
    """Uniform (or log-uniform) draw from a float range."""
    if bounds.log:
        return math.exp(rng.uniform(math.log(bounds.min), math.log(bounds.max)))
    return rng.uniform(bounds.min, bounds.max)


def sample_int(rng: random.Random, bounds: IntRange) -> int:
    return rng.randint(bounds.min, bounds.max)


def sample_block(rng: random.Random, space: SearchSpace, embed_dim: int) -> dict[str, Any]:
    """One block gene; a transformer only where some head count divides ``embed_dim``."""
    heads = [h for h in space.heads if embed_dim % h == 0]
    types = [t for t in space.block_types if t != "transformer" or heads]
    kind = rng.choice(types)
    if kind == "transformer":
        return {"type": kind, "heads": rng.choice(heads), "ffn_dim": rng.choice(space.ffn_dim)}
    return {
        "type": kind,
        "kernel": rng.choice(space.conv_kernel),
        "width": rng.choice(space.conv_width),
    }


def feasible_embed_dims(space: SearchSpace) -> list[int]:
    """Widths for which at least one allowed block type can be built."""
    if set(space.block_types) != {"transformer"}:
        return list(space.embed_dim)
    return [d for d in space.embed_dim if any(d % h == 0 for h in space.heads)]


def sample_genome(rng: random.Random, space: SearchSpace) -> dict[str, Any]:
    """A genome dict inside ``space``."""
    embed_dim = rng.choice(feasible_embed_dims(space))
    return {
        "embed_dim": embed_dim,
        "blocks": [
            sample_block(rng, space, embed_dim) for _ in range(sample_int(rng, space.num_blocks))
        ],
        "pooling": rng.choice(space.pooling),
        "dropout": round(sample_float(rng, space.dropout), 4),
    }


def sample_uegr(rng: random.Random, space: SearchSpace) -> dict[str, Any]:
    """Per-trial UEGR knobs the space searches over (the rest stay at the spec's values)."""
    return {
        name: sample_float(rng, choices) if isinstance(choices, FloatRange) else rng.choice(choices)
        for name, choices in sorted(space.uegr.items())
    }


def sample_proposal(rng: random.Random, space: SearchSpace) -> dict[str, Any]:
    """A whole proposal: genome, hyperparameters and UEGR knobs."""
    return {
        "genome": sample_genome(rng, space),
        "hparams": sample_hparams(rng, space),
        "uegr": sample_uegr(rng, space),
    }


def sample_hparams(rng: random.Random, space: SearchSpace) -> dict[str, Any]:
    """Per-trial hyperparameters inside ``space``."""
    return {
        "lr": sample_float(rng, space.lr),
        "batch_size": rng.choice(space.batch_size),
        "weight_decay": sample_float(rng, space.weight_decay),
        "epochs": sample_int(rng, space.epochs),
    }
