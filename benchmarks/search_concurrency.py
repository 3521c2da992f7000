"""Search under concurrency: the best accuracy each searcher reaches with 1, 8 and 128 trials in
flight, at the same trial budget, and how diverse the morphism searcher's proposals stay.

The proxy task is the simulator's synthetic landscape (``aiperf.simulate.landscape``: a stated
formula, not real training), with the standard spec's space and trial lengths from the
simulator's cost model. A discrete-event loop without Ray keeps ``concurrency`` trials running:
a searcher sees a trial's final validation accuracy only when it ends, and proposes the next
one at once, as Ray Tune drives it. Reported: the test accuracy of the best-validation trial
(mean ± std over seeds) and, in brackets, the share of distinct architectures among the
proposals; the morphism searcher runs twice, as it is and blind to running trials (as it was).
Also timed: one proposal with 128 trials in flight after 5,000 finished (synthetic scores).
Usage: python benchmarks/search_concurrency.py [--trials 256] [--seeds 3]
"""

from __future__ import annotations

import argparse
import contextlib
import heapq
import statistics
from collections.abc import Iterator

from rich.console import Console
from rich.table import Table
from search_quality import proposal_ms  # this folder's script: run from anywhere

from aiperf.models import genome_id
from aiperf.search import SEARCHERS, make_searcher
from aiperf.search.proposal import Proposal
from aiperf.search.surrogate import KnnSurrogate
from aiperf.simulate.costs import DEFAULT_STARTUP_S, DEFAULT_THROUGHPUT, TrialCosts, trial_costs
from aiperf.simulate.landscape import accuracy_at
from aiperf.spec import Spec, load_spec

CONCURRENCY = (1, 8, 128)


def search(spec: Spec, costs: TrialCosts, concurrency: int, trials: int) -> tuple[float, float]:
    """(test accuracy of the best-validation trial, share of distinct genomes proposed)."""
    searcher = make_searcher(spec.search, spec.seed)
    running: list[tuple[float, int, Proposal]] = []  # (end time, index, proposal)
    best, genomes, now, proposed = (-1.0, 0.0), set(), 0.0, 0
    while proposed < trials or running:
        while proposed < trials and len(running) < concurrency:
            proposal = Proposal.from_config(searcher.suggest(str(proposed)))
            genomes.add(genome_id(proposal.genome))
            epochs = proposal.hparams.epochs
            length = costs.startup_s + epochs * costs.epoch(proposal).seconds
            heapq.heappush(running, (now + length, proposed, proposal))
            proposed += 1
        now, index, proposal = heapq.heappop(running)
        val, test = accuracy_at(
            proposal.to_config(), proposal.hparams.epochs, proposal.trial_seed,
            costs.num_classes, costs.ceiling,
        )  # fmt: skip
        searcher.on_trial_complete(str(index), {"val_accuracy": val})
        best = max(best, (val, test))
    return best[1], len(genomes) / trials


def _cell(name: str, costs: TrialCosts, concurrency: int, args: argparse.Namespace) -> str:
    """Mean ± std of the best test accuracy over seeds, and the share of distinct genomes."""
    runs = [
        search(load_spec("standard", [f"search.searcher={name}", f"seed={seed}"]),
               costs, concurrency, args.trials)
        for seed in range(args.seeds)
    ]  # fmt: skip
    accs, distinct = [r[0] for r in runs], [r[1] for r in runs]
    spread = statistics.stdev(accs) if len(accs) > 1 else 0.0
    return f"{statistics.mean(accs):.4f} ± {spread:.4f}  ({statistics.mean(distinct):.0%})"


@contextlib.contextmanager
def blind_to_running_trials() -> Iterator[None]:
    """The morphism searcher as it was before it counted running trials: the baseline."""
    believing = KnnSurrogate.believing
    KnnSurrogate.believing = lambda self, pending, scores: self  # type: ignore[method-assign]
    try:
        yield
    finally:
        KnnSurrogate.believing = believing  # type: ignore[method-assign]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trials", type=int, default=256)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--searchers", nargs="+", default=list(SEARCHERS))
    args = parser.parse_args()
    costs = trial_costs(load_spec("standard"), DEFAULT_THROUGHPUT, DEFAULT_STARTUP_S)
    table = Table(title=f"best test accuracy after {args.trials} trials, {args.seeds} seeds "
                        "(synthetic landscape); distinct genomes proposed")  # fmt: skip
    table.add_column("searcher")
    for concurrency in CONCURRENCY:
        table.add_column(f"{concurrency} in flight", justify="right")
    table.add_column("ms/proposal, 128 in flight, 5,000 done", justify="right")
    rows = [(name, contextlib.nullcontext()) for name in args.searchers]
    if "morphism" in args.searchers:
        rows.append(("morphism, blind to running trials", blind_to_running_trials()))
    for label, variant in rows:
        name = label.split(",")[0]
        with variant:
            cells = [_cell(name, costs, concurrency, args) for concurrency in CONCURRENCY]
            latency = proposal_ms(name, history=5000, in_flight=128, spec_name="standard")
        table.add_row(label, *cells, f"{latency:.1f}")
    Console(width=200).print(table)


if __name__ == "__main__":
    main()
