"""Searchers that propose trials (genome + hyperparameters), each a Ray Tune ``Searcher``.

``SEARCHERS`` maps a spec name to its class; ray is imported only when one is built.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiperf.spec import SearchSpec

if TYPE_CHECKING:
    from aiperf.search.base import AiperfSearcher


def _random() -> type[AiperfSearcher]:
    from aiperf.search.random_search import RandomSearcher

    return RandomSearcher


def _morphism() -> type[AiperfSearcher]:
    from aiperf.search.morphism import MorphismSearcher

    return MorphismSearcher


def _nni_tpe() -> type[AiperfSearcher]:
    from aiperf.search.nni_tuners import NniTpeSearcher

    return NniTpeSearcher


def _nni_evolution() -> type[AiperfSearcher]:
    from aiperf.search.nni_tuners import NniEvolutionSearcher

    return NniEvolutionSearcher


SEARCHERS = {
    "random": _random,
    "morphism": _morphism,
    "nni-tpe": _nni_tpe,
    "nni-evolution": _nni_evolution,
}


def make_searcher(search: SearchSpec, seed: int) -> AiperfSearcher:
    """The searcher named in the spec, seeded with the run seed."""
    if search.searcher not in SEARCHERS:
        raise ValueError(
            f"spec.search.searcher: unknown {search.searcher!r} (valid: {', '.join(SEARCHERS)})"
        )
    return SEARCHERS[search.searcher]()(search.space, seed, search.max_trials)
