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


def outside_space(
    space: SearchSpace, genome: dict[str, Any], hparams: dict[str, Any], uegr: dict[str, Any]
) -> list[str]:
    """Every value of a proposal no searcher could draw from ``space``, one sentence each (empty:
    inside). The audit holds every trial of a ledger to it."""
    blocks = genome.get("blocks")
    found = [
        *_choice("genome.embed_dim", genome.get("embed_dim"), space.embed_dim),
        *_choice("genome.pooling", genome.get("pooling", "mean"), space.pooling),
        *_within("genome.dropout", genome.get("dropout", 0.0), space.dropout, slack=5e-5),
        *_choice("genome.classifier_hidden", genome.get("classifier_hidden", 0), (0,)),
        *_choice("hparams.batch_size", hparams.get("batch_size"), space.batch_size),
        *_within("hparams.lr", hparams.get("lr"), space.lr),
        *_within("hparams.weight_decay", hparams.get("weight_decay"), space.weight_decay),
        *_between("hparams.epochs", hparams.get("epochs"), space.epochs),
    ]
    if not isinstance(blocks, list):
        return [*found, "genome.blocks: not a list"]
    count = _between("genome.blocks (count)", len(blocks), space.num_blocks)
    if count:
        return [*found, *count]  # its blocks are not looked at: there may be thousands
    for index, block in enumerate(blocks):
        found += _block_outside(f"genome.blocks.{index}", block, space)
    for name, value in uegr.items():
        allowed = space.uegr.get(name)
        if allowed is None:
            found.append(f"uegr.{name}: not a searched knob")
        elif isinstance(allowed, FloatRange):
            found += _within(f"uegr.{name}", value, allowed)
        else:
            found += _choice(f"uegr.{name}", value, allowed)
    return found


def _block_outside(where: str, block: Any, space: SearchSpace) -> list[str]:
    if not isinstance(block, dict):
        return [f"{where}: not a block"]
    kind = block.get("type")
    if kind not in space.block_types:
        return [f"{where}.type: {kind!r} is not among {list(space.block_types)}"]
    if kind == "transformer":
        return [
            *_choice(f"{where}.heads", block.get("heads"), space.heads),
            *_choice(f"{where}.ffn_dim", block.get("ffn_dim"), space.ffn_dim),
        ]
    return [
        *_choice(f"{where}.kernel", block.get("kernel"), space.conv_kernel),
        *_choice(f"{where}.width", block.get("width"), space.conv_width),
    ]


def _choice(where: str, value: Any, allowed: tuple[Any, ...]) -> list[str]:
    exact = any(type(value) is type(choice) and value == choice for choice in allowed)
    return [] if exact else [f"{where}: {value!r:.40} is not among {list(allowed)}"]


def _within(where: str, value: Any, bounds: FloatRange, slack: float = 0.0) -> list[str]:
    """Inside [min, max], give or take a rounding (NNI's log-space draws can overshoot an ulp)."""
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    tolerance = slack + 1e-9 * max(abs(bounds.min), abs(bounds.max))
    if ok and bounds.min - tolerance <= value <= bounds.max + tolerance:
        return []
    return [f"{where}: {value!r:.40} is outside [{bounds.min}, {bounds.max}]"]


def _between(where: str, value: Any, bounds: IntRange) -> list[str]:
    if isinstance(value, int) and not isinstance(value, bool) and bounds.min <= value <= bounds.max:
        return []
    return [f"{where}: {value!r:.40} is outside [{bounds.min}, {bounds.max}]"]
