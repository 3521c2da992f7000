"""Network-morphism operators on genome dicts (AIPerf's search moves), each a plain function.

Every operator returns a new genome inside the search space, or None when it does not apply
(e.g. ``deeper`` at the space's maximum depth), so the caller can try another.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Callable
from typing import Any

from aiperf.search.space import sample_block
from aiperf.spec import SearchSpace

Genome = dict[str, Any]
Morph = Callable[[random.Random, Genome, SearchSpace], Genome | None]


def deeper(rng: random.Random, genome: Genome, space: SearchSpace) -> Genome | None:
    """Insert a new block at a random depth."""
    if len(genome["blocks"]) >= space.num_blocks.max:
        return None
    child = copy.deepcopy(genome)
    position = rng.randint(0, len(child["blocks"]))
    child["blocks"].insert(position, sample_block(rng, space, child["embed_dim"]))
    return child


def shallower(rng: random.Random, genome: Genome, space: SearchSpace) -> Genome | None:
    """Remove one block."""
    if len(genome["blocks"]) <= space.num_blocks.min:
        return None
    child = copy.deepcopy(genome)
    del child["blocks"][rng.randrange(len(child["blocks"]))]
    return child


def _next_larger(value: int, choices: tuple[int, ...]) -> int | None:
    larger = sorted(c for c in choices if c > value)
    return larger[0] if larger else None


def wider(rng: random.Random, genome: Genome, space: SearchSpace) -> Genome | None:
    """Widen one block to the next allowed width (conv width or transformer FFN)."""
    child = copy.deepcopy(genome)
    options = []
    for block in child["blocks"]:
        key, choices = (
            ("width", space.conv_width) if block["type"] == "conv" else ("ffn_dim", space.ffn_dim)
        )
        wider_value = _next_larger(block[key], choices)
        if wider_value is not None:
            options.append((block, key, wider_value))
    if not options:
        return None
    block, key, value = rng.choice(options)
    block[key] = value
    return child


def kernel(rng: random.Random, genome: Genome, space: SearchSpace) -> Genome | None:
    """Change one conv block's kernel to another allowed size."""
    child = copy.deepcopy(genome)
    convs = [b for b in child["blocks"] if b["type"] == "conv"]
    if not convs:
        return None
    block = rng.choice(convs)
    others = [k for k in space.conv_kernel if k != block["kernel"]]
    if not others:
        return None
    block["kernel"] = rng.choice(others)
    return child


def swap_type(rng: random.Random, genome: Genome, space: SearchSpace) -> Genome | None:
    """Replace one block by a freshly drawn block of another type."""
    child = copy.deepcopy(genome)
    index = rng.randrange(len(child["blocks"]))
    current = child["blocks"][index]["type"]
    if not any(t != current for t in space.block_types):
        return None
    for _ in range(8):
        block = sample_block(rng, space, child["embed_dim"])
        if block["type"] != current:
            child["blocks"][index] = block
            return child
    return None


def toggle_residual(rng: random.Random, genome: Genome, space: SearchSpace) -> Genome | None:
    """Turn one block's skip connection off (or back on)."""
    child = copy.deepcopy(genome)
    block = rng.choice(child["blocks"])
    block["residual"] = not block.get("residual", True)
    return child


def repool(rng: random.Random, genome: Genome, space: SearchSpace) -> Genome | None:
    """Switch the pooling."""
    others = [p for p in space.pooling if p != genome["pooling"]]
    if not others:
        return None
    return {**copy.deepcopy(genome), "pooling": rng.choice(others)}


MORPHS: dict[str, Morph] = {
    "deeper": deeper,
    "shallower": shallower,
    "wider": wider,
    "kernel": kernel,
    "swap_type": swap_type,
    "toggle_residual": toggle_residual,
    "repool": repool,
}


def morph(rng: random.Random, genome: Genome, space: SearchSpace) -> tuple[Genome, str]:
    """Apply one applicable operator chosen at random; returns the child and the operator's name."""
    names = list(MORPHS)
    rng.shuffle(names)
    for name in names:
        child = MORPHS[name](rng, genome, space)
        if child is not None:
            return child, name
    return copy.deepcopy(genome), "identity"
