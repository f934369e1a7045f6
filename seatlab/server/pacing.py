"""When a loop backend's answers may go out: after the delay, and after the commit (coro, event).

How this works: ``DelayQueue`` is the delay written once. One timer per
request costs more than the request at thousands of clients; but every
request of a loop waits the same delay, so they fall due in the order they
began: one FIFO of (due time, callback) per loop and one timer, armed for its
head, that calls every due callback in one go. ``GroupCommit`` is
``--sync fsync`` written once: the answers handled during one loop iteration
wait for one ``service.commit()`` (one fsync), run by ``loop.call_soon``
after them; if it fails, each of their requests is answered
``Error{INTERNAL}`` instead. The fsync runs on the loop's thread and stalls
that loop's connections while it lasts: the price of durability in this
model, and a reason for ``--threads`` > 1.

Both hand results to plain callbacks: the ``event`` backend passes its
connection's methods, the ``coro`` backend a future's ``set_result`` that its
coroutine awaits.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from time import monotonic
from typing import Any, TypeVar

from seatlab.seats.service import SeatService, failed_commit_answers

log = logging.getLogger("seatlab.server.pacing")

T = TypeVar("T")

EARLY_FIRE_S = 0.0005
"""A libuv timer can fire up to a millisecond early: the re-armed timer waits this much longer."""


class DelayQueue:
    """One loop's requests in their delay: one FIFO, one timer, every due callback called in one go."""

    __slots__ = ("delay_s", "loop", "timer", "waiting")

    def __init__(self, loop: asyncio.AbstractEventLoop, delay_s: float) -> None:
        self.loop = loop
        self.delay_s = delay_s
        self.waiting: deque[tuple[float, Callable[[Any], object], Any]] = deque()
        self.timer: asyncio.TimerHandle | None = None

    def after_delay(self, callback: Callable[[T], object], arg: T) -> None:
        """Call ``callback(arg)`` once ``delay_s`` has passed, never earlier (no closure per request)."""
        self.waiting.append((monotonic() + self.delay_s, callback, arg))
        if self.timer is None:
            self.timer = self.loop.call_later(self.delay_s, self._release)

    def _release(self) -> None:
        waiting = self.waiting
        now = monotonic()
        try:
            # a callback may start another delay: it is due a delay from now, so this loop ends
            while waiting and waiting[0][0] <= now:
                _, callback, arg = waiting.popleft()
                callback(arg)
        finally:
            self.timer = None
            if waiting:
                wait = max(waiting[0][0] - monotonic(), 0.0) + EARLY_FIRE_S
                self.timer = self.loop.call_later(wait, self._release)


class GroupCommit:
    """One commit (fsync) per loop iteration for every answer handled in it, before any is sent."""

    __slots__ = ("_waiting", "loop", "service")

    def __init__(self, loop: asyncio.AbstractEventLoop, service: SeatService) -> None:
        self.loop = loop
        self.service = service
        self._waiting: list[tuple[list[bytes], bytes, Callable[[bytes], object]]] = []

    def after_commit(self, payloads: list[bytes], answers: bytes, send: Callable[[bytes], object]) -> None:
        """Call ``send(answers)`` once they are durable, or ``send(INTERNAL errors)`` if the commit fails."""
        if not self._waiting:
            self.loop.call_soon(self._commit)
        self._waiting.append((payloads, answers, send))

    def _commit(self) -> None:
        waiting, self._waiting = self._waiting, []
        try:
            self.service.commit()
        except Exception as exc:
            log.exception("commit of the db file failed: %d batches answered INTERNAL", len(waiting))
            for payloads, _, send in waiting:
                send(failed_commit_answers(payloads, exc))
            return
        for _, answers, send in waiting:
            send(answers)
