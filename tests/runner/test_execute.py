"""How a point's outcome is judged from the load generator's summary and the server's exit code."""

from __future__ import annotations

import json
import math
import socket
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from seatlab.client import AuditError, LoadError, LoadSpec
from seatlab.client.audit import NOT_AUDITED, Audit
from seatlab.client.summary import Summary
from seatlab.outputs import PointRow
from seatlab.runner.execute import Measured, judge_point, load_summary, point_row
from seatlab.runner.sampler import ServerUsage

SUMMARY = Summary.from_json(json.loads((Path(__file__).parent / "fixtures" / "summary.json").read_text()))
PARAMS = PointRow(
    point=0, repetition=0, backend="coro", threads=2, delay_ms=50.0, capacity=5000, clients=200,
    mode="duration", diversity=2, rate=math.nan, connect="persistent", duration_s=3.0, bound_rps=math.nan,
    predicted_sellout_s=math.nan, server_cpus="", loadgen_cpus="", point_dir="00-coro-c200",
)  # fmt: skip
USAGE = ServerUsage(cpu_pct=5.0, peak_rss_mib=20.0, seconds=3.0)


def summary(**changes: Any) -> Summary:
    return replace(SUMMARY, **changes)


def test_a_clean_point_is_ok() -> None:
    assert judge_point(summary(), 0) == ("ok", "")


def test_a_calibration_point_that_nothing_audits_is_ok() -> None:
    assert judge_point(summary(audit=NOT_AUDITED), 0) == ("ok", "")


@pytest.mark.parametrize(
    ("changes", "exit_code", "reason"),
    [
        ({}, 1, "server exited 1 after SIGTERM"),
        ({}, -9, "server exited -9 after SIGTERM"),
        (
            {
                "audit": Audit(
                    ok=False, confirmed=1, server_booked=2, expected_booked=1, message="seat 7 twice"
                )
            },
            0,
            "audit failed: seat 7 twice",
        ),
        (
            {"completed": False, "warnings": ["the measured window never opened"]},
            0,
            "incomplete: the measured window",
        ),
        (
            {"answers": 0, "warnings": ["4 of 4 clients got no answer"]},
            0,
            "no answers in the measured window: 4 of 4",
        ),
    ],
)
def test_failures_name_their_reason(changes: dict[str, Any], exit_code: int, reason: str) -> None:
    status, text = judge_point(summary(**changes), exit_code)
    assert status == "failed" and reason in text


def test_a_load_run_that_fails_its_audit_keeps_its_measurements_in_the_row(tmp_path: Path) -> None:
    """The path production takes: ``run_load`` raises AuditError with the run's summary (issue 11, 5)."""
    sys.path.insert(0, str(Path(__file__).parents[1] / "client"))  # the load generator's fake servers
    from loadgen_fakes import DoubleBookingStore, FakeServer

    spec = LoadSpec(clients=3, diversity=2, mode="sellout", out_dir=tmp_path / "load", timeout_s=10)
    with FakeServer(DoubleBookingStore(20)) as server:
        summary, error = load_summary(replace(spec, port=server.port))
    assert isinstance(error, AuditError) and summary.audit.ok is False
    row = point_row(PARAMS, Measured(summary, error, USAGE, 0))
    assert row.status == "failed" and "AuditError: audit failed: seat 1 confirmed to" in row.reason
    assert row.answers == summary.answers > 0 and row.p50_ms > 0 and row.server_cpu_pct == 5.0


def test_a_load_run_that_could_not_be_made_is_an_error_without_a_summary(tmp_path: Path) -> None:
    with socket.socket() as unused:  # a port nobody listens on
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    with pytest.raises(LoadError):
        load_summary(LoadSpec(port=port, clients=1, mode="sellout", out_dir=tmp_path, timeout_s=2))


def test_an_open_loops_efficiency_is_in_bookings_a_closed_loops_in_answers() -> None:
    """200 clients offered 100 bookings/s for 3 s, every booking answered: most are a client's first and
    have no cancel, so 164 answers/s; against 200 answers/s that read 0.82, as if it fell behind."""
    kept_up = summary(throughput_rps=164.0, bookings_rps=100.0, offered_rps=100.0)
    params = replace(PARAMS, bound_rps=200.0, rate=100.0, mode="duration")

    def efficiency(params: PointRow, summary: Summary) -> float:
        return point_row(params, Measured(summary, None, USAGE, 0)).efficiency

    assert efficiency(params, kept_up) == pytest.approx(1.0)
    behind = summary(throughput_rps=100.0, bookings_rps=50.0, offered_rps=100.0)  # half the bookings
    assert efficiency(params, behind) == pytest.approx(0.5)
    sellout = summary(throughput_rps=80.0, bookings_rps=80.0, offered_rps=100.0)  # a booking, one answer
    assert efficiency(replace(params, bound_rps=100.0, mode="sellout"), sellout) == pytest.approx(0.8)
    closed = summary(throughput_rps=150.0, bookings_rps=75.0, offered_rps=None)
    assert efficiency(replace(params, rate=math.nan), closed) == pytest.approx(0.75)


def test_the_row_takes_the_load_hosts_round_trip_into_the_bound_once() -> None:
    """A load run on other hosts: Little's law counts each request's round trip, L / (delay + RTT)."""
    from seatlab.client.processes import HostReport
    from seatlab.runner.execute import hosts_rtt_ms

    def host(name: str, rtt: float | None, clients: int) -> HostReport:
        return HostReport(
            hostname=name, ip="10.0.0.1", node_id="n", cpus=2, workers=[0], clients=clients, rtt_ms=rtt,
            rtt_min_ms=rtt, rtt_samples=3, offset_ms=0.0, uncertainty_ms=0.1, shared_clock=False,
        )  # fmt: skip

    assert hosts_rtt_ms([host("a", 1.0, 30), host("b", 3.0, 10)]) == pytest.approx(1.5)  # clients-weighted
    assert math.isnan(hosts_rtt_ms(None)) and math.isnan(hosts_rtt_ms([host("a", None, 4)]))
