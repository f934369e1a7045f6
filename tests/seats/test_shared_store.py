"""The workers' seat store: the same answers as ``SeatStore``, and one store across real processes."""

from __future__ import annotations

import os
import uuid as uuidlib
import warnings
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seatlab.seats.journal import Journal
from seatlab.seats.shared import SharedSeatStore, shared_region_problem
from seatlab.seats.store import SeatStore

UUIDS = [str(uuidlib.UUID(int=i + 1)) for i in range(40)]

ops = st.lists(st.tuples(st.sampled_from(["book", "cancel"]), st.sampled_from(UUIDS)), max_size=200)


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=1, max_value=30), ops)
def test_every_answer_is_the_one_store_s(capacity: int, program: list[tuple[str, str]]) -> None:
    """Any sequence of books and cancels gets the same numbers as the one-process store (the index
    is small enough here that its probes collide and its deletions shift entries back)."""
    shared, model = SharedSeatStore(capacity), SeatStore(capacity)
    for op, u in program:
        assert getattr(shared, op)(u) == getattr(model, op)(u), (op, u)
        assert shared.stats() == model.stats()
    assert shared.seats() == model.seats()


@pytest.mark.parametrize("capacity", [3, 4, 7])
def test_a_crowded_index_agrees_with_the_one_store_through_many_pairs(capacity: int) -> None:
    """Eight index slots for 3-4 seats held, 16 for 7: nearly every booking collides and every
    cancel shifts entries back; 20,000 seeded operations must still answer as ``SeatStore`` does."""
    import random

    rng = random.Random(capacity)
    shared, model = SharedSeatStore(capacity), SeatStore(capacity)
    for _ in range(20_000):
        op, u = rng.choice(("book", "cancel")), rng.choice(UUIDS)
        assert getattr(shared, op)(u) == getattr(model, op)(u), (op, u)
    assert shared.seats() == model.seats()


def test_restored_seats_and_their_holes_are_taken_as_the_one_store_takes_them() -> None:
    seats = {2: UUIDS[0], 5: UUIDS[1], 6: UUIDS[2]}
    shared, model = SharedSeatStore(8, seats=seats), SeatStore(8, seats=seats)
    assert shared.book(UUIDS[1]) == 5  # idempotent across the restore
    assert (
        [shared.book(u) for u in UUIDS[3:10]] == [model.book(u) for u in UUIDS[3:10]] == [1, 3, 4, 7, 8, 0, 0]
    )
    with pytest.raises(ValueError, match=r"outside 1\.\.8"):
        SharedSeatStore(8, seats={9: UUIDS[0]})


def _fork(target: object) -> int:
    """Fork a child that runs ``target`` and exits. The pytest process may have threads that earlier
    tests left (3.12+ warns about fork then); the child touches only the store (its semaphore is held
    by no thread at the fork) and leaves with ``os._exit``, so no lock another thread held is taken."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "This process .* is multi-threaded", DeprecationWarning)
        pid = os.fork()
    if pid == 0:
        code = 1
        try:
            target()  # type: ignore[operator]
            code = 0
        finally:
            os._exit(code)
    return pid


def _wait_all(pids: list[int]) -> None:
    codes = [os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) for pid in pids]
    assert codes == [0] * len(pids), f"child exit codes: {codes}"


def test_processes_sell_the_capacity_once_and_one_uuid_gets_one_seat(tmp_path: Path) -> None:
    """Four forked processes book at once, each its own uuids and one uuid all share: every seat is
    sold once, the shared uuid holds one seat, and the db file replays to exactly the store's seats."""
    capacity = 300
    journal, seats = Journal.open(tmp_path / "db.csv", capacity)
    store = SharedSeatStore(capacity, journal, seats)
    common = UUIDS[0]
    out = tmp_path / "answers"
    out.mkdir()

    def book(worker: int) -> None:
        answers = [store.book(common)]
        answers += [store.book(str(uuidlib.UUID(int=(worker + 1) << 32 | i))) for i in range(100)]
        (out / str(worker)).write_text(" ".join(map(str, answers)))
        store.close()

    _wait_all([_fork(lambda w=w: book(w)) for w in range(4)])
    answers = [list(map(int, (out / str(w)).read_text().split())) for w in range(4)]
    assert len({a[0] for a in answers}) == 1, "the shared uuid got two seats"
    sold = [n for a in answers for n in a[1:] if n]
    assert len(sold) == len(set(sold)) == capacity - 1, "a seat sold twice, or not every seat sold"
    assert store.stats() == (capacity, capacity)
    store.close()
    _, replayed = Journal.open(tmp_path / "db.csv", capacity)
    assert replayed == store.seats()


def test_a_compaction_in_one_process_moves_every_process_to_the_new_file(tmp_path: Path) -> None:
    """Process A books and cancels until the journal compacts (rename over the db file); B's next
    writes must land in the new file, or a restart would lose them."""
    path = tmp_path / "db.csv"
    journal, seats = Journal.open(path, 50, compact_min_bytes=2000)
    store = SharedSeatStore(50, journal, seats)

    def churn() -> None:
        for i in range(100):
            u = str(uuidlib.UUID(int=1000 + i))
            store.book(u)
            store.cancel(u)
        store.book(UUIDS[0])
        assert store.journal is not None and store.journal.compactions >= 1
        store.close()

    _wait_all([_fork(churn)])
    inode = path.stat().st_ino
    assert store.book(UUIDS[1]) == 2  # this process's descriptor was the old file's
    assert path.stat().st_ino == inode, "no compaction expected here"
    store.close()
    _, replayed = Journal.open(path, 50)
    assert replayed == {1: UUIDS[0], 2: UUIDS[1]}


def test_a_capacity_too_big_for_shared_memory_is_refused_naming_it() -> None:
    assert shared_region_problem(5000) is None
    problem = shared_region_problem(2**32 - 1)
    assert problem is not None and "--capacity 4294967295" in problem and "GiB" in problem
    with pytest.raises(ValueError, match="--capacity 4294967295"):
        SharedSeatStore(2**32 - 1)
