"""Issue 13.1 through the store and journal: on a full disk nothing unwritten is acknowledged, and the db reopens.

The db file lives on a real 16 KiB tmpfs; ballast takes every free page, so
the journal's writes fill the slack of the file's last page and then one
line lands across the page boundary: the kernel writes the part that fits
and the rest fails with ENOSPC (the short write of the issue).
"""

from __future__ import annotations

import errno
import uuid as uuidlib
from pathlib import Path

import pytest
from small_fs import SmallDisk

from seatlab.modes import Sync
from seatlab.seats.journal import DbFileError, DbWriteError, Journal
from seatlab.seats.store import SeatStore

CAPACITY = 5000
MAX_OPS = 5000  # bounds the loop: the 4 KiB the ballast leaves hold about a hundred lines
FAILURES_WANTED = 5


class Workload:
    """Books new uuids and cancels every fourth one held; the model keeps only what was acknowledged."""

    def __init__(self, store: SeatStore) -> None:
        self.store = store
        self.held: dict[str, int] = {}  # acknowledged: uuid -> seat
        self.failures: list[DbWriteError] = []
        self.ops = 0

    def step(self) -> None:
        self.ops += 1
        if self.ops % 4 == 0 and self.held:
            uuid = next(iter(self.held))
            try:
                number = self.store.cancel(uuid)
            except DbWriteError as exc:
                self.failures.append(exc)
                return
            assert number == self.held.pop(uuid)
        else:
            uuid = str(uuidlib.UUID(int=self.ops))
            try:
                number = self.store.book(uuid)
            except DbWriteError as exc:
                self.failures.append(exc)
                return
            assert number > 0
            self.held[uuid] = number
        self.store.commit()

    def run_until_failures(self, wanted: int) -> None:
        while len(self.failures) < wanted:
            assert self.ops < MAX_OPS, f"the full disk never refused a write in {MAX_OPS} operations"
            self.step()

    def expected_seats(self) -> dict[int, str]:
        return {number: uuid for uuid, number in self.held.items()}


def assert_db_holds_exactly(path: Path, seats: dict[int, str]) -> None:
    """The file is whole lines, and replaying it gives exactly ``seats``."""
    assert path.read_bytes().endswith(b"\n"), f"a torn line is left in the db: {path.read_bytes()[-60:]!r}"
    journal, replayed = Journal.open(path, CAPACITY)
    journal.close()
    assert replayed == seats


@pytest.mark.parametrize("sync", list(Sync))
def test_full_disk_acknowledges_only_whole_lines_and_the_db_reopens(
    small_disk: SmallDisk, sync: Sync
) -> None:
    path = small_disk.root / "db.csv"
    journal, seats = Journal.open(path, CAPACITY, sync)
    store = SeatStore(CAPACITY, journal, seats)
    assert small_disk.fill() > 0
    work = Workload(store)
    work.run_until_failures(FAILURES_WANTED)

    assert len(work.held) > 50, "the page's slack should have held many acknowledged bookings"
    # a failed booking or cancellation is undone in memory: the store agrees with what was acknowledged
    assert_db_holds_exactly(path, work.expected_seats())
    assert store.seats() == work.expected_seats()
    for exc in work.failures:  # the error the service logs and answers INTERNAL with names the file
        assert exc.errno == errno.ENOSPC
        assert str(path) in str(exc)

    small_disk.free()
    for _ in range(40):
        work.step()
    assert len(work.failures) == FAILURES_WANTED, "service did not resume once space was freed"
    assert store.seats() == work.expected_seats()
    store.close()
    assert_db_holds_exactly(path, work.expected_seats())


def test_seat_of_a_failed_booking_is_handed_out_next(small_disk: SmallDisk) -> None:
    path = small_disk.root / "db.csv"
    journal, seats = Journal.open(path, CAPACITY)
    store = SeatStore(CAPACITY, journal, seats)
    small_disk.fill()
    numbers: list[int] = []
    for i in range(MAX_OPS):
        try:
            numbers.append(store.book(str(uuidlib.UUID(int=i + 1))))
        except DbWriteError:
            break
    else:
        pytest.fail(f"the full disk never refused a booking in {MAX_OPS}")
    refused = str(uuidlib.UUID(int=len(numbers) + 1))
    assert numbers == list(range(1, len(numbers) + 1))
    small_disk.free()
    # the refused booking took no seat: its retry gets the seat it would have had, and no number is skipped
    assert store.book(refused) == len(numbers) + 1
    assert store.stats() == (CAPACITY, len(numbers) + 1)
    store.close()


def test_a_db_created_on_a_full_disk_is_refused_and_left_openable(small_disk: SmallDisk) -> None:
    small_disk.fill()
    path = small_disk.root / "db.csv"
    with pytest.raises(DbFileError, match=r"db\.csv") as err:
        Journal.open(path, CAPACITY)
    assert "No space left" in str(err.value)
    small_disk.free()
    journal, seats = Journal.open(path, CAPACITY)
    assert seats == {}
    journal.close()
    assert path.read_text() == "number,uuid\n"
