"""Every searcher (and ASHA early stopping) inside a real, short Ray Tune run on the tiny spec."""

from __future__ import annotations

import pytest

from aiperf.models import genome_from_dict
from aiperf.run import run_benchmark
from aiperf.score import read_ledger
from aiperf.search import SEARCHERS
from aiperf.spec import load_spec

pytestmark = pytest.mark.slow

SMALL = [
    "duration=20s",
    "min_duration=5s",
    "workload.train_size=400",
    "workload.val_size=100",
    "workload.test_size=100",
    "robustness.samples=50",
    "search.space.epochs={min: 1, max: 3}",
]


@pytest.mark.parametrize(
    ("searcher", "scheduler"),
    # random search in Tune is what every end-to-end test runs; ASHA rides along with morphism
    [(name, "none") for name in sorted(SEARCHERS) if name not in ("random", "morphism")]
    + [("morphism", "asha")],
)
def test_searcher_runs_in_tune(ray_session, tmp_path, searcher: str, scheduler: str) -> None:
    spec = load_spec(
        "tiny", [*SMALL, f"search.searcher={searcher}", f"search.scheduler={scheduler}"]
    )
    run_dir, summary = run_benchmark(spec, out=tmp_path / searcher)
    ledger = read_ledger(run_dir / "ledger.jsonl")
    assert summary.trials_completed >= 2, summary
    assert summary.trials_failed == 0
    for trial in ledger.trials.values():
        genome_from_dict(trial.genome)
    indices = sorted(t.trial_index for t in ledger.trials.values())
    assert indices == list(range(len(indices)))  # one proposal per trial, none lost
