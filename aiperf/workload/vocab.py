"""Tokenisation and the word vocabulary that turns sentences into padded id tensors.

Tokenisation is deliberately simple: lowercase, then every run of word characters (``\\w+``) is a
token and every other non-space character is a token of its own, so ``"Don't!"`` becomes
``don ' t !``. Pre-tokenised GLUE text (``it 's a charming film .``) splits on its spaces.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence

import numpy as np
import torch

_TOKEN_RE = re.compile(r"\w+|[^\w\s]")


def tokenize(sentence: str) -> list[str]:
    """Lowercased word tokens of ``sentence``; punctuation characters are separate tokens."""
    return _TOKEN_RE.findall(sentence.lower())


class Vocabulary:
    """Word ↔ id map with ``<pad>`` = 0 and ``<unk>`` = 1; words are ordered by train frequency."""

    PAD = 0
    UNK = 1
    SPECIALS = ("<pad>", "<unk>")

    def __init__(self, words: Iterable[str]) -> None:
        self.itos: tuple[str, ...] = (*self.SPECIALS, *words)
        self.stoi: dict[str, int] = {word: i for i, word in enumerate(self.itos)}
        if len(self.stoi) != len(self.itos):
            raise ValueError("vocabulary words must be unique and must not repeat the specials")

    @classmethod
    def build(cls, sentences: Iterable[str], min_freq: int = 1) -> Vocabulary:
        """The vocabulary of ``sentences`` (the TRAIN split): words seen ≥ ``min_freq`` times."""
        counts = Counter(token for sentence in sentences for token in tokenize(sentence))
        kept = [word for word, count in counts.items() if count >= min_freq]
        kept.sort(key=lambda word: (-counts[word], word))  # frequent first; ties alphabetical
        return cls(word for word in kept if word not in cls.SPECIALS)

    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, word: str) -> bool:
        return word in self.stoi

    def index(self, word: str) -> int:
        """The id of ``word`` (already tokenised), or UNK when it is not in the vocabulary."""
        return self.stoi.get(word, self.UNK)

    def encode(self, sentences: Sequence[str], max_len: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Token ids ``(N, max_len)`` int64, cut at ``max_len`` and padded with PAD, and the mask
        ``(N, max_len)`` bool that is True on real tokens."""
        ids = np.full((len(sentences), max_len), self.PAD, dtype=np.int64)  # (N, S)
        for row, sentence in enumerate(sentences):
            tokens = tokenize(sentence)[:max_len]
            ids[row, : len(tokens)] = [self.stoi.get(token, self.UNK) for token in tokens]
        tokens_t = torch.from_numpy(ids)
        return tokens_t, tokens_t != self.PAD

    def decode(self, ids: Iterable[int]) -> list[str]:
        """The words of ``ids``, with padding left out (for debugging and attacks)."""
        return [self.itos[i] for i in ids if i != self.PAD]
