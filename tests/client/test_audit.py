"""The audit fails a run loudly when the server double-books or its Stats disagree."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from loadgen_fakes import DoubleBookingStore, FakeServer, LyingStatsStore, OneSeatForAllStore

from seatlab.client import AuditError, LoadSpec, run_load
from seatlab.client.audit import audit_duration, audit_sellout

UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


def test_sellout_audit_names_the_seat_and_both_uuids() -> None:
    verdict = audit_sellout([(1, "a", 0), (2, "b", 1), (1, "c", 1)], 3, 0, (3, 3), 0, True)
    assert verdict.ok is False
    assert "seat 1 confirmed to two uuids: a (client 0) and c (client 1)" in verdict.message


def test_sellout_audit_accepts_a_retried_uuid_and_checks_the_range() -> None:
    ok = audit_sellout([(1, "a", 0), (1, "a", 0), (2, "b", 1)], 2, 0, (2, 2), 0, True)
    assert ok.ok is True and ok.confirmed == 2
    bad = audit_sellout([(3, "a", 0)], 2, 0, (2, 1), 0, False)
    assert "seat 3 confirmed to uuid a (client 0) is outside 1..2" in bad.message


def test_sellout_audit_compares_stats_with_unanswered_slack() -> None:
    confirmed = [(1, "a", 0), (2, "b", 0)]
    assert audit_sellout(confirmed, 5, 1, (5, 3), 0, False).ok is True  # 1 before + 2 confirmed
    assert audit_sellout(confirmed, 5, 1, (5, 4), 1, False).ok is True  # an unanswered Book may have booked
    low = audit_sellout(confirmed, 5, 1, (5, 2), 0, False)
    assert low.ok is False and "Stats says 2 seats booked" in low.message
    full = audit_sellout(confirmed, 5, 1, (5, 3), 0, True)
    assert full.ok is False and "told sold out" in full.message
    assert audit_sellout(confirmed, 5, 1, None, 0, True).ok is None


def test_duration_audit() -> None:
    assert audit_duration([(4, "a")], 10, 0, (10, 1), 0).ok is True
    two = audit_duration([(4, "a"), (4, "b")], 10, 0, (10, 2), 0)
    assert two.ok is False and "seat 4 is held by two uuids at the end: a and b" in two.message
    assert audit_duration([], 10, 0, (10, 1), 0).ok is False
    assert audit_duration([], 10, 0, (10, 1), 1).ok is True


def test_a_double_booking_server_fails_the_run(tmp_path: Path) -> None:
    with FakeServer(DoubleBookingStore(20)) as server, pytest.raises(AuditError) as info:
        run_load(LoadSpec(port=server.port, clients=3, diversity=2, mode="sellout", out_dir=tmp_path,
                          timeout_s=10))  # fmt: skip
    message = str(info.value)
    assert re.search(
        rf"seat 1 confirmed to two uuids: {UUID} \(client \d\) and {UUID} \(client \d\)", message
    )
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["audit"]["ok"] is False and "seat 1" in summary["audit"]["message"]


def test_a_server_that_gives_one_seat_to_every_client_fails_a_duration_run(tmp_path: Path) -> None:
    # clients keep each seat until the next is confirmed, so two clients hold "seat 1" at once
    with FakeServer(OneSeatForAllStore(100), delay_s=0.005) as server, pytest.raises(AuditError) as info:
        run_load(LoadSpec(port=server.port, clients=8, diversity=2, mode="duration", warmup_s=0.2,
                          duration_s=0.5, out_dir=tmp_path, timeout_s=10))  # fmt: skip
    assert re.search(
        rf"seat 1 confirmed to uuid {UUID} \(client \d\) while uuid {UUID} \(client \d\) still held it",
        str(info.value),
    )
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["params"]["refill"] == "book-then-cancel-previous"


def test_a_server_whose_stats_disagree_fails_the_run(tmp_path: Path) -> None:
    with (
        FakeServer(LyingStatsStore(20)) as server,
        pytest.raises(AuditError, match="Stats says 19 seats booked, but clients hold 20 confirmed seats"),
    ):
        run_load(LoadSpec(port=server.port, clients=2, mode="sellout", out_dir=tmp_path, timeout_s=10))


def test_the_command_exits_3_on_a_failed_audit(tmp_path: Path) -> None:
    with FakeServer(DoubleBookingStore(10)) as server:
        result = subprocess.run(
            [sys.executable, "-m", "seatlab.client", "--port", str(server.port), "--clients", "2",
             "--out-dir", str(tmp_path / "out"), "--timeout", "10"],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
    assert result.returncode == 3, result.stderr
    assert re.search(rf"audit failed: .*seat 1 confirmed to two uuids: {UUID}", result.stderr)
    assert "audit: FAILED" in result.stdout


def test_an_honest_fake_passes_in_both_modes(tmp_path: Path) -> None:
    with FakeServer(capacity=30) as server:
        sold = run_load(LoadSpec(port=server.port, clients=3, mode="sellout", out_dir=tmp_path / "s"))
        assert sold.audit.ok is True and sold.seats == 30 and sold.sold_out == 3
        timed = run_load(LoadSpec(port=server.port, clients=3, mode="duration", duration_s=0.5, warmup_s=0.1,
                                  out_dir=tmp_path / "d"))  # fmt: skip
    # the fake is sold out, so every Book in the duration run is answered SoldOut and nothing is held
    assert timed.audit.ok is True and timed.audit.server_booked == 30
    assert timed.seats == 0 and timed.sold_out > 0
