"""The synthetic task: reviews whose label depends on order across the whole sentence.

A clause is ``the <subject> <verb> [negation] [intensifier] <adjective>``; its label is the
adjective's polarity, flipped by a negation. A review is a chain of clauses joined by
connectives, with meaningless fillers (``honestly``, ``we went there on a monday``, …) between
them. Its label is that of its **deciding clause**: the last clause introduced by ``but``, or,
with no ``but`` anywhere, the first clause (``although`` concedes, ``and`` adds a clause that
agrees with the one before it).

So whether the first clause decides depends on every later connective, up to the last token: a
bag of words cannot solve the task (negation makes polarity an XOR, and the same clauses in
another order give another label), and neither can a reader of a short window (the deciding
clause and the words that make it decide lie far apart). :func:`rule_label` is the oracle.

Lengths are spread uniformly over ``[max(4, max_len // 8), max_len]`` tokens, so the workload
exercises the whole sequence length it promises. Validation and test never repeat a training
sentence. Label noise: exactly ``round(label_noise * n)`` labels of every split are flipped,
so the best achievable accuracy on any split is ``1 - label_noise``.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from aiperf.spec import WorkloadSpec, length_range
from aiperf.workload.splits import TextSplit
from aiperf.workload.tsv import WorkloadError

POSITIVE_GROUPS: tuple[tuple[str, ...], ...] = (
    ("good", "nice", "fine", "decent"),
    ("great", "excellent", "superb", "wonderful"),
    ("fast", "quick", "speedy"),
    ("reliable", "sturdy", "solid"),
)
NEGATIVE_GROUPS: tuple[tuple[str, ...], ...] = (
    ("bad", "poor", "awful", "terrible"),
    ("slow", "sluggish", "laggy"),
    ("broken", "faulty", "defective"),
    ("boring", "dull", "bland"),
)
POLARITY: dict[str, int] = {
    **{word: 1 for group in POSITIVE_GROUPS for word in group},
    **{word: 0 for group in NEGATIVE_GROUPS for word in group},
}
SUBJECTS = ("movie", "food", "service", "battery", "screen", "hotel", "staff", "plot", "camera")
VERBS = ("is", "was", "seems")
NEGATIONS = ("not", "never", "hardly")
INTENSIFIERS = ("very", "really", "quite")
CONNECTIVES = ("but", "although", "and")
FILLERS = (
    "honestly", "overall", "frankly", "admittedly", "anyway", "well", "today", "again",
    "i think", "to me", "in short", "last week", "this time", "for once",
    "to be fair", "if anything", "at first glance", "for the price", "as i said",
    "in my experience", "as far as i can tell", "we went there on a monday",
    "my friend came along too", "it was raining that day", "the box arrived on time",
    "we stayed for two nights with the kids", "i had read a lot about it before",
)  # fmt: skip
# Words that carry meaning; a filler must contain none of them (pinned by a test).
MEANINGFUL = frozenset((*POLARITY, *NEGATIONS, *CONNECTIVES))

_CONNECTIVE_P = (0.4, 0.3, 0.3)  # but, although, and
_P_NEGATION = 0.5  # 0.5 makes negation an exact XOR for a bag of words
_P_INTENSIFIER = 0.3
_P_CONTRAST = 0.8  # but/although: chance that a clause disagrees with the one before it
_MAX_DRAWS_PER_SENTENCE = 20  # a held-out split gives up when training holds nearly every sentence
_TOKENS_PER_CLAUSE = 8  # at most one clause per this many tokens of target length
_STREAM_TAG = 0x5E47  # keeps these streams apart from other uses of the same run seed
SPLIT_NAMES = ("train", "val", "test")
_FILLERS_BY_LENGTH: dict[int, tuple[str, ...]] = {
    n: tuple(f for f in FILLERS if len(f.split()) == n) for n in {len(f.split()) for f in FILLERS}
}


@dataclass(frozen=True)
class Clause:
    """``the <subject> <verb> [negation] [intensifier] <adjective>``."""

    subject: str
    verb: str
    adjective: str
    negation: str | None = None
    intensifier: str | None = None

    @property
    def label(self) -> int:
        """1 (positive) or 0: the adjective's polarity, flipped by a negation."""
        return POLARITY[self.adjective] ^ (self.negation is not None)

    def words(self) -> list[str]:
        words = ("the", self.subject, self.verb, self.negation, self.intensifier, self.adjective)
        return [word for word in words if word]

    def text(self) -> str:
        return " ".join(self.words())


