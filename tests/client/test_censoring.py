"""Every request counts, answered or not: censored ages merge exactly and mark the percentiles they decide.

Synthetic latencies with known percentiles (no clock), then real servers: a
thread pool with fewer threads than clients leaves clients unanswered for
the whole window, and p99 says so; coroutines at the same point do not.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from seatlab.client import LoadSpec, histogram, run_load
from seatlab.client.answers import RELEASED, SEAT, SOLD_OUT
from seatlab.client.recording import window_latencies
from seatlab.harness.process import ServerProcess

MS = 1_000_000


def test_censored_values_enter_the_percentiles_and_mark_them() -> None:
    served = histogram.histogram_of(range(1, 991))  # 990 answers, 1..990 us
    censored = histogram.histogram_of([5_000_000] * 10)  # 10 requests unanswered for 5 s
    total, s = histogram.with_censored(served, censored)
    assert total.get_total_count() == 1000 and s.count == 1000 and s.censored == 10
    assert (s.p50, s.p90, s.p99) == (0.5, 0.9, 0.99)
    assert s.p999 == pytest.approx(5000, rel=1e-3) and s.max == s.p999
    assert s.lower_bound == {"p50": False, "p90": False, "p99": False, "p999": True, "max": True}


def test_merging_censored_and_answered_across_processes_is_exact() -> None:
    # 1..1000 us answered and 1001..1100 us censored, dealt round-robin to three "processes"
    parts = [
        (histogram.histogram_of(range(k, 1001, 3)), histogram.histogram_of(range(1000 + k, 1101, 3)))
        for k in (1, 2, 3)
    ]
    served = histogram.merge(histogram.encode(p[0]) for p in parts)
    censored = histogram.merge(histogram.encode(p[1]) for p in parts)
    _, s = histogram.with_censored(served, censored)
    assert s.count == 1100 and s.censored == 100
    assert s.p50 == 0.55  # rank 550 of 1..1100: an average of per-process p50s could not be exact
    assert s.p90 == pytest.approx(0.99, abs=0.001) and s.lower_bound["p90"] is False
    assert s.p99 == pytest.approx(1.089, abs=0.001) and s.lower_bound["p99"] is True
    assert s.mean == pytest.approx(0.5505, abs=0.001)


def test_a_censored_value_in_the_same_bucket_ranks_after_the_answered_ones() -> None:
    served = histogram.histogram_of([1000] * 99)
    censored = histogram.histogram_of([1000])
    _, s = histogram.with_censored(served, censored)
    assert s.lower_bound["p99"] is False  # rank 99 is the 99th answered value
    assert s.lower_bound["max"] is True  # rank 100 can only be the censored one


def test_nothing_censored_is_never_a_lower_bound() -> None:
    _, s = histogram.with_censored(histogram.histogram_of([10, 20]), histogram.new_histogram())
    assert s.censored == 0 and not any(s.lower_bound.values())
    _, empty = histogram.with_censored(histogram.new_histogram(), histogram.new_histogram())
    assert empty.count == 0 and empty.p99 is None and not any(empty.lower_bound.values())


def test_a_two_minute_wait_reads_as_two_minutes() -> None:
    # the range used to end at 60 s: a client starved until a 120 s sell-out read as 60 s
    h = histogram.histogram_of([120_000_000])
    assert histogram.latency_summary_ms(h).max == pytest.approx(120_000, rel=1e-3)


def test_the_window_counts_answered_late_and_unanswered_books_at_their_age_at_its_end() -> None:
    start, end = 1000 * MS, 2000 * MS
    # (answer time, latency, kind) of each answer
    answers = [
        (1500 * MS, 10 * MS, SEAT),  # inside: 10 ms
        (1200 * MS, 400 * MS, SOLD_OUT),  # sent 400 ms before the window, answered inside: 400 ms
        (900 * MS, 5 * MS, SEAT),  # before the window: not counted
        (2100 * MS, 300 * MS, SEAT),  # due 1800, answered after the end: censored at 200 ms
        (2100 * MS, 50 * MS, SEAT),  # due 2050, after the end: not counted
        (1600 * MS, 1 * MS, RELEASED),  # a Cancel's answer: not a Book latency
    ]
    t, lat, kinds = (np.array(column, dtype=np.int64) for column in zip(*answers, strict=True))
    never = np.array([500 * MS, 1990 * MS, 2500 * MS], dtype=np.int64)  # due 500 and 1990: censored
    served, censored = window_latencies(t, lat, kinds.astype(np.int8), never, start, end, end)
    assert sorted(v.value_iterated_to // 1000 for v in served.get_recorded_iterator()) == [10, 400]
    ages = sorted(round(v.value_iterated_to / 1000) for v in censored.get_recorded_iterator())
    assert ages == [10, 200, 1500]


@pytest.mark.parametrize("backend", ["tpool", "coro"])
def test_clients_a_thread_pool_never_serves_put_p99_past_the_window(tmp_path: Path, backend: str) -> None:
    with ServerProcess(backend, capacity=100, delay_ms=20, threads=2, log_dir=tmp_path / "server") as server:
        s = run_load(LoadSpec(port=server.port, clients=6, diversity=2, mode="duration", warmup_s=0.3,
                              duration_s=1.0, answer_wait_s=0.5, drain_s=0.5, out_dir=tmp_path / "load"))  # fmt: skip
    lat, served = s.latency_ms, s.served_latency_ms
    window_ms = 1000 * s.window_s
    assert served.count > 20 and served.p99 < 200  # what was answered, was answered fast
    assert lat.count == served.count + lat.censored
    if backend == "tpool":  # 2 threads serve 2 of 6 connections: 4 clients wait through the window
        assert lat.censored >= 4 and lat.p99 >= window_ms, lat
        assert lat.lower_bound["p99"] is True and lat.lower_bound["max"] is True
    else:  # every client is served: the censored are the few requests in flight at the end
        assert lat.censored <= 6 and lat.p99 < window_ms / 4, lat
        assert lat.lower_bound["p99"] is False
    saved = {
        name: histogram.decode((tmp_path / "load" / getattr(s, key)).read_bytes()).get_total_count()
        for name, key in (("all", "histogram_file"), ("served", "served_histogram_file"),
                          ("censored", "censored_histogram_file"))
    }  # fmt: skip
    assert saved == {"all": lat.count, "served": served.count, "censored": lat.censored}
