"""The ledger's own logic, audited: what an honest run cannot have written.

Every report belongs to a started trial and its epochs run 1..n, each once (a repeat must be
identical to the first); its interval starts before it ends and lies within [t0, run end]; never
are more report intervals open at once than the run has slots; accuracies are fractions; every
report's FLOPs re-derive exactly from the trial's genome, UEGR settings and recorded batch shapes,
and the shapes are possible at the spec's ``max_len``; no report claims more FLOPs than its
devices' peak over its duration, nor do the reports running at once on a node claim more than
the node's peak; the run has no more slots than its nodes' cores allow. What the spec fixes about
every report (the work of an epoch and of an evaluation, accuracies, proposals) is audited by
``aiperf.score.spec_audit``. The scorer makes every failure a reason the run is INVALID.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterator
from typing import Any

from aiperf.flops import Work
from aiperf.score import spec_audit
from aiperf.score.hardware import node_peak, report_peak
from aiperf.score.ledger import Ledger, Report, TrialStart
from aiperf.score.rederive import Pricing, report_flops, trial_pricing
from aiperf.spec import Spec

CLOCK_SKEW_S = 1.0  # how far a worker's clock may run from the master's
MAX_NAMED = 3  # failures of one rule named one by one; the rest are counted
SYNTHETIC_CLASSES = 2  # the synthetic task's labels: negative, positive
# Pricing a genome costs time per block; a ledger of many distinct deep genomes could keep
# ``aiperf check`` busy for minutes. Honest runs re-use genomes and stay far below this.
MAX_PRICED_BLOCKS = 20_000


def audit_ledger(ledger: Ledger, spec: Spec, nodes: list[dict[str, Any]]) -> list[str]:
    """Every way the ledger breaks the logic of a run, as sentences (empty: none)."""
    rules: list[Callable[[], Iterator[str]]] = [
        lambda: _unstarted(ledger),
        lambda: _epochs(ledger),
        lambda: _repeats(ledger),
        lambda: _times(ledger),
        lambda: _in_flight(ledger),
        lambda: _fractions(ledger),
        lambda: _work(ledger, spec),
        lambda: _throughput(ledger, nodes),
        lambda: _node_load(ledger, nodes),
        lambda: _capacity(ledger, spec, nodes),
        lambda: spec_audit.epoch_work(ledger, spec),
        lambda: spec_audit.same_work(ledger, spec),
        lambda: spec_audit.sentence_lengths(ledger, spec),
        lambda: spec_audit.accuracy_grain(ledger, spec),
        lambda: spec_audit.proposals_in_space(ledger, spec),
    ]
    failures = []
    for rule in rules:
        found = list(rule())
        extra = len(found) - MAX_NAMED
        failures += found[:MAX_NAMED] + ([f"… and {extra} more like it"] if extra > 0 else [])
    return failures


def _unstarted(ledger: Ledger) -> Iterator[str]:
    for report in ledger.reports:
        if report.trial_id not in ledger.trials:
            yield f"{report.label}: its trial never started (no trial record)"


def _epochs(ledger: Ledger) -> Iterator[str]:
    epochs: dict[str, list[int]] = defaultdict(list)
    for report in ledger.reports:
        epochs[report.trial_id].append(report.epoch)
    for trial_id, seen in epochs.items():
        if sorted(seen) != list(range(1, len(seen) + 1)):
            yield f"trial {trial_id}: epochs {_ranges(sorted(seen))} are not 1..{len(seen)}"
        trial = ledger.trials.get(trial_id)
        planned = trial.hparams.get("epochs") if trial else None
        if isinstance(planned, int) and len(seen) > planned:
            yield f"trial {trial_id}: {len(seen)} epochs reported, its hparams say {planned}"


def _ranges(values: list[int]) -> str:
    shown = ", ".join(map(str, values[:5]))
    return shown + (f", … ({len(values)} in all)" if len(values) > 5 else "")


def _repeats(ledger: Ledger) -> Iterator[str]:
    for repeat in ledger.duplicates:
        if repeat != ledger.first_report(repeat):
            yield f"{repeat.label} is reported twice with different contents"


def _times(ledger: Ledger) -> Iterator[str]:
    t0 = ledger.t0
    end = ledger.run_end.time if ledger.run_end else None
    for report in ledger.reports:
        if report.start_time > report.end_time:
            yield f"{report.label}: ends before it starts"
        elif report.start_time < t0 - CLOCK_SKEW_S:
            yield f"{report.label}: starts {t0 - report.start_time:.1f}s before the run's t0"
        elif end is not None and report.end_time > end + CLOCK_SKEW_S:
            yield f"{report.label}: ends {report.end_time - end:.1f}s after the run ended"


def _in_flight(ledger: Ledger) -> Iterator[str]:
    """Never more report intervals open at once than slots (an end frees its slot for a start
    at the same instant)."""
    events = sorted(
        [(r.start_time, 1) for r in ledger.reports] + [(r.end_time, -1) for r in ledger.reports]
    )
    open_now = most = 0
    for _, change in events:
        open_now += change
        most = max(most, open_now)
    slots = ledger.start.slots
    if most > slots:
        yield f"{most} report intervals are open at once, but the run has {slots} slots"


def _fractions(ledger: Ledger) -> Iterator[str]:
    for report in ledger.reports:
        named = {
            "val_accuracy": report.val_accuracy,
            "test_accuracy": report.test_accuracy,
            "robust_accuracy": report.robust_accuracy,
        }
        for field, value in named.items():
            if value is not None and not 0.0 <= value <= 1.0:
                yield f"{report.label}: {field} {value!r} is not a fraction in [0, 1]"


def _work(ledger: Ledger, spec: Spec) -> Iterator[str]:
    """Each report's FLOPs re-derived from its trial and batch shapes, exactly."""
    classes = SYNTHETIC_CLASSES if spec.workload.kind == "synthetic" else None
    pricer = _Pricer(spec)
    for report in ledger.reports:
        trial = ledger.trials.get(report.trial_id)
        if trial is None:
            continue  # _unstarted names it
        name = report.label
        if report.flops != report.train_flops + report.eval_flops:
            yield f"{name}: flops is not train_flops + eval_flops"
        if report.train_work is None or report.eval_forward_work is None:
            yield f"{name}: no batch shapes recorded, so its FLOPs cannot be re-derived"
            continue
        if report.num_classes is None or (classes is not None and report.num_classes != classes):
            yield f"{name}: num_classes {report.num_classes} is not the workload's"
            continue
        if report.train_work.samples != report.samples:
            yield f"{name}: samples {report.samples} differ from its batch shapes' total"
        yield from _shape_failures(report, spec.workload.max_len)
        pricing = pricer(trial, report.num_classes)
        if pricing is None:
            yield (
                f"the trials hold more than {MAX_PRICED_BLOCKS} blocks of distinct genomes: "
                f"too many to re-derive (from {name} on, no report is verified)"
            )
            return
        if isinstance(pricing, str):
            yield f"{name}: {pricing}"
            continue
        train, evaluation = report_flops(report, pricing)
        if (train, evaluation) != (report.train_flops, report.eval_flops):
            yield (
                f"{name}: claims train/eval FLOPs {report.train_flops}/{report.eval_flops}, its "
                f"genome and batch shapes give {train}/{evaluation}"
            )


