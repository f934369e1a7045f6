"""The live double-booking check across load processes: the parent sees every confirmation.

How this works: a seat is certainly held by a uuid on the server from the
moment its Seat answer arrives until the moment its Cancel is sent. Two
uuids whose certain spans for one seat overlap were given that seat at the
same time: a double booking, whichever processes their connections were in.
Each load process logs its Seat answers and sent Cancels (``ConfirmationLog``,
four appends each) and ships them to the parent every tenth of a second as a
``Confirmations`` batch that covers everything before its ``upto`` time. The
parent's ``SeatLedger`` replays, in time order across processes, every event
older than the oldest ``upto`` of the processes still running (all clocks are
CLOCK_MONOTONIC, one clock for the machine), so an event is judged only once
every event before it has arrived. At equal times a Cancel goes first: the
check can only miss a double booking by a clock tick, never invent one.

The replay is vectorised: events sorted by (seat, time, Cancel first); the
holder at each event is the uuid of the last Seat before it on that seat,
unless that uuid's Cancel went out since; a Seat to another uuid while there
is a holder is a double booking. Holders carry over from one replay to the next.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass
from typing import Any

import numpy as np  # imported up front: a first import inside the run costs the parent ~0.3 s of CPU

UUID_BYTES = 36
ALL_TIME = 2**63 - 1
"""``upto`` of a process's last batch: nothing more will come from it."""
_MAX_REPORTED = 100


@dataclass(frozen=True)
class Confirmations:
    """A load process's Seat answers and sent Cancels, in time order, up to (not including) ``upto``.

    ``seats`` holds the seat number of a Seat answer, or minus the number of
    the seat whose Cancel was sent.
    """

    worker: int
    upto: int
    times: bytes  # int64 ns
    seats: bytes  # int32
    clients: bytes  # int32: the client's global index
    uuids: bytes  # UUID_BYTES ASCII bytes each


class ConfirmationLog:
    """The load process's side: appends on the hot path, one batch out per ``take``."""

    def __init__(self, worker: int) -> None:
        self.worker = worker
        # the same four objects for the whole run: a load process may hold their bound appends
        self.times = array("q")
        self.seats = array("i")
        self.clients = array("i")
        self.uuids = bytearray()

    def seat(self, now: int, number: int, client: int, uuid: bytes) -> None:
        """``uuid`` was confirmed seat ``number`` at ``now``."""
        self.times.append(now)
        self.seats.append(number)
        self.clients.append(client)
        self.uuids += uuid

    def cancel_sent(self, now: int, number: int, client: int, uuid: bytes) -> None:
        """The Cancel of ``uuid``, which holds seat ``number``, goes out at ``now``.

        ``now`` must be later than the time its Seat was logged: at equal times a Cancel is
        replayed first, so one logged at its own Seat's time would release nothing.
        """
        self.seat(now, -number, client, uuid)  # (the load process inlines these two)

    def take(self, upto: int) -> Confirmations:
        """Everything logged so far (all of it before ``upto``), as one message."""
        batch = Confirmations(
            self.worker,
            upto,
            self.times.tobytes(),
            self.seats.tobytes(),
            self.clients.tobytes(),
            bytes(self.uuids),
        )
        del self.times[:], self.seats[:], self.clients[:], self.uuids[:]
        return batch


