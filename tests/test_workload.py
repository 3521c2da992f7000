"""Tests for aiperf.workload: the synthetic task, the TSV loader, the vocabulary and encoding."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from aiperf.spec import WorkloadSpec
from aiperf.workload import Vocabulary, WorkloadError, load_workload, synthetic
from aiperf.workload.baselines import bag_of_words_accuracy
from aiperf.workload.synthetic import (
    FILLERS,
    MEANINGFUL,
    NEGATIVE_GROUPS,
    POLARITY,
    POSITIVE_GROUPS,
    Clause,
    generate_synthetic,
    length_range,
    make_sentence,
    rule_label,
    synonym_map,
    window_label,
)

SMALL = WorkloadSpec(train_size=300, val_size=120, test_size=80, label_noise=0.1)


def _clause(adjective: str, negation: str | None = None, intensifier: str | None = None) -> Clause:
    return Clause("movie", "is", adjective, negation, intensifier)


# --- synthetic: determinism, sizes, noise, lengths ------------------------------------------


def test_same_seed_gives_identical_data_and_other_seed_differs() -> None:
    first, again, other = (generate_synthetic(SMALL, seed) for seed in (7, 7, 8))
    for name in ("train", "val", "test"):
        assert first[name] == again[name]
        assert first[name].text.sentences != other[name].text.sentences


def test_split_sizes_and_independent_streams() -> None:
    splits = generate_synthetic(SMALL, 0)
    assert [len(splits[name].text) for name in ("train", "val", "test")] == [300, 120, 80]
    bigger_val = generate_synthetic(SMALL.model_copy(update={"val_size": 500}), 0)
    assert bigger_val["train"] == splits["train"]  # another split's size never changes train
    assert bigger_val["test"] == splits["test"]
    assert splits["train"].text.sentences[:50] != splits["val"].text.sentences[:50]


@pytest.mark.parametrize("noise", [0.0, 0.1, 0.25])
def test_label_noise_flips_exactly_that_fraction(noise: float) -> None:
    spec = SMALL.model_copy(update={"label_noise": noise})
    for split in generate_synthetic(spec, 3).values():
        flipped = sum(a != b for a, b in zip(split.text.labels, split.clean_labels, strict=True))
        assert flipped == round(noise * len(split.text))


@pytest.mark.parametrize("max_len", [8, 24, 128])
def test_lengths_span_max_len_and_labels_are_balanced(max_len: int) -> None:
    spec = WorkloadSpec(train_size=4000, label_noise=0.0, max_len=max_len)
    train = generate_synthetic(spec, 0)["train"].text
    assert 0.46 < sum(train.labels) / len(train) < 0.54
    lengths = [len(sentence.split()) for sentence in train.sentences]
    shortest, longest = length_range(max_len)
    assert max(lengths) == longest and min(lengths) <= shortest + 1
    assert abs(sum(lengths) / len(lengths) - (shortest + longest) / 2) < 0.1 * longest + 1
    assert sum(length > longest * 3 // 4 for length in lengths) > 0.15 * len(lengths)


def test_held_out_sentences_never_repeat_training_ones() -> None:
    spec = WorkloadSpec(train_size=5000, val_size=1000, test_size=1000, max_len=8)
    splits = generate_synthetic(spec, 0)
    train = set(splits["train"].text.sentences)
    assert len(train) < 5000  # short reviews repeat within training ...
    for name in ("val", "test"):
        assert not train & set(splits[name].text.sentences)  # ... but never leak into val/test


def test_held_out_split_that_cannot_be_filled_is_a_workload_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(synthetic, "_draw_review", lambda target, rng: ("the plot is dull", 0))
    with pytest.raises(WorkloadError, match=r"^workload\.max_len: 8 tokens leave too few"):
        generate_synthetic(WorkloadSpec(train_size=5, val_size=5, test_size=5, max_len=8), 0)


# --- synthetic: composition rules -------------------------------------------------------------


@pytest.mark.parametrize(
    ("clauses", "connectives", "label"),
    [
        ([_clause("good")], [], 1),
        ([_clause("bad", "not")], [], 1),
        ([_clause("good", "not", "very")], [], 0),
        ([_clause("awful", "hardly")], [], 1),
        ([_clause("good"), _clause("slow")], ["but"], 0),
        ([_clause("slow"), _clause("good")], ["but"], 1),
        ([_clause("good"), _clause("slow")], ["although"], 1),
        ([_clause("slow"), _clause("good")], ["although"], 0),
        ([_clause("good"), _clause("slow", "not")], ["but"], 1),
        ([_clause("great"), _clause("fast", "really")], ["and"], 1),
        ([_clause("bad"), _clause("good"), _clause("slow")], ["but", "although"], 1),
        ([_clause("bad"), _clause("good"), _clause("slow")], ["although", "and"], 0),
        ([_clause("bad"), _clause("good"), _clause("slow")], ["but", "but"], 0),
    ],
)
def test_composition_rules(clauses: list[Clause], connectives: list[str], label: int) -> None:
    text, clean = make_sentence(clauses, connectives)
    assert clean == label
    assert rule_label(text) == label
    padded = text.replace(" the ", " we went there on a monday the ")
    assert rule_label(f"honestly {padded} as i said") == label  # fillers carry no meaning


def test_order_and_connective_change_the_label() -> None:
    good, slow = _clause("good"), _clause("slow")
    assert make_sentence([good, slow], ["but"])[1] != make_sentence([slow, good], ["but"])[1]
    assert make_sentence([good, slow], ["but"])[1] != make_sentence([good, slow], ["although"])[1]
    far = [_clause("good"), _clause("slow"), _clause("bad"), _clause("fast")]
    assert make_sentence(far, ["although", "and", "although"])[1] == 1  # the first clause ...
    assert make_sentence(far, ["although", "and", "but"])[1] == 1  # ... or the very last decides
    assert make_sentence([*far[:3], slow], ["although", "and", "but"])[1] == 0


def test_fillers_carry_no_meaningful_word() -> None:
    assert not {word for filler in FILLERS for word in filler.split()} & MEANINGFUL


def test_generated_text_matches_clean_labels() -> None:
    for split in generate_synthetic(SMALL, 11).values():
        assert [rule_label(s) for s in split.text.sentences] == list(split.clean_labels)


def test_bag_of_words_falls_short_of_the_order_aware_rule() -> None:
    spec = WorkloadSpec(train_size=2000, val_size=100, test_size=1000, label_noise=0.05)
    workload = load_workload(spec, 0)
    rule_acc = _accuracy([rule_label(s) for s in workload.text["test"].sentences], workload.test)
    assert rule_acc == pytest.approx(0.95)  # exactly the 5 % flipped labels are missed
    bow_acc = bag_of_words_accuracy(workload.train, workload.test, len(workload.vocab))
    assert bow_acc < 0.6 < rule_acc - 0.3


def test_a_perfect_reader_of_a_short_window_falls_short() -> None:
    spec = WorkloadSpec(train_size=10, val_size=10, test_size=2000, max_len=128, label_noise=0)
    test = generate_synthetic(spec, 0)["test"].text
    labels = list(test.labels)
    for at_end in (True, False):
        read = [window_label(s, 32, at_end) for s in test.sentences]
        assert sum(map(int.__eq__, read, labels)) / len(labels) < 0.88
    assert [window_label(s, 128) for s in test.sentences] == labels  # the whole review: exact


def _accuracy(predicted: list[int], split) -> float:
    return sum(p == y for p, y in zip(predicted, split.labels.tolist(), strict=True)) / len(split)


# --- synonyms ----------------------------------------------------------------------------------


def test_synonyms_are_label_preserving() -> None:
    synonyms = synonym_map()
    assert len(POSITIVE_GROUPS) == len(NEGATIVE_GROUPS) >= 3
    assert set(synonyms) == set(POLARITY)
    for word, substitutes in synonyms.items():
        assert substitutes and word not in substitutes
        assert all(POLARITY[s] == POLARITY[word] for s in substitutes)
        assert all(word in synonyms[s] for s in substitutes)  # symmetric groups


def test_substituting_synonyms_never_changes_a_label() -> None:
    workload = load_workload(SMALL, 5)
    for sentence in workload.text["train"].sentences[:100]:
        swapped = " ".join(workload.synonyms.get(w, (w,))[-1] for w in sentence.split())
        assert swapped != sentence
        assert rule_label(swapped) == rule_label(sentence)


# --- encoding, vocabulary, memoisation -----------------------------------------------------------


def test_encoding_pads_masks_and_truncates() -> None:
    vocab = Vocabulary.build(["a b c d e f", "a b"])
    tokens, mask = vocab.encode(["a b c d e f", "b", "zzz a"], max_len=4)
    assert tokens.shape == mask.shape == (3, 4)
    assert tokens.dtype == torch.int64 and mask.dtype == torch.bool
    assert tokens[0].tolist() == [vocab.index(w) for w in "abcd"]  # cut at max_len
    assert tokens[1].tolist() == [vocab.index("b"), 0, 0, 0]
    assert mask.tolist()[1] == [True, False, False, False]
    assert tokens[2, 0].item() == Vocabulary.UNK and mask[2].sum().item() == 2


def test_tokenizer_lowercases_and_splits_punctuation() -> None:
    vocab = Vocabulary.build(["It's GOOD!"])
    assert set(vocab.itos[2:]) == {"it", "'", "s", "good", "!"}
    assert vocab.itos[:2] == ("<pad>", "<unk>")


def test_min_freq_maps_rare_words_to_unk() -> None:
    vocab = Vocabulary.build(["a a b", "a c c"], min_freq=2)
    assert vocab.itos == ("<pad>", "<unk>", "a", "c")  # most frequent first
    assert vocab.index("b") == Vocabulary.UNK


def test_workload_tensors_match_spec() -> None:
    workload = load_workload(SMALL.model_copy(update={"max_len": 10}), 1)
    assert workload.num_classes == 2 and workload.max_len == 10
    for name in ("train", "val", "test"):
        split, text = getattr(workload, name), workload.text[name]
        assert split.tokens.shape == split.mask.shape == (len(text), 10)
        assert split.labels.tolist() == list(text.labels)
        lengths = [len(sentence.split()) for sentence in text.sentences]
        assert split.mask.sum(1).tolist() == lengths  # nothing generated is ever cut
        assert (split.tokens[~split.mask] == Vocabulary.PAD).all()
    assert max(len(s.split()) for s in workload.text["train"].sentences) == 10


def test_memoised_per_spec_and_seed() -> None:
    assert load_workload(SMALL, 2) is load_workload(SMALL, 2)
    assert load_workload(SMALL, 2) is not load_workload(SMALL, 3)


# --- TSV loader -----------------------------------------------------------------------------------


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def _tsv_spec(tmp_path: Path, train: str, val: str, test: str | None = None) -> WorkloadSpec:
    return WorkloadSpec(
        kind="tsv",
        max_len=8,
        train_path=_write(tmp_path / "train.tsv", train),
        val_path=_write(tmp_path / "dev.tsv", val),
        test_path=_write(tmp_path / "test.tsv", test) if test is not None else None,
    )


def test_tsv_int_labels_with_extra_columns(tmp_path: Path) -> None:
    train = "id\tsentence\tlabel\n1\ta fine film\t1\n2\ta dull film\t0\n\n3\tnot fun\t0\n"
    spec = _tsv_spec(tmp_path, train, "label\tsentence\n1\tfine\n", "sentence\tlabel\nzebra\t0\n")
    workload = load_workload(spec, 0)
    assert workload.text["train"].sentences == ("a fine film", "a dull film", "not fun")
    assert workload.train.labels.tolist() == [1, 0, 0]
    assert workload.val.labels.tolist() == [1] and workload.num_classes == 2
    assert workload.synonyms == {}


def test_tsv_string_labels_use_sorted_train_order(tmp_path: Path) -> None:
    train = "sentence\tlabel\nyay\tpos\nmeh\tneutral\nboo\tneg\n"
    spec = _tsv_spec(tmp_path, train, "sentence\tlabel\nok\tneutral\n", "sentence\tlabel\nx\tpos\n")
    workload = load_workload(spec, 0)
    assert workload.train.labels.tolist() == [2, 1, 0]  # neg=0, neutral=1, pos=2
    assert workload.num_classes == 3
    assert workload.val.labels.tolist() == [1] and workload.test.labels.tolist() == [2]


def test_vocabulary_comes_from_train_only(tmp_path: Path) -> None:
    header = "sentence\tlabel\n"
    spec = _tsv_spec(
        tmp_path, header + "good\t1\nbad\t0\n", header + "zebra\t1\n", header + "ok\t0\n"
    )
    workload = load_workload(spec, 0)
    assert "zebra" not in workload.vocab
    assert workload.val.tokens[0, 0].item() == Vocabulary.UNK


def test_tsv_without_test_file_splits_val_in_half(tmp_path: Path) -> None:
    val = "sentence\tlabel\n" + "".join(f"s{i}\t{i % 2}\n" for i in range(9))
    spec = _tsv_spec(tmp_path, "sentence\tlabel\na\t0\nb\t1\n", val)
    first = load_workload(spec, 4)
    load_workload.cache_clear()
    again = load_workload(spec, 4)
    val_part, test_part = first.text["val"], first.text["test"]
    assert (len(val_part), len(test_part)) == (5, 4)
    assert set(val_part.sentences) | set(test_part.sentences) == {f"s{i}" for i in range(9)}
    assert not set(val_part.sentences) & set(test_part.sentences)
    assert all(
        int(s[1:]) % 2 == y for s, y in zip(test_part.sentences, test_part.labels, strict=True)
    )
    assert again is not first and again.text == first.text  # seeded shuffle: same seed, same cut
    assert load_workload(spec, 5).text["val"] != val_part


@pytest.mark.parametrize(
    ("train", "message"),
    [
        ("sentence\tscore\nfine\t1\n", r"train\.tsv:1: header has no 'label' column"),
        ("", r"train\.tsv:1: no header line"),
        ("sentence\tlabel\nfine\t1\nbad row\n", r"train\.tsv:3: expected 2 tab-separated fields"),
        ("sentence\tlabel\nfine\t1\n\t0\n", r"train\.tsv:3: empty sentence"),
        ("sentence\tlabel\nfine\t1\nok\t1\n", r"train\.tsv:2: needs at least 2 distinct labels"),
    ],
)
def test_tsv_errors_name_file_line_and_problem(tmp_path: Path, train: str, message: str) -> None:
    spec = _tsv_spec(tmp_path, train, "sentence\tlabel\nok\t1\n")
    with pytest.raises(WorkloadError, match=message) as info:
        load_workload(spec, 0)
    assert "\n" not in str(info.value)


def test_tsv_unseen_label_and_missing_file(tmp_path: Path) -> None:
    spec = _tsv_spec(tmp_path, "sentence\tlabel\na\t0\nb\t1\n", "sentence\tlabel\nok\t0\nc\t7\n")
    with pytest.raises(WorkloadError, match=r"dev\.tsv:3: label '7' does not occur in the train"):
        load_workload(spec, 0)
    missing = spec.model_copy(update={"val_path": tmp_path / "nope.tsv"})
    with pytest.raises(WorkloadError, match=r"nope\.tsv: cannot read file"):
        load_workload(missing, 0)
