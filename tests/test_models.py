"""Genome validation and serialisation, and the models the builder makes from genomes."""

from __future__ import annotations

import json

import pytest
import torch

from aiperf.models import (
    BLOCKS,
    ConvGene,
    Dropout,
    Genome,
    GenomeError,
    TransformerGene,
    build_block,
    build_model,
    genome_from_dict,
    genome_id,
    load_genome,
)
from aiperf.models.genome import MAX_PARAMETERS, check_parameter_budget, parameter_count

VOCAB, CLASSES, MAX_LEN = 40, 3, 12
LE = "Input should be less than or equal to"


def _transformer(**overrides: object) -> dict:
    return {"type": "transformer", "heads": 2, "ffn_dim": 24, **overrides}


def _conv(**overrides: object) -> dict:
    return {"type": "conv", "kernel": 3, "width": 12, **overrides}


def _genome_dict(blocks: list[dict], **overrides: object) -> dict:
    base = {"embed_dim": 16, "blocks": blocks, "pooling": "mean", "dropout": 0.1}
    return {**base, **overrides}


GENOMES = {
    "transformer": _genome_dict([_transformer(), _transformer(heads=4)]),
    "conv": _genome_dict([_conv(), _conv(kernel=5, residual=False)], pooling="max"),
    "mixed": _genome_dict([_conv(kernel=1), _transformer()], classifier_hidden=8),
}


