"""NNI searchers: the space translation, TPE and Evolution proposing, learning, save/restore,
and the one-line error without NNI."""

from __future__ import annotations

import math
import pickle
import random
import sys
from typing import Any

import pytest

from aiperf.models import genome_from_dict
from aiperf.search import make_searcher
from aiperf.search.nni_space import decode_params, encode_space
from aiperf.search.proposal import Proposal
from aiperf.search.space import sample_proposal
from aiperf.spec import FloatRange, SearchSpace, load_spec, parse_spec

NNI_SEARCHERS = ["nni-evolution", "nni-tpe"]
UEGR_SPACE = {"k": [2, 3], "rho": {"min": 0.2, "max": 0.5, "log": True}, "adv_init": ["zero"]}


def draw(rng: random.Random, node: dict[str, Any]) -> Any:
    """One value from an NNI search-space node, the way any tuner could draw it."""
    low, high = (node["_value"] + [0, 0])[:2]
    draws = {
        "choice": lambda: draw_all(rng, rng.choice(node["_value"])),
        "randint": lambda: rng.randrange(low, high),
        "uniform": lambda: rng.uniform(low, high),
        "loguniform": lambda: math.exp(rng.uniform(math.log(low), math.log(high))),
    }
    return draws[node["_type"]]()


def draw_all(rng: random.Random, value: Any) -> Any:
    """Draw every parameter of a (nested) space; plain choice values stay as they are."""
    if not isinstance(value, dict):
        return value
    return {k: v if k == "_name" else draw(rng, v) for k, v in value.items()}


def assert_inside(proposal: dict[str, Any], space: SearchSpace) -> None:
    genome = genome_from_dict(proposal["genome"])
    assert genome.embed_dim in space.embed_dim
    assert space.num_blocks.min <= len(genome.blocks) <= space.num_blocks.max
    for block in genome.blocks:
        assert block.type in space.block_types
        if block.type == "conv":
            assert (block.kernel, block.width) in {
                (k, w) for k in space.conv_kernel for w in space.conv_width
            }
        else:
            assert block.heads in space.heads and block.ffn_dim in space.ffn_dim
    assert genome.pooling in space.pooling
    assert space.dropout.min <= genome.dropout <= space.dropout.max
    hparams = proposal["hparams"]
    assert space.lr.min <= hparams["lr"] <= space.lr.max
    assert hparams["batch_size"] in space.batch_size
    assert space.epochs.min <= hparams["epochs"] <= space.epochs.max
    for name, choices in space.uegr.items():
        value = proposal["uegr"][name]
        if isinstance(choices, FloatRange):
            assert choices.min <= value <= choices.max
        else:
            assert value in choices


@pytest.mark.parametrize("nested", [True, False])
@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"embed_dim": [30, 48], "heads": [4, 3, 16]},  # 30: no head divides → conv
        {"block_types": ["transformer"], "embed_dim": [30, 32], "heads": [4, 8]},
        {"block_types": ["conv"], "num_blocks": {"min": 2, "max": 2}},
    ],
)
def test_space_round_trip_decodes_valid_genomes(nested: bool, overrides: dict) -> None:
    space = SearchSpace.model_validate({**overrides, "uegr": UEGR_SPACE})
    nni_space = encode_space(space, nested=nested)
    assert nni_space["num_blocks"] == {
        "_type": "randint",
        "_value": [space.num_blocks.min, space.num_blocks.max + 1],
    }
    rng = random.Random(0)
    for _ in range(200):
        params = draw_all(rng, nni_space)
        proposal = decode_params(params, space)
        assert_inside(proposal, space)
        assert len(proposal["genome"]["blocks"]) == params["num_blocks"]


def test_encoding_nests_block_choices_or_flattens_them() -> None:
    space = SearchSpace()
    nested = encode_space(space)
    names = [option["_name"] for option in nested["block_2"]["_value"]]
    assert names == ["transformer", "conv"] and "block_3" not in nested
    flat = encode_space(space, nested=False)
    assert {"block_2_type", "block_2_heads", "block_2_kernel"} <= set(flat)
    assert all("_value" in node and "_name" not in str(node) for node in flat.values())


def test_heads_that_do_not_divide_become_the_nearest_divisor_or_conv() -> None:
    space = SearchSpace(embed_dim=(24, 30), heads=(3, 4, 16), num_blocks={"min": 1, "max": 1})
    params = {
        "num_blocks": 1,
        "block_0": {"_name": "transformer", "heads": 16, "ffn_dim": 64},
        "pooling": "mean",
        "dropout": 0.1,
        "lr": 0.002,
        "batch_size": 32,
        "weight_decay": 0.0,
        "epochs": 2,
    }
    as_24 = decode_params({**params, "embed_dim": 24}, space)["genome"]["blocks"][0]
    assert as_24 == {"type": "transformer", "heads": 4, "ffn_dim": 64}
    as_30 = decode_params({**params, "embed_dim": 30}, space)["genome"]["blocks"][0]
    assert as_30 == {"type": "transformer", "heads": 3, "ffn_dim": 64}
    no_divisor = SearchSpace(embed_dim=(30, 32), heads=(4,), num_blocks={"min": 1, "max": 1})
    block = decode_params({**params, "embed_dim": 30}, no_divisor)["genome"]["blocks"][0]
    assert block == {"type": "conv", "kernel": 3, "width": 32}


