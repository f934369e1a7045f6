"""The store's operations take constant time: time per op at 10^3 vs 10^6 booked seats, as a ratio.

How this works, robust on a noisy shared machine: one store of each size
is filled first; then rounds alternate between them (small, large, small,
...), each round timing a block of book + cancel pairs (the cancel frees
the seat again, so the size stays put), with the garbage collector off.
The medians of the rounds are compared, so a round that another process's
burst slowed down does not count, and both sizes see the same noise. The
bound is generous (a 10^6-entry dict misses the CPU caches that a 10^3 one
fits in: up to a few times slower per op is memory, not the algorithm),
while a store that scans its seats is about 1,000 times slower at 10^6:
``test_a_linear_store_fails_the_bound`` runs the same measurement on one
to show the test can fail.
"""

from __future__ import annotations

import gc
import statistics
import time

from seatlab.seats.store import SeatStore

SMALL, LARGE = 10**3, 10**6
ROUNDS = 11
BOUND = 8.0  # per-op time at LARGE over SMALL; constant time measures about 1-3 here, a linear store ~1000


def seat_key(i: int) -> str:
    """A canonical uuid made from ``i``, cheaper to make a million of than uuid.UUID."""
    return f"00000000-0000-4000-8000-{i:012x}"


def filled(store: SeatStore, booked: int) -> SeatStore:
    for i in range(booked):
        store.book(seat_key(i))
    return store


def time_per_op(store: SeatStore, ops: int) -> float:
    """Seconds per book + cancel pair, over ``ops`` pairs of a uuid not held before."""
    fresh = [seat_key(10**9 + i) for i in range(ops)]
    book, cancel = store.book, store.cancel
    start = time.perf_counter()
    for uuid in fresh:
        book(uuid)
        cancel(uuid)
    return (time.perf_counter() - start) / ops


def growth_ratio(small: SeatStore, large: SeatStore, ops: int) -> tuple[float, list[float], list[float]]:
    """Median per-op time of ``large`` over ``small`` in interleaved rounds; and both lists of rounds."""
    small_rounds: list[float] = []
    large_rounds: list[float] = []
    gc.disable()
    try:
        for _ in range(ROUNDS):
            small_rounds.append(time_per_op(small, ops))
            large_rounds.append(time_per_op(large, ops))
    finally:
        gc.enable()
    return statistics.median(large_rounds) / statistics.median(small_rounds), small_rounds, large_rounds


def test_time_per_op_does_not_grow_with_the_seats_booked() -> None:
    small = filled(SeatStore(SMALL), SMALL - 1)
    large = filled(SeatStore(LARGE), LARGE - 1)
    assert small.stats() == (SMALL, SMALL - 1) and large.stats() == (LARGE, LARGE - 1)
    ratio, small_rounds, large_rounds = growth_ratio(small, large, ops=2000)
    assert ratio < BOUND, (
        f"per-op time at {LARGE} seats is {ratio:.1f}x that at {SMALL} (bound {BOUND}); rounds in µs: "
        f"small {[round(t * 1e6, 2) for t in small_rounds]}, large {[round(t * 1e6, 2) for t in large_rounds]}"
    )
    assert large.stats() == (LARGE, LARGE - 1), "book + cancel pairs must leave the size as it was"


class LinearStore(SeatStore):
    """A store that scans for the lowest free seat on every booking: what the bound must catch."""

    def book(self, uuid: str) -> int:
        with self._lock:
            held = self._number_of.get(uuid)
            if held is not None:
                return held
            for number in range(1, self.capacity + 1):
                if number not in self._uuid_of:
                    self._uuid_of[number] = uuid
                    self._number_of[uuid] = number
                    return number
            return 0


def test_a_linear_store_fails_the_bound() -> None:
    # filled through the constructor (restored seats): booking a million seats one scan at a time would take hours
    small = LinearStore(SMALL, seats={n: seat_key(n) for n in range(1, SMALL)})
    large = LinearStore(LARGE, seats={n: seat_key(n) for n in range(1, LARGE)})
    ratio, _, _ = growth_ratio(small, large, ops=3)
    assert ratio > BOUND