class _Pricer:
    """Prices each distinct (genome, UEGR knobs, classes) once — many trials share a genome —
    within the block budget; a trial it cannot price gets the reason why."""

    def __init__(self, spec: Spec) -> None:
        self.spec = spec
        self.priced: dict[str, Pricing | str] = {}
        self.keys: dict[str, str] = {}  # trial → its genome and knobs as text
        self.blocks = 0  # of the distinct genomes priced so far: what pricing costs

    def __call__(self, trial: TrialStart, num_classes: int) -> Pricing | str | None:
        """The trial's pricing, why it has none, or None once the budget is spent."""
        key = self.keys.get(trial.trial_id) or self.keys.setdefault(
            trial.trial_id, json.dumps([trial.genome, trial.uegr, num_classes])
        )
        if key not in self.priced:
            listed = trial.genome.get("blocks")
            self.blocks += len(listed) if isinstance(listed, list) else 0
            if self.blocks > MAX_PRICED_BLOCKS:
                return None
            try:
                self.priced[key] = trial_pricing(trial, self.spec, num_classes)
            except ValueError as err:  # GenomeError, FlopsError, a pydantic ValidationError
                self.priced[key] = f"trial {trial.trial_id} cannot be priced ({_first(err)})"
        return self.priced[key]


def _first(err: Exception) -> str:
    return (str(err).splitlines() or [type(err).__name__])[0]