class SeatLedger:
    """The parent's side: who certainly holds each seat, replayed across processes in time order."""

    def __init__(self, workers: int) -> None:
        self.upto = dict.fromkeys(range(workers), 0)
        self.pending: list[Confirmations] = []
        self.holders: dict[int, tuple[bytes, int]] = {}  # seat -> (uuid, client) certainly holding it
        self.violations: list[str] = []
        self.events = 0

    def add(self, batch: Confirmations) -> None:
        """Take a batch in and replay whatever every process has now covered."""
        self.upto[batch.worker] = batch.upto
        if batch.times:
            self.pending.append(batch)
        self.replay(min(self.upto.values()))

    def replay(self, until: int) -> None:
        """Judge every pending event older than ``until``."""
        if not self.pending:
            return
        t = np.concatenate([np.frombuffer(b.times, dtype=np.int64) for b in self.pending])
        seat = np.concatenate([np.frombuffer(b.seats, dtype=np.int32) for b in self.pending])
        client = np.concatenate([np.frombuffer(b.clients, dtype=np.int32) for b in self.pending])
        uuid = np.frombuffer(b"".join(b.uuids for b in self.pending), dtype=f"S{UUID_BYTES}")
        ready = t < until
        if not ready.all():
            rest = ~ready
            self.pending = [
                Confirmations(
                    -1,
                    0,
                    t[rest].tobytes(),
                    seat[rest].tobytes(),
                    client[rest].tobytes(),
                    uuid[rest].tobytes(),
                )
            ]
            t, seat, client, uuid = t[ready], seat[ready], client[ready], uuid[ready]
        else:
            self.pending = []
        if len(t):
            self._judge(t, seat, client, uuid)

    def _judge(self, t: Any, signed: Any, client: Any, uuid: Any) -> None:
        self.events += len(t)
        is_seat = signed > 0
        seat = np.abs(signed)
        # the holders carried over enter as the first event of their seat
        carried = self._carried(seat)
        if carried:
            seat = np.concatenate((np.array([c[0] for c in carried], dtype=seat.dtype), seat))
            t = np.concatenate((np.full(len(carried), -1, dtype=np.int64), t))
            is_seat = np.concatenate((np.ones(len(carried), dtype=bool), is_seat))
            client = np.concatenate((np.array([c[2] for c in carried], dtype=client.dtype), client))
            uuid = np.concatenate((np.array([c[1] for c in carried], dtype=uuid.dtype), uuid))
        order = np.lexsort((is_seat, t, seat))  # by seat, then time, a Cancel before a Seat
        seat, is_seat, client, uuid = seat[order], is_seat[order], client[order], uuid[order]
        n = len(seat)
        index = np.arange(n)
        starts = np.flatnonzero(np.r_[True, seat[1:] != seat[:-1]])
        first = np.repeat(starts, np.diff(np.r_[starts, n]))  # where each event's seat begins
        # the holder at each event: the last Seat at or before it, unless that uuid's Cancel went since
        seat_at = np.maximum.accumulate(np.where(is_seat, index, -1))
        holder_at = np.maximum(seat_at, 0)
        releases = ~is_seat & (seat_at >= first) & (uuid == uuid[holder_at])
        release_at = np.maximum.accumulate(np.where(releases, index, -1))
        before = np.r_[-1, seat_at[:-1]]
        held_before = (before >= first) & ~(np.r_[-1, release_at[:-1]] > before)
        clash = is_seat & held_before & (uuid != uuid[np.maximum(before, 0)])
        for i in np.flatnonzero(clash).tolist():
            j = int(before[i])
            self._violation(
                f"seat {int(seat[i])} confirmed to uuid {uuid[i].decode()} (client {int(client[i])}) "
                f"while uuid {uuid[j].decode()} (client {int(client[j])}) still held it "
                "(its Cancel not yet sent): double booking"
            )
        last = np.r_[starts[1:] - 1, n - 1]  # each seat's last event
        still = (seat_at[last] >= starts) & ~(release_at[last] > seat_at[last])
        for number, _, _ in carried:
            del self.holders[number]
        for number, j in zip(seat[last][still].tolist(), seat_at[last][still].tolist(), strict=True):
            self.holders[number] = (bytes(uuid[j]), int(client[j]))

    def _carried(self, seat: Any) -> list[tuple[int, bytes, int]]:
        """(seat, uuid, client) of the holders of these seats, from whichever side is smaller."""
        holders = self.holders
        if len(holders) <= len(seat):  # duration mode: a few seats per client are held at a time
            held = np.fromiter(holders, dtype=np.int64, count=len(holders))
            touched = held[np.isin(held, seat)].tolist()
        else:  # a sell-out holds every seat it sold
            touched = [s for s in np.unique(seat).tolist() if s in holders]
        return [(s, *holders[s]) for s in touched]

    def _violation(self, message: str) -> None:
        if len(self.violations) < _MAX_REPORTED:
            self.violations.append(message)
