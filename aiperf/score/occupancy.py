"""How busy the run kept its slots, from the ledger alone: occupancy, ramp and idle gaps.

A slot is busy from a trial's start record to its end record (start-up, training, evaluation,
retries: the slot is held). Occupancy = busy slot-seconds ÷ (slots × run length). The ramp is the
time from t0 until every slot first holds a trial. An idle gap is the time a slot waits between
one trial's end and the next trial's start: trials are matched in order, the k-th end freeing the
slot that the (slots + k)-th start fills.
"""

from __future__ import annotations

from dataclasses import dataclass

from aiperf.score.ledger import Ledger
from aiperf.score.timeline import run_length_s


@dataclass(frozen=True)
class SlotUse:
    """The slot figures of one run (seconds on the ledger's clock)."""

    slots: int
    occupancy: float  # busy slot-seconds ÷ (slots × run length)
    ramp_s: float | None  # t0 → all slots busy (None: they never all were)
    steady_occupancy: float | None  # the same from the end of the ramp to the run's end
    idle_gaps_s: list[float]  # one per slot hand-over, in end order


def trial_spans(ledger: Ledger) -> list[tuple[float, float]]:
    """Every trial's (start, end) relative to t0, cut to the run; a trial without an end record
    holds its slot to the run's end."""
    t0, length = ledger.t0, run_length_s(ledger)
    spans = []
    for trial_id, start in ledger.trials.items():
        end = ledger.trial_ends.get(trial_id)
        begin = min(max(start.time - t0, 0.0), length)
        spans.append((begin, min(max((end.time - t0) if end else length, begin), length)))
    return sorted(spans)


def slot_use(ledger: Ledger) -> SlotUse:
    """Occupancy, ramp and idle gaps of a ledger's run."""
    slots, length = max(ledger.start.slots, 1), run_length_s(ledger)
    spans = trial_spans(ledger)
    busy = sum(end - begin for begin, end in spans)
    ramped = ramp(spans, slots)
    return SlotUse(
        slots=slots,
        occupancy=min(busy / (slots * length), 1.0),
        ramp_s=ramped,
        steady_occupancy=None if ramped is None else busy_share(spans, slots, ramped, length),
        idle_gaps_s=idle_gaps(spans, slots),
    )


def busy_share(spans: list[tuple[float, float]], slots: int, begin: float, end: float) -> float:
    """Busy slot-seconds between ``begin`` and ``end`` ÷ (slots × their distance)."""
    busy = sum(max(min(e, end) - max(b, begin), 0.0) for b, e in spans)
    return min(busy / (slots * max(end - begin, 1e-9)), 1.0)


def ramp(spans: list[tuple[float, float]], slots: int) -> float | None:
    """The first time ``slots`` trials are open at once (None: never)."""
    events = sorted([(b, 1) for b, _ in spans] + [(e, -1) for _, e in spans])
    open_now = 0
    for when, change in events:  # at equal times ends (-1) come first: a hand-over is no overlap
        open_now += change
        if open_now >= slots:
            return when
    return None


def idle_gaps(spans: list[tuple[float, float]], slots: int) -> list[float]:
    """Seconds from the k-th trial end to the (slots + k)-th trial start (the hand-overs)."""
    starts = sorted(b for b, _ in spans)
    ends = sorted(e for _, e in spans)
    later = starts[slots:]
    return [max(start - end, 0.0) for end, start in zip(ends, later, strict=False)]


def percentile(values: list[float], q: float) -> float | None:
    """The ``q``-quantile (0–1) by nearest rank; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(int(q * len(ordered)), len(ordered) - 1)]
