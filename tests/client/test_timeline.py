"""Issue 21.3: the per-interval figures add up to the window's, fold in parts as they do at once, merge
across processes, and count a waiting request at every interval close it waits through; latency.hlog
reads back with HdrHistogram's own reader."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from hdrh.histogram import HdrHistogram
from hdrh.log import HistogramLogReader
from test_result import _result  # the builder of WorkerResult.merge's own tests

from seatlab.client import histogram
from seatlab.client.answers import CANCEL_ERROR, ERROR, RELEASED, SEAT, SOLD_OUT
from seatlab.client.interval_log import COLUMNS, write_timeline
from seatlab.client.recording import ClientTally, Recording, Tally
from seatlab.client.timeline import COUNTS, Grid, Intervals, interval_figures
from seatlab.outputs import INTERVALS_CSV, LATENCY_HLOG

MS = 1_000_000
S = 1000 * MS
T0 = 10_000 * MS
CLIENTS = 20
KINDS = np.array([SEAT, SOLD_OUT, ERROR, RELEASED, CANCEL_ERROR], dtype=np.int8)
WINDOW = (T0 + 2_300 * MS, T0 + 9_300 * MS)  # 7 s after a 2.3 s warm-up: intervals -3..6 of 1 s
NEVER = [T0 + 1_000 * MS, T0 + 5_500 * MS, T0 + 9_299 * MS, T0 + 11_000 * MS]  # due before, in, after


def _recording(n: int, seed: int, interval_ns: int = S) -> Recording:
    """``n`` answers in time order over 0-12 s after T0 (a warm-up, a window, a drain), any kind, some
    answered seconds after they were due; and Books never answered."""
    rng = np.random.default_rng(seed)
    recording = Recording(interval_ns=interval_ns)
    recording.t_done.extend(np.sort(T0 + rng.integers(0, 12 * S, n)).tolist())
    recording.t_lat.extend(rng.integers(1, 3 * S, n).tolist())
    recording.kinds.extend(KINDS[rng.integers(0, len(KINDS), n)].tolist())
    recording.who.extend(rng.integers(0, CLIENTS, n).tolist())
    recording.never_answered_due.extend(NEVER)
    return recording


def _tally(recording: Recording, window: tuple[int, int] | None, cut: int = T0 + 12 * S) -> Tally:
    clients = [ClientTally(i, errors=0, sold_out_at=0) for i in range(CLIENTS)]
    return recording.tally(0, clients, T0, window, cut)


def _counts(h: HdrHistogram) -> list[int]:
    return [h.get_count_at_index(i) for i in range(h.counts_len)]


def _sum(parts: list[HdrHistogram]) -> HdrHistogram:
    return histogram.merge(parts)


@pytest.mark.parametrize("interval_ns", [S, 300 * MS, 7 * S])
def test_the_window_intervals_add_up_to_the_window(interval_ns: int) -> None:
    """Over the intervals of the window (0 on): the answer counts are the window's, the served
    histograms add up to served_latency.hdr's exactly, the last interval's censored one is
    censored_latency.hdr's; the warm-up's intervals (below 0) hold the answers before the window."""
    tally = _tally(_recording(5000, seed=1, interval_ns=interval_ns), WINDOW)
    intervals = tally.intervals
    window = range(intervals.grid.last + 1)
    for name in COUNTS:
        assert sum(intervals.count(k, name) for k in window) == tally.window_answers[name], name
    assert sum(intervals.count(k, "all") for k in intervals.counts if k < 0) > 0  # the warm-up's
    served = _sum([intervals.histograms(k)[0] for k in window])
    assert (
        _counts(served) == _counts(tally.served) and served.get_total_count() == tally.window_answers["book"]
    )
    assert _counts(intervals.histograms(intervals.grid.last)[1]) == _counts(tally.censored)
    assert intervals.grid.bounds(intervals.grid.last)[1] == WINDOW[1]


def test_a_sellout_s_intervals_add_up_to_its_run() -> None:
    """A sell-out's window is the whole run: every interval from the start is in it."""
    tally = _tally(_recording(3000, seed=2), None, cut=T0 + 12 * S)
    intervals = tally.intervals
    assert min(intervals.counts) == 0 and intervals.grid.origin == T0
    for name in COUNTS:
        assert sum(intervals.count(k, name) for k in intervals.counts) == tally.window_answers[name], name
    served = _sum([intervals.histograms(k)[0] for k in intervals.served])
    assert _counts(served) == _counts(tally.served)
    assert _counts(intervals.histograms(intervals.grid.last)[1]) == _counts(tally.censored)


@pytest.mark.parametrize("fold_every", [1, 333, 4000])
def test_folding_in_parts_gives_the_intervals_of_folding_once(fold_every: int) -> None:
    once = _recording(5000, seed=3)
    parts = Recording()
    for i in range(5000):
        parts.t_done.append(once.t_done[i])
        parts.t_lat.append(once.t_lat[i])
        parts.kinds.append(once.kinds[i])
        parts.who.append(once.who[i])
        if (i + 1) % fold_every == 0:
            parts.fold(WINDOW, CLIENTS)
    parts.never_answered_due.extend(NEVER)
    a, b = _tally(once, WINDOW).intervals, _tally(parts, WINDOW).intervals
    assert a.counts == b.counts and a.grid == b.grid
    assert a.served.keys() == b.served.keys() and a.censored.keys() == b.censored.keys()
    for k in a.served.keys() | a.censored.keys():
        assert [_counts(h) for h in a.histograms(k)] == [_counts(h) for h in b.histograms(k)], k


