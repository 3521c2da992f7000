"""Network morphism: every operator yields a valid genome inside the space and does what it says;
the searcher exploits what it has seen and keeps its history across save/restore."""

from __future__ import annotations

import json
import random

import pytest

from aiperf.models import genome_from_dict
from aiperf.search import make_searcher
from aiperf.search.morphs import MORPHS, morph
from aiperf.search.space import sample_genome
from aiperf.search.surrogate import KnnSurrogate, features
from aiperf.spec import load_spec

SPACE = load_spec("small").search.space


def genomes(n: int = 40):
    rng = random.Random(0)
    return [sample_genome(rng, SPACE) for _ in range(n)]


def inside_space(genome: dict) -> bool:
    blocks = genome["blocks"]
    return (
        SPACE.num_blocks.min <= len(blocks) <= SPACE.num_blocks.max
        and genome["embed_dim"] in SPACE.embed_dim
        and all(
            (b["kernel"] in SPACE.conv_kernel and b["width"] in SPACE.conv_width)
            if b["type"] == "conv"
            else (b["heads"] in SPACE.heads and b["ffn_dim"] in SPACE.ffn_dim)
            for b in blocks
        )
    )


@pytest.mark.parametrize("name", sorted(MORPHS))
def test_every_morph_gives_valid_genomes_inside_the_space(name: str) -> None:
    rng, applied = random.Random(1), 0
    for parent in genomes():
        child = MORPHS[name](rng, parent, SPACE)
        if child is None:
            continue
        applied += 1
        genome_from_dict(child)
        assert inside_space(child)
        assert child != parent
    assert applied > 0


def test_morphs_do_what_they_say() -> None:
    rng = random.Random(2)
    for parent in genomes():
        n = len(parent["blocks"])
        if (child := MORPHS["deeper"](rng, parent, SPACE)) is not None:
            assert len(child["blocks"]) == n + 1
        if (child := MORPHS["shallower"](rng, parent, SPACE)) is not None:
            assert len(child["blocks"]) == n - 1
        if (child := MORPHS["wider"](rng, parent, SPACE)) is not None:
            sizes = lambda g: [b.get("width", b.get("ffn_dim")) for b in g["blocks"]]  # noqa: E731
            grown = [c > p for c, p in zip(sizes(child), sizes(parent), strict=True)]
            assert sum(grown) == 1 and all(
                c >= p for c, p in zip(sizes(child), sizes(parent), strict=True)
            )
        if (child := MORPHS["kernel"](rng, parent, SPACE)) is not None:
            kernels = lambda g: [b.get("kernel") for b in g["blocks"]]  # noqa: E731
            assert sum(a != b for a, b in zip(kernels(child), kernels(parent), strict=True)) == 1
        if (child := MORPHS["swap_type"](rng, parent, SPACE)) is not None:
            types = lambda g: [b["type"] for b in g["blocks"]]  # noqa: E731
            assert sum(a != b for a, b in zip(types(child), types(parent), strict=True)) == 1


def test_morph_never_returns_the_parent_unchanged() -> None:
    rng = random.Random(3)
    for parent in genomes():
        child, name = morph(rng, parent, SPACE)
        assert name in MORPHS and child != parent


def feed(searcher, n: int, score) -> None:
    for _ in range(n):
        config = searcher.suggest(f"t{searcher.proposed}")
        searcher.on_trial_complete(f"t{config['trial_index']}", {"val_accuracy": score(config)})


def conv_share(config: dict) -> float:
    blocks = config["genome"]["blocks"]
    return sum(b["type"] == "conv" for b in blocks) / len(blocks)


def test_morphism_exploits_what_it_has_seen() -> None:
    spec = load_spec("small", ["search.searcher=morphism"])
    searcher = make_searcher(spec.search, seed=4)
    feed(searcher, 30, conv_share)  # conv blocks are what scores here
    later = [searcher.suggest(f"x{i}") for i in range(40)]
    rng = random.Random(5)
    randoms = [{"genome": sample_genome(rng, SPACE)} for _ in range(40)]
    assert sum(map(conv_share, later)) > sum(map(conv_share, randoms)) + 5
    for config in later:
        genome_from_dict(config["genome"])
        assert inside_space(config["genome"])


def test_morphism_history_survives_save_restore(tmp_path) -> None:
    spec = load_spec("small", ["search.searcher=morphism"])
    searcher = make_searcher(spec.search, seed=6)
    feed(searcher, 12, conv_share)
    searcher.save(str(tmp_path / "s.pkl"))
    expected = [searcher.suggest(f"y{i}") for i in range(5)]
    restored = make_searcher(spec.search, seed=6)
    restored.restore(str(tmp_path / "s.pkl"))
    assert len(restored.history) == 12
    assert [restored.suggest(f"y{i}") for i in range(5)] == expected


def test_failed_trials_do_not_enter_the_history() -> None:
    spec = load_spec("small", ["search.searcher=morphism"])
    searcher = make_searcher(spec.search, seed=7)
    searcher.suggest("a")
    searcher.on_trial_complete("a", None, error=True)
    assert searcher.history == []


def test_surrogate_ranks_by_neighbours() -> None:
    surrogate = KnnSurrogate(k=3)
    rng = random.Random(8)
    hp = {"lr": 0.003, "batch_size": 32, "weight_decay": 0.0, "epochs": 3}
    configs = [{"genome": g, "hparams": hp} for g in genomes(30)]
    for config in configs:
        surrogate.add(features(config), conv_share(config))
    import numpy as np

    probe = [c for c in configs if conv_share(c) in (0.0, 1.0)]
    rng.shuffle(probe)
    mean, spread = surrogate.predict(np.stack([features(c) for c in probe]))
    for value, config in zip(mean, probe, strict=True):
        assert abs(value - conv_share(config)) < 0.5
    assert (spread >= 0).all()


def test_believing_surrogate_is_sure_of_running_trials_and_keeps_their_mean() -> None:
    import numpy as np

    surrogate = KnnSurrogate(k=3)
    hp = {"lr": 0.003, "batch_size": 32, "weight_decay": 0.0, "epochs": 3}
    configs = [{"genome": g, "hparams": hp} for g in genomes(40)]
    for config in configs[:30]:
        surrogate.add(features(config), conv_share(config))
    running = np.stack([features(c) for c in configs[30:]])
    mean, spread = surrogate.predict(running)
    believed_mean, believed_spread = surrogate.believing(running, mean).predict(running)
    assert np.allclose(believed_mean, mean, atol=1e-3)  # a believer changes no prediction there
    assert (believed_spread < spread).all()  # but it is no longer unsure there
    assert len(surrogate) == 30  # the searcher's own surrogate is untouched


def test_morphism_spreads_out_with_many_trials_in_flight() -> None:
    """Proposals made while 64 trials run (none finished since) are mostly distinct children."""
    spec = load_spec("small", ["search.searcher=morphism"])
    searcher = make_searcher(spec.search, seed=9)
    feed(searcher, 30, conv_share)
    in_flight = [searcher.suggest(f"r{i}") for i in range(64)]
    distinct = {json.dumps(c["genome"], sort_keys=True) for c in in_flight}
    assert len(distinct) >= 0.9 * len(in_flight)
