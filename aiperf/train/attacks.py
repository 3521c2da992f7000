"""Robust accuracy: the model's test accuracy under an attack named in the spec.

``pgd``: a projected-gradient perturbation of the word embeddings (dropout off), ε per example.
``word_substitution``: greedy label-preserving synonym swaps (the task's own synonym sets), at
most ``swaps`` per sentence, each round taking the swap that lowers the true class most.
Both return the FLOPs they ran (forward and input-gradient passes), so evaluation is counted.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from aiperf.flops.passes import PassCosts
from aiperf.spec import RobustnessSpec
from aiperf.train.adversarial import perturbation
from aiperf.workload import Workload, tokenize

Costs = Callable[[int], PassCosts]  # batch size → per-pass FLOPs of the trial's model


@dataclass(frozen=True)
class AttackResult:
    accuracy: float
    flops: int
    samples: int


@dataclass(frozen=True)
class EvalContext:
    """What evaluating a trial's model needs: the data, the attack, the model's per-pass FLOPs,
    the batch size and the device."""

    workload: Workload
    robustness: RobustnessSpec
    costs: Costs
    batch_size: int
    device: str


def pgd_attack(model: torch.nn.Module, ctx: EvalContext) -> AttackResult:
    """Accuracy on the first ``samples`` test sentences under embedding-space PGD."""
    spec, split, device = ctx.robustness, ctx.workload.test, ctx.device
    n = min(spec.samples, len(split))
    correct = flops = 0
    for start in range(0, n, ctx.batch_size):
        end = min(start + ctx.batch_size, n)
        tokens, mask = split.tokens[start:end].to(device), split.mask[start:end].to(device)
        labels = split.labels[start:end].to(device)
        e = model.embed_words(tokens).detach()  # (B, S, D)

        def loss_of(x: torch.Tensor) -> torch.Tensor:
            return F.cross_entropy(model.encode(x, mask), labels)  # noqa: B023 (used at once)

        delta = perturbation(loss_of, e, mask, spec.epsilon, spec.steps)
        with torch.no_grad():
            correct += (model.encode(e + delta, mask).argmax(-1) == labels).sum().item()
        cost = ctx.costs(end - start)
        flops += spec.steps * (cost.forward_flops + cost.input_grad_flops) + cost.forward_flops
    return AttackResult(correct / max(n, 1), flops, n)


def word_substitution_attack(model: torch.nn.Module, ctx: EvalContext) -> AttackResult:
    """Accuracy on the first ``samples`` test sentences under greedy synonym swaps."""
    spec, workload = ctx.robustness, ctx.workload
    text = workload.text["test"]
    n = min(spec.samples, len(text))
    sentences = [tokenize(s) for s in text.sentences[:n]]
    labels = torch.tensor(text.labels[:n])
    scorer = _Scorer(model, ctx)
    logits = scorer.logits(sentences)  # (N, C): of each sentence as it stands now
    for _ in range(spec.swaps):
        fooled = logits.argmax(-1) != labels
        alive = [i for i in range(n) if not fooled[i]]  # a fooled sentence needs no more swaps
        standing = [sentences[i] for i in alive]
        candidates, owners = _candidates(standing, workload.synonyms, workload.max_len)
        if not candidates:
            break
        owner_ids = torch.tensor([alive[o] for o in owners])
        candidate_logits = scorer.logits(candidates)  # (M, C)
        scores = _true_class_probability(candidate_logits, labels[owner_ids])
        current = _true_class_probability(logits, labels)
        for index, candidate in _best_swap_per_sentence(scores, owner_ids).items():
            if scores[candidate] < current[index]:
                sentences[index], logits[index] = candidates[candidate], candidate_logits[candidate]
    correct = int((logits.argmax(-1) == labels).sum())
    return AttackResult(correct / max(n, 1), scorer.flops, n)


def _true_class_probability(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    return logits.softmax(-1).gather(1, labels.view(-1, 1)).squeeze(1)  # (N,)


def _candidates(
    sentences: list[list[str]], synonyms: dict[str, tuple[str, ...]], max_len: int
) -> tuple[list[list[str]], list[int]]:
    """Every one-word synonym swap of every sentence (within the first max_len tokens)."""
    candidates, owners = [], []
    for owner, words in enumerate(sentences):
        for position, word in enumerate(words[:max_len]):
            for substitute in synonyms.get(word, ()):
                candidates.append([*words[:position], substitute, *words[position + 1 :]])
                owners.append(owner)
    return candidates, owners


def _best_swap_per_sentence(scores: torch.Tensor, owners: torch.Tensor) -> dict[int, int]:
    """For each sentence, the candidate index with the lowest true-class probability."""
    best: dict[int, int] = {}
    for candidate, owner in enumerate(owners.tolist()):
        if owner not in best or scores[candidate] < scores[best[owner]]:
            best[owner] = candidate
    return best


class _Scorer:
    """Evaluates token lists in batches (eval mode, no gradients) and counts the FLOPs run."""

    def __init__(self, model: torch.nn.Module, ctx: EvalContext) -> None:
        self.model, self.ctx, self.flops = model, ctx, 0

    @torch.no_grad()
    def logits(self, sentences: list[list[str]]) -> torch.Tensor:
        outputs = []
        ctx = self.ctx
        for start in range(0, len(sentences), ctx.batch_size):
            chunk = [" ".join(words) for words in sentences[start : start + ctx.batch_size]]
            tokens, mask = ctx.workload.vocab.encode(chunk, ctx.workload.max_len)
            outputs.append(self.model(tokens.to(ctx.device), mask.to(ctx.device)).float().cpu())
            self.flops += ctx.costs(len(chunk)).forward_flops
        return torch.cat(outputs)  # (N, C)


ATTACKS = {"pgd": pgd_attack, "word_substitution": word_substitution_attack}


def robust_accuracy(model: torch.nn.Module, ctx: EvalContext) -> AttackResult | None:
    """The spec's attack on the test split in eval mode; None when ``samples`` is 0."""
    spec = ctx.robustness
    if spec.samples == 0:
        return None
    attack = ATTACKS.get(spec.attack)
    if attack is None:
        raise ValueError(f"robustness.attack: unknown {spec.attack!r} (valid: {list(ATTACKS)})")
    was_training = model.training
    model.eval()
    try:
        return attack(model, ctx)
    finally:
        model.train(was_training)
