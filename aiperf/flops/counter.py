"""Analytic FLOPs of a genome's model: its layers as ``LayerOp``s, priced by ``FORMULAS``.

Conventions are in ``aiperf.flops.formulas``. Every count is exact for the model
``aiperf.models.build_model`` makes at a padded sequence length ``seq``; the classifier head runs on
the pooled (B, D) vector, once per sample. A block type or layer kind with no formula raises
FlopsError rather than counting 0. ``pass_costs`` prices one forward, one weight-gradient and
one input-gradient pass; a training step declares how many of each it runs (``StepPasses``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from aiperf.flops.formulas import FlopsError, LayerShape, formula_for
from aiperf.flops.passes import PassCosts
from aiperf.models.genome import BlockGene, ConvGene, Genome, TransformerGene


@dataclass(frozen=True)
class LayerOp:
    """One counted layer: where it sits, its kind (a key of FORMULAS) and its sizes."""

    block: int | str  # block index, or "head"
    name: str  # e.g. "q", "ffn_in", "conv"
    kind: str
    in_features: int
    out_features: int
    kernel: int = 1
    per_token: bool = True  # False: runs once per sample, on the pooled vector
    first: bool = False  # reads the network input (the embeddings)

    def shape(self, batch: int, seq: int) -> LayerShape:
        """The LayerShape this op runs at for ``batch`` samples padded to ``seq`` tokens."""
        tokens = seq if self.per_token else 1
        return LayerShape(batch, tokens, self.in_features, self.out_features, self.kernel)


@dataclass(frozen=True)
class BlockFlops:
    """One row of a breakdown: a block (or the head) and its forward and backward FLOPs."""

    block: int | str
    type: str
    forward_flops: int
    backward_flops: int


def _transformer_ops(index: int, gene: TransformerGene, dim: int) -> list[LayerOp]:
    first = index == 0
    return [
        LayerOp(index, "q", "linear", dim, dim, first=first),
        LayerOp(index, "k", "linear", dim, dim, first=first),
        LayerOp(index, "v", "linear", dim, dim, first=first),
        LayerOp(index, "scores", "attn_scores", dim, dim),
        LayerOp(index, "values", "attn_values", dim, dim),
        LayerOp(index, "out", "linear", dim, dim),
        LayerOp(index, "ffn_in", "linear", dim, gene.ffn_dim),
        LayerOp(index, "ffn_out", "linear", gene.ffn_dim, dim),
    ]


def _conv_ops(index: int, gene: ConvGene, dim: int) -> list[LayerOp]:
    return [
        LayerOp(index, "conv", "conv1d", dim, gene.width, gene.kernel, first=index == 0),
        LayerOp(index, "proj", "conv1d", gene.width, dim, 1),
    ]


BLOCK_OPS: dict[str, Callable[[int, BlockGene, int], list[LayerOp]]] = {
    "transformer": _transformer_ops,
    "conv": _conv_ops,
}


def _head_ops(genome: Genome, num_classes: int) -> list[LayerOp]:
    dim, hidden = genome.embed_dim, genome.classifier_hidden
    if hidden == 0:
        return [LayerOp("head", "linear", "linear", dim, num_classes, per_token=False)]
    return [
        LayerOp("head", "hidden", "linear", dim, hidden, per_token=False),
        LayerOp("head", "linear", "linear", hidden, num_classes, per_token=False),
    ]


def layer_ops(genome: Genome, num_classes: int) -> list[LayerOp]:
    """Every counted layer of the genome's model, in forward order, ending with the head."""
    ops: list[LayerOp] = []
    for index, gene in enumerate(genome.blocks):
        block_ops = BLOCK_OPS.get(gene.type)
        if block_ops is None:
            known = ", ".join(sorted(BLOCK_OPS))
            raise FlopsError(f"no FLOPs ops for block type {gene.type!r} (known: {known})")
        ops.extend(block_ops(index, gene, genome.embed_dim))
    return ops + _head_ops(genome, num_classes)


def op_costs(op: LayerOp, batch: int, seq: int) -> PassCosts:
    """Forward, weight-gradient and input-gradient FLOPs of one op: the one place ops are priced."""
    formula, shape = formula_for(op.kind), op.shape(batch, seq)
    return PassCosts(formula.forward(shape), formula.weight_grad(shape), formula.input_grad(shape))


def _sum(costs: list[PassCosts]) -> PassCosts:
    return sum(costs, PassCosts(0, 0, 0))


def pass_costs(genome: Genome, batch: int, seq: int, num_classes: int) -> PassCosts:
    """Per-pass FLOPs of the genome's model on a (batch, seq) batch: the counter's entry point.

    A step's FLOPs are ``pass_costs(...).step_flops(step.passes)``; an evaluation's are the
    ``forward_flops`` of its batch."""
    return _sum([op_costs(op, batch, seq) for op in layer_ops(genome, num_classes)])


def breakdown(genome: Genome, batch: int, seq: int, num_classes: int) -> list[BlockFlops]:
    """Forward and full-backward FLOPs per block, then the head: rows for a table."""
    ops = layer_ops(genome, num_classes)
    rows: list[BlockFlops] = []
    for where in dict.fromkeys(op.block for op in ops):
        costs = _sum([op_costs(op, batch, seq) for op in ops if op.block == where])
        kind = genome.blocks[where].type if isinstance(where, int) else "head"
        backward = costs.weight_grad_flops + costs.input_grad_flops
        rows.append(BlockFlops(where, kind, costs.forward_flops, backward))
    return rows
