"""The reference values every FLOPs counter must reproduce (2 FLOPs per multiply-add), checked
against the analytic formulas and torch's FlopCounterMode, with its known errors stated."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode

from aiperf.flops import PLAIN_STEP, cost_model
from aiperf.flops.formulas import LayerShape, formula_for
from aiperf.models import build_model, genome_from_dict
from aiperf.train.flops_check import flop_counter

CONV2D = LayerShape(batch=8, tokens=32 * 32, in_features=16, out_features=32, kernel=9)
BMM = LayerShape(batch=4, tokens=64, in_features=32, out_features=16)
SDPA = LayerShape(batch=2, tokens=128, in_features=8 * 64, out_features=8 * 64)  # D = H·dh


def counted(fn) -> int:
    """FLOPs FlopCounterMode sees in ``fn``; attention on the math backend, as the self-check."""
    with flop_counter() as counter:
        fn()
    return int(counter.get_total_flops())


def test_conv2d_reference() -> None:
    conv = formula_for("conv2d")
    assert conv.forward(CONV2D) == 75_497_472
    assert conv.forward(CONV2D) + conv.input_grad(CONV2D) + conv.weight_grad(CONV2D) == 226_492_416
    layer, x = torch.nn.Conv2d(16, 32, 3, padding=1), torch.randn(8, 16, 32, 32, requires_grad=True)
    assert counted(lambda: layer(x)) == 75_497_472
    assert counted(lambda: layer(x).sum().backward()) == 226_492_416


def test_bmm_reference() -> None:
    bmm = formula_for("bmm")
    assert bmm.forward(BMM) == 262_144
    assert bmm.input_grad(BMM) == 2 * 262_144 and bmm.weight_grad(BMM) == 0
    a, b = torch.randn(4, 64, 32), torch.randn(4, 32, 16)
    assert counted(lambda: torch.bmm(a, b)) == 262_144


def test_sdpa_reference() -> None:
    forward = formula_for("attn_scores").forward(SDPA) + formula_for("attn_values").forward(SDPA)
    backward = sum(formula_for(k).input_grad(SDPA) for k in ("attn_scores", "attn_values"))
    assert forward == 67_108_864 and backward == 2 * forward
    q, k, v = (torch.randn(2, 8, 128, 64, requires_grad=True) for _ in range(3))
    assert counted(lambda: F.scaled_dot_product_attention(q, k, v)) == 67_108_864


def test_fused_cpu_sdpa_is_invisible_to_flop_counter_mode() -> None:
    """The FlopCounterMode error the self-check avoids by forcing SDPA's math backend."""
    q, k, v = (torch.randn(2, 8, 128, 64) for _ in range(3))
    with sdpa_kernel(SDPBackend.FLASH_ATTENTION), FlopCounterMode(display=False) as counter:
        F.scaled_dot_product_attention(q, k, v)
    assert counter.get_total_flops() == 0


def test_transformer_block_reference() -> None:
    genome = genome_from_dict(
        {"embed_dim": 256, "blocks": [{"type": "transformer", "heads": 8, "ffn_dim": 1024}]}
    )
    head = cost_model(genome, 2).costs(4, 128).forward_flops - 2 * 4 * 256 * 2
    assert head == 872_415_232


def test_activation_checkpointing_does_not_change_the_count() -> None:
    genome = genome_from_dict(
        {"embed_dim": 16, "blocks": [{"type": "transformer", "heads": 2, "ffn_dim": 32}] * 2}
    )
    tokens, mask = torch.randint(1, 30, (3, 8)), torch.ones(3, 8, dtype=torch.bool)
    measured = {}
    for checkpointing in (False, True):
        torch.manual_seed(0)
        model = build_model(genome, 30, 2, 8)
        model.checkpoint_blocks = checkpointing
        measured[checkpointing] = counted(lambda m=model: m(tokens, mask).sum().backward())
    analytic = cost_model(genome, 2).costs(3, 8).step_flops(PLAIN_STEP)
    assert measured[False] == analytic
    assert measured[True] > analytic  # torch counts the recomputed forward; we never do
