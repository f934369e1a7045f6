"""The seat store shared by worker processes (``--workers N``): seats in shared memory, one lock.

How this works: the server's supervisor builds a ``SharedSeatStore`` before it forks its workers,
so every worker maps the same anonymous shared memory and holds the same process-shared lock
(a POSIX semaphore, ``multiprocessing``'s ``Lock``), as the C reference server's ``-S`` mode keeps
its hash table under one mutex and PostgreSQL its shared buffers. Nothing of the store lives in
a worker's own Python objects, so whichever worker a Book reaches sees every other worker's
bookings: no seat twice, one seat per uuid, the same Stats everywhere.

The region holds a header (counters), the uuid of every seat number (36 ASCII bytes, zeros when
free), the stack of released numbers, and an index from uuid to seat number: an open-addressing
hash table with linear probing on the uuid's CRC-32, at most half full, deleted from by backward
shift (no tombstones, so probes stay short through any number of book/cancel pairs). Every
operation is O(1) and takes seats in the order ``SeatStore`` does (released numbers first, the
smallest restored hole first, then fresh ones), so the same requests get the same numbers.

The db file is one journal for all workers (``SharedJournal``): each worker appends on its own
``O_APPEND`` descriptor, always under the store's lock, so the file's order is the changes' order;
the end of its last whole line, a torn-line flag and the compaction threshold live in the header,
because any worker may be the one to cut a torn line back or to compact. A compaction renames a
new file over the db file and bumps a generation number in the header; a worker whose descriptor
is of an older generation reopens the file before its next append, and counts what it wrote
before as durable (the compaction fsynced it into the new file). ``--sync fsync`` commits per
worker (an fsync of the file flushes every worker's lines in it), group-committed within it.

A worker that dies holding the lock leaves the region half-changed and the lock held: the
supervisor then stops the whole server (``seatlab.server.workers``), and the next start replays
the db file, which holds every acknowledged change.
"""

from __future__ import annotations

import mmap
import multiprocessing
import os
from typing import Any
from zlib import crc32

from seatlab.seats.journal import DbWriteError, Journal

UUID_BYTES = 36
"""A canonical uuid's text: 8-4-4-4-12 hexadecimal digits and four hyphens."""
_FREE = bytes(UUID_BYTES)

# the header: eight unsigned 64-bit counters
_NEXT, _RELEASED, _BOOKED, _GENERATION, _J_SIZE, _J_TORN, _J_COMPACT_AT = range(7)
_HEADER_BYTES = 64
BYTES_PER_SEAT = UUID_BYTES + 4 + 2 * 4
"""Shared memory per seat of capacity: its uuid, its place on the released stack, two index slots."""


def shared_region_problem(capacity: int) -> str | None:
    """Why ``capacity`` seats cannot go into shared memory here (more than half the machine's
    memory), or None: the server's flags refuse it before anything starts."""
    size = region_bytes(capacity)
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    if size <= memory // 2:
        return None
    return (
        f"--capacity {capacity} needs {size / 2**30:.1f} GiB of shared memory for the workers' seat "
        f"store ({BYTES_PER_SEAT} bytes a seat), more than half of this machine's {memory / 2**30:.1f} GiB"
    )


def region_bytes(capacity: int) -> int:
    """The shared region's size for ``capacity`` seats (touched lazily: pages appear as seats do)."""
    return _HEADER_BYTES + (capacity + 1) * UUID_BYTES + (capacity + 1) * 4 + _index_slots(capacity) * 4


def _index_slots(capacity: int) -> int:
    """A power of two, at least twice the capacity: the index stays at most half full."""
    return 1 << max(3, (2 * capacity - 1).bit_length())


