"""Seat store invariants: no seat twice, no uuid twice, the count right, for any interleaving."""

from __future__ import annotations

import threading
import uuid as uuidlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seatlab.seats.journal import Journal
from seatlab.seats.store import SeatStore

UUIDS = [str(uuidlib.UUID(int=i + 1)) for i in range(12)]

ops = st.lists(st.tuples(st.sampled_from(["book", "cancel"]), st.sampled_from(UUIDS)), max_size=60)


def check_invariants(store: SeatStore) -> None:
    seats = store.seats()
    assert len(set(seats.values())) == len(seats), "a uuid holds two seats"
    assert all(1 <= n <= store.capacity for n in seats)
    assert store.stats() == (store.capacity, len(seats))


@given(st.integers(min_value=1, max_value=8), ops)
def test_sequential_ops_match_a_model(capacity: int, program: list[tuple[str, str]]) -> None:
    store = SeatStore(capacity)
    model: dict[str, int] = {}
    for op, u in program:
        if op == "book":
            number = store.book(u)
            if u in model:
                assert number == model[u], "re-book must answer the same seat"
            elif len(model) == capacity:
                assert number == 0
            else:
                assert number not in model.values() and number >= 1
                model[u] = number
        else:
            assert store.cancel(u) == model.pop(u, 0)
        check_invariants(store)
    assert {u: n for n, u in store.seats().items()} == model


@settings(max_examples=30, deadline=None)
@given(st.integers(min_value=1, max_value=6), st.lists(ops, min_size=2, max_size=4))
def test_threads_keep_invariants_and_journal_replays(
    tmp_path_factory: pytest.TempPathFactory, capacity: int, programs: list[list[tuple[str, str]]]
) -> None:
    path = tmp_path_factory.mktemp("db") / "db.csv"
    journal, seats = Journal.open(path, capacity)
    store = SeatStore(capacity, journal, seats)
    barrier = threading.Barrier(len(programs))

    def run(program: list[tuple[str, str]]) -> None:
        barrier.wait()
        for op, u in program:
            getattr(store, op)(u)

    threads = [threading.Thread(target=run, args=(p,)) for p in programs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    check_invariants(store)
    store.close()
    _, replayed = Journal.open(path, capacity)
    assert replayed == store.seats()


def test_concurrent_rebook_of_one_uuid_takes_one_seat() -> None:
    store = SeatStore(100)
    u = UUIDS[0]
    results: list[int] = []
    barrier = threading.Barrier(8)

    def run() -> None:
        barrier.wait()
        for _ in range(200):
            results.append(store.book(u))

    threads = [threading.Thread(target=run) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert set(results) == {1}
    assert store.stats() == (100, 1)


def test_every_seat_of_a_large_store_is_handed_out_once() -> None:
    # how the time per op grows with the seats is measured in test_store_growth.py
    capacity = 200_000
    store = SeatStore(capacity)
    numbers = {store.book(str(uuidlib.UUID(int=i + 1))) for i in range(capacity)}
    assert numbers == set(range(1, capacity + 1))
    assert store.book(str(uuidlib.UUID(int=capacity + 5))) == 0


def test_restored_seats_are_not_handed_out_again(tmp_path: Path) -> None:
    store = SeatStore(5, seats={2: UUIDS[0], 4: UUIDS[1]})
    assert store.book(UUIDS[0]) == 2
    assert {store.book(u) for u in UUIDS[2:5]} == {1, 3, 5}
    assert store.book(UUIDS[5]) == 0
    with pytest.raises(ValueError, match="outside"):
        SeatStore(3, seats={4: UUIDS[0]})


def test_memory_follows_bookings_not_capacity() -> None:
    # the wire allows capacities up to 2**32-1: nothing may be allocated per seat up front
    store = SeatStore(2**32 - 1)
    assert store.book(UUIDS[0]) == 1
    assert store.stats() == (2**32 - 1, 1)


def test_released_seats_are_reused_before_fresh_ones() -> None:
    store = SeatStore(3)
    assert [store.book(u) for u in UUIDS[:2]] == [1, 2]
    assert store.cancel(UUIDS[0]) == 1
    assert store.book(UUIDS[2]) == 1
    assert store.book(UUIDS[3]) == 3
    assert store.book(UUIDS[4]) == 0


def test_capacity_must_be_positive() -> None:
    with pytest.raises(ValueError, match="capacity"):
        SeatStore(0)
