"""report.md's figures over repetitions: per series and swept value, the median of throughput, efficiency,
p50 and p99 with their 95% intervals (``seatlab.report.intervals``), the method named above the table.
A run with one repetition per point says so in one line and has no table.
"""

from __future__ import annotations

from seatlab.report.collect import Results, value_text
from seatlab.report.figure import series_frames
from seatlab.report.intervals import FEW_RUNS, METHOD, ONE_RUN, by_value, repeated

FIGURES = (
    ("throughput_rps", "req/s"),
    ("efficiency", "efficiency"),
    ("p50_ms", "p50 ms"),
    ("p99_ms", "p99 ms"),
)


def repeats_section(results: Results) -> list[str]:
    """The section's lines (heading included)."""
    ok, x = results.ok, results.x
    series = [(name, part) for name, part in series_frames(ok) if repeated(part, x)]
    if not series:
        return ["## Over repetitions", "", f"{ONE_RUN}: each point ran once (repeat=1).", ""]
    runs = int(ok.groupby(["series", x], dropna=False).size().min())
    caveat = (
        f" With fewer than {FEW_RUNS} runs (here as few as {runs}) the interval cannot be wider than the"
        " runs' range: read it as optimistic."
        if runs < FEW_RUNS
        else ""
    )
    out = ["## Over repetitions", "", f"Each cell: {METHOD}, as [low, high].{caveat}", ""]
    header = ["series", x, "runs", *(title for _, title in FIGURES)]
    rows = []
    for name, part in series:
        figures = {column: by_value(part, x, column) for column, _ in FIGURES}
        for at, group in part.groupby(x, sort=True):
            cells = [figures[column][at].text() if at in figures[column] else "" for column, _ in FIGURES]
            rows.append([name, value_text(at), str(len(group)), *cells])
    out += ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    out += ["| " + " | ".join(cell.replace("|", "/") for cell in row) + " |" for row in rows]
    return [*out, ""]
