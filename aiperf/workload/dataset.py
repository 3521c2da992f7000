"""The Workload every trial trains on, built once per (spec, seed) and shared within a process."""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass

import torch

from aiperf.spec import WorkloadSpec
from aiperf.workload.splits import EncodedSplit, TextSplit
from aiperf.workload.synthetic import generate_synthetic, synonym_map
from aiperf.workload.tsv import load_tsv
from aiperf.workload.vocab import Vocabulary


@dataclass(frozen=True)
class Workload:
    """Encoded train/val/test splits plus the raw text, vocabulary and label-preserving synonyms."""

    train: EncodedSplit
    val: EncodedSplit
    test: EncodedSplit
    text: dict[str, TextSplit]  # "train" / "val" / "test" raw text
    vocab: Vocabulary
    num_classes: int
    max_len: int
    synonyms: dict[str, tuple[str, ...]]  # word -> label-preserving substitutes (empty for tsv)

    def to(self, device: str) -> Workload:
        """This workload with its encoded splits resident on ``device``: no host→device copy per
        batch. The memoised host copy stays as it is."""
        splits = {name: getattr(self, name).to(device) for name in ("train", "val", "test")}
        return dataclasses.replace(self, **splits)


@functools.lru_cache(maxsize=8)
def load_workload(spec: WorkloadSpec, seed: int) -> Workload:
    """The workload for ``spec`` and ``seed``; memoised, so trials in one process share it and
    must not modify its tensors. TSV files are read once: edits after the first load are unseen."""
    if spec.kind == "synthetic":
        text = {name: split.text for name, split in generate_synthetic(spec, seed).items()}
        num_classes, synonyms = 2, synonym_map()
    else:
        text, num_classes = load_tsv(spec, seed)
        synonyms = {}
    vocab = Vocabulary.build(text["train"].sentences, spec.min_freq)  # train only: no leakage
    encoded = {name: encode_split(split, vocab, spec.max_len) for name, split in text.items()}
    return Workload(
        train=encoded["train"],
        val=encoded["val"],
        test=encoded["test"],
        text=text,
        vocab=vocab,
        num_classes=num_classes,
        max_len=spec.max_len,
        synonyms=synonyms,
    )


def encode_split(split: TextSplit, vocab: Vocabulary, max_len: int) -> EncodedSplit:
    """``split`` as padded token ids, mask and labels (see :meth:`Vocabulary.encode`)."""
    tokens, mask = vocab.encode(split.sentences, max_len)  # (N, S), (N, S)
    return EncodedSplit(tokens, mask, torch.tensor(split.labels, dtype=torch.int64))
