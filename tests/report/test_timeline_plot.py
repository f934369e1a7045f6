"""timeline.png (issue 21.3): each point's intervals.csv, as the load generator writes it, drawn against
time: throughput and p99 one line per point, the warm-up shaded, small multiples past a few points."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from seatlab.client.answers import SEAT
from seatlab.client.interval_log import write_timeline
from seatlab.client.timeline import Grid, interval_figures
from seatlab.report.build import build_report
from seatlab.report.collect import load_results
from seatlab.report.timeline import OVERLAID, timeline_figure

MS = 1_000_000
T0 = 50_000 * MS
WARMUP_MS = 500


def _write_intervals(load: Path, rate: float, stall: tuple[float, float]) -> None:
    """A 3.5 s run answering ``rate`` Books/s in 2 ms, the server stopped over ``stall`` (s from the
    start): the Books due then are answered when it resumes, measured from when they were due."""
    due = T0 + (np.arange(int(3.5 * rate)) * 1e9 / rate).astype(np.int64)
    lo, hi = (T0 + int(s * 1e9) for s in stall)
    done = np.where((due >= lo) & (due < hi), hi, due) + 2 * MS
    grid = Grid(origin=T0 + WARMUP_MS * MS, close=T0 + 3_500 * MS, end=T0 + 3_500 * MS, step=250 * MS)
    kinds = np.full(len(due), SEAT, dtype=np.int8)
    intervals = interval_figures(grid, done, done - due, kinds, np.empty(0, dtype=np.int64))
    write_timeline(load, intervals, T0)


def _run(runs, points: int) -> Path:
    folder = runs.write("timeline", [runs.closed_loop_point("coro", 4 * (i + 1)) for i in range(points)])
    for i in range(points):
        _write_intervals(folder / "points" / f"{i:02d}-coro" / "load", rate=100.0 * (i + 1), stall=(2.0, 2.5))
    return folder


def test_one_line_per_point_with_the_warmup_shaded(runs) -> None:
    folder = _run(runs, 2)
    figure = timeline_figure(load_results(folder))
    assert figure is not None
    top, bottom = figure.axes[:2]
    lines = {line.get_label(): line for line in top.get_lines()}
    assert set(lines) == {"coro, clients 4", "coro, clients 8"}
    csv = pd.read_csv(folder / "points" / "01-coro" / "load" / "intervals.csv")
    drawn = lines["coro, clients 8"]
    assert list(drawn.get_xdata()) == pytest.approx(list((csv["start_s"] + csv["end_s"]) / 2))
    assert list(drawn.get_ydata()) == pytest.approx(list(csv["answers_rps"]))
    stopped = csv[(csv["start_s"] >= 2.0) & (csv["end_s"] <= 2.5)]
    assert len(stopped) == 2 and (stopped["all"] == 0).all()  # nothing answered while it was stopped
    assert stopped["p99_ms"].is_monotonic_increasing and stopped["p99_censored"].all()  # its waits, growing
    spans = [p for p in top.patches if p.get_label().startswith("warm-up")]
    assert len(spans) == 1 and spans[0].get_x() == 0 and spans[0].get_width() == pytest.approx(0.5)
    assert bottom.get_yscale() == "log"


def test_many_points_are_small_multiples(runs) -> None:
    figure = timeline_figure(load_results(_run(runs, OVERLAID + 2)))
    assert figure is not None
    titled = [ax.get_title() for ax in figure.axes if ax.get_visible() and ax.get_title()]
    assert len(titled) == OVERLAID + 2 and titled[0] == "coro, clients 4"


def test_the_report_draws_it_only_where_points_have_intervals(
    runs, default_run: Path, pngs: Callable[[Path], set[str]]
) -> None:
    build_report(default_run)  # written before the timeline: no intervals.csv
    assert "timeline.png" not in pngs(default_run)
    assert "timeline.png" not in (default_run / "report.md").read_text()
    folder = _run(runs, 2)
    build_report(folder)
    assert (
        "timeline.png" in pngs(folder) and "![timeline](timeline.png)" in (folder / "report.md").read_text()
    )
