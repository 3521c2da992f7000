"""NNI's TPE and Evolution tuners as aiperf searchers: NNI 3.0 used as a library (no nnictl, no
experiment). The only module that imports nni, and only when one of these searchers is built.

Parameter id = trial index. A failed trial is skipped: the tuner hears ``trial_end(success=False)``,
never a made-up score. When the tuner has nothing to propose (Evolution with an empty population,
or NNI's deduplication exhausted) the proposal is a random one, seeded by (seed, index).
"""

from __future__ import annotations

import abc
import logging
import math
import random
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import Any, ClassVar

import numpy as np

from aiperf.errors import UserError
from aiperf.search.base import AiperfSearcher
from aiperf.search.nni_space import decode_params, encode_space
from aiperf.search.proposal import Proposal
from aiperf.search.space import sample_proposal
from aiperf.spec import SearchSpace


def import_nni(searcher: str) -> ModuleType:
    """``nni`` with its console logging silenced; a one-line UserError when it is missing."""
    try:
        import nni
    except ImportError:
        raise UserError(
            f"searcher {searcher!r} needs NNI: pip install 'aiperf-automl[nni]'"
        ) from None
    nni.silence_stdout()
    logging.getLogger("nni").setLevel(logging.ERROR)
    return nni


class _NniSearcher(AiperfSearcher):
    """One NNI tuner behind the AiperfSearcher interface, seeded and saved with the search."""

    name: ClassVar[str]
    nested: ClassVar[bool] = True  # nested block choices, or flat block_i_<field> keys

    def __init__(self, space: SearchSpace, seed: int, max_trials: int = 0) -> None:
        super().__init__(space, seed, max_trials)
        nni = import_nni(self.name)
        self.exhausted = (nni.NoMoreTrialError, RuntimeError)
        self.nni_space = encode_space(space, nested=self.nested)
        # NNI draws some choices from the global `random`: it runs on this private state.
        self.random_state = random.Random(f"nni:{seed}").getstate()
        self.tuner = self.make_tuner(seed)
        self.trials: dict[int, tuple[int, dict[str, Any]]] = {}  # index → (parameter id, params)

    @abc.abstractmethod
    def make_tuner(self, seed: int) -> Any:
        """The NNI tuner, its search space set and its random state seeded from ``seed``."""

    @contextmanager
    def own_random(self) -> Iterator[None]:
        """Run NNI code on this searcher's `random` state, leaving the global one untouched."""
        saved = random.getstate()
        random.setstate(self.random_state)
        try:
            yield
        finally:
            self.random_state = random.getstate()
            random.setstate(saved)

    def propose(self, index: int) -> dict[str, Any]:
        try:
            with self.own_random():
                params = self.tuner.generate_parameters(index)
        except self.exhausted:
            return sample_proposal(random.Random(f"{self.seed}:{index}"), self.space)
        self.trials[index] = (index, params)
        return decode_params(params, self.space)

    def observe(self, proposal: Proposal, score: float | None) -> None:
        """Report the score to the tuner; a failed trial (None, NaN) only ends it there."""
        entry = self.trials.pop(proposal.trial_index, None)
        if entry is None:  # a random fallback: the tuner never proposed it
            return
        parameter_id, params = entry
        with self.own_random():
            if score is None or not math.isfinite(score):
                self.tuner.trial_end(parameter_id, False)
            else:
                self.tuner.receive_trial_result(parameter_id, params, float(score))

    def state(self) -> dict[str, Any]:
        return {
            **super().state(),
            "tuner": self.tuner,
            "trials": self.trials,
            "random_state": self.random_state,
        }

    def load_state(self, state: dict[str, Any]) -> None:
        super().load_state(state)
        self.tuner = state["tuner"]
        self.trials = state["trials"]
        self.random_state = state["random_state"]


class NniTpeSearcher(_NniSearcher):
    """NNI's TPE over nested block choices; random for its first ``n_startup_jobs`` results."""

    name = "nni-tpe"
    tpe_args: ClassVar[dict[str, Any]] = {"n_startup_jobs": 10}

    def make_tuner(self, seed: int) -> Any:
        from nni.algorithms.hpo.tpe_tuner import TpeTuner

        tuner = TpeTuner(optimize_mode="maximize", seed=seed, tpe_args=self.tpe_args)
        tuner.update_search_space(self.nni_space)
        return tuner


class NniEvolutionSearcher(_NniSearcher):
    """NNI's naive evolution over flat block keys: it mutates top-level keys only (a nested
    choice's fields are copied whole unless the choice itself mutates)."""

    name = "nni-evolution"
    nested = False
    population_size: ClassVar[int] = 16

    def make_tuner(self, seed: int) -> Any:
        from nni.algorithms.hpo.evolution_tuner import EvolutionTuner

        tuner = EvolutionTuner(optimize_mode="maximize", population_size=self.population_size)
        tuner.update_search_space(self.nni_space)
        # NNI draws the first population from an unseeded RandomState: redraw it from ours.
        tuner.random_state = np.random.RandomState(np.random.MT19937(seed))
        tuner.population = []
        for _ in range(tuner.population_size):
            tuner._random_generate_individual()
        return tuner
