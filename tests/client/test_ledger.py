"""The live double-booking check sees every load process's confirmations, in time order."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from loadgen_fakes import FakeServer, SecondSeatIsAlsoOneStore

from seatlab.client import AuditError, LoadSpec, run_load
from seatlab.client.ledger import ALL_TIME, ConfirmationLog, SeatLedger

A, B, C = (ch * 36 for ch in (b"a", b"b", b"c"))
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


def _log(worker: int, *events: tuple[int, int, bytes]) -> ConfirmationLog:
    """(time, seat, uuid) per event; a negative seat is the Cancel of that seat sent."""
    log = ConfirmationLog(worker)
    for t, seat, uuid in events:
        if seat > 0:
            log.seat(t, seat, 10 * worker, uuid)
        else:
            log.cancel_sent(t, -seat, 10 * worker, uuid)
    return log


def test_a_seat_held_in_one_process_and_confirmed_in_another_is_a_double_booking() -> None:
    ledger = SeatLedger(2)
    ledger.add(_log(0, (100, 7, A), (300, -7, A)).take(ALL_TIME))
    assert ledger.violations == []  # process 1 may still send older events
    ledger.add(_log(1, (200, 7, B)).take(ALL_TIME))
    assert ledger.violations == [
        f"seat 7 confirmed to uuid {B.decode()} (client 10) while uuid {A.decode()} (client 0) still held it "
        "(its Cancel not yet sent): double booking"
    ]


def test_a_seat_rebooked_after_its_cancel_went_out_is_not() -> None:
    ledger = SeatLedger(2)
    ledger.add(_log(0, (100, 7, A), (200, -7, A)).take(ALL_TIME))
    ledger.add(_log(1, (200, 7, B), (250, 8, C)).take(ALL_TIME))  # same tick as the Cancel: Cancel first
    ledger.add(_log(0).take(ALL_TIME))
    assert ledger.violations == [] and ledger.events == 4
    assert ledger.holders == {7: (B, 10), 8: (C, 10)}


def test_events_are_judged_only_once_every_process_has_covered_their_time() -> None:
    ledger = SeatLedger(2)
    log0, log1 = ConfirmationLog(0), ConfirmationLog(1)
    log0.seat(100, 5, 0, A)
    ledger.add(log0.take(150))
    assert ledger.events == 0  # process 1 has covered nothing yet
    log1.seat(120, 5, 1, B)  # older than process 0's next Cancel
    ledger.add(log1.take(160))
    assert ledger.events == 2 and len(ledger.violations) == 1
    # the holder (B, the last confirmed) carries over from one replay to the next, and A's Cancel
    # does not end B's hold
    log0.cancel_sent(170, 5, 0, A)
    ledger.add(log0.take(ALL_TIME))
    log1.seat(180, 5, 1, C)
    ledger.add(log1.take(ALL_TIME))
    assert (
        len(ledger.violations) == 2
        and f"uuid {C.decode()} (client 1) while uuid {B.decode()}" in (ledger.violations[1])
    )
    log1.cancel_sent(190, 5, 1, C)  # C, the holder now, lets go: the seat is free
    ledger.add(log1.take(ALL_TIME))
    assert ledger.holders == {}


def test_a_retried_uuid_confirmed_its_own_seat_again_is_not_a_double_booking() -> None:
    ledger = SeatLedger(1)
    ledger.add(_log(0, (1, 3, A), (2, 3, A)).take(ALL_TIME))
    assert ledger.violations == []


def test_a_server_double_booking_across_two_load_processes_fails_the_run(tmp_path: Path) -> None:
    # one client per process: the two first Books both get "seat 1", each in its own process, and the
    # store keeps its books, Stats and Released answers consistent, so only the live check can see it
    with (
        FakeServer(SecondSeatIsAlsoOneStore(100), delay_s=0.005) as server,
        pytest.raises(AuditError) as info,
    ):
        run_load(LoadSpec(port=server.port, clients=2, diversity=2, mode="duration", warmup_s=0.2,
                          duration_s=0.5, out_dir=tmp_path, timeout_s=10))  # fmt: skip
    assert re.search(
        rf"seat 1 confirmed to uuid {UUID} \(client (\d)\) while uuid {UUID} \(client (?!\1)\d\) still held it",
        str(info.value),
    ), str(info.value)
    assert info.value.summary is not None and info.value.summary.audit.ok is False
