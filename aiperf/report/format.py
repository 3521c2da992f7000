"""How numbers are shown to a person: the one set of formatters the console, the HTML page, the
Markdown summary and ``aiperf compare`` share."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from aiperf.score import Summary

_PREFIXES = ((1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"))


def si(value: float | None, unit: str = "") -> str:
    """``1.23 GFLOPS``-style engineering notation; ``—`` for an unknown value."""
    if value is None:
        return "—"
    factor, prefixed = common_scale([value], unit)
    return f"{value / factor:.3g} {prefixed}".strip()


def common_scale(values: Iterable[float | None], unit: str) -> tuple[float, str]:
    """One (factor, prefixed unit) for a whole column, chosen by its largest value, so a table
    can put the unit in its header and keep each cell a short number."""
    largest = max((abs(v) for v in values if v is not None), default=0.0)
    for factor, prefix in _PREFIXES:
        if largest >= factor:
            return factor, f"{prefix}{unit}"
    return 1.0, unit


def scaled(value: float | None, factor: float) -> str:
    """A cell of a column scaled by ``common_scale``."""
    return "—" if value is None else f"{value / factor:.3g}"


def percent(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.2f}%"


@dataclass(frozen=True)
class Headline:
    """One headline number: what it is, its value for a person, and a note on how to read it."""

    label: str
    value: str
    note: str


def headline_numbers(s: Summary) -> list[Headline]:
    """Every headline number of a run, formatted for a person, in the order they are shown."""
    return [
        Headline("FLOPS", si(s.flops, "FLOPS"), "train + eval, over the whole run"),
        Headline("Regulated score", si(s.regulated_score, "FLOPS"), "FLOPS · |ln(1 − acc)|"),
        Headline("Best test accuracy", percent(s.best_test_accuracy), "selected on validation"),
        Headline("Robust accuracy", percent(s.robust_accuracy_of_best), "of the selected model"),
        Headline("Division", division(s), "; ".join(s.division_notes[:3])),
        Headline("Utilisation", utilisation(s), "of datasheet / measured peak"),
        Headline("Energy", energy(s), energy_note(s)),
        Headline("Total work", si(s.total_flops, "FLOP"), f"{s.duration_s:.1f} s run"),
        Headline("Trials", trial_counts(s), "completed / stopped / failed"),
        Headline("Slot occupancy", percent(s.slot_occupancy), "busy slot-seconds / (slots · T)"),
        Headline("Stability", percent(s.stability_cv), "CV of FLOPS(t) over the 2nd half"),
        Headline("Padding", percent(s.padding_share), "share of token positions run as padding"),
    ]


def utilisation(s: Summary) -> str:
    return f"{percent(s.utilisation_datasheet)} / {percent(s.utilisation_measured)}"


def energy(s: Summary) -> str:
    return "—" if s.energy_j is None else f"{s.energy_j:.0f} J"


def energy_note(s: Summary) -> str:
    """FLOPS per watt when energy was measured, else why it was not."""
    if s.energy_j is None:
        return (s.hardware_notes or ["not measured"])[-1]
    return si(s.flops_per_watt, "FLOPS/W")


def division(s: Summary) -> str:
    """``closed (tiny v1)``: the division and the rules the run was scored by."""
    rules = f" ({s.spec_name} v{s.rules_version})" if s.rules_version is not None else ""
    return s.division + rules


def trial_counts(s: Summary) -> str:
    return f"{s.trials_completed} / {s.trials_stopped} / {s.trials_failed}"