def run_search(searcher, trials: int, start: int = 0) -> list[dict[str, Any]]:
    """Suggest and finish ``trials`` trials; conv blocks score higher, every 7th trial fails."""
    configs = []
    for i in range(start, start + trials):
        config = searcher.suggest(str(i))
        blocks = config["genome"]["blocks"]
        score = 0.5 + 0.4 * sum(b["type"] == "conv" for b in blocks) / len(blocks)
        score += 0.05 * random.Random(i).random()
        searcher.on_trial_complete(str(i), None if i % 7 == 6 else {"val_accuracy": score})
        configs.append(config)
    return configs


def conv_share(configs: list[dict[str, Any]]) -> float:
    return sum(c["genome"]["blocks"][0]["type"] == "conv" for c in configs) / len(configs)


@pytest.mark.parametrize("name", NNI_SEARCHERS)
def test_searcher_learns_that_conv_is_better(name: str) -> None:
    spec = load_spec("small", [f"search.searcher={name}"])
    configs = run_search(make_searcher(spec.search, seed=0), 70)
    for config in configs:
        assert_inside(config, spec.search.space)
    assert conv_share(configs[:16]) < 0.75
    assert conv_share(configs[40:]) > 0.8


@pytest.mark.parametrize("name", NNI_SEARCHERS)
def test_save_restore_mid_search_continues_identically(name: str, tmp_path) -> None:
    spec = parse_spec({"search": {"searcher": name, "space": {"uegr": UEGR_SPACE}}})
    searcher = make_searcher(spec.search, seed=4)
    run_search(searcher, 25)
    searcher.suggest("pending")  # still running at the checkpoint
    searcher.save(str(tmp_path / "state.pkl"))
    expected = run_search(searcher, 20, start=25)
    restored = make_searcher(spec.search, seed=4)
    restored.restore(str(tmp_path / "state.pkl"))
    assert run_search(restored, 20, start=25) == expected


@pytest.mark.parametrize("name", NNI_SEARCHERS)
def test_proposals_ignore_and_keep_the_global_random_state(name: str) -> None:
    spec = load_spec("tiny", [f"search.searcher={name}"])
    runs = []
    for global_seed in (1, 2):
        random.seed(global_seed)
        before = random.getstate()
        runs.append(run_search(make_searcher(spec.search, seed=3), 30))
        assert random.getstate() == before
    assert runs[0] == runs[1]


def test_failed_trials_are_skipped_not_scored() -> None:
    spec = load_spec("tiny", ["search.searcher=nni-tpe"])
    searcher = make_searcher(spec.search, seed=0)
    run_search(searcher, 21)  # trials 6, 13 and 20 fail
    assert len(searcher.tuner._history[("embed_dim",)]) == 18
    assert not searcher.tuner._running_params and not searcher.trials


def test_evolution_without_results_falls_back_to_seeded_random() -> None:
    spec = load_spec("tiny", ["search.searcher=nni-evolution"])
    searcher = make_searcher(spec.search, seed=5)
    configs = [searcher.suggest(str(i)) for i in range(20)]
    size = searcher.population_size
    assert all(i in searcher.trials for i in range(size))  # the tuner's first population
    for i in range(size, 20):  # then an empty population: random, seeded by (seed, index)
        fallback = sample_proposal(random.Random(f"5:{i}"), spec.search.space)
        assert configs[i] == Proposal.from_draw(fallback, i, 5).to_config()


def test_searchers_state_pickles_with_the_tuner() -> None:
    spec = load_spec("tiny", ["search.searcher=nni-tpe"])
    searcher = make_searcher(spec.search, seed=0)
    run_search(searcher, 12)
    state = pickle.loads(pickle.dumps(searcher.state()))
    assert type(state["tuner"]).__name__ == "TpeTuner"


@pytest.mark.parametrize("name", NNI_SEARCHERS)
def test_missing_nni_is_one_line(name: str, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "nni", None)
    spec = load_spec("tiny", [f"search.searcher={name}"])
    with pytest.raises(ValueError) as err:
        make_searcher(spec.search, seed=0)
    assert str(err.value) == f"searcher '{name}' needs NNI: pip install 'aiperf-automl[nni]'"
