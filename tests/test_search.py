"""Searchers: proposals are valid and inside the space, reproducible, and survive save/restore."""

from __future__ import annotations

import random
from typing import get_args

import pytest

from aiperf.models import genome_from_dict
from aiperf.search import SEARCHERS, make_searcher
from aiperf.search.morphs import morph
from aiperf.search.proposal import Hparams
from aiperf.search.space import outside_space, sample_proposal
from aiperf.spec import SearcherName, load_spec, parse_spec


@pytest.fixture(params=sorted(SEARCHERS))
def searcher_name(request) -> str:
    return request.param


def test_proposals_are_valid_and_inside_the_space(searcher_name: str) -> None:
    spec = load_spec("small", [f"search.searcher={searcher_name}"])
    space = spec.search.space
    searcher = make_searcher(spec.search, seed=3)
    for i in range(50):
        config = searcher.suggest(f"t{i}")
        genome = genome_from_dict(config["genome"])
        hparams = Hparams.from_dict(config["hparams"])
        assert genome.embed_dim in space.embed_dim
        assert space.num_blocks.min <= len(genome.blocks) <= space.num_blocks.max
        assert {b.type for b in genome.blocks} <= set(space.block_types)
        assert space.lr.min <= hparams.lr <= space.lr.max
        assert space.epochs.min <= hparams.epochs <= space.epochs.max
        assert outside_space(space, config["genome"], config["hparams"], config["uegr"]) == []
        assert config["trial_index"] == i


def test_proposals_are_reproducible(searcher_name: str) -> None:
    spec = load_spec("tiny")
    first = [make_searcher(spec.search, seed=5).suggest(str(i)) for i in range(5)]
    again = [make_searcher(spec.search, seed=5).suggest(str(i)) for i in range(5)]
    other = [make_searcher(spec.search, seed=6).suggest(str(i)) for i in range(5)]
    assert first == again
    assert first != other


def test_max_trials_finishes_the_search(searcher_name: str) -> None:
    spec = load_spec("tiny", ["search.max_trials=2", f"search.searcher={searcher_name}"])
    searcher = make_searcher(spec.search, seed=1)
    assert searcher.suggest("a") and searcher.suggest("b")
    assert searcher.suggest("c") == searcher.FINISHED


def test_save_restore_continues_the_same_search(searcher_name: str, tmp_path) -> None:
    spec = load_spec("tiny", [f"search.searcher={searcher_name}"])
    searcher = make_searcher(spec.search, seed=2)
    for i in range(3):
        searcher.suggest(str(i))
    searcher.save(str(tmp_path / "state.pkl"))
    expected = [searcher.suggest(str(i)) for i in range(3, 6)]
    restored = make_searcher(spec.search, seed=2)
    restored.restore(str(tmp_path / "state.pkl"))
    assert [restored.suggest(str(i)) for i in range(3, 6)] == expected


def test_uegr_knobs_are_searched_inside_their_ranges(searcher_name: str) -> None:
    space = {"k": [2, 3], "rho": {"min": 0.2, "max": 0.5}, "saliency": ["grad", "theta_grad"]}
    spec = parse_spec({"search": {"searcher": searcher_name, "space": {"uegr": space}}})
    searcher = make_searcher(spec.search, seed=0)
    proposals = [searcher.suggest(str(i))["uegr"] for i in range(30)]
    assert {p["k"] for p in proposals} == {2, 3}
    assert all(0.2 <= p["rho"] <= 0.5 for p in proposals)
    for proposal in proposals:
        uegr = spec.uegr.with_overrides(proposal)
        assert (uegr.k, uegr.rho, uegr.saliency) == (
            proposal["k"],
            proposal["rho"],
            proposal["saliency"],
        )
        assert uegr.alpha == spec.uegr.alpha  # knobs not searched keep the spec's value


def test_searched_uegr_values_are_validated() -> None:
    with pytest.raises(ValueError, match="rho"):
        parse_spec({}).uegr.with_overrides({"rho": 1.5})


def test_transformer_only_space_picks_dividing_heads() -> None:
    spec = parse_spec(
        {"search": {"space": {"block_types": ["transformer"], "embed_dim": [30, 32], "heads": [4]}}}
    )
    searcher = make_searcher(spec.search, seed=0)
    for i in range(20):
        genome = genome_from_dict(searcher.suggest(str(i))["genome"])
        assert genome.embed_dim == 32


def test_every_searcher_a_spec_may_name_has_an_implementation() -> None:
    assert set(SEARCHERS) == set(get_args(SearcherName))


@pytest.mark.parametrize("name", ["tiny", "small", "standard", "full"])
def test_every_draw_and_morph_lies_inside_the_space(name) -> None:
    """What the searchers propose passes the audit's search-space rule; what they cannot,
    fails it."""
    space = load_spec(name).search.space
    rng = random.Random(5)
    for _ in range(200):
        proposal = sample_proposal(rng, space)
        assert outside_space(space, **proposal) == []
        child, _ = morph(rng, proposal["genome"], space)
        assert outside_space(space, child, proposal["hparams"], proposal["uegr"]) == []
    wide = {**proposal["genome"], "embed_dim": 4096}
    assert outside_space(space, wide, proposal["hparams"], {"k": 9})[0].startswith(
        "genome.embed_dim: 4096 is not among"
    )
    assert outside_space(space, wide, proposal["hparams"], {"k": 9})[-1].startswith("uegr.k")
