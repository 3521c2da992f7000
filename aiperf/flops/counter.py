"""Analytic FLOPs of a genome's model: its layers as ``LayerOp``s, priced by ``FORMULAS``.

Conventions are in ``aiperf.flops.formulas``. Every count is exact for the model
``aiperf.models.build_model`` makes at a padded sequence length ``seq``; the classifier head runs on
the pooled (B, D) vector, once per sample. A block type or layer kind with no formula raises
FlopsError rather than counting 0. ``cost_model`` prices one forward, one weight-gradient and one
input-gradient pass of any batch shape, and any ``Work`` (the sums of the batch shapes a trial
ran); a training step declares how many of each pass it runs (``StepPasses``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

from aiperf.flops.formulas import FlopsError, LayerShape, formula_for
from aiperf.flops.passes import PassCosts, StepPasses, Work
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
    """Per-pass FLOPs of the genome's model on a (batch, seq) batch, from its layers' formulas
    (``cost_model`` turns these into polynomials in the batch shape)."""
    return _sum([op_costs(op, batch, seq) for op in layer_ops(genome, num_classes)])


Polynomial = tuple[int, int, int]  # FLOPs per sample: c0 + c1·L + c2·L² at padded length L


@dataclass(frozen=True)
class CostModel:
    """A genome's per-pass FLOPs as exact polynomials in the batch shape: a pass over a (B, L)
    batch costs B·(c0 + c1·L + c2·L²) — the head runs per sample, the layers per token, the
    attention matmuls per token pair. Prices any batch shape and any ``Work``."""

    forward: Polynomial
    weight_grad: Polynomial
    input_grad: Polynomial

    def costs(self, batch: int, seq: int) -> PassCosts:
        """One forward, weight-gradient and input-gradient pass over a (batch, seq) batch."""
        return self.work_costs(Work().plus(batch, seq, 0))

    def work_costs(self, work: Work) -> PassCosts:
        """The three passes once over every batch ``work`` sums."""
        return PassCosts(*(_price(p, work) for p in self._polynomials()))

    def step_flops(self, work: Work, passes: StepPasses) -> int:
        """FLOPs of training steps over the batches in ``work``, each running ``passes``."""
        return self.work_costs(work).step_flops(passes)

    def eval_flops(self, forward: Work, input_grad: Work) -> int:
        """FLOPs of evaluation: its forward passes and (an attack's) input-gradient passes."""
        return self.work_costs(forward).forward_flops + self.work_costs(input_grad).input_grad_flops

    def _polynomials(self) -> tuple[Polynomial, Polynomial, Polynomial]:
        return self.forward, self.weight_grad, self.input_grad


def _price(poly: Polynomial, work: Work) -> int:
    return poly[0] * work.samples + poly[1] * work.tokens + poly[2] * work.tokens_sq


def cost_model(genome: Genome, num_classes: int) -> CostModel:
    """The counter's entry point: the genome's ``CostModel``, the sum of its layers' polynomials
    (each layer's read off its formulas at three lengths: every formula is at most quadratic in
    L, so three points fix it). Layers of the same kind and sizes are priced once per process."""
    totals = [(0, 0, 0)] * 3
    for op in layer_ops(genome, num_classes):
        polys = _op_polynomials(op.kind, op.in_features, op.out_features, op.kernel, op.per_token)
        totals = [_plus(total, poly) for total, poly in zip(totals, polys, strict=True)]
    return CostModel(*totals)


@functools.lru_cache(maxsize=65_536)
def _op_polynomials(
    kind: str, in_features: int, out_features: int, kernel: int, per_token: bool
) -> tuple[Polynomial, Polynomial, Polynomial]:
    """One layer's (forward, weight-gradient, input-gradient) FLOPs per sample as polynomials
    in the padded length L."""
    op = LayerOp(0, "", kind, in_features, out_features, kernel, per_token)
    at = [op_costs(op, 1, seq) for seq in (1, 2, 3)]
    kinds = ("forward_flops", "weight_grad_flops", "input_grad_flops")
    f, w, i = (_quadratic(*(getattr(c, kind) for c in at)) for kind in kinds)
    return f, w, i


def _plus(a: Polynomial, b: Polynomial) -> Polynomial:
    return a[0] + b[0], a[1] + b[1], a[2] + b[2]


def _quadratic(f1: int, f2: int, f3: int) -> Polynomial:
    """(c0, c1, c2) with c0 + c1·L + c2·L² = f_L at L = 1, 2, 3."""
    c2 = (f3 - 2 * f2 + f1) // 2
    c1 = f2 - f1 - 3 * c2
    return f1 - c1 - c2, c1, c2


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
