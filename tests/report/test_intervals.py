"""Intervals over repetitions: the median's bootstrap interval, the ratio's, and what the report and
findings say with several runs per point and with one (synthetic repetitions, seeded resampling)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from seatlab.outputs import PointRow
from seatlab.report.build import build_report
from seatlab.report.intervals import METHOD, ONE_RUN, median_interval, ratio_interval
from seatlab.runner.results import write_json, write_points

SPREAD = [0.97, 1.01, 0.99, 1.03, 1.0, 0.98, 1.02]  # seven runs within 3% of each other


def test_one_run_has_no_interval_and_says_so() -> None:
    one = median_interval([412.0])
    assert one.value == 412.0 and not one.known and one.text() == f"412 ({ONE_RUN})"
    assert not ratio_interval([400.0], [80.0]).known and not ratio_interval([400.0], [80.0]).excludes(1.0)


def test_the_median_interval_holds_the_median_within_the_runs_range() -> None:
    runs = [400 * s for s in SPREAD]
    interval = median_interval(runs)
    assert interval.value == pytest.approx(400.0) and interval.runs == 7 and interval.known
    assert min(runs) <= interval.low < 400.0 < interval.high <= max(runs)
    assert median_interval(runs) == interval  # seeded: a redrawn report says the same
    assert median_interval([5.0, 5.0, 5.0]).text() == "5 [5, 5]"


def test_a_ratio_is_significant_only_when_its_interval_excludes_one() -> None:
    a = [400 * s for s in SPREAD]
    slower = ratio_interval(a, [80 * s for s in reversed(SPREAD)])
    assert slower.value == pytest.approx(0.2) and slower.high < 1.0 and slower.excludes(1.0)
    same = ratio_interval(a, [400 * s for s in reversed(SPREAD)])
    assert same.low < 1.0 < same.high and not same.excludes(1.0)
    assert math.isnan(ratio_interval([0.0, 0.0], [1.0, 2.0]).value)  # no ratio to a zero median


def rows(backend: str, throughputs: list[float], start: int = 0) -> list[PointRow]:
    out = []
    for repetition, throughput in enumerate(throughputs):
        p50 = 1000 * 4 / throughput
        out.append(
            PointRow(
                point=start + repetition, repetition=repetition, backend=backend, threads=2, delay_ms=10.0,
                capacity=5000, clients=4, mode="duration", diversity=2, rate=math.nan, connect="persistent",
                duration_s=3.0, throughput_rps=throughput, bound_rps=400.0, efficiency=throughput / 400.0,
                predicted_sellout_s=math.nan, p50_ms=p50, p99_ms=1.5 * p50, censored=0, starved_clients=0,
                server_cpus="", loadgen_cpus="", status="ok", point_dir=f"{start + repetition:02d}-{backend}",
            )
        )  # fmt: skip
    return out


def report_of(directory: Path, points: list[PointRow]) -> str:
    directory.mkdir()
    write_points(points, directory / "points.csv")
    write_json({"swept": ["clients"], "machine": {"cores": 2}}, directory / "metadata.json")
    build_report(directory)
    return (directory / "report.md").read_text()


def test_with_repeats_the_report_gives_intervals_and_a_significant_ratio(tmp_path: Path) -> None:
    report = report_of(
        tmp_path / "run", rows("coro", [400 * s for s in SPREAD]) + rows("tpool", [80 * s for s in SPREAD], 7)
    )
    assert "## Over repetitions" in report and METHOD in report
    assert "| coro | 4 | 7 | 400 [" in report  # throughput: the median and its interval
    assert "coro serves 5.0x what tpool serves (95% interval" in report and "significant)" in report


def test_two_series_within_each_others_noise_are_no_significant_difference(tmp_path: Path) -> None:
    report = report_of(
        tmp_path / "run",
        rows("coro", [396 * s for s in SPREAD]) + rows("event", [396 * s for s in reversed(SPREAD)], 7),
    )
    assert "No significant difference in throughput between" in report and "includes 1" in report
    assert "serves 1.0x" not in report


def test_one_run_per_point_changes_nothing_but_saying_so(tmp_path: Path) -> None:
    report = report_of(tmp_path / "run", rows("coro", [400.0]) + rows("tpool", [80.0], 1))
    assert "coro serves 5.0x what tpool serves (one run: no interval)." in report
    assert f"{ONE_RUN}: each point ran once (repeat=1)." in report
    assert METHOD not in report


def test_the_plots_draw_error_bars_only_for_repeated_points_and_name_the_method(tmp_path: Path) -> None:
    from matplotlib.container import ErrorbarContainer

    from seatlab.report.collect import load_results
    from seatlab.report.latency_plot import latency_figure
    from seatlab.report.plots import throughput_figure

    report_of(tmp_path / "five", rows("coro", [400 * s for s in SPREAD]))
    report_of(tmp_path / "one", rows("coro", [400.0]))
    repeated, once = load_results(tmp_path / "five"), load_results(tmp_path / "one")
    ax = throughput_figure(repeated).axes[0]
    (bars,) = [c for c in ax.containers if isinstance(c, ErrorbarContainer)]
    low, high = (
        median_interval([400 * s for s in SPREAD]).low,
        median_interval([400 * s for s in SPREAD]).high,
    )
    segment = bars.lines[2][0].get_segments()[0]
    assert segment[0][1] == pytest.approx(low) and segment[1][1] == pytest.approx(high)
    assert f"error bars: {METHOD}" in ax.get_title()
    latency = latency_figure(repeated)
    with_bars = [
        a.get_title() for a in latency.axes if any(isinstance(c, ErrorbarContainer) for c in a.containers)
    ]
    assert with_bars == ["median (p50), every request", "p99, every request"]
    ax = throughput_figure(once).axes[0]
    assert not ax.containers and f"{ONE_RUN} (repeat=1)" in ax.get_title()
