"""percentiles.png: the distribution from the stored HdrHistograms, merged, with the lower bounds marked."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from seatlab.report.build import build_report
from seatlab.report.collect import load_results
from seatlab.report.distribution import curve, percentiles_figure, point_histograms


def test_curve_marks_the_percentiles_that_fall_on_unanswered_requests(runs) -> None:
    answered, waiting = runs.histogram([50.0] * 90), runs.histogram([3500.0] * 10)
    every = runs.histogram([50.0] * 90 + [3500.0] * 10)
    xs, ys, low = curve(every, waiting)
    p = 100 * (1 - 1 / xs)
    assert ys[p <= 90].max() == pytest.approx(50.0, rel=1e-3) and not low[p <= 90].any()
    assert ys[p > 90.5].min() == pytest.approx(3500.0, rel=1e-3) and low[p > 90.5].all()
    _, _, none_low = curve(answered, None)
    assert not none_low.any()


def test_repetitions_are_merged_by_adding_counts(runs) -> None:
    one = runs.Point({"backend": "coro", "clients": 4, "point_dir": "a"}, [50.0] * 100, [3500.0])
    two = runs.Point({"backend": "coro", "clients": 4, "point_dir": "b"}, [200.0] * 300, [])
    results = load_results(runs.write("reps", [one, two]))
    merged = point_histograms(results.ok)
    assert merged is not None and merged.every is not None and merged.served is not None
    assert merged.every.get_total_count() == 401 and merged.served.get_total_count() == 400
    # 100 at 50 ms and 300 at 200 ms: the median is 200 ms, not the average of two medians (125 ms)
    assert merged.served.get_value_at_percentile(50) / 1000 == pytest.approx(200.0, rel=1e-3)


def test_one_panel_per_client_count_one_line_per_backend(default_run: Path) -> None:
    fig = percentiles_figure(load_results(default_run))
    assert fig is not None
    panels = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in panels] == [f"concurrent clients: {c}" for c in (1, 4, 16, 64)]
    labels = {line.get_label() for line in panels[0].get_lines() if not line.get_label().startswith("_")}
    assert labels == {"tpool", "coro"}
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert any("lower bound" in text for text in legend)
    tpool_64 = next(line for line in panels[3].get_lines() if line.get_label() == "tpool")
    assert max(tpool_64.get_ydata()) == pytest.approx(3500.0, rel=1e-3)  # the starved clients' wait


def test_percentiles_png_in_the_run_folder_and_not_for_a_run_without_histograms(
    default_run: Path, legacy_run: Path, pngs: Callable[[Path], set[str]]
) -> None:
    build_report(default_run)
    assert "percentiles.png" in pngs(default_run)
    assert "![percentiles](percentiles.png)" in (default_run / "report.md").read_text()
    build_report(legacy_run)
    assert "percentiles.png" not in pngs(legacy_run)
    assert "No percentiles.png: no point folder here holds" in (legacy_run / "report.md").read_text()


def test_a_schema_1_histogram_is_drawn_as_answered_only(default_run: Path) -> None:
    for load in default_run.glob("points/*/load"):
        (load / "served_latency.hdr").unlink()
        (load / "censored_latency.hdr").unlink()
    fig = percentiles_figure(load_results(default_run))
    assert fig is not None
    labels = {line.get_label() for line in fig.axes[0].get_lines() if not line.get_label().startswith("_")}
    assert labels == {"tpool (answered only)", "coro (answered only)"}


def test_curve_marks_values_clamped_at_the_histograms_ceiling(runs) -> None:
    legacy = runs.LEGACY_HIGHEST_US  # a schema 1 histogram: 120 s recorded as its 60 s ceiling
    every = runs.histogram([50.0] * 990 + [120_000.0] * 10, legacy)
    xs, ys, low = curve(every, runs.histogram([], legacy))
    p = 100 * (1 - 1 / xs)
    assert ys.max() == pytest.approx(60_000.0, rel=1e-3)
    assert low[p > 99.05].all() and not low[p < 98.9].any()


def test_a_two_minute_answered_wait_is_not_a_lower_bound(runs) -> None:
    # the hour-long range holds a sell-out client's 130 s wait as it was: answered, exact
    every = runs.histogram([50.0] * 990 + [130_000.0] * 10)
    xs, ys, low = curve(every, runs.histogram([]))
    assert ys.max() == pytest.approx(130_000.0, rel=1e-3) and not low.any()
    clamped = runs.histogram([50.0] * 990 + [5_000_000.0] * 10)  # 83 min: past the hour, clamped
    xs, ys, low = curve(clamped, runs.histogram([]))
    assert ys.max() == pytest.approx(3_600_000.0, rel=1e-3) and low[100 * (1 - 1 / xs) > 99.05].all()


def test_one_panel_leaves_the_title_readable_beside_the_legend(runs) -> None:
    """The seed experiment: one client count, six backends: the legend beside the panel, not on the title."""
    backends = ("tpool", "coro", "event", "native_tpool", "native_coro", "native_event")
    points = [runs.closed_loop_point(backend, 10) for backend in backends]
    fig = percentiles_figure(load_results(runs.write("seed", points, swept=["clients"])))
    assert fig is not None
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    legend = fig.legends[0].get_window_extent(renderer)
    assert not legend.overlaps(fig._suptitle.get_window_extent(renderer))
    assert not any(legend.overlaps(ax.get_window_extent(renderer)) for ax in fig.axes if ax.get_visible())


def test_a_bucket_shared_by_answered_and_waiting_requests_marks_only_the_waiting_ranks(runs) -> None:
    """coro at 1300 bookings/s: requests in flight at the window's end (a few ms old) share buckets with
    answered ones; the rows' p50_censored is False, and the plot must not draw p50 as a lower bound."""
    every = runs.histogram([50.0] * 900 + [50.0] * 100)
    xs, _, low = curve(every, runs.histogram([50.0] * 100))  # ranks 901..1000 are the waiting ones
    p = 100 * (1 - 1 / xs)
    assert not low[p <= 89.9].any() and low[p >= 90.1].all()
    xs, _, low = curve(runs.histogram([50.0] * 1000), runs.histogram([50.0]))  # only the max waits
    assert not low.any()
