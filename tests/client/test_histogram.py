"""Histograms merge exactly; percentiles come from the merged counts, never from averaged percentiles."""

from __future__ import annotations

import itertools

import pytest

from seatlab.client import histogram
from seatlab.client.output import jain_index


def test_merged_percentiles_of_split_synthetic_latencies_are_exact() -> None:
    # 1..1000 us, dealt round-robin to three "processes": values below 2048 are exact at 3 digits
    parts = [histogram.histogram_of(range(start, 1001, 3)) for start in (1, 2, 3)]
    merged = histogram.merge(histogram.encode(p) for p in parts)
    summary = histogram.latency_summary_ms(merged)
    assert summary.count == 1000
    assert (summary.p50, summary.p90, summary.p99, summary.p999, summary.max) == (
        0.5, 0.9, 0.99, 0.999, 1.0,
    )  # fmt: skip
    assert summary.mean == pytest.approx(0.5005)


def test_merge_is_not_an_average_of_percentiles() -> None:
    fast = histogram.histogram_of([1000] * 990)  # 990 answers at 1 ms in one process
    slow = histogram.histogram_of([100_000] * 10)  # 10 answers at 100 ms in another
    merged = histogram.merge([histogram.encode(fast), histogram.encode(slow)])
    s = histogram.latency_summary_ms(merged)
    # averaging the two processes' p99s would say ~50 ms
    assert s.p99 == 1.0
    assert s.p999 == pytest.approx(100.0, rel=1e-3)
    assert s.count == 1000


def test_counts_and_clamping() -> None:
    h = histogram.histogram_from_counts([0, 5, 10**10], [2, 3, 1])
    assert h.get_total_count() == 6
    assert h.get_min_value() == 1  # 0 us is clamped to the lowest trackable value
    assert h.get_max_value() >= histogram.HIGHEST_US * 0.999


def test_empty_summary_and_rows() -> None:
    empty = histogram.new_histogram()
    assert histogram.latency_summary_ms(empty) == histogram.Latency(
        p50=None, p90=None, p99=None, p999=None, max=None, mean=None, count=0
    )
    assert histogram.percentile_rows(empty) == []


def test_percentile_rows_are_monotonic_and_end_at_max() -> None:
    h = histogram.histogram_of(range(1, 2001))
    rows = histogram.percentile_rows(h)
    assert rows[0][0] == 0.0 and rows[-1] == (100.0, 2.0)
    assert all(a[1] <= b[1] for a, b in itertools.pairwise(rows))


def test_jain_index() -> None:
    assert jain_index([5, 5, 5, 5]) == 1.0
    assert jain_index([20, 0, 0, 0]) == 0.25
    assert jain_index([0, 0]) is None
