"""Findings in words: whom each backend starves, p99 over every request, lower bounds said as such."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest

from seatlab.report.build import build_report


def _findings(run: Path) -> str:
    build_report(run)
    text = (run / "report.md").read_text()
    return text.split("## Findings", 1)[1].split("## Points", 1)[0]


def test_findings_say_who_starves_whom_and_quote_p99_over_every_request(default_run: Path) -> None:
    text = _findings(default_run)
    assert "Starvation: tpool starves 62 of 64 clients at 64 clients; coro starves no one." in text
    assert "at 64 clients, 62 of 64 got no answer in the window" in text
    assert "p99 >= 3,500 ms over every request, 62 requests still waiting when the window closed" in text
    assert "(answered requests alone: p99 51.4 ms)" in text
    # the backlog: 62 queued Books at 2 threads / 50 ms after the window (issue 17.1)
    assert "The server went on serving their queued requests for 1.55 s after the window (62 answers" in text
    assert "coro 1,280 req/s (p99 51.4 ms); tpool 40.0 req/s (p99 >= 3,500 ms, 62 clients starved)" in text
    assert "Figures marked >= are lower bounds" in text


def test_no_lower_bound_note_where_no_figure_is_one(runs) -> None:
    run = runs.write("coro", [runs.closed_loop_point("coro", c) for c in (1, 8)], swept=["clients"])
    text = _findings(run)
    assert ">=" not in text.replace("(>= 0.9)", "") and "lower bound" not in text
    assert "No client starved; at 8 clients p99 51.4 ms." in text


def test_sellout_points_get_the_sellout_plot_and_littles_prediction(tmp_path: Path) -> None:
    run = tmp_path / "seed"
    run.mkdir()
    rows = []
    for backend, bound, sellout in (("tpool", 40.0, 126.4), ("coro", 200.0, 25.9), ("event", 200.0, 25.6)):
        rows.append(
            {
                "job": "",
                "backend": backend,
                "threads": 2,
                "delay_ms": 50.0,
                "capacity": 5000,
                "clients": 10,
                "mode": "sellout",
                "throughput_rps": 5000 / sellout,
                "bound_rps": bound,
                "efficiency": 5000 / sellout / bound,
                "predicted_sellout_s": 5000 / bound,
                "sellout_s": sellout,
                "p50_ms": 50.5,
                "p99_ms": 52.0,
                "p999_ms": 55.0,
                "server_cpu_pct": 5.0,
                "loadgen_cpu_pct": 8.0,
                "status": "ok",
                "reason": "",
            }
        )
    pd.DataFrame(rows).to_csv(run / "points.csv", index=False)
    text = _findings(run)
    assert (run / "sellout.png").is_file()
    assert "Sold out in 126 s with 10 clients; Little's law predicts 125 s." in text
    assert "Sold out in 25.9 s with 10 clients; Little's law predicts 25.0 s." in text


@pytest.mark.parametrize(
    ("ceiling", "heading"),
    [
        ("calibrate", "**machine ceiling** (calibration target)"),
        # the C++ fixed-answer server is a ceiling too (seatlab.registry), not only the name calibrate
        ("native_calibrate", "**machine ceiling** (native_calibrate, a fixed-answer server)"),
    ],
)
def test_delay_zero_run_is_measured_against_the_machine_ceiling(
    tmp_path: Path, ceiling: str, heading: str
) -> None:
    run = tmp_path / "ceiling"
    run.mkdir()
    rows = []
    for backend, rates in ((ceiling, {1: 7000.0, 100: 25000.0}), ("event", {1: 5600.0, 100: 20000.0})):
        for clients, rate in rates.items():
            rows.append(
                {
                    "job": "",
                    "backend": backend,
                    "threads": 2,
                    "delay_ms": 0.0,
                    "capacity": 5000,
                    "clients": clients,
                    "mode": "duration",
                    "throughput_rps": rate,
                    "bound_rps": math.nan,
                    "p50_ms": 0.1,
                    "p99_ms": 0.5,
                    "p999_ms": 1.0,
                    "server_cpu_pct": 100.0,
                    "loadgen_cpu_pct": 100.0,
                    "loadgen_saturated": backend == "event",
                    "status": "ok",
                    "reason": "",
                }
            )
    pd.DataFrame(rows).to_csv(run / "points.csv", index=False)
    text = _findings(run)
    assert f"{heading}, req/s by concurrent clients: 1: 7,000, 100: 25,000." in text
    assert (
        "Share of the machine ceiling (calibration target at the same clients): 1: 0.80, 100: 0.80." in text
    )
    assert "The load generator was saturated (event at 1 clients, event at 100 clients)" in text
    assert (run / "throughput.png").is_file()
    assert "loadgen full" in (run / "report.md").read_text()  # the row says it too


def test_a_sellouts_starved_clients_are_named_as_such_and_their_waits_quoted(tmp_path: Path) -> None:
    """The seed experiment: 8 of 10 clients get their first answer after the ~130 s sell-out, 0.16% of
    the Books: p99 cannot show them, p99.9 and max do, and they are answered (no lower bound)."""
    run = tmp_path / "seed"
    run.mkdir()
    common = {"job": "", "threads": 2, "delay_ms": 50.0, "capacity": 5000, "clients": 10, "mode": "sellout"}
    rows = [
        {**common, "backend": "tpool", "throughput_rps": 38.0, "bound_rps": 40.0, "efficiency": 0.95,
         "sellout_s": 131.8, "predicted_sellout_s": 125.0, "p50_ms": 50.7, "p99_ms": 71.5,
         "p999_ms": 131_596.3, "max_ms": 131_792.9, "p99_censored": False, "p999_censored": False,
         "max_censored": False, "censored": 0, "served_p99_ms": 71.5, "starved_clients": 8,
         "fairness": 0.2, "server_cpu_pct": 1.2, "loadgen_cpu_pct": 4.1, "status": "ok", "reason": ""},
        {**common, "backend": "coro", "throughput_rps": 189.5, "bound_rps": 200.0, "efficiency": 0.95,
         "sellout_s": 26.4, "predicted_sellout_s": 25.0, "p50_ms": 51.7, "p99_ms": 68.6,
         "p999_ms": 113.0, "max_ms": 125.0, "p99_censored": False, "p999_censored": False,
         "max_censored": False, "censored": 0, "served_p99_ms": 68.6, "starved_clients": 0,
         "fairness": 1.0, "server_cpu_pct": 3.1, "loadgen_cpu_pct": 6.9, "status": "ok", "reason": ""},
    ]  # fmt: skip
    pd.DataFrame(rows).to_csv(run / "points.csv", index=False)
    text = _findings(run)
    assert "at 10 clients, 8 of 10 booked no seat before the sell-out (fairness 0.20)" in text
    assert "got no answer" not in text  # every client was answered, if only SoldOut at the end
    assert "their waits count: p99 71.5 ms, p99.9 131,596 ms, max 131,793 ms over every request" in text
    assert "tpool 38.0 req/s (p99 71.5 ms, p99.9 131,596 ms, max 131,793 ms, 8 clients starved)" in text
    assert "coro 190 req/s (p99 68.6 ms)" in text  # no tail worth quoting
    assert ">= 131" not in text and "lower bound" not in text


def test_a_dispatching_pool_beside_tpool_is_said_to_share_its_bound_and_starve_no_one(runs) -> None:  # type: ignore[no-untyped-def]
    """Issue 23: tpool_dispatch at 2 threads / 50 ms is bounded at 40 req/s like tpool, serves every
    client in turn (each waits about clients / 40 s), and the findings say where starvation comes from."""
    from report.conftest import Point

    def dispatch_point(clients: int) -> Point:
        turn_ms = 1000.0 * max(clients, 2) / 40.0
        answered = [turn_ms] * 120  # 40/s over the 3 s window
        columns = {
            "backend": "tpool_dispatch", "threads": 2, "delay_ms": 50.0, "capacity": 5000, "clients": clients,
            "mode": "duration", "diversity": 2, "connect": "persistent", "duration_s": 3.0,
            "throughput_rps": 40.0, "bookings_rps": 20.0, "bound_rps": 40.0, "efficiency": 1.0,
            "answers": 120, "errors": 0, "unanswered": 0, "starved_clients": 0, "fairness": 0.99,
            "server_cpu_pct": 2.0, "loadgen_cpu_pct": 2.0, "loadgen_saturated": False, "offered_rps": math.nan,
        }  # fmt: skip
        return Point(columns, answered, [turn_ms / 2] * clients)

    points = [runs.closed_loop_point("tpool", c) for c in (4, 64)] + [dispatch_point(c) for c in (4, 64)]
    text = _findings(runs.write("run", points, swept=["clients"]))
    assert "Same bound, no starvation: tpool_dispatch has tpool's bound (40.0 req/s at 64 clients)" in text
    assert "starves no client at any point (tpool: 62 at 64 clients)" in text
    assert "(clients / bound: 1,600 ms)" in text