def _shape_failures(report: Report, max_len: int) -> Iterator[str]:
    """Batch shapes no batching at ``max_len`` can produce: more tokens than samples × max_len,
    more real tokens than positions, or Σ B·L² outside what Σ B and Σ B·L allow."""
    works = {
        "train_work": report.train_work,
        "eval_forward_work": report.eval_forward_work,
        "eval_input_grad_work": report.eval_input_grad_work,
    }
    for field, work in works.items():
        if work is not None and not _possible(work, max_len):
            yield f"{report.label}: {field} {_compact(work)} is impossible at max_len {max_len}"


def _possible(work: Work, max_len: int) -> bool:
    n, tokens, squares = work.samples, work.tokens, work.tokens_sq
    return (
        work.real_tokens <= tokens <= n * max_len
        and squares <= tokens * max_len
        and tokens * tokens <= squares * n  # Cauchy–Schwarz over the batches
    )


def _compact(work: Work) -> str:
    return f"(Σ B {work.samples}, Σ B·L {work.tokens}, Σ B·L² {work.tokens_sq})"


def _throughput(ledger: Ledger, nodes: list[dict[str, Any]]) -> Iterator[str]:
    known = {name for node in nodes for name in (node["ray_node_ip"], node["hostname"])}
    for report in ledger.reports:
        if nodes and report.node not in known:
            yield f"{report.label}: ran on node {report.node!r}, which system.json does not list"
            continue
        peak = report_peak(nodes, report)
        seconds = max(report.end_time - report.start_time, 0.0)
        if peak is not None and report.flops > peak * seconds:
            yield (
                f"{report.label}: {report.flops:.3e} FLOPs in {seconds:.2f}s is more than its "
                f"devices' peak ({peak:.3e} FLOPS) allows"
            )


def _node_load(ledger: Ledger, nodes: list[dict[str, Any]]) -> Iterator[str]:
    """The reports running at once on one node together claim no more FLOPS than its peak."""
    peaks = {name: node_peak(node) for node in nodes for name in _names(node)}
    events: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for report in ledger.reports:
        seconds = report.end_time - report.start_time
        if seconds > 0 and peaks.get(report.node) is not None:
            rate = report.flops / seconds
            events[report.node] += [(report.start_time, rate), (report.end_time, -rate)]
    for name, changes in events.items():
        load = most = 0.0
        for _, change in sorted(changes):  # at one instant, an end (negative) before a start
            load += change
            most = max(most, load)
        if most > peaks[name] * (1 + 1e-9):
            yield f"node {name}: reports at once claim {most:.3e} FLOPS, its peak {peaks[name]:.3e}"


def _names(node: dict[str, Any]) -> list[str]:
    return [name for name in (node["ray_node_ip"], node["hostname"]) if name]


def _capacity(ledger: Ledger, spec: Spec, nodes: list[dict[str, Any]]) -> Iterator[str]:
    """No more slots than the nodes' cores hold trials of ``cpus_per_trial``."""
    cores = [
        node["cpu"].get("logical_cores") or node["cpu"].get("physical_cores") for node in nodes
    ]
    if not nodes or None in cores:
        return
    capacity = sum(count // spec.resources.cpus_per_trial for count in cores)
    if ledger.start.slots > capacity:
        yield (
            f"the run claims {ledger.start.slots} slots; its nodes' {sum(cores)} cores hold "
            f"{capacity} trials of {spec.resources.cpus_per_trial} CPUs"
        )
