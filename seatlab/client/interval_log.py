"""The timeline's files: ``latency.hlog`` (HdrHistogram's interval log) and ``intervals.csv``.

latency.hlog is written with hdrh's ``HistogramLogWriter``, so HdrHistogram's own tools read it
(``HistogramLogReader``, Java's ``HistogramLogProcessor``). Per interval, three lines, histograms in
microseconds, timestamps in seconds from the run's start (``#[BaseTime:]`` and ``#[StartTime:]`` say
when that was, in seconds since the epoch; the max column is in milliseconds):

- untagged: every Book the interval counts (what the tools read by default): the ones answered in
  it at their latency, and the ones still waiting at its close at their age then (a lower bound);
- ``Tag=served``: the answered ones only;
- ``Tag=censored``: the waiting ones only.

``seatlab.client.timeline`` says how each is counted. intervals.csv has one row per interval: its
start and end (s from the run's start), whether it is in the measured window, the answer counts by
kind and per second, and the every-request percentiles (ms) with ``*_censored`` where one falls on a
waiting request. Both cover the run's start to the window's close, every interval, empty ones too.
"""

from __future__ import annotations

import csv
import time
from datetime import UTC, datetime
from pathlib import Path
from time import perf_counter_ns
from typing import Any

from hdrh.histogram import HdrHistogram
from hdrh.log import HistogramLogWriter

from seatlab import outputs
from seatlab.client import histogram
from seatlab.client.timeline import COUNTS, Intervals

TAGS = ("served", "censored")
"""The tags of latency.hlog's lines beside the untagged every-request one."""
_PERCENTILES = tuple(p.name for p in outputs.PERCENTILES)
COLUMNS = (
    "interval", "start_s", "end_s", "window", *COUNTS, "answers_rps", "served", "censored",
    *(f"{name}_ms" for name in _PERCENTILES), *(f"{name}_censored" for name in _PERCENTILES),
)  # fmt: skip
"""intervals.csv's columns: ``all`` is every answer, ``served`` the Books answered in the interval,
``censored`` the Books still waiting at its close."""


def interval_range(intervals: Intervals, t0: int) -> range:
    """The indexes of the intervals from the run's start ``t0`` (ns) to the window's close (a warm-up
    that is a whole number of intervals starts one: the interval that closes at ``t0`` is not written)."""
    first = int(intervals.grid.index(t0 + 1)) if t0 < intervals.grid.origin else 0
    return range(first, intervals.grid.last + 1)


def span_s(intervals: Intervals, k: int, t0: int) -> tuple[float, float]:
    """Interval ``k``'s start and end in seconds from the run's start ``t0`` (ns)."""
    lo, hi = intervals.grid.bounds(k)
    return (max(lo, t0) - t0) / 1e9, (hi - t0) / 1e9


def write_timeline(out_dir: Path, intervals: Intervals, t0: int) -> None:
    """Write latency.hlog and intervals.csv of ``intervals`` into ``out_dir``; ``t0`` is the run's start."""
    epoch_ms = round(time.time() * 1000 - (perf_counter_ns() - t0) / 1e6)  # the run's start, to the ms
    rows = []
    with open(out_dir / outputs.LATENCY_HLOG, "w", encoding="utf-8") as f:
        log = HistogramLogWriter(f)
        log.output_comment(f"[Logged with seatlab: per interval, latency in microseconds; {_TAGGING}]")
        log.output_log_format_version()
        # (hdrh's output_start_time fails on Python 3: the same line, written here)
        # (the two equal, so a reader's offsets from StartTime are the timestamps as written)
        stamp = datetime.fromtimestamp(epoch_ms / 1000, UTC).isoformat(" ", timespec="milliseconds")
        log.output_comment(f"[StartTime: {epoch_ms / 1000:.3f} (seconds since epoch), {stamp}]")
        log.output_base_time(epoch_ms)
        log.output_legend()
        for k in interval_range(intervals, t0):
            start_s, end_s = span_s(intervals, k, t0)
            served, censored = intervals.histograms(k)
            every = histogram.merge([served, censored])
            for tag, h in ((None, every), *zip(TAGS, (served, censored), strict=True)):
                _write_line(log, h, tag, start_s, end_s)
            rows.append(_row(intervals, k, start_s, end_s, served, censored))
    with open(out_dir / outputs.INTERVALS_CSV, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)


_TAGGING = "untagged: every Book, Tag=served: answered in the interval, Tag=censored: waiting at its close"


def _write_line(
    log: HistogramLogWriter, h: HdrHistogram, tag: str | None, start_s: float, end_s: float
) -> None:
    # the writer takes a histogram's own time stamps (ms) when given a start of 0: set them alike
    h.set_start_time_stamp(start_s * 1000)
    h.set_end_time_stamp(end_s * 1000)
    if tag is not None:  # hdrh's writer has no tag parameter (Java's has): the line's "Tag=NAME," prefix
        log.log.write(f"Tag={tag},")
    log.output_interval_histogram(h, start_s, end_s, max_value_unit_ratio=1000.0)


def _row(
    intervals: Intervals, k: int, start_s: float, end_s: float, served: HdrHistogram, censored: HdrHistogram
) -> dict[str, Any]:
    _, latency = histogram.with_censored(served, censored)
    length = end_s - start_s
    return {
        "interval": k,
        "start_s": round(start_s, 6),
        "end_s": round(end_s, 6),
        "window": int(k >= 0),
        **{name: intervals.count(k, name) for name in COUNTS},
        "answers_rps": intervals.count(k, "all") / length if length > 0 else "",
        "served": served.get_total_count(),
        "censored": censored.get_total_count(),
        **{f"{name}_ms": _blank(latency.at(name)) for name in _PERCENTILES},
        **{f"{name}_censored": int(latency.lower_bound[name]) for name in _PERCENTILES},
    }


def _blank(value: float | None) -> float | str:
    return "" if value is None else value
