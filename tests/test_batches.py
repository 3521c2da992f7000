"""Length-aware batches: each padded to its own longest sentence, every sample once per epoch,
the same batches from the same generator state, and little padding on every shipped spec."""

from __future__ import annotations

import pytest
import torch

from aiperf.spec import load_spec
from aiperf.workload import load_workload
from aiperf.workload.batches import (
    eval_batches,
    gather,
    padding_share,
    training_batches,
)

LENGTHS = torch.tensor([5, 3, 9, 3, 5, 5, 1, 9, 2, 7, 3, 8])


def test_training_batches_cover_every_sample_once_and_repeat_from_the_same_state() -> None:
    generator = torch.Generator().manual_seed(4)
    state = generator.get_state()
    batches = training_batches(LENGTHS, 4, generator)
    assert sorted(torch.cat(batches).tolist()) == list(range(len(LENGTHS)))
    assert [len(b) for b in batches] == [4, 4, 4]
    generator.set_state(state)  # what a resumed trial restores
    assert [b.tolist() for b in training_batches(LENGTHS, 4, generator)] == [
        b.tolist() for b in batches
    ]
    later = training_batches(LENGTHS, 4, generator)  # the next epoch differs
    assert [b.tolist() for b in later] != [b.tolist() for b in batches]


def test_training_batches_group_similar_lengths() -> None:
    generator = torch.Generator().manual_seed(0)
    for batch in training_batches(LENGTHS, 4, generator):
        spread = LENGTHS[batch]
        neighbours = sorted(LENGTHS.tolist())
        low, high = neighbours.index(int(spread.min())), neighbours.index(int(spread.max()))
        assert high - low < 4 + LENGTHS.tolist().count(
            int(spread.min())
        )  # a run of the sorted order


def test_eval_batches_hold_one_length_each_in_order() -> None:
    batches = eval_batches(LENGTHS, 2)
    assert sorted(torch.cat(batches).tolist()) == list(range(len(LENGTHS)))
    assert all(len(set(LENGTHS[b].tolist())) == 1 and len(b) <= 2 for b in batches)
    firsts = [int(LENGTHS[b[0]]) for b in batches]
    assert firsts == sorted(firsts)


def test_gather_cuts_a_batch_to_its_longest_sentence() -> None:
    spec = load_spec("tiny")
    train = load_workload(spec.workload, spec.seed).train
    index = torch.nonzero(train.lengths < 12).flatten()[:3]
    tokens, mask, labels = gather(train, index, "cpu")
    assert tokens.shape[1] == int(train.lengths[index].max()) < train.tokens.shape[1]
    assert torch.equal(tokens, train.tokens[index, : tokens.shape[1]])
    assert torch.equal(labels, train.labels[index])
    assert int(mask.sum()) == int(train.mask[index].sum())  # nothing real was cut


@pytest.mark.parametrize(
    "name",
    ["tiny", "small", *(pytest.param(n, marks=pytest.mark.slow) for n in ("standard", "full"))],
)
def test_every_shipped_spec_pads_at_most_a_tenth(name: str) -> None:
    spec = load_spec(name)
    workload = load_workload(spec.workload, spec.seed)
    lengths = workload.train.lengths
    for batch_size in spec.search.space.batch_size:
        batches = training_batches(lengths, batch_size, torch.Generator().manual_seed(0))
        padded = sum(len(b) * int(lengths[b].max()) for b in batches)
        assert 1 - int(lengths.sum()) / padded <= 0.10, (name, batch_size)
    for split in (workload.val, workload.test):
        assert padding_share(split, spec.train.eval_batch_size) == 0.0  # one length per batch
