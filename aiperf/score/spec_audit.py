"""What the spec fixes about every report of an honest run, audited: FLOPs that re-derive from
their own inputs are only honest if those inputs are the spec's.

- The work of an epoch: one pass over the training split (synthetic: ``train_size`` samples) in
  ``ceil(samples / batch_size)`` steps; the same real tokens in every report of the run; padding
  no more than length-sorted batching leaves (batches are consecutive slices of the
  length-sorted order, so their length ranges do not overlap: at most ``batch_size · (max_len −
  1)`` padded positions an epoch).
- The work of an evaluation: the same in every report when the attack's work does not depend on
  the model (PGD, or no attack), never padded; on the synthetic task exactly val + test + the
  attack's passes over its ``n`` sentences.
- Sentence lengths (synthetic task): uniform between ``length_range(max_len)``, so the real
  tokens of a report's work, and the squares behind attention's cost, lie within five sigma
  (plus 5% and 10% for the val/test de-duplication's bias) of what that many sentences give.
- Accuracies: whole numbers of the split's sentences, and on the synthetic task no higher than
  its label noise allows (``1 − label_noise``, with a five-sigma margin for the split's size).
- Proposals: every trial's genome, hyperparameters and UEGR knobs inside the spec's search space.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

from aiperf.flops import Work
from aiperf.score.ledger import Ledger, Report
from aiperf.search.space import outside_space
from aiperf.spec import Spec, length_range

GRAIN_TOLERANCE = 1e-6  # accuracy × split size must be this close to a whole number
CEILING_SIGMAS = 5.0
LENGTH_SIGMAS = 5.0


def epoch_work(ledger: Ledger, spec: Spec) -> Iterator[str]:
    """One pass over the training split per report, in the steps its batch size takes."""
    train_size = spec.workload.train_size if spec.workload.kind == "synthetic" else None
    for report in ledger.reports:
        trial = ledger.trials.get(report.trial_id)
        work = report.train_work
        if trial is None or work is None:
            continue  # the logic audit names these
        name = report.label
        if train_size is not None and report.samples != train_size:
            yield f"{name}: trained {report.samples} samples, an epoch is {train_size}"
        batch = trial.hparams.get("batch_size")
        if not isinstance(batch, int) or isinstance(batch, bool) or batch < 1:
            yield f"trial {trial.trial_id}: hparams.batch_size {batch!r:.40} is not a batch size"
            continue
        if report.steps != math.ceil(report.samples / batch):
            yield f"{name}: {report.steps} steps for {report.samples} samples in batches of {batch}"
        if work.tokens - work.real_tokens > batch * (spec.workload.max_len - 1):
            yield f"{name}: more padding than length-sorted batches of {batch} leave"


def same_work(ledger: Ledger, spec: Spec) -> Iterator[str]:
    """Every report trains on the same real tokens and, when the attack's work does not depend on
    the model, evaluates the same, unpadded work."""
    reports = [
        r for r in ledger.reports if r.train_work is not None and r.trial_id in ledger.trials
    ]
    if not reports:
        return
    first = reports[0]
    fixed_eval = spec.robustness.attack == "pgd" or spec.robustness.samples == 0
    for report in reports:
        name = report.label
        if report.train_work.real_tokens != first.train_work.real_tokens:
            yield f"{name}: trained on other real tokens than {first.label}"
        forward, input_grad = report.eval_forward_work, report.eval_input_grad_work or Work()
        if forward is not None and (forward.tokens != forward.real_tokens):
            yield f"{name}: evaluation batches are never padded"
        if fixed_eval and (forward, input_grad) != _eval_of(first):
            yield f"{name}: evaluated other work than {first.label}"
    if spec.workload.kind == "synthetic":
        yield from _eval_counts(first, spec)


def _eval_of(report: Report) -> tuple[Work | None, Work]:
    return report.eval_forward_work, report.eval_input_grad_work or Work()


def _eval_counts(report: Report, spec: Spec) -> Iterator[str]:
    """On the synthetic task: clean passes over val and test, and the attack's over its ``n``."""
    workload, attack = spec.workload, spec.robustness
    n = min(attack.samples, workload.test_size)
    clean = workload.val_size + workload.test_size
    if attack.samples == 0:
        expected = (clean, 0)
    elif attack.attack == "pgd":
        expected = (clean + (attack.steps + 1) * n, attack.steps * n)
    else:
        expected = None  # word substitution: as many passes as its swaps need
    forward, input_grad = _eval_of(report)
    counted = (forward.samples if forward else 0, input_grad.samples)
    if expected is not None and counted != expected:
        yield (
            f"{report.label}: evaluation ran {counted[0]} forward and {counted[1]} "
            f"input-gradient samples, the spec's evaluation is {expected[0]} and {expected[1]}"
        )


