"""The synthetic task: sentiment-like sentences whose label depends on composition, not on words.

A clause is ``the <subject> <verb> [negation] [intensifier] <adjective>``; its label is the
adjective's polarity, flipped by a negation. Sentences are one clause or two joined by a
connective: ``C1 but C2`` takes C2's label, ``C1 although C2`` takes C1's, ``C1 and C2`` joins
clauses that agree. Fillers (``honestly``, ``i think``, …) carry no meaning. Because negation
flips polarity (an XOR) and the same two clauses give different labels in a different order, a
bag-of-words model cannot solve the task; an order-aware model (or :func:`rule_label`) can.

Label noise: exactly ``round(label_noise * n)`` labels of every split are flipped, chosen by the
split's RNG, so the best achievable accuracy on any split is ``1 - label_noise``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from aiperf.spec import WorkloadSpec
from aiperf.workload.splits import TextSplit

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
FILLERS = ("honestly", "overall", "i think", "frankly")
CONNECTIVES = ("but", "although", "and")

# Sentence shapes: one clause, or two joined by the connective of the same index in CONNECTIVES.
_SHAPES = (None, *CONNECTIVES)
_SHAPE_P = (0.2, 0.3, 0.3, 0.2)
_P_NEGATION = 0.5  # 0.5 makes negation an exact XOR for a bag of words
_P_INTENSIFIER = 0.3
_P_CONTRAST = 0.8  # but/although: chance that the two clauses disagree
_P_FILLER = (0.2, 0.25, 0.1)  # at the start, right after the connective, at the end
_STREAM_TAG = 0x5E47  # keeps these streams apart from other uses of the same run seed
SPLIT_NAMES = ("train", "val", "test")


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

    def text(self) -> str:
        words = ("the", self.subject, self.verb, self.negation, self.intensifier, self.adjective)
        return " ".join(word for word in words if word)


@dataclass(frozen=True)
class SyntheticSplit:
    """A generated split: the (noisy) text split and the labels before noise was added."""

    text: TextSplit
    clean_labels: tuple[int, ...]


def compose_label(first: int, connective: str | None = None, second: int | None = None) -> int:
    """The sentence label from its clause labels: ``but`` → second, ``although``/``and`` → first."""
    if connective == "but":
        assert second is not None
        return second
    return first  # single clause, "although" (concession), "and" (clauses agree)


def make_sentence(
    first: Clause, connective: str | None = None, second: Clause | None = None
) -> tuple[str, int]:
    """The text and clean label of ``first [connective second]`` (no fillers)."""
    if connective is None or second is None:
        return first.text(), first.label
    text = f"{first.text()} {connective} {second.text()}"
    return text, compose_label(first.label, connective, second.label)


def rule_label(sentence: str) -> int:
    """The clean label read back from a generated sentence's text: the order-aware oracle."""
    words = sentence.lower().split()
    for connective in CONNECTIVES:
        if connective in words:
            cut = words.index(connective)
            first, second = _clause_label(words[:cut]), _clause_label(words[cut + 1 :])
            return compose_label(first, connective, second)
    return _clause_label(words)


def _clause_label(words: list[str]) -> int:
    """Polarity of the last adjective in ``words``, flipped when a negation precedes it."""
    where = max(i for i, word in enumerate(words) if word in POLARITY)
    negated = any(word in NEGATIONS for word in words[:where])
    return POLARITY[words[where]] ^ negated


def synonym_map() -> dict[str, tuple[str, ...]]:
    """Each adjective → the other words of its group (swapping them never changes a label)."""
    return {
        word: tuple(other for other in group if other != word)
        for group in (*POSITIVE_GROUPS, *NEGATIVE_GROUPS)
        for word in group
    }


def split_rngs(seed: int) -> dict[str, np.random.Generator]:
    """Independent RNG streams for train/val/test, so one split's size never changes another."""
    children = np.random.SeedSequence([_STREAM_TAG, seed]).spawn(len(SPLIT_NAMES))
    return {
        name: np.random.default_rng(child)
        for name, child in zip(SPLIT_NAMES, children, strict=True)
    }


