"""Baselines a benchmark task must defeat: what a bag-of-words model reaches on a workload."""

from __future__ import annotations

import torch

from aiperf.workload.splits import EncodedSplit


def word_counts(split: EncodedSplit, vocab_size: int) -> torch.Tensor:
    """``(N, V)`` word counts per sentence: all a bag-of-words model sees."""
    counts = torch.zeros(len(split), vocab_size)
    return counts.scatter_add_(1, split.tokens, split.mask.float())


def bag_of_words_accuracy(
    train: EncodedSplit, test: EncodedSplit, vocab_size: int, steps: int = 200, seed: int = 0
) -> float:
    """Test accuracy of logistic regression on word counts, trained full-batch on ``train``."""
    generator = torch.Generator().manual_seed(seed)
    classes = int(train.labels.max()) + 1
    model = torch.nn.Linear(vocab_size, classes)
    with torch.no_grad():
        model.weight.normal_(0, 0.01, generator=generator)
        model.bias.zero_()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.1)
    features = word_counts(train, vocab_size)
    for _ in range(steps):
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(model(features), train.labels).backward()
        optimizer.step()
    with torch.no_grad():
        predicted = model(word_counts(test, vocab_size)).argmax(1)
    return (predicted == test.labels).float().mean().item()