def sentence_lengths(ledger: Ledger, spec: Spec) -> Iterator[str]:
    """Synthetic task: the tokens of every report's work are what uniform lengths give."""
    workload, attack = spec.workload, spec.robustness
    if workload.kind != "synthetic":
        return
    n = min(attack.samples, workload.test_size)
    distinct = {  # how many different sentences each work averages over
        "train_work": workload.train_size,
        "eval_forward_work": n or workload.val_size + workload.test_size,
        "eval_input_grad_work": n,
    }
    moments = _length_moments(workload.max_len)
    for report in ledger.reports:
        for field, count in distinct.items():
            work = getattr(report, field)
            if work is None or work.samples == 0 or count == 0:
                continue
            padded = report.train_work is work  # training batches pad; evaluation's do not
            trial = ledger.trials.get(report.trial_id)
            batch = trial.hparams.get("batch_size", 0) if padded and trial else 0
            if not _plausible(work, count, moments, batch, workload.max_len):
                yield f"{report.label}: {field} holds sentences of implausible lengths"


def _length_moments(max_len: int) -> tuple[float, float, float, float]:
    """Mean and standard deviation of L and of L² for L uniform on ``length_range``."""
    lengths = range(length_range(max_len)[0], max_len + 1)
    k = len(lengths)
    m1, m2 = sum(lengths) / k, sum(v**2 for v in lengths) / k
    m4 = sum(v**4 for v in lengths) / k
    return m1, math.sqrt(m2 - m1 * m1), m2, math.sqrt(max(m4 - m2 * m2, 0.0))


def _plausible(
    work: Work, count: int, moments: tuple[float, ...], batch: int, max_len: int
) -> bool:
    mean, sd, square, square_sd = moments
    spread = LENGTH_SIGMAS / math.sqrt(count)
    per_sample = work.real_tokens / work.samples
    padding = (batch if isinstance(batch, int) else 0) * max_len * max_len / work.samples
    squares = work.tokens_sq / work.samples
    return (
        abs(per_sample - mean) <= spread * sd + 0.05 * mean
        and square - spread * square_sd - 0.1 * square
        <= squares
        <= square + spread * square_sd + 0.1 * square + padding
    )


def accuracy_grain(ledger: Ledger, spec: Spec) -> Iterator[str]:
    """Synthetic task: each accuracy is a count over its split, below the label-noise ceiling."""
    workload = spec.workload
    if workload.kind != "synthetic":
        return
    attacked = min(spec.robustness.samples, workload.test_size)
    sizes = {"val_accuracy": workload.val_size, "test_accuracy": workload.test_size}
    sizes |= {"robust_accuracy": attacked} if attacked else {}
    for report in ledger.reports:
        for field, size in sizes.items():
            value = getattr(report, field)
            if value is None or not 0 <= value <= 1:
                continue  # the logic audit names fractions out of range
            if abs(value * size - round(value * size)) > GRAIN_TOLERANCE * size:
                yield f"{report.label}: {field} {value!r} is no count of {size} sentences"
            elif value > ceiling(workload.label_noise, size):
                yield (
                    f"{report.label}: {field} {value!r} is above what label noise "
                    f"{workload.label_noise} allows on {size} sentences"
                )


def ceiling(label_noise: float, size: int) -> float:
    """The highest accuracy a perfect reader plausibly reaches on ``size`` noisy labels."""
    p = 1.0 - label_noise
    return p + CEILING_SIGMAS * math.sqrt(p * (1 - p) / size) + 1.0 / size


def proposals_in_space(ledger: Ledger, spec: Spec) -> Iterator[str]:
    """Every trial's genome, hyperparameters and UEGR knobs are ones the searcher could draw."""
    for trial in ledger.trials.values():
        outside = outside_space(spec.search.space, trial.genome, trial.hparams, trial.uegr)
        if outside:
            yield f"trial {trial.trial_id}: outside the spec's search space: {outside[0]}"
