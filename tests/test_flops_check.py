"""The runtime FLOPs self-check: exact on our models, loud on a wrong count, invisible."""

from __future__ import annotations

import torch
from ledgers import write_example_ledger

from aiperf.flops import PLAIN_STEP, cost_model
from aiperf.models import build_model, genome_from_dict
from aiperf.score import read_ledger, score_run
from aiperf.spec import TrainSpec, UegrSpec, parse_spec
from aiperf.train import UegrStep
from aiperf.train.flops_check import check_step_flops

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
    spec = parse_spec({"min_duration": 30, "score": {"grid_points": 4}})
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
