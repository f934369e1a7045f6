"""One clock across hosts: the offset estimate and the control messages moved by it (no Ray needed)."""

from __future__ import annotations

from array import array
from time import perf_counter_ns

import numpy as np
import pytest

from seatlab.client.control import AllAnswered, Ready, Start, Stop, Window
from seatlab.client.ledger import ALL_TIME, Confirmations, SeatLedger
from seatlab.cluster.clock import SHARED, boot_id, estimate_offset, from_host, to_host

SKEW = 7_000_000_000_000  # another machine's CLOCK_MONOTONIC: booted ~2 hours earlier


def test_the_offset_of_a_skewed_clock_is_found_within_its_uncertainty() -> None:
    calls = []

    def remote() -> int:
        calls.append(1)
        return perf_counter_ns() + SKEW

    offset = estimate_offset(remote, samples=8)
    assert len(calls) == 8 and not offset.shared
    assert abs(offset.offset_ns - SKEW) <= offset.uncertainty_ns
    assert offset.uncertainty_ns < 50_000_000  # generous: a loaded machine stretches one call


def test_a_slow_sample_loses_to_a_fast_one() -> None:
    """The shortest round trip wins: a sample that took 200 ms must not set the offset."""
    delays = iter([0.2, 0.0, 0.2])

    def remote() -> int:
        pause = next(delays)
        t = perf_counter_ns()
        while perf_counter_ns() - t < pause * 1e9:
            pass
        return perf_counter_ns() + SKEW

    offset = estimate_offset(remote, samples=3)
    assert offset.uncertainty_ns < 100_000_000 and abs(offset.offset_ns - SKEW) <= offset.uncertainty_ns


def test_samples_must_be_positive() -> None:
    with pytest.raises(ValueError, match="samples"):
        estimate_offset(perf_counter_ns, samples=0)


def test_this_kernel_shares_its_own_clock() -> None:
    assert len(boot_id()) >= 32 and SHARED.offset_ns == 0 and SHARED.shared


def test_runner_times_go_into_the_hosts_clock_and_back() -> None:
    assert to_host(Start(100), SKEW) == Start(100 + SKEW)
    assert to_host(Window(5, 9), SKEW) == Window(5 + SKEW, 9 + SKEW)
    assert to_host(Stop(), SKEW) == Stop()
    assert from_host(AllAnswered(3, 50 + SKEW), SKEW) == AllAnswered(3, 50)
    assert from_host(Ready(1, 4), SKEW) == Ready(1, 4)


def _batch(worker: int, events: list[tuple[int, int, int, str]], upto: int) -> Confirmations:
    times, seats, clients = array("q"), array("i"), array("i")
    uuids = bytearray()
    for t, seat, client, u in events:
        times.append(t)
        seats.append(seat)
        clients.append(client)
        uuids += u.encode()
    return Confirmations(worker, upto, times.tobytes(), seats.tobytes(), clients.tobytes(), bytes(uuids))


U1, U2 = "11111111-1111-1111-1111-111111111111", "22222222-2222-2222-2222-222222222222"


def test_confirmations_from_a_skewed_host_are_judged_in_the_runners_clock() -> None:
    """Host A (the runner's clock) holds seat 7 from 1 s to 2 s; host B, whose clock runs SKEW ahead,
    takes it at 3 s: no double booking, but only once B's times are moved back into the runner's clock."""
    a = _batch(0, [(1_000_000_000, 7, 0, U1), (2_000_000_000, -7, 0, U1)], ALL_TIME)
    b = _batch(1, [(3_000_000_000 + SKEW, 7, 1, U2)], ALL_TIME)
    moved = from_host(b, SKEW)
    assert isinstance(moved, Confirmations) and moved.upto == ALL_TIME
    assert np.frombuffer(moved.times, dtype=np.int64).tolist() == [3_000_000_000]
    fair = SeatLedger(2)
    fair.add(a)
    fair.add(moved)
    assert fair.violations == []
    # B's seat moved back to 1.5 s, while A still held it: one double booking, across the two hosts
    early = from_host(_batch(1, [(1_500_000_000 + SKEW, 7, 1, U2)], ALL_TIME), SKEW)
    assert isinstance(early, Confirmations)
    caught = SeatLedger(2)
    caught.add(a)
    caught.add(early)
    assert (
        len(caught.violations) == 1
        and "client 1" in caught.violations[0]
        and "client 0" in caught.violations[0]
    )


def test_a_batchs_upto_moves_with_it_but_the_end_of_the_stream_does_not() -> None:
    moved = from_host(_batch(0, [], 10 + SKEW), SKEW)
    assert isinstance(moved, Confirmations) and moved.upto == 10
    assert from_host(_batch(0, [], ALL_TIME), SKEW).upto == ALL_TIME  # type: ignore[union-attr]
