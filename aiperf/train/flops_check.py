"""The runtime FLOPs self-check: each kind of counted work a trial does — one training step,
evaluation's clean forward passes and the spec's robustness attack — run for real on a few samples
under torch's ``FlopCounterMode`` and compared with the analytic count the trial reports for that
work, before the trial's timed work starts. The trial reports the largest relative error as
``flops_check_error``; the scorer marks the run INVALID when it exceeds 1%.

Each part runs on a copy of the model (a throwaway optimizer for the step) with forked RNG, so the
trial trains exactly as it would without the check. Attention runs under SDPA's math backend
here, so FlopCounterMode sees its two matmuls rather than a fused kernel (flash attention
recomputes in backward, which the analytic count rightly leaves out). Our models use no other op
whose FlopCounterMode count is known to be wrong (LSTM, grouped convolutions, the fast path of
nn.TransformerEncoderLayer), so no correction is applied, and every part agrees exactly. PGD
takes its gradient with ``torch.autograd.grad`` w.r.t. δ alone, so autograd skips every weight
gradient and FlopCounterMode sees just the input-gradient pass the counter prices; word
substitution runs forward passes only, over its candidate sentences.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace

import torch
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode

from aiperf.train.attacks import EvalContext, robust_accuracy
from aiperf.train.evaluate import Evaluator
from aiperf.train.step import Batch, PlainStep
from aiperf.workload import EncodedSplit, TextSplit, Workload

# The eval checks run on the shortest and the longest of the first CHECK_POOL val and test
# sentences: under FlopCounterMode every op costs ~50 µs of Python, so the check's price is its
# number of batches (one per length) times the attack's passes, not its number of sentences.
CHECK_POOL = 16


@dataclass(frozen=True)
class FlopsCheck:
    analytic_flops: int
    measured_flops: int

    @property
    def rel_error(self) -> float:
        return abs(self.measured_flops - self.analytic_flops) / max(self.measured_flops, 1)


@dataclass(frozen=True)
class SelfCheck:
    """The three parts of a trial's self-check; ``rel_error`` is what the trial reports."""

    step: FlopsCheck
    evaluation: FlopsCheck
    attack: FlopsCheck | None  # None when robustness evaluation is off (nothing to count)

    @property
    def rel_error(self) -> float:
        """The largest relative error of the parts."""
        parts = (self.step, self.evaluation, self.attack)
        return max(part.rel_error for part in parts if part is not None)


def self_check(
    model: torch.nn.Module,
    build_step: Callable[[torch.nn.Module], PlainStep],
    batch: Batch,
    step_flops: int,
    ctx: EvalContext,
) -> SelfCheck:
    """Check one training step on ``batch`` (analytic count ``step_flops``), then evaluation and
    the attack priced by ``ctx.costs`` as the ``Evaluator`` prices them."""
    return SelfCheck(
        step=check_step_flops(model, build_step, batch, step_flops),
        evaluation=check_eval_flops(model, ctx),
        attack=check_attack_flops(model, ctx),
    )


def check_step_flops(
    model: torch.nn.Module,
    build_step: Callable[[torch.nn.Module], PlainStep],
    batch: Batch,
    analytic_flops: int,
) -> FlopsCheck:
    """Count one real step of a copy of ``model`` and compare it with ``analytic_flops``."""
    twin = copy.deepcopy(model)
    twin.checkpoint_blocks = False  # recomputation is never counted, so the check runs without
    step = build_step(twin)
    optimizer = torch.optim.AdamW(twin.parameters())
    with _counting(batch[0].device) as counter:
        step(optimizer, batch)
    return FlopsCheck(analytic_flops, int(counter.get_total_flops()))


def check_eval_flops(
    model: torch.nn.Module, ctx: EvalContext, pool: int = CHECK_POOL
) -> FlopsCheck:
    """Evaluation's clean passes: an ``Evaluator`` like ``ctx`` but with the attack off, on a few
    val and test sentences (``_check_workload``), against the FLOPs that Evaluator reports."""
    robustness_off = ctx.robustness.model_copy(update={"samples": 0})
    workload = _check_workload(ctx.workload, pool)
    evaluate = Evaluator(
        workload, robustness_off, ctx.costs, ctx.batch_size, ctx.device, ctx.precision
    )
    twin = copy.deepcopy(model)
    with _counting(torch.device(ctx.device)) as counter:
        analytic = evaluate(twin).flops
    return FlopsCheck(analytic, int(counter.get_total_flops()))


def check_attack_flops(
    model: torch.nn.Module, ctx: EvalContext, pool: int = CHECK_POOL
) -> FlopsCheck | None:
    """The spec's attack on a few of the test sentences it attacks (``_check_workload``),
    against its forward and input-gradient passes priced as the ``Evaluator`` prices them; None
    when robustness evaluation is off."""
    spec = ctx.robustness
    if spec.samples == 0:
        return None
    workload = _check_workload(ctx.workload, min(pool, spec.samples))
    few = spec.model_copy(update={"samples": len(workload.test)})
    twin = copy.deepcopy(model)
    with _counting(torch.device(ctx.device)) as counter:
        result = robust_accuracy(twin, replace(ctx, workload=workload, robustness=few))
    assert result is not None, "robustness is on: the attack runs"
    analytic = ctx.costs.eval_flops(result.forward_work, result.input_grad_work)
    return FlopsCheck(analytic, int(counter.get_total_flops()))


@contextlib.contextmanager
def flop_counter() -> Iterator[FlopCounterMode]:
    """torch's FlopCounterMode with attention on SDPA's math backend: it sees the math backend's
    matmuls, but miscounts fused kernels (none at all for CPU flash attention)."""
    with sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as counter:
        yield counter


@contextlib.contextmanager
def _counting(device: torch.device) -> Iterator[FlopCounterMode]:
    """``flop_counter`` with the RNG of the CPU (and of ``device``, a GPU) forked."""
    devices = [device] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices), flop_counter() as counter:
        yield counter


def _check_workload(workload: Workload, pool: int) -> Workload:
    """``workload`` with its val and test splits (encoded and text) cut to the sentences of the
    shortest and of the longest length among their first ``pool``: two evaluation batches each
    (one length per batch), two points of the count's polynomial in L."""
    val, test = _extremes(workload.val, pool), _extremes(workload.test, pool)
    text = workload.text | {
        "val": _text_at(workload.text["val"], val),
        "test": _text_at(workload.text["test"], test),
    }
    return replace(
        workload,
        val=_encoded_at(workload.val, val),
        test=_encoded_at(workload.test, test),
        text=text,
    )


def _extremes(split: EncodedSplit, pool: int) -> list[int]:
    """Indices among the first ``pool`` of ``split`` whose real length is the least or the most."""
    lengths = split.lengths[:pool]  # (pool,)
    if len(lengths) == 0:
        return []
    keep = (lengths == lengths.min()) | (lengths == lengths.max())
    return keep.nonzero().flatten().tolist()


def _encoded_at(split: EncodedSplit, at: list[int]) -> EncodedSplit:
    return EncodedSplit(split.tokens[at], split.mask[at], split.labels[at])


def _text_at(split: TextSplit, at: list[int]) -> TextSplit:
    return TextSplit(tuple(split.sentences[i] for i in at), tuple(split.labels[i] for i in at))