@dataclass(frozen=True)
class SyntheticSplit:
    """A generated split: the (noisy) text split and the labels before noise was added."""

    text: TextSplit
    clean_labels: tuple[int, ...]


def deciding_clause(connectives: Sequence[str]) -> int:
    """Index of the clause that decides: the last one after a ``but``, else the first one."""
    buts = [position for position, word in enumerate(connectives, start=1) if word == "but"]
    return buts[-1] if buts else 0


def compose_label(clause_labels: Sequence[int], connectives: Sequence[str]) -> int:
    """The review's label: its deciding clause's label."""
    return clause_labels[deciding_clause(connectives)]


def make_sentence(clauses: Sequence[Clause], connectives: Sequence[str] = ()) -> tuple[str, int]:
    """The text and clean label of ``c1 conn1 c2 …`` (no fillers)."""
    text = " ".join(_join([clause.words() for clause in clauses], connectives))
    return text, compose_label([clause.label for clause in clauses], connectives)


def _join(units: Sequence[Sequence[str]], connectives: Sequence[str]) -> list[str]:
    """The words of ``units`` with connective ``i`` between units ``i`` and ``i + 1``."""
    words = list(units[0])
    for connective, unit in zip(connectives, units[1:], strict=True):
        words.extend([connective, *unit])
    return words


def rule_label(sentence: str) -> int:
    """The clean label read back from a generated sentence's text: the order-aware oracle."""
    segments: list[list[str]] = [[]]
    connectives: list[str] = []
    for word in sentence.lower().split():
        if word in CONNECTIVES:
            connectives.append(word)
            segments.append([])
        else:
            segments[-1].append(word)
    return _clause_label(segments[deciding_clause(connectives)])


def window_label(sentence: str, width: int, at_end: bool = True) -> int:
    """What the oracle's rule reads through a window of the last (or first) ``width`` tokens,
    taking what it sees as the whole review; 1 when the deciding part shows no adjective.
    The short-window baseline: a perfect reader of the rule that cannot look further."""
    words = sentence.split()
    seen = words[-width:] if at_end else words[:width]
    try:
        return rule_label(" ".join(seen))
    except ValueError:  # the deciding segment holds no adjective
        return 1


def _clause_label(words: list[str]) -> int:
    """Polarity of the last adjective in ``words``, flipped when a negation precedes it."""
    where = max(i for i, word in enumerate(words) if word in POLARITY)  # ValueError: none
    negated = any(word in NEGATIONS for word in words[:where])
    return POLARITY[words[where]] ^ negated


def synonym_map() -> dict[str, tuple[str, ...]]:
    """Each adjective → the other words of its group (swapping them never changes a label)."""
    return {
        word: tuple(other for other in group if other != word)
        for group in (*POSITIVE_GROUPS, *NEGATIVE_GROUPS)
        for word in group
    }


def split_rngs(seed: int) -> dict[str, random.Random]:
    """Independent RNG streams for train/val/test, so one split's size never changes another."""
    children = np.random.SeedSequence([_STREAM_TAG, seed]).spawn(len(SPLIT_NAMES))
    return {
        name: random.Random(int(child.generate_state(1, np.uint64)[0]))
        for name, child in zip(SPLIT_NAMES, children, strict=True)
    }


