"""Latency histograms: recorded per process, merged in the parent, never averaged.

Values are microseconds in an HdrHistogram with 3 significant digits from
1 us to one hour (a client starved until a two-minute sell-out must read as
two minutes, not as the range's end: the range used to stop at 60 s, which
clipped those waits). Workers keep raw latencies in an array during the run
and fill the histograms afterwards; the encoded histograms cross the process
boundary and ``merge`` adds the counts.

Every request the measured window counts is in one distribution: the
answered ones at their latency (``served``) and the ones still unanswered
when the window closed at their age then (``censored``, a lower bound of
their latency). ``with_censored`` summarises the two together and says, per
percentile, whether it falls on a censored value.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from hdrh.histogram import HdrHistogram

from seatlab import outputs

LOWEST_US = 1
HIGHEST_US = 3_600_000_000
SIGNIFICANT_FIGURES = 3
PERCENTILES: tuple[tuple[str, float], ...] = tuple(
    (p.name, p.quantile) for p in outputs.PERCENTILES if p.name != "max"
)
"""(name, quantile) of the percentiles read off a histogram (``max`` is its own value)."""


def new_histogram() -> HdrHistogram:
    """An empty latency histogram in microseconds."""
    return HdrHistogram(LOWEST_US, HIGHEST_US, SIGNIFICANT_FIGURES)


def histogram_of(latencies_us: Iterable[int]) -> HdrHistogram:
    """A histogram of these latencies (us); values are clamped into the trackable range."""
    counts = Counter(latencies_us)
    return histogram_from_counts(counts.keys(), counts.values())


def histogram_from_counts(
    values_us: Iterable[int], counts: Iterable[int], into: HdrHistogram | None = None
) -> HdrHistogram:
    """A histogram of ``count`` occurrences of each value (us): ``into``, if given, with them added."""
    h = new_histogram() if into is None else into
    for value, count in zip(values_us, counts, strict=True):
        h.record_value(min(max(int(value), LOWEST_US), HIGHEST_US), int(count))
    return h


def histogram_ns(values_ns: Any, into: HdrHistogram | None = None) -> HdrHistogram:
    """The histogram (us) of an int64 numpy array of nanoseconds (recorded into ``into``, if given)."""
    import numpy as np

    values, counts = np.unique(values_ns // 1000, return_counts=True)
    return histogram_from_counts(values.tolist(), counts.tolist(), into)


def encode(h: HdrHistogram) -> bytes:
    """The compressed, portable form (HdrHistogram's own encoding)."""
    return bytes(h.encode())


def decode(data: bytes) -> HdrHistogram:
    """Inverse of ``encode``."""
    return HdrHistogram.decode(data)


def merge(parts: Iterable[bytes | HdrHistogram]) -> HdrHistogram:
    """Sum of the histograms (encoded or not): the distribution of every recorded value together."""
    total = new_histogram()
    for data in parts:
        part = decode(data) if isinstance(data, bytes) else data
        if part.get_total_count():
            total.add(part)
    return total


@dataclass(frozen=True)
class Latency:
    """A latency distribution read off a histogram, in milliseconds (summary.json's ``served_latency_ms``).

    One attribute per reported percentile (``outputs.PERCENTILES``' names), the mean and the count;
    the values are None when nothing was recorded.
    """

    p50: float | None
    p90: float | None
    p99: float | None
    p999: float | None
    max: float | None
    mean: float | None
    count: int

    def at(self, name: str) -> float | None:
        """The value of the percentile named ``name`` (``p99``, ``max``; see ``outputs.PERCENTILES``)."""
        if name not in _PERCENTILE_NAMES:
            raise KeyError(f"no percentile {name!r}; known: {', '.join(_PERCENTILE_NAMES)}")
        value: float | None = getattr(self, name)
        return value


@dataclass(frozen=True)
class CensoredLatency(Latency):
    """Every request the window counts (summary.json's ``latency_ms``): the answered ones at their latency
    and the unanswered ones at their age when it closed.

    ``censored``: how many values are such ages; ``lower_bound``: per percentile name, True where the
    value falls on one of them, so the true percentile is at least that.
    """

    censored: int
    lower_bound: dict[str, bool]


_PERCENTILE_NAMES = tuple(p.name for p in outputs.PERCENTILES)


def latency_summary_ms(h: HdrHistogram) -> Latency:
    """p50, p90, p99, p999, max, mean (milliseconds) and count; values None when empty."""
    count = h.get_total_count()

    def ms(value: float) -> float | None:
        return value / 1000.0 if count else None

    p50, p90, p99, p999 = (ms(h.get_value_at_percentile(quantile)) for _, quantile in PERCENTILES)
    return Latency(
        p50=p50,
        p90=p90,
        p99=p99,
        p999=p999,
        max=ms(h.get_max_value()),
        mean=ms(h.get_mean_value()),
        count=count,
    )


def with_censored(served: HdrHistogram, censored: HdrHistogram) -> tuple[HdrHistogram, CensoredLatency]:
    """The distribution of every request (served + censored) and its summary.

    The summary is ``latency_summary_ms`` of the sum plus ``censored`` (how
    many values are ages of unanswered requests) and ``lower_bound``: per
    percentile (and ``max``), True where the value at that rank is a censored
    one, so the true percentile is at least that.
    """
    total = merge([served, censored])
    lower_bound = {
        name: falls_on_censored(total, censored, pct) for name, pct in (*PERCENTILES, ("max", 100.0))
    }
    every = latency_summary_ms(total)
    return total, CensoredLatency(**vars(every), censored=censored.get_total_count(), lower_bound=lower_bound)


def falls_on_censored(total: HdrHistogram, censored: HdrHistogram, percentile: float) -> bool:
    """Whether the value at ``percentile`` of ``total`` is a censored one (``censored`` is part of ``total``).

    Within one bucket the answered values are ranked before the censored
    ones (a censored value is "at least" its age), so a percentile is a lower
    bound only when answered values alone cannot reach its rank.
    """
    count = total.get_total_count()
    if not count or not censored.get_total_count():
        return False
    target = total.get_target_count_at_percentile(percentile)
    running = 0
    for index in range(total.counts_len):
        running += total.get_count_at_index(index)
        if running >= target:
            # ranks running - censored_here + 1 .. running of this bucket are the censored values
            return running - censored.get_count_at_index(index) < target
    return False


def percentile_rows(h: HdrHistogram) -> list[tuple[float, float]]:
    """(percentile, latency_ms) rows for plotting the whole distribution."""
    if not h.get_total_count():
        return []
    points = [float(p) for p in range(90)] + [90 + i * 0.5 for i in range(18)]
    points += [99.0, 99.5, 99.9, 99.95, 99.99, 99.999, 100.0]
    return [(p, h.get_value_at_percentile(p) / 1000.0) for p in points]