def test_two_processes_merge_into_the_intervals_of_both_together() -> None:
    """Each load process has its own intervals on the window's grid; merged, they are the figures of
    all the answers together (counts add, histograms add: never an average of percentiles)."""
    first, second = _recording(2000, seed=4), _recording(3000, seed=5)
    both = Recording()
    for r in (first, second):
        both.t_done.extend(r.t_done)
        both.t_lat.extend(r.t_lat)
        both.kinds.extend(r.kinds)
        both.who.extend(r.who)
        both.never_answered_due.extend(r.never_answered_due)
    merged = _tally(first, WINDOW).intervals.merge(_tally(second, WINDOW).intervals)
    together = _tally(both, WINDOW).intervals
    assert merged.counts == together.counts
    for k in together.served.keys() | together.censored.keys():
        assert [_counts(h) for h in merged.histograms(k)] == [_counts(h) for h in together.histograms(k)]


def test_a_waiting_request_counts_at_each_close_it_waits_through() -> None:
    """1 s intervals from 0, closing at 10 s: a Book due at 0.5 s and answered at 3.2 s counts in
    interval 3 at its latency and, still waiting, at the closes of intervals 0, 1, 2 at its age then;
    one never answered, due at 8.5 s, at the closes of 8 and 9; a Book answered in its own interval
    waits through no close."""
    grid = Grid(origin=0, close=10 * S, end=10 * S, step=S)
    t = np.array([3_200 * MS, 4_500 * MS], dtype=np.int64)
    lat = np.array([2_700 * MS, 200 * MS], dtype=np.int64)
    kinds = np.array([SEAT, SEAT], dtype=np.int8)
    intervals = interval_figures(grid, t, lat, kinds, np.array([8_500 * MS], dtype=np.int64))

    def only_value(k: int, which: int) -> int:  # us; the interval's histogram holds one value
        h = intervals.histograms(k)[which]
        assert h.get_total_count() == 1
        return int(h.get_max_value())

    assert sorted(intervals.served) == [3, 4] and only_value(3, 0) == pytest.approx(2_700_000, rel=1e-3)
    ages = {k: only_value(k, 1) for k in intervals.censored}
    expected = {0: 500_000, 1: 1_500_000, 2: 2_500_000, 8: 500_000, 9: 1_500_000}
    assert ages == pytest.approx(expected, rel=1e-3)
    assert intervals.count(3, "seat") == intervals.count(4, "seat") == 1 and intervals.count(5, "all") == 0


def test_the_interval_log_reads_back_with_hdrhistograms_reader(tmp_path: Path) -> None:
    """latency.hlog: three lines per interval (every request untagged, Tag=served, Tag=censored), from
    the run's start to the window's close, empty intervals too; intervals.csv beside it."""
    tally = _tally(_recording(4000, seed=6), WINDOW)
    write_timeline(tmp_path, tally.intervals, T0)
    reader = HistogramLogReader(str(tmp_path / LATENCY_HLOG), histogram.new_histogram())
    lines: list[HdrHistogram] = []
    while (h := reader.get_next_interval_histogram()) is not None:
        lines.append(h)
    reader.close()
    intervals = tally.intervals
    ks = range(-3, intervals.grid.last + 1)  # the warm-up's 2.3 s are intervals -3 (0.3 s), -2, -1
    assert len(lines) == 3 * len(ks) and [h.get_tag() for h in lines[:3]] == [None, "served", "censored"]
    starts = [h.get_start_time_stamp() / 1000 - reader.get_start_time_sec() for h in lines[::3]]
    assert starts == pytest.approx([0.0, 0.3, 1.3, 2.3, *(2.3 + k for k in range(1, len(ks) - 3))], abs=1e-3)
    for k, (every, served, censored) in zip(ks, zip(*[iter(lines)] * 3, strict=True), strict=True):
        mine = intervals.histograms(k)
        assert _counts(served) == _counts(mine[0]) and _counts(censored) == _counts(mine[1])
        assert every.get_total_count() == served.get_total_count() + censored.get_total_count()
    with open(tmp_path / INTERVALS_CSV, encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert tuple(rows[0]) == COLUMNS and [int(r["interval"]) for r in rows] == list(ks)
    assert sum(int(r["all"]) for r in rows if r["window"] == "1") == tally.window_answers["all"]


def test_merging_intervals_of_different_grids_is_refused() -> None:
    a = Intervals(Grid(0, S, S, S))
    with pytest.raises(ValueError, match="different grids"):
        a.merge(Intervals(Grid(1, S, S, S)))


def test_process_results_merge_their_timelines_only_on_one_grid() -> None:
    """``WorkerResult.merge`` adds the processes' timelines; a process whose figures are the whole run's
    (it ended before the window opened) or that has none leaves the run without one, never half of one."""
    window = _tally(_recording(500, seed=7), WINDOW).intervals
    whole_run = _tally(_recording(500, seed=8), None).intervals
    a, b = _result(0, [10], intervals=window), _result(1, [20], intervals=window)
    merged = a.merge(b)
    assert merged.intervals is not None and merged.intervals.counts == window.merge(window).counts
    assert a.merge(_result(1, [20], intervals=whole_run)).intervals is None
    assert a.merge(_result(1, [20])).intervals is None