class SharedSeatStore:
    """``SeatStore``'s operations on seats in shared memory, atomic across processes and threads."""

    def __init__(
        self, capacity: int, journal: Journal | None = None, seats: dict[int, str] | None = None
    ) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be at least 1, not {capacity}")
        too_big = shared_region_problem(capacity)
        if too_big:
            raise ValueError(too_big)
        size = region_bytes(capacity)
        self.capacity = capacity
        self._lock = multiprocessing.get_context("fork").Lock()
        self._mm = mmap.mmap(-1, size)  # anonymous and MAP_SHARED: forked workers see one region
        view = memoryview(self._mm)
        self._hdr = view[:_HEADER_BYTES].cast("Q")
        self._uuid_at = _HEADER_BYTES  # seat n's uuid: _mm[_uuid_at + 36n : _uuid_at + 36n + 36]
        released_at = _HEADER_BYTES + (capacity + 1) * UUID_BYTES
        self._released = view[released_at : released_at + (capacity + 1) * 4].cast("I")
        index_at = released_at + (capacity + 1) * 4
        slots = _index_slots(capacity)
        self._index = view[index_at : index_at + slots * 4].cast("I")
        self._mask = slots - 1
        self._restore(dict(seats or {}))
        self.journal: Journal | None = None if journal is None else SharedJournal.adopt(journal, self._hdr)

    def _restore(self, seats: dict[int, str]) -> None:
        if any(not 1 <= n <= self.capacity for n in seats):
            raise ValueError(f"a restored seat number is outside 1..{self.capacity}")
        for number, uuid in seats.items():
            key = uuid.encode("ascii")
            slot, held = self._find(key)
            if held:
                raise ValueError("a uuid holds two seats")
            self._set_uuid(number, key)
            self._index[slot] = number
        top = max(seats, default=0)
        holes = [n for n in range(top, 0, -1) if n not in seats]  # popped from the end: smallest first
        for i, n in enumerate(holes):
            self._released[i] = n
        self._hdr[_RELEASED] = len(holes)
        self._hdr[_NEXT] = top + 1
        self._hdr[_BOOKED] = len(seats)

    def _set_uuid(self, number: int, key: bytes) -> None:
        at = self._uuid_at + number * UUID_BYTES
        self._mm[at : at + UUID_BYTES] = key

    def _find(self, key: bytes) -> tuple[int, int]:
        """(the index slot of ``key``, its seat number), or (the empty slot where it would go, 0)."""
        index, mm, base, mask = self._index, self._mm, self._uuid_at, self._mask
        slot = crc32(key) & mask
        while True:
            number = index[slot]
            if not number:
                return slot, 0
            at = base + number * UUID_BYTES
            if mm[at : at + UUID_BYTES] == key:
                return slot, number
            slot = (slot + 1) & mask

    def _unindex(self, hole: int) -> None:
        """Empty index slot ``hole``, shifting back the entries after it that probed past it."""
        index, mm, base, mask = self._index, self._mm, self._uuid_at, self._mask
        slot = hole
        while True:
            slot = (slot + 1) & mask
            number = index[slot]
            if not number:
                break
            at = base + number * UUID_BYTES
            home = crc32(mm[at : at + UUID_BYTES]) & mask
            if (slot - home) & mask >= (slot - hole) & mask:  # its probe from home passed the hole
                index[hole] = number
                hole = slot
        index[hole] = 0

    def book(self, uuid: str) -> int:
        """Book a seat for ``uuid`` (canonical, lower case): its number, or 0 if sold out (idempotent)."""
        key = uuid.encode("ascii")
        with self._lock:
            slot, number = self._find(key)
            if number:
                return number
            hdr = self._hdr
            released = hdr[_RELEASED]
            if released:
                number = self._released[released - 1]
            elif hdr[_NEXT] <= self.capacity:
                number = hdr[_NEXT]
            else:
                return 0
            journal = self.journal
            if journal is not None:  # first: a booking the file refuses (DbWriteError) changes nothing
                journal.record_book(number, uuid)
            if released:
                hdr[_RELEASED] = released - 1
            else:
                hdr[_NEXT] = number + 1
            self._set_uuid(number, key)
            self._index[slot] = number
            hdr[_BOOKED] += 1
            if journal is not None and journal.due:
                journal.compact(self._held())
            return number

    def cancel(self, uuid: str) -> int:
        """Free the seat ``uuid`` holds: its number, or 0 if it holds none."""
        key = uuid.encode("ascii")
        with self._lock:
            slot, number = self._find(key)
            if not number:
                return 0
            journal = self.journal
            if journal is not None:
                journal.record_cancel(number)
            self._set_uuid(number, _FREE)
            self._unindex(slot)
            hdr = self._hdr
            self._released[hdr[_RELEASED]] = number
            hdr[_RELEASED] += 1
            hdr[_BOOKED] -= 1
            if journal is not None and journal.due:
                journal.compact(self._held())
            return number

    def stats(self) -> tuple[int, int]:
        """(capacity, seats booked now), the same from every worker."""
        return self.capacity, self._hdr[_BOOKED]

    def _held(self) -> dict[int, str]:
        mm, base = self._mm, self._uuid_at
        seats: dict[int, str] = {}
        for number in range(1, self._hdr[_NEXT]):
            at = base + number * UUID_BYTES
            key = mm[at : at + UUID_BYTES]
            if key != _FREE:
                seats[number] = key.decode("ascii")
        return seats

    def seats(self) -> dict[int, str]:
        """A snapshot of {number: uuid}."""
        with self._lock:
            return self._held()

    def commit(self) -> None:
        """Make this worker's changes so far durable as ``--sync`` asks (group commit within it)."""
        if self.journal is not None:
            self.journal.commit()

    def close(self) -> None:
        if self.journal is not None:
            self.journal.close()


