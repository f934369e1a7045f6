"""A rate sweep: achieved vs offered with the bound and y = x, latency vs offered on a log axis, the knee."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from seatlab.report.build import build_report
from seatlab.report.collect import load_results
from seatlab.report.load_latency import knees, load_latency_figure

KNEES = {"tpool": 20.0, "coro": 900.0, "event": 1300.0}  # bookings/s each fake server can serve
RATES = [float(r) for r in range(100, 2100, 200)]


@pytest.fixture
def rate_sweep(runs) -> Path:
    points = []
    for backend, knee in KNEES.items():
        for rate in RATES:
            point = runs.open_loop_point(backend, rate, knee)
            point.columns["point_dir"] = f"{backend}-r{rate:g}"
            points.append(point)
    return runs.write("rates", points, swept=["rate"])


def test_the_knee_is_where_each_server_stops_keeping_up(rate_sweep: Path) -> None:
    found = knees(load_results(rate_sweep).ok)
    assert found == {"tpool": (None, 100.0), "coro": (900.0, 1100.0), "event": (1300.0, 1500.0)}


def test_load_latency_pair_draws_achieved_offered_bound_and_log_latency(rate_sweep: Path) -> None:
    fig = load_latency_figure(load_results(rate_sweep))
    rates, p50, p99 = fig.axes[:3]
    lines = {line.get_label(): line for line in rates.get_lines()}
    assert list(lines["achieved = offered"].get_xdata()) == RATES
    coro = dict(zip(lines["coro: achieved"].get_xdata(), lines["coro: achieved"].get_ydata(), strict=True))
    assert coro[700.0] == pytest.approx(700.0) and coro[1900.0] == pytest.approx(900.0)
    bound = lines["coro: Little's law bound"].get_ydata()
    assert max(bound) == pytest.approx(900.0)  # bound_rps (answers/s) over two answers per booking
    assert p50.get_yscale() == "log" and p99.get_yscale() == "log"
    assert rates.get_xlabel() == "offered rate (bookings/s)" and rates.get_xscale() == "linear"
    event = next(line for line in p99.get_lines() if line.get_label() == "event")
    latency = dict(zip(event.get_xdata(), event.get_ydata(), strict=True))
    assert latency[1300.0] < 60 and latency[1500.0] > 1000  # the knee, in latency


def test_rate_sweep_report_names_the_knees(rate_sweep: Path, pngs: Callable[[Path], set[str]]) -> None:
    build_report(rate_sweep)
    assert "load_latency.png" in pngs(rate_sweep)
    report = (rate_sweep / "report.md").read_text()
    assert "Load-latency: coro keeps up (achieved >= 0.95 of offered) up to 900 bookings/s" in report
    assert "falls behind from 1,100 bookings/s" in report
    assert "Load-latency: tpool never keeps up" in report
    assert "offered bookings/s" in report.split("## Points", 1)[1]


def test_no_load_latency_plot_without_a_rate_sweep(
    default_run: Path, pngs: Callable[[Path], set[str]]
) -> None:
    build_report(default_run)
    assert "load_latency.png" not in pngs(default_run)


def test_a_rate_sweep_below_every_knee_says_so_in_bookings(runs, tmp_path: Path) -> None:
    """The issue's own command: 200 clients at 50 ms bound coro at 2000 bookings/s, above every rate
    offered (100..1900): it keeps up everywhere, and the findings say there is no knee to see."""
    points = []
    for rate in RATES:
        point = runs.open_loop_point("coro", rate, knee=2000.0)
        # efficiency as the runner wrote it before it counted bookings: answers over the bound
        point.columns.update(point_dir=f"coro-r{rate:g}", bound_rps=2 * rate, efficiency=0.82)
        point.columns["throughput_rps"] = 1.64 * rate  # first bookings have no cancel: fewer answers
        points.append(point)
    build_report(runs.write("below", points, swept=["rate"]))
    report = (tmp_path / "below" / "report.md").read_text()
    assert (
        "Load-latency: coro keeps up (achieved >= 0.95 of offered) at every rate offered, up to 1,900 "
        "bookings/s: no knee in this range." in report
    )
    assert (
        "efficiency (bookings answered / Little's law bound) by offered rate (bookings/s): 100: 1.00"
        in report
    )
    assert "Tracks its bound (>= 0.9) everywhere, up to 1,900 bookings/s at rate 1900." in report
