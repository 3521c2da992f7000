"""The analytic FLOPs counter against hand-computed references, FlopCounterMode and fvcore."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.utils.flop_counter import FlopCounterMode

from aiperf.flops import PLAIN_STEP, FlopsError, PassCosts, breakdown, cost_model
from aiperf.flops.counter import LayerOp, layer_ops, op_costs, pass_costs
from aiperf.flops.formulas import FORMULAS, LayerShape
from aiperf.models import build_model, genome_from_dict
from aiperf.train.flops_check import flop_counter

VOCAB, CLASSES, BATCH, SEQ = 40, 3, 4, 10

GENOMES = {
    "transformer": {
        "embed_dim": 16,
        "blocks": [{"type": "transformer", "heads": 2, "ffn_dim": 24}],
        "pooling": "mean",
        "dropout": 0.1,
    },
    "conv": {
        "embed_dim": 16,
        "blocks": [{"type": "conv", "kernel": 3, "width": 12}],
        "pooling": "max",
        "dropout": 0.1,
    },
    "mixed": {
        "embed_dim": 16,
        "blocks": [
            {"type": "transformer", "heads": 4, "ffn_dim": 24},
            {"type": "conv", "kernel": 5, "width": 8, "residual": False},
            {"type": "transformer", "heads": 2, "ffn_dim": 32},
        ],
        "pooling": "mean",
        "classifier_hidden": 7,
        "dropout": 0.1,
    },
}


def _genome(name: str):
    return genome_from_dict(GENOMES[name])


def _run(name: str) -> tuple[torch.nn.Module, torch.Tensor, torch.Tensor]:
    torch.manual_seed(0)
    model = build_model(_genome(name), VOCAB, CLASSES, max_len=SEQ).train()
    tokens = torch.randint(1, VOCAB, (BATCH, SEQ))
    mask = torch.ones(BATCH, SEQ, dtype=torch.bool)
    mask[1, 6:] = False  # padding still runs, and still counts
    return model, tokens, mask


def test_linear_reference_values() -> None:
    # Linear 512 → 256 on a batch of 32 vectors: 2·32·512·256.
    op = LayerOp("head", "linear", "linear", 512, 256, per_token=False)
    costs = op_costs(op, batch=32, seq=999)  # per_token=False: seq does not apply
    assert costs == PassCosts(8_388_608, 8_388_608, 8_388_608)  # forward, weight and input grad
    assert costs.step_flops(PLAIN_STEP) == 25_165_824
    assert costs.forward_flops + costs.weight_grad_flops == 16_777_216  # a frozen input


def test_linear_reference_matches_flop_counter_mode() -> None:
    layer = torch.nn.Linear(512, 256)
    frozen_input, trained_input = torch.randn(32, 512), torch.randn(32, 512, requires_grad=True)
    for x, expected in ((trained_input, 25_165_824), (frozen_input, 16_777_216)):
        with FlopCounterMode(display=False) as counter:
            layer(x).sum().backward()
        assert counter.get_total_flops() == expected


def test_transformer_block_reference_value() -> None:
    # d=256, h=8, ff=1024, B=4, S=128: 2·B·S·(4d² + 2·d·ff) + 4·B·S²·d = 872,415,232.
    genome = genome_from_dict(
        {
            "embed_dim": 256,
            "blocks": [{"type": "transformer", "heads": 8, "ffn_dim": 1024}],
            "pooling": "mean",
            "dropout": 0.0,
        }
    )
    [block, head] = breakdown(genome, batch=4, seq=128, num_classes=2)
    assert (block.block, block.type, block.forward_flops) == (0, "transformer", 872_415_232)
    # Backward = 2 × forward: weighted layers pay input + weight grads, the matmuls both operands.
    assert block.backward_flops == 2 * 872_415_232
    # The head runs once per sample on the pooled (B, D) vector: 2·4·256·2.
    assert (head.block, head.forward_flops) == ("head", 4_096)
    assert cost_model(genome, 2).costs(4, 128).forward_flops == 872_415_232 + 4_096


@pytest.mark.parametrize("name", sorted(GENOMES))
def test_forward_matches_flop_counter_mode(name: str) -> None:
    model, tokens, mask = _run(name)
    with flop_counter() as counter:
        model(tokens, mask)
    measured_flops = counter.get_total_flops()
    assert measured_flops > 0
    expected_flops = cost_model(_genome(name), CLASSES).costs(BATCH, SEQ).forward_flops
    assert expected_flops == pytest.approx(measured_flops, rel=0.01)


@pytest.mark.parametrize("name", sorted(GENOMES))
def test_train_step_matches_flop_counter_mode(name: str) -> None:
    model, tokens, mask = _run(name)
    labels = torch.arange(BATCH) % CLASSES
    with FlopCounterMode(display=False) as counter:
        loss = torch.nn.functional.cross_entropy(model(tokens, mask), labels)
        loss.backward()
    measured_flops = counter.get_total_flops()
    costs = cost_model(_genome(name), CLASSES).costs(BATCH, SEQ)
    expected_flops = costs.step_flops(PLAIN_STEP)
    assert expected_flops == pytest.approx(measured_flops, rel=0.01)
    # Sanity on the ratio: a backward pass costs twice the forward.
    assert expected_flops == 3 * costs.forward_flops


@pytest.mark.parametrize("name", sorted(GENOMES))
def test_forward_matches_fvcore(name: str) -> None:
    fvcore_nn = pytest.importorskip("fvcore.nn")
    model, tokens, mask = _run(name)
    model.set_fused_attention(False)  # fvcore's trace sees matmuls, not a fused SDPA op
    analysis = fvcore_nn.FlopCountAnalysis(model, (tokens, mask))
    by_op = analysis.unsupported_ops_warnings(False).uncalled_modules_warnings(False).by_operator()
    ops = layer_ops(_genome(name), CLASSES)
    forward = {op: op_costs(op, BATCH, SEQ).forward_flops for op in ops}
    weighted = sum(f for op, f in forward.items() if op.kind in ("linear", "conv1d"))
    attention = sum(f for op, f in forward.items() if op.kind.startswith("attn_"))
    # fvcore counts 1 per multiply-add; we count 2.
    assert weighted == 2 * (by_op["linear"] + by_op.get("conv", 0))
    assert attention == 2 * by_op.get("matmul", 0)


def test_flops_are_linear_in_batch() -> None:
    genome = _genome("mixed")
    double, single = (
        cost_model(genome, CLASSES).costs(2 * BATCH, SEQ),
        cost_model(genome, CLASSES).costs(BATCH, SEQ),
    )
    assert double == single + single
    assert cost_model(genome, CLASSES).costs(100, SEQ).forward_flops == 25 * single.forward_flops


def test_the_first_layers_input_gradient_is_counted() -> None:
    # The word embeddings are trained, so q, k and v pay their input gradient: 2·4·10·16·16 each.
    genome = _genome("transformer")
    first = [op for op in layer_ops(genome, CLASSES) if op.first]
    assert [op.name for op in first] == ["q", "k", "v"]
    input_grads = sum(op_costs(op, BATCH, SEQ).input_grad_flops for op in first)
    assert input_grads == 3 * 2 * BATCH * SEQ * 16 * 16
    costs = cost_model(genome, CLASSES).costs(BATCH, SEQ)
    every = [op_costs(op, BATCH, SEQ).input_grad_flops for op in layer_ops(genome, CLASSES)]
    assert costs.input_grad_flops == sum(every)


def test_breakdown_sums_to_the_step() -> None:
    genome = _genome("mixed")
    rows = breakdown(genome, BATCH, SEQ, CLASSES)
    assert [row.type for row in rows] == ["transformer", "conv", "transformer", "head"]
    costs = cost_model(genome, CLASSES).costs(BATCH, SEQ)
    assert sum(row.forward_flops for row in rows) == costs.forward_flops
    backward = costs.weight_grad_flops + costs.input_grad_flops
    assert sum(row.backward_flops for row in rows) == backward


def test_unknown_layer_kind_raises() -> None:
    op = LayerOp(0, "rnn", "lstm", 16, 16)
    with pytest.raises(FlopsError, match="no FLOPs formula for layer kind 'lstm'"):
        op_costs(op, BATCH, SEQ)


def test_unknown_block_type_raises() -> None:
    genome = _genome("conv")
    gene = genome.blocks[0].model_copy(update={"type": "lstm"})
    bad = genome.model_copy(update={"blocks": (gene,)})
    with pytest.raises(FlopsError, match="no FLOPs ops for block type 'lstm'"):
        cost_model(bad, CLASSES).costs(BATCH, SEQ)


def test_attention_formulas_have_no_weight_grad() -> None:
    shape = LayerShape(batch=2, tokens=5, in_features=8, out_features=8)
    for kind in ("attn_scores", "attn_values"):
        formula = FORMULAS[kind]
        assert formula.forward(shape) == 2 * 2 * 5 * 5 * 8
        assert formula.input_grad(shape) == 2 * formula.forward(shape)
        assert formula.weight_grad(shape) == 0


BLOCKS = st.one_of(
    st.builds(lambda h, f: {"type": "transformer", "heads": h, "ffn_dim": f},
              st.sampled_from([1, 2, 4]), st.integers(1, 300)),
    st.builds(lambda k, w: {"type": "conv", "kernel": k, "width": w},
              st.sampled_from([1, 3, 5, 7]), st.integers(1, 300)),
)  # fmt: skip


@settings(max_examples=80, deadline=None, derandomize=True)
@given(
    st.sampled_from([8, 16, 32]),
    st.lists(BLOCKS, min_size=1, max_size=4),
    st.integers(0, 64),
    st.integers(2, 9),
    st.integers(1, 9),
    st.integers(1, 200),
)
def test_the_cost_model_equals_the_layers_priced_one_by_one(
    dim, blocks, hidden, classes, batch, seq
) -> None:
    """cost_model sums per-layer polynomials (each priced once per process); at any batch shape
    it must equal pricing every layer's formula directly."""
    genome = genome_from_dict(
        {"embed_dim": dim, "blocks": blocks, "classifier_hidden": hidden, "pooling": "mean"}
    )
    assert cost_model(genome, classes).costs(batch, seq) == pass_costs(genome, batch, seq, classes)
