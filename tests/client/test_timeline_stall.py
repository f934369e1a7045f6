"""Issue 21.3 and 21.4 against a real server and the real load generator: a 1 s SIGSTOP in the middle of
a 10 s open-loop window shows in latency.hlog, read back with HdrHistogram's own reader, as the answers
falling to none while it lasts and the p99 of every request climbing through it; latency.hgrm, the
every-request distribution in HdrHistogram's text form, agrees with summary.json's latency_ms."""

from __future__ import annotations

import os
import signal
import threading
import time
from itertools import pairwise
from pathlib import Path

import pytest
from hdrh.histogram import HdrHistogram
from hdrh.log import HistogramLogReader

from seatlab.client import LoadSpec, histogram, run_load
from seatlab.client.summary import Summary
from seatlab.harness.process import ServerProcess
from seatlab.outputs import LATENCY_HGRM, LATENCY_HLOG

RATE = 200.0  # bookings/s
INTERVAL_S = 0.25  # so that at least three intervals fall wholly inside the 1 s stop
STOP_S = 1.0


def _stall(pid: int, after_s: float, times: list[float]) -> None:
    time.sleep(after_s)
    times.append(time.time())
    os.kill(pid, signal.SIGSTOP)
    try:
        time.sleep(STOP_S)
    finally:
        os.kill(pid, signal.SIGCONT)
        times.append(time.time())


def _read_log(path: Path) -> tuple[float, list[tuple[HdrHistogram, HdrHistogram]]]:
    """The log's start (s since the epoch) and per interval its (every request, served) histograms."""
    reader = HistogramLogReader(str(path), histogram.new_histogram())
    lines = []
    while (h := reader.get_next_interval_histogram()) is not None:
        lines.append(h)
    start = reader.get_start_time_sec()
    reader.close()
    every = [h for h in lines if h.get_tag() is None]
    served = [h for h in lines if h.get_tag() == "served"]
    assert len(every) == len(served) > 0
    return start, list(zip(every, served, strict=True))


@pytest.fixture(scope="module")
def stalled_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Summary, list[float]]:
    tmp = tmp_path_factory.mktemp("stall")
    with ServerProcess("event", capacity=200, delay_ms=1, threads=1, log_dir=tmp / "server") as server:
        times: list[float] = []
        # the load processes start in about a second, warm up for 0.5 s: the stop comes about 5 s in
        stopper = threading.Thread(target=_stall, args=(server.pid, 6.0, times))
        stopper.start()
        try:
            summary = run_load(
                LoadSpec(port=server.port, clients=10, diversity=2, mode="duration", warmup_s=0.5, duration_s=10.0,
                         rate=RATE, out_dir=tmp / "load", timeout_s=20, interval_s=INTERVAL_S)
            )  # fmt: skip
        finally:
            stopper.join()
    return tmp / "load", summary, times


def test_a_stopped_server_shows_in_the_interval_log_as_it_happens(
    stalled_run: tuple[Path, Summary, list[float]],
) -> None:
    out, summary, (stopped, resumed) = stalled_run
    start, intervals = _read_log(out / LATENCY_HLOG)
    stop_s, resume_s = stopped - start, resumed - start
    assert summary.window_start_s + 1 < stop_s < summary.window_start_s + summary.window_s - 2  # mid-window
    rows = []  # (start s, end s, Book answers per s, p99 of every request in ms)
    for every, served in intervals:
        begin, end = every.get_start_time_stamp() / 1000 - start, every.get_end_time_stamp() / 1000 - start
        p99 = every.get_value_at_percentile(99) / 1000 if every.get_total_count() else 0.0
        rows.append((begin, end, served.get_total_count() / (end - begin), p99))
    table = "\n".join(
        f"{b:6.2f}-{e:6.2f} s: {rps:6.0f} Books/s, p99 {p99:7.1f} ms" for b, e, rps, p99 in rows
    )
    why = f"stopped at {stop_s:.2f} s, resumed at {resume_s:.2f} s (from the log's start):\n{table}"
    before = [r for r in rows if summary.window_start_s <= r[0] and r[1] <= stop_s - 0.5]
    inside = [r for r in rows if r[0] >= stop_s + 0.05 and r[1] <= resume_s]  # wholly while it was stopped
    assert len(before) >= 8 and len(inside) >= 3, why
    assert sorted(r[2] for r in before)[len(before) // 2] >= 0.7 * RATE, why  # the median interval kept up
    assert max(r[3] for r in before) < 300, why
    assert all(r[2] == 0 for r in inside), why  # no answer while the server was stopped
    climb = [r[3] for r in inside]
    assert all(b > a + 100 for a, b in pairwise(climb)), why  # older by each close
    assert climb[-1] >= 0.6 * 1000 * STOP_S, why
    assert summary.audit.ok, why
    print(why)


def _hgrm_rows(path: Path) -> list[tuple[float, float, int]]:
    """(value ms, percentile as a fraction, total count) of each 'Value Percentile TotalCount' row."""
    rows = []
    for line in path.read_text().splitlines():
        fields = line.split()
        if len(fields) >= 3 and not line.startswith("#") and fields[0] != "Value":
            rows.append((float(fields[0]), float(fields[1]), int(fields[2])))
    return rows


def test_the_hgrm_gives_the_summary_s_percentiles(stalled_run: tuple[Path, Summary, list[float]]) -> None:
    """The .hgrm's rows are the cumulative distribution at HdrHistogram's percentile ticks (value, and
    the count up to it): each of summary.json's percentiles lies between the last row whose count is
    short of its rank and the first that reaches it, the last row is the max and its count every
    request counted, the mean is the summary's (all to the histogram's 3 digits)."""
    out, summary, _ = stalled_run
    rows = _hgrm_rows(out / LATENCY_HGRM)
    latency = summary.latency_ms
    count = latency.count
    assert rows[-1][1] == 1.0 and rows[-1][2] == count > 0
    assert latency.max == pytest.approx(rows[-1][0], abs=0.001)
    assert [r[0] for r in rows] == sorted(r[0] for r in rows)
    for name, percentile in (("p50", 50.0), ("p90", 90.0), ("p99", 99.0), ("p999", 99.9)):
        value = latency.at(name)
        rank = max(int(percentile * count / 100 + 0.5), 1)  # HdrHistogram's rank of a percentile
        short = [r for r in rows if r[2] < rank]
        reached = next(r for r in rows if r[2] >= rank)
        assert value is not None and value <= reached[0] * (1 + 1e-3), (name, value, reached)
        assert not short or short[-1][0] <= value * (1 + 1e-3), (name, value, short[-1])
    mean = next(line for line in (out / LATENCY_HGRM).read_text().splitlines() if line.startswith("#[Mean"))
    assert float(mean.split("=")[1].split(",")[0]) == pytest.approx(latency.mean, rel=1e-3)
