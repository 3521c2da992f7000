"""Analytic FLOPs of a genome's model: its layers as ``LayerOp``s, priced by ``FORMULAS``.

Conventions are in ``aiperf.flops.formulas``. Every count is exact for the model
``aiperf.models.build_model`` makes at a padded sequence length ``seq``; the classifier head runs on
the pooled (B, D) vector, once per sample. A block type or layer kind with no formula raises
FlopsError rather than counting 0. A training step is one forward and one backward pass
(``step_flops``); a step with extra passes adds multiples of its forward and backward FLOPs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from aiperf.flops.formulas import FlopsError, LayerShape, formula_for
from aiperf.flops.passes import PLAIN_STEP, PassCosts, StepPasses
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
class PassFlops:
    """FLOPs of one forward pass and of one backward pass over the same batch."""

    forward_flops: int
    backward_flops: int

    @property
    def total_flops(self) -> int:
        return self.forward_flops + self.backward_flops


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


def op_flops(op: LayerOp, batch: int, seq: int, input_grad: bool = True) -> PassFlops:
    """Forward and backward FLOPs of one op; ``input_grad=False`` skips its input gradient."""
    costs = op_costs(op, batch, seq)
    backward = costs.weight_grad_flops + (costs.input_grad_flops if input_grad else 0)
    return PassFlops(costs.forward_flops, backward)


def pass_costs(genome: Genome, batch: int, seq: int, num_classes: int) -> PassCosts:
    """Per-pass FLOPs of the genome's model on a (batch, seq) batch."""
    ops = layer_ops(genome, num_classes)
    return sum((op_costs(op, batch, seq) for op in ops), PassCosts(0, 0, 0))


def step_flops_for(
    genome: Genome, batch: int, seq: int, num_classes: int, passes: StepPasses = PLAIN_STEP
) -> int:
    """FLOPs of one optimizer step that runs ``passes`` over a (batch, seq) batch."""
    return pass_costs(genome, batch, seq, num_classes).step_flops(passes)


def count_ops(ops: list[LayerOp], batch: int, seq: int, input_grad_first: bool = True) -> PassFlops:
    """Summed forward and backward FLOPs of ``ops`` (see ``train_step_flops`` for the flag)."""
    counts = [op_flops(op, batch, seq, input_grad_first or not op.first) for op in ops]
    return PassFlops(sum(c.forward_flops for c in counts), sum(c.backward_flops for c in counts))


def step_flops(
    genome: Genome, batch: int, seq: int, num_classes: int, input_grad_first: bool = True
) -> PassFlops:
    """One forward and one backward pass of the whole model over a (batch, seq) batch."""
    return count_ops(layer_ops(genome, num_classes), batch, seq, input_grad_first)


def forward_flops(genome: Genome, batch: int, seq: int, num_classes: int) -> int:
    """FLOPs of one forward pass over ``batch`` samples padded to ``seq`` tokens."""
    return step_flops(genome, batch, seq, num_classes).forward_flops


def train_step_flops(
    genome: Genome, batch: int, seq: int, num_classes: int, input_grad_first: bool = True
) -> int:
    """Forward + backward of every layer. The word embeddings are trained, so even the first layer
    needs its input gradient; ``input_grad_first=False`` (frozen inputs only) skips that one."""
    return step_flops(genome, batch, seq, num_classes, input_grad_first).total_flops


def eval_flops(genome: Genome, samples: int, seq: int, num_classes: int) -> int:
    """FLOPs of evaluating ``samples`` samples: forward only."""
    return forward_flops(genome, samples, seq, num_classes)


def breakdown(
    genome: Genome, batch: int, seq: int, num_classes: int, input_grad_first: bool = True
) -> list[BlockFlops]:
    """Forward and backward FLOPs per block, then the head: rows for a table."""
    ops = layer_ops(genome, num_classes)
    rows: list[BlockFlops] = []
    for where in dict.fromkeys(op.block for op in ops):
        counts = count_ops([op for op in ops if op.block == where], batch, seq, input_grad_first)
        kind = genome.blocks[where].type if isinstance(where, int) else "head"
        rows.append(BlockFlops(where, kind, counts.forward_flops, counts.backward_flops))
    return rows
