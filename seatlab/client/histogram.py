"""Latency histograms: recorded per process, merged in the parent, never averaged.

Values are microseconds in an HdrHistogram with 3 significant digits from
1 us to 60 s. Workers keep raw latencies in an array during the run and fill
the histogram afterwards (``histogram_of``); the encoded histogram crosses
the process boundary and ``merge`` adds the counts.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

from hdrh.histogram import HdrHistogram

LOWEST_US = 1
HIGHEST_US = 60_000_000
SIGNIFICANT_FIGURES = 3
PERCENTILES: tuple[tuple[str, float], ...] = (("p50", 50.0), ("p90", 90.0), ("p99", 99.0), ("p999", 99.9))


def new_histogram() -> HdrHistogram:
    """An empty latency histogram in microseconds."""
    return HdrHistogram(LOWEST_US, HIGHEST_US, SIGNIFICANT_FIGURES)


def histogram_of(latencies_us: Iterable[int]) -> HdrHistogram:
    """A histogram of these latencies (us); values are clamped into the trackable range."""
    h = new_histogram()
    for value, count in Counter(latencies_us).items():
        h.record_value(min(max(int(value), LOWEST_US), HIGHEST_US), count)
    return h


def encode(h: HdrHistogram) -> bytes:
    """The compressed, portable form (HdrHistogram's own encoding)."""
    return bytes(h.encode())


def decode(data: bytes) -> HdrHistogram:
    """Inverse of ``encode``."""
    return HdrHistogram.decode(data)


def merge(encoded: Iterable[bytes]) -> HdrHistogram:
    """Sum of the histograms: the distribution of every recorded value together."""
    total = new_histogram()
    for data in encoded:
        part = decode(data)
        if part.get_total_count():
            total.add(part)
    return total


def latency_summary_ms(h: HdrHistogram) -> dict[str, Any]:
    """p50, p90, p99, p999, max, mean (milliseconds) and count; values None when empty."""
    count = h.get_total_count()
    out: dict[str, Any] = {}
    for name, pct in PERCENTILES:
        out[name] = h.get_value_at_percentile(pct) / 1000.0 if count else None
    out["max"] = h.get_max_value() / 1000.0 if count else None
    out["mean"] = h.get_mean_value() / 1000.0 if count else None
    out["count"] = count
    return out


def percentile_rows(h: HdrHistogram) -> list[tuple[float, float]]:
    """(percentile, latency_ms) rows for plotting the whole distribution."""
    if not h.get_total_count():
        return []
    points = [float(p) for p in range(90)] + [90 + i * 0.5 for i in range(18)]
    points += [99.0, 99.5, 99.9, 99.95, 99.99, 99.999, 100.0]
    return [(p, h.get_value_at_percentile(p) / 1000.0) for p in points]


def histogram_from_counts(values_us: Iterable[int], counts: Iterable[int]) -> HdrHistogram:
    """A histogram of ``count`` occurrences of each value (us)."""
    h = new_histogram()
    for value, count in zip(values_us, counts, strict=False):
        h.record_value(min(max(int(value), LOWEST_US), HIGHEST_US), int(count))
    return h