def generate_synthetic(spec: WorkloadSpec, seed: int) -> dict[str, SyntheticSplit]:
    """The synthetic train/val/test splits with ``spec``'s sizes, determined by ``seed``.

    Validation and test are drawn until they hold their size in sentences that are not in the
    training split, so a model cannot score by remembering training sentences."""
    rngs = split_rngs(seed)
    lengths = length_range(spec.max_len)
    train = _draw_reviews(spec.train_size, lengths, rngs["train"], exclude=frozenset())
    splits = {"train": train}
    seen = frozenset(train[0])
    for name, size in (("val", spec.val_size), ("test", spec.test_size)):
        splits[name] = _draw_reviews(size, lengths, rngs[name], exclude=seen)
    return {name: _with_noise(*splits[name], spec.label_noise, rngs[name]) for name in SPLIT_NAMES}


def _with_noise(
    sentences: list[str], clean: list[int], label_noise: float, rng: random.Random
) -> SyntheticSplit:
    """The split with exactly ``round(label_noise * size)`` labels flipped."""
    labels = list(clean)
    for i in rng.sample(range(len(labels)), round(label_noise * len(labels))):
        labels[i] ^= 1
    return SyntheticSplit(TextSplit(tuple(sentences), tuple(labels)), tuple(clean))


def _draw_reviews(
    size: int, lengths: tuple[int, int], rng: random.Random, exclude: frozenset[str]
) -> tuple[list[str], list[int]]:
    """``size`` reviews not in ``exclude``, and their clean labels."""
    sentences: list[str] = []
    labels: list[int] = []
    draws_left = _MAX_DRAWS_PER_SENTENCE * size + 1000
    while len(sentences) < size:
        if draws_left == 0:
            raise WorkloadError(
                f"workload.max_len: {lengths[1]} tokens leave too few sentences unseen in "
                f"training for {size} held-out ones; raise max_len or shrink train_size"
            )
        draws_left -= 1
        text, label = _draw_review(rng.randint(*lengths), rng)
        if text not in exclude:
            sentences.append(text)
            labels.append(label)
    return sentences, labels


def _draw_review(target: int, rng: random.Random) -> tuple[str, int]:
    """One review of about ``target`` tokens (exactly, unless its clauses alone are longer)."""
    count = rng.randint(1, max(1, target // _TOKENS_PER_CLAUSE))
    connectives = rng.choices(CONNECTIVES, _CONNECTIVE_P, k=count - 1)
    labels = [rng.randrange(2)]
    for connective in connectives:
        contrast = connective != "and" and rng.random() < _P_CONTRAST
        labels.append(labels[-1] ^ contrast)
    units = [_draw_clause(label, rng).words() for label in labels]
    _insert_fillers(units, target - sum(map(len, units)) - len(connectives), rng)
    return " ".join(_join(units, connectives)), compose_label(labels, connectives)


def _draw_clause(label: int, rng: random.Random) -> Clause:
    """A random clause with exactly ``label``."""
    negated = rng.random() < _P_NEGATION
    groups = POSITIVE_GROUPS if label ^ negated else NEGATIVE_GROUPS
    return Clause(
        subject=rng.choice(SUBJECTS),
        verb=rng.choice(VERBS),
        adjective=rng.choice(rng.choice(groups)),
        negation=rng.choice(NEGATIONS) if negated else None,
        intensifier=rng.choice(INTENSIFIERS) if rng.random() < _P_INTENSIFIER else None,
    )


def _insert_fillers(units: list[list[str]], room: int, rng: random.Random) -> None:
    """Fill ``room`` tokens with fillers placed before or after a clause, never inside one."""
    longest = max(_FILLERS_BY_LENGTH)
    while room > 0:
        size = rng.randint(1, min(room, longest))
        while size not in _FILLERS_BY_LENGTH:
            size -= 1
        filler = rng.choice(_FILLERS_BY_LENGTH[size]).split()
        unit = rng.choice(units)
        unit[:] = [*filler, *unit] if rng.random() < 0.5 else [*unit, *filler]
        room -= size
