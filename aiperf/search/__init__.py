"""Searchers that propose trials (genome + hyperparameters), each a Ray Tune ``Searcher``.

``SEARCHERS`` binds every name a spec may give (``aiperf.spec.SearcherName``, validated when the
spec is read) to a loader of its class; ray is imported only when one is built.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from aiperf.spec import SearcherName, SearchSpec

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


SEARCHERS: dict[SearcherName, Callable[[], type[AiperfSearcher]]] = {
    "random": _random,
    "morphism": _morphism,
    "nni-tpe": _nni_tpe,
    "nni-evolution": _nni_evolution,
}


def make_searcher(search: SearchSpec, seed: int) -> AiperfSearcher:
    """The searcher named in the (validated) spec, seeded with the run seed."""
    return SEARCHERS[search.searcher]()(search.space, seed, search.max_trials)
