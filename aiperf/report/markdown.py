"""``summary.md``: the run's result as Markdown, for a pull request, a wiki or a chat message."""

from __future__ import annotations

from aiperf.report.format import headline_numbers, percent, si
from aiperf.report.plots import PLOT_TITLES
from aiperf.score import Summary
from aiperf.score.timeline import TimelinePoint


def render_markdown(summary: Summary, timeline: list[TimelinePoint], plot_paths: list[str]) -> str:
    """Verdict, headline numbers, the score grid and links to the figures."""
    lines = [f"# aiperf result — {summary.run_id}", ""]
    lines += [_verdict(summary), ""]
    headlines = [[h.label, h.value, h.note] for h in headline_numbers(summary)]
    lines += _table(["measure", "value", "note"], headlines)
    lines += ["", "## Score grid", ""]
    lines += _table(["t (s)", "FLOPS(t)", "acc(t)", "regulated(t)"], _grid_rows(timeline))
    lines += ["", "## Figures", ""]
    lines += [f"![{_title(path)}]({path})" for path in plot_paths]
    lines += ["", f"FLOPs convention: {summary.flops_convention}", ""]
    return "\n".join(lines)


def _grid_rows(timeline: list[TimelinePoint]) -> list[list[str]]:
    return [
        [
            f"{p.t_s:.1f}",
            si(p.flops, "FLOPS"),
            percent(p.best_test_accuracy),
            si(p.regulated_score, "FLOPS"),
        ]
        for p in timeline
    ]


def _verdict(summary: Summary) -> str:
    if summary.valid:
        return "**Verdict: VALID**"
    reasons = "; ".join(summary.invalid_reasons)
    return f"**Verdict: INVALID** — {reasons}"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"

    return [line(header), line(["---"] * len(header)), *(line(row) for row in rows)]


def _title(path: str) -> str:
    name = path.rsplit("/", 1)[-1].removesuffix(".png")
    return PLOT_TITLES.get(name, name)
