"""Robustness attacks: they lower accuracy, swap only synonyms, and count the FLOPs they run
(checked against torch's FlopCounterMode)."""

from __future__ import annotations

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from aiperf.flops import Work, cost_model
from aiperf.models import build_model, genome_from_dict
from aiperf.search.proposal import Hparams
from aiperf.spec import RobustnessSpec, TrainSpec, WorkloadSpec
from aiperf.train import PlainStep, train_trial
from aiperf.train.attacks import EvalContext, _candidates, robust_accuracy
from aiperf.train.evaluate import Evaluation, accuracy
from aiperf.workload import load_workload, tokenize

GENOME = genome_from_dict(
    {"embed_dim": 32, "blocks": [{"type": "conv", "kernel": 3, "width": 32}], "pooling": "max"}
)
WORKLOAD = load_workload(WorkloadSpec(train_size=3000, val_size=200, test_size=300, max_len=20), 3)


COSTS = cost_model(GENOME, WORKLOAD.num_classes)


@pytest.fixture(scope="module")
def trained():
    torch.manual_seed(0)
    net = build_model(GENOME, len(WORKLOAD.vocab), 2, WORKLOAD.max_len)
    hparams = Hparams(lr=1e-2, batch_size=32, weight_decay=0.0, epochs=3)
    train_trial(
        PlainStep(net, TrainSpec(), "cpu"),
        WORKLOAD.train,
        hparams,
        lambda m: Evaluation(0.0, 0.0, None, 0, Work(), Work()),
        lambda work: 0,
        lambda interval, state: None,
        seed=0,
    )
    return net.eval()


def attack(net, **fields):
    spec = RobustnessSpec(samples=200, **fields)
    return robust_accuracy(net, EvalContext(WORKLOAD, spec, COSTS, 64, "cpu"))


def clean_accuracy(net, n: int = 200) -> float:
    head = type(WORKLOAD.test)(
        WORKLOAD.test.tokens[:n], WORKLOAD.test.mask[:n], WORKLOAD.test.labels[:n]
    )
    return accuracy(net, head, 64, "cpu")[0]


def test_model_is_good_enough_to_attack(trained) -> None:
    assert clean_accuracy(trained) > 0.75  # chance is 0.5


def test_pgd_at_zero_epsilon_is_clean_accuracy(trained) -> None:
    assert attack(trained, attack="pgd", epsilon=0.0).accuracy == clean_accuracy(trained)


def test_pgd_lowers_accuracy(trained) -> None:
    result = attack(trained, attack="pgd", epsilon=2.0, steps=3)
    assert result.accuracy < clean_accuracy(trained) - 0.05
    assert result.samples == 200


@pytest.mark.parametrize(
    "fields",
    [{"attack": "pgd", "epsilon": 2.0, "steps": 3}, {"attack": "word_substitution", "swaps": 2}],
    ids=["pgd", "word_substitution"],
)
def test_attack_flops_are_what_it_runs(trained, fields) -> None:
    """The FLOPs evaluation reports for an attack (its Work, priced as the Evaluator prices it)
    are the FLOPs torch counts while it runs: forward passes, and PGD's input-gradient passes."""
    with FlopCounterMode(display=False) as counter:
        result = attack(trained, **fields)
    counted = COSTS.eval_flops(result.forward_work, result.input_grad_work)
    assert counted > 0 and counted == counter.get_total_flops()
    if fields["attack"] == "pgd":  # input gradients run: a forward-only price falls short
        assert COSTS.eval_flops(result.forward_work, Work()) < counted


def test_word_substitution_never_raises_accuracy(trained) -> None:
    result = attack(trained, attack="word_substitution", swaps=2)
    assert result.accuracy <= clean_accuracy(trained)  # binary task: greedy swaps can't help
    work = result.forward_work  # one length per batch: no padding, and more than 200 sentences
    assert work.samples > 200 and work.tokens == work.real_tokens


def test_more_swaps_hurt_at_least_as_much(trained) -> None:
    one = attack(trained, attack="word_substitution", swaps=1).accuracy
    three = attack(trained, attack="word_substitution", swaps=3).accuracy
    assert three <= one


def test_candidates_swap_one_word_for_a_synonym() -> None:
    words = tokenize(WORKLOAD.text["test"].sentences[0])
    candidates, owners = _candidates([words], WORKLOAD.synonyms, WORKLOAD.max_len)
    assert candidates and set(owners) == {0}
    for candidate in candidates:
        changed = [(a, b) for a, b in zip(words, candidate, strict=True) if a != b]
        assert len(changed) == 1
        original, substitute = changed[0]
        assert substitute in WORKLOAD.synonyms[original]


def test_robustness_off_and_unknown_attack(trained) -> None:
    spec = RobustnessSpec(samples=0)
    assert robust_accuracy(trained, EvalContext(WORKLOAD, spec, COSTS, 64, "cpu")) is None
    bad = RobustnessSpec.model_construct(attack="hotflip", samples=10)
    with pytest.raises(ValueError, match="valid: \\['pgd', 'word_substitution'\\]"):
        robust_accuracy(trained, EvalContext(WORKLOAD, bad, COSTS, 64, "cpu"))
