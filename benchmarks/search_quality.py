"""Searchers compared at an equal number of trials, and their proposal cost as history grows.

Quality uses a fast proxy of the real workload, stated here: trials run one after another
without Ray, train plainly (UEGR off) on a reduced synthetic task (1,500 train / 300 val / 500
test sentences) for the proposal's epochs capped at 3, no robustness attack. Each searcher
sees every result before its next proposal. Reported: the test accuracy of the trial selected
on validation after N trials, mean ± std over seeds, and the ratio to random search.
Usage: python benchmarks/search_quality.py [--trials 24] [--seeds 3]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

from rich.console import Console
from rich.table import Table

from aiperf.search import SEARCHERS, make_searcher
from aiperf.search.proposal import Proposal
from aiperf.search.surrogate import features
from aiperf.spec import load_spec
from aiperf.train import TrialContext, run_trial

PROXY = [
    "workload.train_size=1500",
    "workload.val_size=300",
    "workload.test_size=500",
    "uegr.enabled=false",
    "robustness.samples=0",
    "train.flops_self_check=false",
    "search.space.epochs={min: 1, max: 3}",
]


def best_test_after(name: str, seed: int, trials: int) -> float:
    """Search ``trials`` trials; the test accuracy of the best-validation trial."""
    spec = load_spec("small", [*PROXY, f"search.searcher={name}", f"seed={seed}"])
    searcher = make_searcher(spec.search, seed)
    context = TrialContext.from_spec(spec)
    best = (-1.0, 0.0)
    for i in range(trials):
        proposal = Proposal.from_config(searcher.suggest(str(i)))
        reports: list[dict] = []
        run_trial(proposal, context, lambda metrics, _, sink=reports: sink.append(metrics))
        final = reports[-1]
        searcher.on_trial_complete(str(i), {"val_accuracy": final["val_accuracy"]})
        best = max(best, (final["val_accuracy"], final["test_accuracy"]))
    return best[1]


def proposal_ms(name: str, history: int, in_flight: int = 0, spec_name: str = "small") -> float:
    """Mean milliseconds per proposal once ``history`` trials have finished (synthetic scores)
    while ``in_flight`` more are still running."""
    spec = load_spec(spec_name, [f"search.searcher={name}"])
    searcher = make_searcher(spec.search, seed=0)
    noise = random.Random(0)
    for i in range(history):
        config = searcher.suggest(f"h{i}")
        score = 0.5 + 0.01 * float(features(config)[3]) + 0.05 * noise.random()  # more convs
        searcher.on_trial_complete(f"h{i}", {"val_accuracy": score})
    for i in range(in_flight):
        searcher.suggest(f"r{i}")
    start = time.perf_counter()
    for i in range(20):
        searcher.suggest(f"p{i}")
    return 1e3 * (time.perf_counter() - start) / 20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trials", type=int, default=24)
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    results = {
        name: [best_test_after(name, seed, args.trials) for seed in range(args.seeds)]
        for name in SEARCHERS
    }
    baseline = statistics.mean(results["random"])
    table = Table(
        title=f"search quality after {args.trials} trials (proxy task), {args.seeds} seeds"
    )
    for column in ("searcher", "best test acc", "vs random", "ms/proposal @10", "@100", "@1000"):
        table.add_column(column, justify="right")
    for name, accs in results.items():
        timing = [f"{proposal_ms(name, h):.2f}" for h in (10, 100, 1000)]
        spread = f"{statistics.mean(accs):.4f} ± {statistics.stdev(accs):.4f}"
        table.add_row(name, spread, f"{statistics.mean(accs) / baseline:.3f}", *timing)
    Console().print(table)


if __name__ == "__main__":
    main()