def generate_synthetic(spec: WorkloadSpec, seed: int) -> dict[str, SyntheticSplit]:
    """The synthetic train/val/test splits with ``spec``'s sizes, determined by ``seed``."""
    sizes = {"train": spec.train_size, "val": spec.val_size, "test": spec.test_size}
    rngs = split_rngs(seed)
    return {name: generate_split(sizes[name], spec.label_noise, rngs[name]) for name in SPLIT_NAMES}


def generate_split(size: int, label_noise: float, rng: np.random.Generator) -> SyntheticSplit:
    """``size`` sentences with clean labels, then exactly ``round(label_noise*size)`` flipped."""
    sentences, clean = _draw_sentences(size, rng)
    labels = np.array(clean, dtype=np.int64)
    flipped = rng.choice(size, size=round(label_noise * size), replace=False)
    labels[flipped] ^= 1
    return SyntheticSplit(TextSplit(tuple(sentences), tuple(labels.tolist())), tuple(clean))


def _draw_sentences(size: int, rng: np.random.Generator) -> tuple[list[str], list[int]]:
    """Sentences and their clean labels; all randomness is drawn in batches to stay fast."""
    shape = rng.choice(len(_SHAPES), size=size, p=_SHAPE_P)  # (N,)
    target = rng.integers(2, size=size)  # (N,) the sentence label
    contrast = (shape != _SHAPES.index("and")) & (rng.random(size) < _P_CONTRAST)
    other = target ^ contrast  # label of the clause that does not decide the sentence
    is_but = shape == _SHAPES.index("but")
    firsts = _draw_clauses(np.where(is_but, other, target), rng)
    seconds = _draw_clauses(np.where(is_but, target, other), rng)
    fillers = _draw_fillers(size, rng)
    sentences, labels = [], []
    for i in range(size):
        text, label = make_sentence(firsts[i], _SHAPES[shape[i]], seconds[i])
        sentences.append(_add_fillers(text, _SHAPES[shape[i]], fillers[i]))
        labels.append(label)
    return sentences, labels


def _draw_clauses(labels: np.ndarray, rng: np.random.Generator) -> list[Clause]:
    """One clause per entry of ``labels`` (N,), each with exactly that label."""
    n = len(labels)
    negated = rng.random(n) < _P_NEGATION
    positive = (labels ^ negated).astype(bool)  # the adjective's own polarity
    group = rng.integers(len(POSITIVE_GROUPS), size=n)
    pick = rng.random(n)  # position inside the group
    subject, verb = rng.integers(len(SUBJECTS), size=n), rng.integers(len(VERBS), size=n)
    negation = rng.integers(len(NEGATIONS), size=n)
    intensifier = np.where(
        rng.random(n) < _P_INTENSIFIER, rng.integers(len(INTENSIFIERS), size=n), -1
    )
    clauses = []
    for i in range(n):
        words = (POSITIVE_GROUPS if positive[i] else NEGATIVE_GROUPS)[group[i]]
        clauses.append(
            Clause(
                subject=SUBJECTS[subject[i]],
                verb=VERBS[verb[i]],
                adjective=words[int(pick[i] * len(words))],
                negation=NEGATIONS[negation[i]] if negated[i] else None,
                intensifier=INTENSIFIERS[intensifier[i]] if intensifier[i] >= 0 else None,
            )
        )
    return clauses


def _draw_fillers(size: int, rng: np.random.Generator) -> list[tuple[str | None, ...]]:
    """Per sentence, the filler (or None) at the start, after the connective and at the end."""
    columns = []
    for p in _P_FILLER:
        present = rng.random(size) < p
        choice = rng.integers(len(FILLERS), size=size)
        columns.append([FILLERS[c] if on else None for on, c in zip(present, choice, strict=True)])
    return list(zip(*columns, strict=True))


def _add_fillers(text: str, connective: str | None, fillers: tuple[str | None, ...]) -> str:
    """``text`` with the meaningless fillers inserted; the label is unaffected."""
    start, middle, end = fillers
    if connective is not None and middle is not None:
        text = text.replace(f" {connective} ", f" {connective} {middle} ", 1)
    return " ".join(part for part in (start, text, end) if part)
