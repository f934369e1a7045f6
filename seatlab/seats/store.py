"""The seat store: seats 1..capacity held in memory, each change journaled.

Every operation is O(1) in time, and memory grows with the seats booked, not
with the capacity: a seat is free if it was released (a stack of numbers) or
never handed out (every number from ``_next_unused`` up), and two dicts map
number -> uuid and uuid -> number. One lock makes each operation atomic
across threads (the tpool workers, or several event loops); the delay of a
request is spent before the store is called, never under the lock.

A change is journaled before memory changes (and once it is in both, a journal grown well past the
live seats is compacted to them: ``Journal.compact``); if the journal refuses it
(``DbWriteError``: a full disk), the change is undone and the error
propagates, so the service answers ``INTERNAL`` and memory, file and
answers agree.
"""

from __future__ import annotations

import threading

from seatlab.seats.journal import Journal


class SeatStore:
    """In-memory seats with an optional journal (the CSV db file)."""

    def __init__(
        self, capacity: int, journal: Journal | None = None, seats: dict[int, str] | None = None
    ) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be at least 1, not {capacity}")
        self.capacity = capacity
        self.journal = journal
        self._lock = threading.Lock()
        self._uuid_of: dict[int, str] = dict(seats or {})
        self._number_of: dict[str, int] = {u: n for n, u in self._uuid_of.items()}
        if len(self._number_of) != len(self._uuid_of):
            raise ValueError("a uuid holds two seats")
        if any(not 1 <= n <= capacity for n in self._uuid_of):
            raise ValueError(f"a restored seat number is outside 1..{capacity}")
        # restored seats may leave holes below the highest one: those go on the released stack
        top = max(self._uuid_of, default=0)
        self._released = [n for n in range(top, 0, -1) if n not in self._uuid_of]
        self._next_unused = top + 1

    def book(self, uuid: str) -> int:
        """Book a seat for ``uuid`` (canonical, lower case): its number, or 0 if sold out.

        Idempotent: a uuid that already holds a seat gets that seat again.
        """
        with self._lock:
            number = self._number_of.get(uuid)
            if number is not None:
                return number
            fresh = not self._released
            if not fresh:
                number = self._released.pop()
            elif self._next_unused <= self.capacity:
                number = self._next_unused
                self._next_unused += 1
            else:
                return 0
            if self.journal is not None:
                try:
                    self.journal.record_book(number, uuid)
                except BaseException:  # not in the file (DbWriteError): the seat stays free, the next taker's
                    if fresh:
                        self._next_unused = number
                    else:
                        self._released.append(number)
                    raise
            self._uuid_of[number] = uuid
            self._number_of[uuid] = number
            if self.journal is not None and self.journal.due:
                self.journal.compact(self._uuid_of)
            return number

    def cancel(self, uuid: str) -> int:
        """Free the seat ``uuid`` holds: its number, or 0 if it holds none."""
        with self._lock:
            number = self._number_of.get(uuid)
            if number is None:
                return 0
            if self.journal is not None:  # first: a cancellation the file refuses changes nothing
                self.journal.record_cancel(number)
            del self._number_of[uuid]
            del self._uuid_of[number]
            self._released.append(number)
            if self.journal is not None and self.journal.due:
                self.journal.compact(self._uuid_of)
            return number

    def stats(self) -> tuple[int, int]:
        """(capacity, seats booked now)."""
        return self.capacity, len(self._uuid_of)

    def seats(self) -> dict[int, str]:
        """A snapshot of {number: uuid}."""
        with self._lock:
            return dict(self._uuid_of)

    def commit(self) -> None:
        """Make every change so far durable as ``--sync`` asks (group commit)."""
        if self.journal is not None:
            self.journal.commit()

    def close(self) -> None:
        if self.journal is not None:
            self.journal.close()
