"""The comparison in numbers: per matched point and metric, A's and B's medians, B/A with its 95%
interval and the verdict, printed as pyperf's ``compare_to`` prints its table; and the regression gate.

A verdict is "significant" only when the interval of B/A excludes 1; it then says which way, in the
metric's own sense (throughput and efficiency: higher is better; latencies: lower is better).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from tabulate import tabulate

from seatlab.compare.match import Matched, Matching, Side
from seatlab.report.intervals import RATIO_METHOD, Interval, median_interval, ratio_interval


@dataclass(frozen=True)
class Metric:
    column: str
    title: str
    higher_is_better: bool
    better: str  # the word for B better: faster, higher
    worse: str


METRICS = (
    Metric("throughput_rps", "throughput req/s", True, "faster", "slower"),
    Metric("efficiency", "efficiency", True, "higher", "lower"),
    Metric("p50_ms", "p50 ms", False, "faster", "slower"),
    Metric("p99_ms", "p99 ms", False, "faster", "slower"),
)
THROUGHPUT = METRICS[0]


@dataclass(frozen=True)
class Row:
    label: str
    metric: Metric
    a: Interval
    b: Interval
    ratio: Interval

    @property
    def significant(self) -> bool:
        return self.ratio.excludes(1.0)

    @property
    def worse(self) -> bool:
        """B significantly worse than A on this metric."""
        if not self.significant:
            return False
        return self.ratio.value < 1.0 if self.metric.higher_is_better else self.ratio.value > 1.0

    @property
    def verdict(self) -> str:
        if math.isnan(self.ratio.value):
            return "n/a"
        if not self.ratio.known:
            single = [name for name, runs in (("A", self.a.runs), ("B", self.b.runs)) if runs < 2]
            if not single:
                return "no interval"
            return f"one run {'per side' if len(single) == 2 else 'in ' + single[0]}: no interval"
        if not self.significant:
            return "not significant"
        factor = self.ratio.value if self.ratio.value >= 1.0 else 1.0 / self.ratio.value
        word = self.metric.worse if self.worse else self.metric.better
        return f"significant: B {factor:.2f}x {word}"


def compare_point(matched: Matched) -> list[Row]:
    rows = []
    for metric in METRICS:
        a, b = matched.a[metric.column], matched.b[metric.column]
        rows.append(Row(matched.label, metric, median_interval(a), median_interval(b), ratio_interval(a, b)))
    return rows


def compare(matching: Matching) -> list[Row]:
    return [row for matched in matching.matched for row in compare_point(matched)]


def gate(rows: list[Row], percent: float) -> tuple[list[Row], list[Row]]:
    """The throughput rows that fail ``--fail-if-slower percent``: B significantly slower than A (the
    interval of B/A below 1) and its ratio below 1 - percent/100; and the rows it could not judge
    (one repetition on a side: no interval)."""
    limit = 1.0 - percent / 100.0
    throughput = [row for row in rows if row.metric is THROUGHPUT]
    failing = [row for row in throughput if row.worse and row.ratio.value < limit]
    unjudged = [row for row in throughput if not row.ratio.known]
    return failing, unjudged


def _figure(value: Interval) -> str:
    if math.isnan(value.value):
        return "n/a"
    text = f"{value.value:,.0f}" if abs(value.value) >= 100 else f"{value.value:#.3g}"
    return f"{text} ({value.runs})"


def _ratio(value: Interval) -> str:
    if math.isnan(value.value):
        return "n/a"
    if not value.known:
        return f"{value.value:.3f}"
    return f"{value.value:.3f} [{value.low:.3f}, {value.high:.3f}]"


def _where(side: Side) -> str:
    """The folder as given, and where it leads when that differs (``results/latest``)."""
    real = side.directory.resolve()
    shown = str(side.directory) if real == side.directory else f"{side.directory} -> {real}"
    return f"{shown} ({side.results.kind})"


def render(a: Side, b: Side, matching: Matching, rows: list[Row]) -> str:
    """The whole report: both sides, the method, the table, the lists of what did not match."""
    out = [
        f"A: {_where(a)}",
        f"B: {_where(b)}",
        f"Points matched by: {', '.join(matching.keys)}",
        f"Each cell: the median over repetitions (how many); B/A: {RATIO_METHOD}.",
        "",
    ]
    if rows:
        table = [
            [row.label, row.metric.title, _figure(row.a), _figure(row.b), _ratio(row.ratio), row.verdict]
            for row in rows
        ]
        headers = ["point", "metric", "A", "B", "B/A [95% interval]", "verdict"]
        out += [tabulate(table, headers=headers, tablefmt="grid", disable_numparse=True), ""]
    else:
        out += ["No point matched.", ""]
    quiet = [f"{row.label} {row.metric.title}" for row in rows if row.ratio.known and not row.significant]
    if quiet:
        out.append(f"Not significant ({len(quiet)}): {'; '.join(quiet)}")
    for title, items in (
        ("Only in A", matching.only_a),
        ("Only in B", matching.only_b),
        ("Failed in A", matching.failed_a),
        ("Failed in B", matching.failed_b),
    ):
        if items:
            out.append(f"{title} ({len(items)}): {'; '.join(items)}")
    return "\n".join(out)


def gate_text(failing: list[Row], unjudged: list[Row], percent: float) -> str:
    if failing:
        said = "; ".join(f"{row.label} {row.ratio.text()} ({row.verdict})" for row in failing)
        return f"Gate --fail-if-slower {percent:g}%: FAILED, B's throughput significantly slower: {said}"
    note = (
        f"; {len(unjudged)} point(s) not judged, one run on a side: "
        + "; ".join(row.label for row in unjudged)
        if unjudged
        else ""
    )
    return (
        f"Gate --fail-if-slower {percent:g}%: passed (no point significantly slower by more than that){note}"
    )