class SharedJournal(Journal):
    """The db file's journal, appended to by every worker: its end, torn flag and threshold shared."""

    _hdr: Any  # memoryview cast to "Q": the shared store's header
    _generation: int

    @classmethod
    def adopt(cls, journal: Journal, header: Any) -> SharedJournal:
        """This process's open ``journal``, its shared state moved into ``header``."""
        shared = cls.__new__(cls)
        state = dict(vars(journal))
        size, torn, compact_at = state.pop("_size"), state.pop("_torn"), state.pop("_compact_at")
        vars(shared).update(state)
        shared._hdr = header
        shared._size = size
        shared._torn = torn
        shared._compact_at = compact_at
        shared._generation = header[_GENERATION]
        journal._fd = -1  # the shared journal owns the descriptor now
        return shared

    # the state any worker may change, read and written in the shared header
    @property  # type: ignore[override]
    def _size(self) -> int:
        return int(self._hdr[_J_SIZE])

    @_size.setter
    def _size(self, value: int) -> None:
        self._hdr[_J_SIZE] = value

    @property  # type: ignore[override]
    def _torn(self) -> bool:
        return bool(self._hdr[_J_TORN])

    @_torn.setter
    def _torn(self, value: bool) -> None:
        self._hdr[_J_TORN] = int(value)

    @property  # type: ignore[override]
    def _compact_at(self) -> int:
        return int(self._hdr[_J_COMPACT_AT])

    @_compact_at.setter
    def _compact_at(self, value: int) -> None:
        self._hdr[_J_COMPACT_AT] = value

    def _append(self, line: bytes) -> None:
        if self._generation != self._hdr[_GENERATION]:
            self._reopen()
        super()._append(line)

    def compact(self, seats: dict[int, str]) -> bool:
        done = super().compact(seats)
        if done:  # the other workers' descriptors are of the old file now
            self._hdr[_GENERATION] += 1
            self._generation = self._hdr[_GENERATION]
        return done

    def _reopen(self) -> None:
        """Another worker compacted the file: append to the new one (under the store's lock)."""
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND)
        except OSError as exc:  # the change is not written: the store leaves it undone
            raise DbWriteError(
                exc.errno, f"{self.path}: cannot reopen the compacted db file: {exc.strerror or exc}"
            ) from exc
        with self._cond:  # no fsync of the old file in flight while the descriptor changes
            while self._syncing:
                self._cond.wait()
            old, self._fd = self._fd, fd
            self._durable = self._written  # the compaction wrote and fsynced them into the new file
            self._cond.notify_all()
        os.close(old)
        self._generation = self._hdr[_GENERATION]
