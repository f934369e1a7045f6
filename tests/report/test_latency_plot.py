"""latency.png: percentiles over every request with the lower bounds marked, and the answered-only view."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

from seatlab.report.collect import load_results
from seatlab.report.latency_plot import LOWER_BOUND, latency_figure


def _marker_points(ax, marker: str, color: str) -> set[float]:
    return {
        float(x)
        for line in ax.get_lines()
        if line.get_marker() == marker and line.get_color() == color
        for x in line.get_xdata()
    }


def test_tpool_p99_is_a_lower_bound_where_it_starves_coros_is_not(default_run: Path) -> None:
    fig = latency_figure(load_results(default_run))
    every, served = fig.axes[:3], fig.axes[3:]
    assert [ax.get_title() for ax in every][1] == "p99, every request"
    assert [ax.get_title() for ax in served][1] == "p99, answered requests only"
    p99 = every[1]
    tpool = next(line for line in p99.get_lines() if line.get_label() == "tpool")
    coro = next(line for line in p99.get_lines() if line.get_label() == "coro")
    assert _marker_points(p99, "^", tpool.get_color()) == {4.0, 16.0, 64.0}  # open triangles: lower bounds
    assert _marker_points(p99, "^", coro.get_color()) == set()
    assert dict(zip(tpool.get_xdata(), tpool.get_ydata(), strict=True))[64] >= 3000  # at least the window
    answered = next(line for line in served[1].get_lines() if line.get_label() == "tpool")
    assert max(answered.get_ydata()) < 60  # what the answered-only view shows: the starvation hidden
    assert LOWER_BOUND in [t.get_text() for t in every[0].get_legend().get_texts()]
    assert (
        "unanswered requests counted" in fig.texts[0].get_text()
        and "share 2 cores" in fig.texts[0].get_text()
    )


def test_a_run_from_before_counting_unanswered_requests_has_the_answered_view_alone(legacy_run: Path) -> None:
    fig = latency_figure(load_results(legacy_run))
    assert [ax.get_title() for ax in fig.axes] == [
        "median (p50), answered requests only",
        "p99, answered requests only",
        "p99.9, answered requests only",
    ]
    assert "predates counting unanswered" in fig.texts[0].get_text()


def test_one_swept_value_puts_the_backends_side_by_side(runs) -> None:
    points = [runs.closed_loop_point(backend, 10) for backend in ("tpool", "coro", "event")]
    for i, point in enumerate(points):
        point.columns["point_dir"] = f"{i:02d}-{point.columns['backend']}"
    fig = latency_figure(load_results(runs.write("seed", points, swept=["clients"])))
    p99 = fig.axes[1]
    assert [t.get_text() for t in p99.get_xticklabels()] == ["tpool", "coro", "event"]
    assert p99.get_xlabel() == "concurrent clients: 10"
    tpool = next(line for line in p99.get_lines() if line.get_label() == "tpool")
    assert list(tpool.get_xdata()) == [0] and tpool.get_ydata()[0] >= 3500  # 8 of 10 starved, waiting


def test_six_backends_side_by_side_have_tick_labels_that_do_not_overlap(runs) -> None:
    """The seed experiment's six backends at one client count: native_tpool, native_coro ... readable."""
    backends = ("tpool", "coro", "event", "native_tpool", "native_coro", "native_event")
    points = [runs.closed_loop_point(backend, 10) for backend in backends]
    for i, point in enumerate(points):
        point.columns["point_dir"] = f"{i:02d}-{point.columns['backend']}"
    fig = latency_figure(load_results(runs.write("seed", points, swept=["clients"])))
    fig.canvas.draw()
    for ax in fig.axes:
        boxes = [label.get_window_extent() for label in ax.get_xticklabels()]
        assert [t.get_text() for t in ax.get_xticklabels()] == list(backends)
        assert not any(a.overlaps(b) for a, b in pairwise(boxes)), ax.get_title()
