"""The runtime FLOPs self-check: exact on our models, loud on a wrong count, invisible.

Each part — a training step, evaluation's clean passes, the attack — is run under FlopCounterMode
on a transformer and a conv genome, and a count that is wrong in one part is caught by that part.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch
from ledgers import EXAMPLE, write_example_ledger

from aiperf.flops import PLAIN_STEP, cost_model
from aiperf.models import build_model, genome_from_dict
from aiperf.score import read_ledger, score_run
from aiperf.spec import RobustnessSpec, TrainSpec, UegrSpec, WorkloadSpec, parse_spec
from aiperf.train import UegrStep
from aiperf.train.attacks import EvalContext
from aiperf.train.evaluate import Evaluator
from aiperf.train.flops_check import (
    _check_workload,
    check_attack_flops,
    check_eval_flops,
    check_step_flops,
    self_check,
)
from aiperf.train.trial import first_batch
from aiperf.workload import load_workload

GENOME = genome_from_dict(
    {
        "embed_dim": 16,
        "blocks": [
            {"type": "conv", "kernel": 5, "width": 24},
            {"type": "transformer", "heads": 4, "ffn_dim": 32},
        ],
        "classifier_hidden": 8,
    }
)


def setup():
    torch.manual_seed(0)
    model = build_model(GENOME, 40, 2, 10)
    batch = (
        torch.randint(1, 40, (4, 10)),
        torch.ones(4, 10, dtype=torch.bool),
        torch.tensor([0, 1, 1, 0]),
    )

    def build_step(net):
        return UegrStep(net, TrainSpec(), "cpu", UegrSpec(), seed=0)

    return model, build_step, batch


def test_self_check_is_exact_for_a_uegr_step() -> None:
    model, build_step, batch = setup()
    analytic = cost_model(GENOME, 2).costs(4, 10).step_flops(build_step(model).passes)
    check = check_step_flops(model, build_step, batch, analytic)
    assert check.measured_flops == analytic and check.rel_error == 0.0


def test_a_wrong_count_is_caught() -> None:
    model, build_step, batch = setup()
    plain_count = (
        cost_model(GENOME, 2).costs(4, 10).step_flops(PLAIN_STEP)
    )  # ignores UEGR's extra passes
    assert check_step_flops(model, build_step, batch, plain_count).rel_error > 0.5


def test_the_check_leaves_model_and_rng_untouched() -> None:
    model, build_step, batch = setup()
    before = [p.detach().clone() for p in model.parameters()]
    state = torch.random.get_rng_state()
    check_step_flops(model, build_step, batch, 1)
    assert torch.equal(state, torch.random.get_rng_state())
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))


def test_a_failed_check_makes_the_run_invalid(tmp_path) -> None:
    path = tmp_path / "ledger.jsonl"
    write_example_ledger(path)
    lines = path.read_text().splitlines()
    lines[4] = lines[4].replace('"flops_check_error": 0.0', '"flops_check_error": 0.05')
    path.write_text("\n".join(lines) + "\n")
    spec = parse_spec({"min_duration": 30, "score": {"grid_points": 4}, **EXAMPLE})
    summary, _ = score_run(read_ledger(path), spec)
    assert summary.valid is False
    assert summary.invalid_reasons == [
        "trial b: analytic FLOPs differ from FlopCounterMode by 5.00% (> 1%)"
    ]


def test_self_check_is_exact_on_a_first_batch_of_mixed_lengths() -> None:
    from aiperf.train.trial import first_batch
    from aiperf.workload import load_workload

    spec = parse_spec({"workload": {"train_size": 200, "val_size": 10, "test_size": 10}})
    train = load_workload(spec.workload, 0).train
    tokens, mask, labels = first_batch(train, 32, "cpu")
    lengths = mask.sum(dim=1)
    assert lengths.min() < lengths.max() == tokens.shape[1]  # mixed lengths, cut to the longest
    torch.manual_seed(0)
    model = build_model(GENOME, int(train.tokens.max()) + 1, 2, spec.workload.max_len)

    def build_step(net):
        return UegrStep(net, TrainSpec(), "cpu", UegrSpec(), seed=0)

    analytic = cost_model(GENOME, 2).costs(*tokens.shape).step_flops(build_step(model).passes)
    check = check_step_flops(model, build_step, (tokens, mask, labels), analytic)
    assert check.rel_error == 0.0


GENOMES = {
    "transformer": genome_from_dict(
        {
            "embed_dim": 16,
            "blocks": [{"type": "transformer", "heads": 4, "ffn_dim": 32}],
            "classifier_hidden": 8,
            "dropout": 0.1,
        }
    ),
    "conv": genome_from_dict(
        {"embed_dim": 16, "blocks": [{"type": "conv", "kernel": 5, "width": 24}], "pooling": "max"}
    ),
}
WORKLOAD = load_workload(WorkloadSpec(train_size=200, val_size=40, test_size=40, max_len=12), 0)
ATTACKS = {
    "pgd": RobustnessSpec(attack="pgd", epsilon=1.0, steps=2, samples=40),
    "word_substitution": RobustnessSpec(attack="word_substitution", swaps=2, samples=40),
}


def genome_model(kind: str) -> torch.nn.Module:
    torch.manual_seed(0)
    return build_model(GENOMES[kind], len(WORKLOAD.vocab), 2, WORKLOAD.max_len)


def eval_context(kind: str, attack: str = "pgd", costs=None) -> EvalContext:
    costs = costs or cost_model(GENOMES[kind], 2)
    return EvalContext(WORKLOAD, ATTACKS[attack], costs, 8, "cpu")


def uegr_step(net):
    return UegrStep(net, TrainSpec(), "cpu", UegrSpec(), seed=0)


@pytest.mark.parametrize("kind", sorted(GENOMES))
def test_step_check_is_exact_per_block_type(kind) -> None:
    model, batch = genome_model(kind), first_batch(WORKLOAD.train, 16, "cpu")
    analytic = (
        cost_model(GENOMES[kind], 2).costs(*batch[0].shape).step_flops(uegr_step(model).passes)
    )
    check = check_step_flops(model, uegr_step, batch, analytic)
    assert check.analytic_flops > 0 and check.measured_flops == check.analytic_flops


@pytest.mark.parametrize("kind", sorted(GENOMES))
def test_eval_check_is_exact_per_block_type(kind) -> None:
    check = check_eval_flops(genome_model(kind), eval_context(kind))
    assert check.analytic_flops > 0 and check.measured_flops == check.analytic_flops


@pytest.mark.parametrize("attack", sorted(ATTACKS))
@pytest.mark.parametrize("kind", sorted(GENOMES))
def test_attack_check_is_exact_per_block_type(kind, attack) -> None:
    check = check_attack_flops(genome_model(kind), eval_context(kind, attack))
    assert check is not None
    assert check.analytic_flops > 0 and check.measured_flops == check.analytic_flops


def test_the_eval_checks_cover_two_lengths_and_run_the_attacks_passes() -> None:
    """The attack check's count includes PGD's input-gradient passes (a forward-only price falls
    short), over sentences of at least two lengths (a one-point check of the polynomial in L)."""
    context = eval_context("transformer")
    forward_only = replace(context.costs, input_grad=(0, 0, 0))
    short = check_attack_flops(genome_model("transformer"), replace(context, costs=forward_only))
    assert short is not None and short.analytic_flops < 0.9 * short.measured_flops
    lengths = _check_workload(WORKLOAD, 16).test.mask.sum(dim=1)
    assert len(set(lengths.tolist())) == 2


def test_a_wrong_eval_count_is_caught() -> None:
    """A counter that prices the wrong FFN width (a gene read wrongly) is off by more than 1%."""
    wide = genome_from_dict(
        {
            "embed_dim": 16,
            "blocks": [{"type": "transformer", "heads": 4, "ffn_dim": 48}],
            "classifier_hidden": 8,
        }
    )
    context = eval_context("transformer", costs=cost_model(wide, 2))
    assert check_eval_flops(genome_model("transformer"), context).rel_error > 0.01


def test_a_wrong_attack_count_is_caught_and_reported_by_the_trial_check() -> None:
    """Input-gradient passes priced 10% low: only the attack check sees it, and the trial's
    error (the largest of the three) is that one."""
    context = eval_context("conv")
    poly = context.costs.input_grad
    cheap = replace(
        context, costs=replace(context.costs, input_grad=tuple(9 * c // 10 for c in poly))
    )
    model, batch = genome_model("conv"), first_batch(WORKLOAD.train, 16, "cpu")
    # the step's count uses the right costs, so only evaluation's pricing is wrong
    step_flops = context.costs.costs(*batch[0].shape).step_flops(uegr_step(model).passes)
    check = self_check(model, uegr_step, batch, step_flops, cheap)
    assert check.step.rel_error == 0.0 and check.evaluation.rel_error == 0.0
    assert check.attack is not None and check.attack.rel_error > 0.01
    assert check.rel_error == check.attack.rel_error


def test_with_robustness_off_there_is_no_attack_to_check() -> None:
    context = replace(eval_context("conv"), robustness=RobustnessSpec(samples=0))
    assert check_attack_flops(genome_model("conv"), context) is None
    model, batch = genome_model("conv"), first_batch(WORKLOAD.train, 16, "cpu")
    wrong_step = 1  # the step check still counts: a wrong step count is still caught
    assert self_check(model, uegr_step, batch, wrong_step, context).rel_error > 0.99


def test_the_eval_checks_leave_model_and_rng_untouched() -> None:
    model = genome_model("transformer").train()
    before = [p.detach().clone() for p in model.parameters()]
    state = torch.random.get_rng_state()
    check_eval_flops(model, eval_context("transformer"))
    check_attack_flops(model, eval_context("transformer", "pgd"))
    assert torch.equal(state, torch.random.get_rng_state())
    assert model.training and all(p.grad is None for p in model.parameters())
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))


def test_bf16_evaluation_runs_in_bf16_and_is_counted_exactly() -> None:
    model = genome_model("transformer")
    ctx = replace(eval_context("transformer"), precision="bf16")
    dtypes = set()
    model.classifier.register_forward_hook(lambda _m, _i, out: dtypes.add(out.dtype))
    fp32 = Evaluator(ctx.workload, ctx.robustness, ctx.costs, 8, "cpu")(model)
    assert dtypes == {torch.float32}
    bf16 = Evaluator(ctx.workload, ctx.robustness, ctx.costs, 8, "cpu", "bf16")(model)
    assert torch.bfloat16 in dtypes  # the evaluation ran under the training's autocast
    assert bf16.flops == fp32.flops  # the count never depends on the precision
    assert check_eval_flops(model, ctx).rel_error == 0.0
