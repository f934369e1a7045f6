"""The open loop's dispatcher: requests come due on a schedule, whether or not a client is free.

How this works: ``DueTimes`` (``schedule.py``) says when each request is
due. At each due time the dispatcher hands the request to an idle client,
or queues its due time until one is idle: a request waiting in the queue
is late, and its latency counts from the due time (wrk2's correction of
coordinated omission), not from when a client got round to it.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Protocol

from seatlab.client.schedule import DueTimes


class Booker(Protocol):
    """A client that can take a request: book now, latency counted from ``due``."""

    def book(self, due: int) -> None: ...


class OpenLoop:
    """Hands each due request to an idle client, or queues it with its due time."""

    def __init__(self, loop: asyncio.AbstractEventLoop, due_times: DueTimes) -> None:
        self.loop = loop
        self.due_times = due_times
        self.idle: deque[Booker] = deque()
        self.queue: deque[int] = deque()  # due times of requests no client has taken yet
        self.next_due = 0
        self.halted = False

    def start(self, clients: list[Booker], now: int) -> None:
        """Every client idle; the first request due at the schedule's start."""
        self.idle.extend(clients)
        self.next_due = self.due_times.next()
        self._tick(now)

    def _tick(self, now: int) -> None:
        if self.halted:
            return
        due = self.next_due
        idle = self.idle
        queue = self.queue
        due_times = self.due_times
        while due <= now:
            if idle:
                idle.popleft().book(due)
            else:
                queue.append(due)
            due = due_times.next()
        self.next_due = due
        self.loop.call_later((due - now) / 1e9, self._on_timer)

    def _on_timer(self) -> None:
        from time import perf_counter_ns

        self._tick(perf_counter_ns())

    def client_idle(self, c: Booker) -> None:
        """``c`` finished its request: give it the oldest queued one, or keep it for the next due."""
        if self.queue:
            c.book(self.queue.popleft())
        else:
            self.idle.append(c)

    def halt(self) -> list[int]:
        """Issue nothing more; the due times still queued (never sent)."""
        self.halted = True
        left = list(self.queue)
        self.queue.clear()
        return left
