"""Robust accuracy: the model's test accuracy under an attack named in the spec.

``pgd``: a projected-gradient perturbation of the word embeddings (dropout off), ε per example.
``word_substitution``: greedy label-preserving synonym swaps (the task's own synonym sets), at
most ``swaps`` per sentence, each round taking the swap that lowers the true class most.
Both return the FLOPs they ran (forward and input-gradient passes), so evaluation is counted.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from aiperf.flops import CostModel, Work
from aiperf.spec import RobustnessSpec
from aiperf.train.adversarial import perturbation
from aiperf.workload import EncodedSplit, Workload, tokenize
from aiperf.workload.batches import eval_batches, gather


@dataclass(frozen=True)
class AttackResult:
    accuracy: float
    samples: int
    forward_work: Work  # the forward passes the attack ran
    input_grad_work: Work = field(default_factory=Work)  # and its input-gradient passes


@dataclass(frozen=True)
class EvalContext:
    """What evaluating a trial's model needs: the data, the attack, the model's FLOPs (its
    ``CostModel``), the batch size, the device and the precision it trains at."""

    workload: Workload
    robustness: RobustnessSpec
    costs: CostModel
    batch_size: int
    device: str
    precision: str = "fp32"  # evaluation runs under the same autocast as training


def pgd_attack(model: torch.nn.Module, ctx: EvalContext) -> AttackResult:
    """Accuracy on the first ``samples`` test sentences under embedding-space PGD."""
    spec, split = ctx.robustness, ctx.workload.test
    n = min(spec.samples, len(split))
    lengths = split.lengths[:n]
    correct, forward, input_grad = 0, Work(), Work()
    for index in eval_batches(lengths, ctx.batch_size):
        tokens, mask, labels = gather(split, index, ctx.device)  # (B, L), (B, L), (B,)
        e = model.embed_words(tokens).detach()  # (B, L, D)

        def loss_of(x: torch.Tensor) -> torch.Tensor:
            return F.cross_entropy(model.encode(x, mask), labels)  # noqa: B023 (used at once)

        delta = perturbation(loss_of, e, mask, spec.epsilon, spec.steps)
        with torch.no_grad():
            correct += (model.encode(e + delta, mask).argmax(-1) == labels).sum()  # on the device
        shape = (len(index), tokens.shape[1], int(lengths[index].sum()))
        forward = forward.plus(*shape, times=spec.steps + 1)  # each step, then the final check
        input_grad = input_grad.plus(*shape, times=spec.steps)
    return AttackResult(int(correct) / max(n, 1), n, forward, input_grad)


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
    return AttackResult(correct / max(n, 1), n, scorer.work)


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
    """Evaluates token lists in length-aware batches (eval mode, no gradients), keeping the
    forward passes it ran."""

    def __init__(self, model: torch.nn.Module, ctx: EvalContext) -> None:
        self.model, self.ctx, self.work = model, ctx, Work()

    @torch.no_grad()
    def logits(self, sentences: list[list[str]]) -> torch.Tensor:
        """(N, C) logits of the sentences, in their order."""
        ctx = self.ctx
        texts = [" ".join(words) for words in sentences]
        tokens, mask = ctx.workload.vocab.encode(texts, ctx.workload.max_len)  # (N, S)
        split = EncodedSplit(tokens, mask, torch.zeros(len(texts), dtype=torch.int64))
        lengths = split.lengths
        outputs = torch.empty(len(texts), ctx.workload.num_classes)
        for index in eval_batches(lengths, ctx.batch_size):
            batch_tokens, batch_mask, _ = gather(split, index, ctx.device)
            outputs[index] = self.model(batch_tokens, batch_mask).float().cpu()
            self.work = self.work.plus(len(index), batch_tokens.shape[1], int(lengths[index].sum()))
        return outputs


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
