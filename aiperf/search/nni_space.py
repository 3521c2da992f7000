"""The spec's SearchSpace as an NNI search space, and NNI parameters back as aiperf proposals.

Pure python (no nni import). Blocks live in fixed slots ``block_0..block_{max-1}`` plus
``num_blocks``; a slot is a nested choice per block type, or flat ``block_i_type`` and
``block_i_<field>`` keys for tuners that cannot mutate inside nested choices. Decoding always
yields a valid genome.
"""

from __future__ import annotations

from typing import Any

from aiperf.search.space import feasible_embed_dims
from aiperf.spec import FloatRange, IntRange, SearchSpace

# Gene field → the SearchSpace attribute that holds its choices, per block type.
BLOCK_FIELDS: dict[str, dict[str, str]] = {
    "transformer": {"heads": "heads", "ffn_dim": "ffn_dim"},
    "conv": {"kernel": "conv_kernel", "width": "conv_width"},
}
UEGR_PREFIX = "uegr_"  # NNI names of the searched UEGR knobs: uegr_<knob>


def nni_choice(values: Any) -> dict[str, Any]:
    return {"_type": "choice", "_value": list(values)}


def nni_float(bounds: FloatRange) -> dict[str, Any]:
    """``uniform``/``loguniform``; a one-point range becomes a one-value choice."""
    if bounds.min == bounds.max:
        return nni_choice([bounds.min])
    return {"_type": "loguniform" if bounds.log else "uniform", "_value": [bounds.min, bounds.max]}


def nni_int(bounds: IntRange) -> dict[str, Any]:
    """NNI's ``randint`` excludes its upper bound."""
    return {"_type": "randint", "_value": [bounds.min, bounds.max + 1]}


def nni_knob(choices: tuple[Any, ...] | FloatRange) -> dict[str, Any]:
    return nni_float(choices) if isinstance(choices, FloatRange) else nni_choice(choices)


def block_fields(space: SearchSpace, kind: str) -> dict[str, dict[str, Any]]:
    """The NNI choices of one block type's gene fields."""
    return {field: nni_choice(getattr(space, attr)) for field, attr in BLOCK_FIELDS[kind].items()}


def nested_slot(space: SearchSpace) -> dict[str, Any]:
    """One block slot as a nested choice: ``{"_name": type, field: choice, …}`` per type."""
    return nni_choice([{"_name": kind, **block_fields(space, kind)} for kind in space.block_types])


def flat_slot(space: SearchSpace, index: int) -> dict[str, Any]:
    """One block slot as top-level keys: its type plus every allowed type's fields."""
    fields = {
        f"block_{index}_{field}": spec
        for kind in space.block_types
        for field, spec in block_fields(space, kind).items()
    }
    return {f"block_{index}_type": nni_choice(space.block_types), **fields}


def encode_space(space: SearchSpace, nested: bool = True) -> dict[str, Any]:
    """The NNI search-space dict for ``space`` (``nested=False``: flat block slots)."""
    slots: dict[str, Any] = {}
    for index in range(space.num_blocks.max):
        slots.update({f"block_{index}": nested_slot(space)} if nested else flat_slot(space, index))
    return {
        "embed_dim": nni_choice(feasible_embed_dims(space)),
        "num_blocks": nni_int(space.num_blocks),
        **slots,
        "pooling": nni_choice(space.pooling),
        "dropout": nni_float(space.dropout),
        "lr": nni_float(space.lr),
        "batch_size": nni_choice(space.batch_size),
        "weight_decay": nni_float(space.weight_decay),
        "epochs": nni_int(space.epochs),
        **{UEGR_PREFIX + name: nni_knob(choices) for name, choices in sorted(space.uegr.items())},
    }


def pick(options: tuple[Any, ...], value: Any) -> Any:
    """The option equal to ``value`` (compared as text too: numpy may have converted it)."""
    for option in options:
        if option == value and type(option) is type(value):
            return option
    for option in options:
        if str(option) == str(value):
            return option
    raise ValueError(f"NNI proposed {value!r}, not one of {list(options)}")