def _batch(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Tokens (4, 10) with row 1 padded after 6 tokens and row 3 after 2."""
    gen = torch.Generator().manual_seed(seed)
    tokens = torch.randint(1, VOCAB, (4, 10), generator=gen)
    mask = torch.ones(4, 10, dtype=torch.bool)
    mask[1, 6:] = False
    mask[3, 2:] = False
    return tokens.masked_fill(~mask, 0), mask


def _model(name: str, seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    return build_model(genome_from_dict(GENOMES[name]), VOCAB, CLASSES, MAX_LEN)


def test_genome_json_round_trip(tmp_path) -> None:
    genome = genome_from_dict(GENOMES["mixed"])
    assert Genome.from_json(genome.to_json()) == genome
    path = tmp_path / "genome.json"
    path.write_text(json.dumps(json.loads(genome.to_json()), indent=2))
    assert load_genome(path) == genome
    assert isinstance(genome.blocks[0], ConvGene) and isinstance(genome.blocks[1], TransformerGene)


def test_genome_id_is_stable_and_distinguishes() -> None:
    genome = genome_from_dict(GENOMES["mixed"])
    # Defaults filled in explicitly, or key order changed, give the same canonical JSON and id.
    explicit = {**GENOMES["mixed"], "blocks": [_conv(kernel=1, residual=True), _transformer()]}
    assert genome_id(genome_from_dict(dict(reversed(explicit.items())))) == genome_id(genome)
    assert len(genome_id(genome)) == 12
    assert genome_id(genome_from_dict(GENOMES["conv"])) != genome_id(genome)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            {"blocks": [_conv(), _transformer(heads=3)], "embed_dim": 64},
            "genome.blocks.1.heads: 3 does not divide embed_dim 64",
        ),
        ({"blocks": [_conv(kernel=4)]}, "genome.blocks.0.kernel: must be odd"),
        (
            {"blocks": [_transformer(), {"type": "lstm", "hidden": 8}]},
            "genome.blocks.1.type: unknown block type 'lstm' (valid: conv, transformer)",
        ),
        ({"blocks": [_conv(width=-4)]}, "genome.blocks.0.width: Input should be greater than 0"),
        ({"dropout": 1.0}, "genome.dropout: Input should be less than 1"),
        ({"blocks": [_conv(size=3)]}, "genome.blocks.0.size: unknown key"),
        ({"embed_dim": 8194}, f"genome.embed_dim: {LE} 8192"),
        ({"blocks": [_conv()] * 65}, "genome.blocks: Tuple should have at most 64 items"),
        ({"blocks": [_transformer(heads=512)]}, f"genome.blocks.0.heads: {LE} 256"),
        ({"blocks": [_transformer(ffn_dim=65_537)]}, f"genome.blocks.0.ffn_dim: {LE} 65536"),
        ({"blocks": [_conv(kernel=257)]}, f"genome.blocks.0.kernel: {LE} 255"),
        ({"blocks": [_conv(width=65_537)]}, f"genome.blocks.0.width: {LE} 65536"),
        ({"classifier_hidden": 65_537}, f"genome.classifier_hidden: {LE} 65536"),
        ({"dropout": float("nan")}, "genome.dropout: Input should be a finite number"),
    ],
)  # fmt: skip
def test_invalid_genome_is_one_line_naming_the_field(change: dict, expected: str) -> None:
    with pytest.raises(GenomeError) as info:
        genome_from_dict({**GENOMES["mixed"], **change})
    message = str(info.value)
    assert message.startswith(expected)
    assert "\n" not in message


def test_load_genome_reports_bad_files(tmp_path) -> None:
    with pytest.raises(GenomeError, match=r"^genome: .*missing\.json: cannot read"):
        load_genome(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(GenomeError, match=r"^genome: invalid JSON"):
        load_genome(tmp_path / "bad.json")


@pytest.mark.parametrize("name", sorted(GENOMES))
def test_parameter_count_matches_the_built_model(name: str) -> None:
    genome = genome_from_dict(GENOMES[name])
    built = sum(p.numel() for p in _model(name).parameters())
    assert parameter_count(genome, VOCAB, CLASSES, MAX_LEN) == built
    bigger = sum(p.numel() for p in build_model(genome, 2 * VOCAB, 7, 2 * MAX_LEN).parameters())
    assert parameter_count(genome, 2 * VOCAB, 7, 2 * MAX_LEN) == bigger


def test_parameter_budget_names_the_largest_block() -> None:
    small, huge = _transformer(), _transformer(heads=8, ffn_dim=65_536)
    genome = genome_from_dict(_genome_dict([small] + [huge] * 10 + [small], embed_dim=8192))
    assert parameter_count(genome, VOCAB, CLASSES, MAX_LEN) > MAX_PARAMETERS
    with pytest.raises(GenomeError, match=r"^genome\.blocks\.1: the model would have [\d,]+ "):
        check_parameter_budget(genome, VOCAB, CLASSES, MAX_LEN)
    check_parameter_budget(genome_from_dict(GENOMES["mixed"]), VOCAB, CLASSES, MAX_LEN)


def test_block_registry_rejects_unknown_type() -> None:
    gene = ConvGene(kernel=3, width=4).model_copy(update={"type": "lstm"})
    with pytest.raises(
        GenomeError, match=r"unknown block type 'lstm' \(valid: conv, transformer\)"
    ):
        build_block(gene, 16, 0.0)
    assert set(BLOCKS) == {"transformer", "conv"}


@pytest.mark.parametrize("residual", [True, False])
def test_residual_flag_decides_whether_the_input_is_added(residual: bool) -> None:
    block = build_block(ConvGene(kernel=3, width=4, residual=residual), 16, 0.0)
    torch.nn.init.zeros_(block.proj.weight)
    torch.nn.init.zeros_(block.proj.bias)  # the block's own update is now 0
    x, mask = torch.randn(2, 5, 16), torch.ones(2, 5, dtype=torch.bool)
    torch.testing.assert_close(block(x, mask), x if residual else torch.zeros_like(x))


@pytest.mark.parametrize("name", sorted(GENOMES))
def test_forward_shape_and_finite(name: str) -> None:
    tokens, mask = _batch()
    logits = _model(name)(tokens, mask)
    assert logits.shape == (4, CLASSES)
    assert torch.isfinite(logits).all()


@pytest.mark.parametrize("name", sorted(GENOMES))
def test_padding_does_not_change_logits(name: str) -> None:
    model = _model(name).eval()
    tokens, mask = _batch()
    noisy = torch.where(mask, tokens, torch.randint(1, VOCAB, tokens.shape))
    assert not torch.equal(noisy, tokens)
    torch.testing.assert_close(model(noisy, mask), model(tokens, mask))


def test_forward_is_embed_words_then_encode() -> None:
    model = _model("mixed").eval()
    tokens, mask = _batch()
    words = model.embed_words(tokens)
    assert words.shape == (4, 10, 16)
    assert torch.equal(words[~mask], torch.zeros_like(words[~mask]))  # padding_idx=0 rows
    torch.testing.assert_close(model.encode(words, mask), model(tokens, mask))


def test_set_dropout_and_dropout_rate_reach_every_dropout() -> None:
    model = _model("mixed")
    dropouts = [m for m in model.modules() if isinstance(m, Dropout)]
    # mixed: conv (1) + transformer (attn weights, attn out, 2 in the FFN) + hidden head (1).
    assert len(dropouts) == 6
    assert all(d.p == 0.1 for d in dropouts)
    with model.dropout_rate(0.5):
        assert all(d.p == 0.5 for d in dropouts)
    assert all(d.p == 0.1 for d in dropouts)
    model.set_dropout(0.0)
    assert all(d.p == 0.0 for d in dropouts)
    with pytest.raises(ValueError):
        model.set_dropout(1.0)


def test_dropout_rate_changes_training_output() -> None:
    model = _model("transformer").train()
    tokens, mask = _batch()
    with model.dropout_rate(0.0):
        first, second = model(tokens, mask), model(tokens, mask)
    torch.testing.assert_close(first, second)
    with model.dropout_rate(0.9):
        assert not torch.allclose(model(tokens, mask), first)


def test_init_is_deterministic_under_manual_seed() -> None:
    first, second, other = _model("mixed", seed=3), _model("mixed", seed=3), _model("mixed", seed=4)
    for a, b in zip(first.state_dict().values(), second.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    assert not torch.equal(first.word_embed.weight, other.word_embed.weight)


def test_word_order_matters_to_a_transformer() -> None:
    model = _model("transformer").eval()
    tokens, mask = _batch()
    full = torch.ones_like(mask)
    swapped = tokens.flip(dims=[1])
    assert not torch.allclose(model(swapped, full), model(tokens, full))


def test_sequence_longer_than_max_len_is_rejected() -> None:
    model = _model("conv")
    with pytest.raises(ValueError, match="exceeds max_len"):
        model(torch.ones(1, MAX_LEN + 1, dtype=torch.long), torch.ones(1, MAX_LEN + 1))


@pytest.mark.parametrize("p", [0.05, 0.3, 0.5])
def test_cpu_dropout_drops_p_and_keeps_the_expectation(p: float) -> None:
    torch.manual_seed(0)
    layer = Dropout(p).train()
    x = torch.ones(1000, 1000, requires_grad=True)
    y = layer(x)
    dropped = (y == 0).float().mean().item()
    assert abs(dropped - p) < 0.003
    assert y[y != 0].unique().tolist() == [pytest.approx(65536 / (65536 - round(p * 65536)))]
    assert abs(y.mean().item() - 1) < 0.01
    y.sum().backward()
    assert torch.equal(x.grad, y.detach())  # the gradient is the same scaled mask
    assert torch.equal(layer.eval()(x), x)


def test_cpu_dropout_follows_the_seed() -> None:
    layer, x = Dropout(0.3).train(), torch.ones(64, 64)
    torch.manual_seed(5)
    first = layer(x)
    torch.manual_seed(5)
    assert torch.equal(layer(x), first) and not torch.equal(layer(x), first)


def test_cpu_dropout_just_below_one_keeps_a_finite_scale() -> None:
    torch.manual_seed(0)
    y = Dropout(0.999999).train()(torch.ones(1 << 20))
    assert torch.isfinite(y).all() and y.max().item() == 65536.0
