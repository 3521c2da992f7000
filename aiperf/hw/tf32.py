"""TF32 on CUDA, on or off for cuBLAS matmuls and cuDNN (convolutions, RNNs) at once.

fp32 training must really be fp32 so that its utilisation is measured against the fp32 peak:
torch leaves TF32 on for cuDNN convolutions by default. torch ≥ 2.9 has ``fp32_precision``
switches (mixing them with the older ``allow_tf32`` flags raises), older versions only the flags.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


def _switches() -> list[tuple[Any, str, Any, Any]]:
    """(object, attribute, value for TF32 on, value for off) for matmuls and cuDNN."""
    import torch

    matmul, cudnn = torch.backends.cuda.matmul, torch.backends.cudnn
    if hasattr(matmul, "fp32_precision"):
        return [(m, "fp32_precision", "tf32", "ieee") for m in (matmul, cudnn.conv, cudnn.rnn)]
    return [(matmul, "allow_tf32", True, False), (cudnn, "allow_tf32", True, False)]


def set_tf32(enabled: bool) -> list[Any]:
    """Allow or forbid TF32 in CUDA matmuls and convolutions; returns the previous settings."""
    previous = tf32_settings()
    for owner, name, on, off in _switches():
        setattr(owner, name, on if enabled else off)
    return previous


def tf32_settings() -> list[Any]:
    """The current matmul and convolution settings, in ``set_tf32``'s order."""
    return [getattr(owner, name) for owner, name, _, _ in _switches()]


@contextmanager
def tf32_mode(enabled: bool) -> Iterator[None]:
    """TF32 allowed or forbidden for the block, the caller's settings restored after."""
    previous = set_tf32(enabled)
    try:
        yield
    finally:
        for (owner, name, _, _), value in zip(_switches(), previous, strict=True):
            setattr(owner, name, value)