def clip_float(bounds: FloatRange, value: Any, digits: int | None = None) -> float:
    """``value`` as a float inside ``bounds`` (log-space rounding can overshoot by an ulp)."""
    value = float(value) if digits is None else round(float(value), digits)
    return min(max(value, bounds.min), bounds.max)


def clip_int(bounds: IntRange, value: Any) -> int:
    return min(max(int(value), bounds.min), bounds.max)


def read_slot(params: dict[str, Any], index: int) -> dict[str, Any]:
    """Slot ``index`` as ``{"type": …, field: value, …}`` from nested or flat parameters."""
    nested = params.get(f"block_{index}")
    if nested is not None:
        return {"type": nested["_name"], **{k: v for k, v in nested.items() if k != "_name"}}
    prefix = f"block_{index}_"
    return {key.removeprefix(prefix): v for key, v in params.items() if key.startswith(prefix)}


def transformer_block(slot: dict[str, Any], space: SearchSpace, embed_dim: int) -> dict[str, Any]:
    """The drawn heads, or the nearest allowed divisor of ``embed_dim``; conv when none divides."""
    heads = [h for h in space.heads if embed_dim % h == 0]
    if not heads:
        return conv_block(slot, space, embed_dim)
    drawn = int(slot["heads"])
    return {
        "type": "transformer",
        "heads": min(heads, key=lambda h: (abs(h - drawn), h)),
        "ffn_dim": pick(space.ffn_dim, slot["ffn_dim"]),
    }


def conv_block(slot: dict[str, Any], space: SearchSpace, embed_dim: int) -> dict[str, Any]:
    """A conv gene; a transformer slot turned conv takes the space's first kernel and width."""
    if "conv" not in space.block_types:
        raise ValueError(f"no heads value divides embed_dim {embed_dim} and conv is not allowed")
    return {
        "type": "conv",
        "kernel": pick(space.conv_kernel, slot.get("kernel", space.conv_kernel[0])),
        "width": pick(space.conv_width, slot.get("width", space.conv_width[0])),
    }


BLOCK_DECODERS = {"transformer": transformer_block, "conv": conv_block}


def decode_genome(params: dict[str, Any], space: SearchSpace) -> dict[str, Any]:
    """A valid genome dict inside ``space`` from one NNI parameter set."""
    embed_dim = pick(space.embed_dim, params["embed_dim"])
    blocks = []
    for index in range(clip_int(space.num_blocks, params["num_blocks"])):
        slot = read_slot(params, index)
        kind = pick(space.block_types, slot["type"])
        blocks.append(BLOCK_DECODERS[kind](slot, space, embed_dim))
    return {
        "embed_dim": embed_dim,
        "blocks": blocks,
        "pooling": pick(space.pooling, params["pooling"]),
        "dropout": clip_float(space.dropout, params["dropout"], digits=4),
    }


def decode_hparams(params: dict[str, Any], space: SearchSpace) -> dict[str, Any]:
    return {
        "lr": clip_float(space.lr, params["lr"]),
        "batch_size": pick(space.batch_size, params["batch_size"]),
        "weight_decay": clip_float(space.weight_decay, params["weight_decay"]),
        "epochs": clip_int(space.epochs, params["epochs"]),
    }


def decode_uegr(params: dict[str, Any], space: SearchSpace) -> dict[str, Any]:
    decoded = {}
    for name, choices in sorted(space.uegr.items()):
        value = params[UEGR_PREFIX + name]
        decoded[name] = (
            clip_float(choices, value) if isinstance(choices, FloatRange) else pick(choices, value)
        )
    return decoded


def decode_params(params: dict[str, Any], space: SearchSpace) -> dict[str, Any]:
    """One NNI parameter set as an aiperf proposal ``{"genome", "hparams", "uegr"}``."""
    return {
        "genome": decode_genome(params, space),
        "hparams": decode_hparams(params, space),
        "uegr": decode_uegr(params, space),
    }
