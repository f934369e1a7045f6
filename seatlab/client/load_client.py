"""One client of the load generator: a connection that books, one request at a time.

How this works: ``Client`` is the asyncio.Protocol of its connection (and
of every replacement connection, one at a time). It has at most one request
outstanding (``out_kind``); answers come in order, so the next frame answers
it. A valid answer is appended to the worker's arrays (answer time, latency,
kind, client) and the client moves on: book again (closed loop), cancel the
seat it just got (duration mode's refill), hand itself back to the open-loop
dispatcher, or stop once told sold out.

Duration mode's refill (when there are seats enough, ``worker.hold``): a
client keeps the seat it just got while it books the next, then cancels the
previous one; so every seat is held for at least a round trip, and a server
that hands one seat to two clients at once is caught by the parent's
``SeatLedger``, across every load process. Otherwise it cancels each seat
right after booking.

Errors (refused, reset, timeout, protocol) close the connection; the same
request is retried on a new one (booking is idempotent per uuid, so a retry
never takes a second seat).
With ``per-request`` connections every request opens its own connection.

A client knows its load process only through ``ClientHost`` (the counters it
bumps and the events it reports) and ``ClientSettings`` (what the run asks
of every client); the answers go straight into the ``Recording`` arrays.
"""

from __future__ import annotations

import asyncio
import errno
from dataclasses import dataclass
from time import perf_counter_ns
from typing import Protocol

from seatlab.client.answers import CANCEL_ERROR, ERROR, RELEASED, SEAT, SOLD_OUT, read_answer, request_prefix
from seatlab.client.recording import Recording
from seatlab.protocol.codec import FrameDecoder, FrameError

BOOK = 1
CANCEL = 2
"""Kinds of the request a client has outstanding (``Client.out_kind``; 0 = none)."""

_BACKOFF_NS = 20_000_000
_MAX_BACKOFF_NS = 500_000_000


@dataclass(frozen=True)
class ClientSettings:
    """What the run asks of every client of a load process."""

    host: str
    port: int
    timeout_s: float
    sellout: bool
    checked: bool  # False against a calibration target: answers are counted, not checked
    refill: bool  # duration mode: cancel what was booked
    hold: bool  # refill by keeping each seat until the next is confirmed
    per_request: bool  # a new connection per request
    open_loop: bool
    capacity: int


class ClientHost(Protocol):
    """What a client needs of its load process: its loop, two counters, and the events it reports."""

    loop: asyncio.AbstractEventLoop
    busy: int  # requests outstanding across the process's clients
    finished: bool

    def take_uuid(self) -> tuple[str, bytes, bytes]: ...
    def connected(self, reconnect: bool) -> None: ...
    def error(self, kind: str, detail: str) -> None: ...
    def server_error(self, code: int, message: object) -> None: ...
    def violation(self, message: str) -> None: ...
    def first_answer(self, now: int) -> None: ...
    def on_seat(self, c: Client, number: int, now: int) -> None: ...
    def on_cancel_sent(self, c: Client, now: int) -> None: ...
    def on_released(self, c: Client, number: int) -> None: ...
    def on_cancel_error(self, c: Client, code: int) -> None: ...
    def unanswered(self, c: Client, now: int) -> None: ...
    def client_done(self, c: Client, now: int, gave_up: bool) -> None: ...
    def next_request(self, c: Client, now: int) -> None: ...


class Client(asyncio.Protocol):
    """A load-generating client: the protocol of its (current) connection."""

    def __init__(
        self, host: ClientHost, settings: ClientSettings, recording: Recording, local: int, index: int
    ) -> None:
        self.process = host
        self.settings = settings
        self.timeout_ns = int(settings.timeout_s * 1e9)
        self.checked = settings.checked
        self.refill = settings.refill
        self.hold = settings.hold
        self.per_request = settings.per_request
        self.capacity = settings.capacity
        # the hot path appends straight to the recording's arrays
        self._record_done = recording.t_done.append
        self._record_latency = recording.t_lat.append
        self._record_kind = recording.kinds.append
        self._record_who = recording.who.append
        self.local = local
        self.index = index
        self.rid = index + 1
        self.prefix = request_prefix(self.rid)
        self.transport: asyncio.Transport | None = None
        self.decoder = FrameDecoder()
        self.clean = True  # nothing buffered in the decoder: a read that is one whole answer skips it
        self.linked = False
        self.connecting = False
        self.expect_close = False
        self.recovering = False
        self.want_connect = False
        self.fail_since = 0
        self.failures = 0
        self.out_kind = 0
        self.out_due = 0
        self.out_sent = 0
        self.frame = b""
        self.uuid = ""
        self.uuid_b = b""
        self.cancel_frame = b""  # the Cancel to send (or resend) next, for ``cancel_uuid``
        self.cancel_uuid = ""
        self.cancel_uuid_b = b""
        self.book_cancel = b""  # the Cancel of the uuid being booked
        self.kept: tuple[str, bytes, bytes] | None = (
            None  # hold mode: (uuid, its bytes, Cancel) of the seat kept
        )
        self.ring: list[tuple[str, bytes, bytes, bytes]] = []
        self.ring_i = 0
        self.answered = False
        self.done = False
        self.errors = 0
        self.sold_out_at = 0

    # ---- issuing requests

    def book(self, due: int) -> None:
        """Send a Book with a fresh uuid; latency counts from ``due``."""
        if self.settings.sellout:
            self.uuid, self.uuid_b, body = self.process.take_uuid()
            self.frame = self.prefix + body
        else:
            item = self.ring[self.ring_i]
            self.ring_i = (self.ring_i + 1) % len(self.ring)
            self.uuid, self.uuid_b, self.frame, self.book_cancel = item
        self._issue(BOOK, due)

    def _issue(self, kind: int, due: int) -> None:
        if not self.out_kind:
            self.process.busy += 1
        self.out_kind = kind
        self.out_due = due
        self.out_sent = perf_counter_ns()
        transport = self.transport
        if transport is not None:
            transport.write(self.frame if kind == BOOK else self.cancel_frame)
        elif not self.linked and not self.connecting:
            self._connect()

    def _connect(self) -> None:
        self.connecting = True
        self.process.loop.create_task(self._open())

    async def _open(self) -> None:
        w, settings = self.process, self.settings
        try:
            await asyncio.wait_for(
                w.loop.create_connection(lambda: self, settings.host, settings.port), settings.timeout_s
            )
        except (TimeoutError, OSError) as exc:
            self.connecting = False
            if isinstance(exc, asyncio.TimeoutError):
                kind = "timeout"
            elif isinstance(exc, ConnectionRefusedError) or getattr(exc, "errno", None) == errno.ECONNREFUSED:
                kind = "refused"
            else:
                kind = "reset"
            self._failed(kind, f"connect: {exc!r}")

    def _failed(self, kind: str, detail: str) -> None:
        """Count an error; retry the outstanding request on a new connection after a backoff."""
        w = self.process
        now = perf_counter_ns()
        self.errors += 1
        w.error(kind, detail)
        self.recovering = True
        if not self.fail_since:
            self.fail_since = now
        self.failures += 1
        if now - self.fail_since > self.timeout_ns:
            self.give_up(now)
            return
        if self.out_kind and not self.done:
            delay = min(_BACKOFF_NS * self.failures, _MAX_BACKOFF_NS)
            w.loop.call_later(delay / 1e9, self._retry)

    def _retry(self) -> None:
        if not self.out_kind or self.done or self.connecting or self.process.finished:
            return
        if self.linked:
            self.want_connect = True  # the old connection is still closing: connect once it is gone
        else:
            self._connect()

    def give_up(self, now: int) -> None:
        """Stop this client for good (the server keeps refusing it): its request stays unanswered."""
        if self.done:
            return
        if self.out_kind:
            self.process.unanswered(self, now)
            self.out_kind = 0
            self.process.busy -= 1
        self.done = True
        self.close()
        self.process.client_done(self, now, gave_up=True)

    def close(self) -> None:
        """Close the connection on purpose (not counted as an error)."""
        if self.transport is not None:
            self.expect_close = True
            self.transport.close()
            self.transport = None

    def abort(self, kind: str, detail: str) -> None:
        """Drop the connection after an error; the outstanding request is retried."""
        if self.transport is not None:
            self.expect_close = True
            self.transport.abort()
            self.transport = None
        self.decoder = FrameDecoder()
        self.clean = True
        self._failed(kind, detail)

    # ---- asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's transports are not asyncio.Transport
        self.linked = True
        self.connecting = False
        self.fail_since = 0
        self.failures = 0
        w = self.process
        w.connected(reconnect=self.recovering)
        self.recovering = False
        if self.done or w.finished:
            self.close()
        elif self.out_kind:
            self.out_sent = perf_counter_ns()
            self.transport.write(self.frame if self.out_kind == BOOK else self.cancel_frame)  # type: ignore[union-attr]

    def connection_lost(self, exc: Exception | None) -> None:
        self.linked = False
        self.transport = None
        self.decoder = FrameDecoder()
        self.clean = True
        if self.expect_close:
            self.expect_close = False
            if self.want_connect or not self.recovering:
                self.want_connect = False
                if self.out_kind and not self.done and not self.connecting and not self.process.finished:
                    self._connect()  # per-request mode: the next request's connection
            return
        if self.done or self.process.finished:
            return
        self._failed("reset", f"connection lost: {exc!r}" if exc else "connection closed by the server")

    def data_received(self, data: bytes) -> None:
        n = len(data) - 1
        if self.clean and n < 0x80 and data[0] == n:  # the common case: this read is one whole answer
            self._answer(data[1:])
            return
        decoder = self.decoder
        decoder.feed(data)
        self.clean = False
        while True:
            try:
                payload = decoder.next_frame()
            except FrameError as exc:
                self.abort("protocol", f"bad frame from the server: {exc}")
                return
            if payload is None:
                self.clean = not decoder.buffered
                return
            self._answer(payload)
            if self.transport is None:
                return

    def eof_received(self) -> bool | None:
        return None

    # ---- answers

    def _answer(self, payload: bytes) -> None:
        now = perf_counter_ns()
        kind = self.out_kind
        if not kind:
            self.abort("protocol", "an answer arrived with no request outstanding")
            return
        try:
            k, rid, a, b = read_answer(payload)
        except ValueError as exc:
            self.abort("protocol", str(exc))
            return
        w = self.process
        if rid != self.rid and not (k == ERROR and rid == 0) and self.checked:
            self.abort("protocol", f"answer id {rid}, expected {self.rid}")
            return
        if kind == BOOK:
            if k == SEAT:
                if b != self.uuid_b and self.checked:
                    self.abort("protocol", f"Seat {a} for uuid {b!r}, asked for {self.uuid}")
                    return
                recorded = SEAT
            elif k in (SOLD_OUT, ERROR):
                recorded = k
            else:
                self.abort("protocol", f"answer kind {k} to a Book")
                return
        elif k == RELEASED:
            recorded = RELEASED
        elif k == ERROR:
            recorded = CANCEL_ERROR
        else:
            self.abort("protocol", f"answer kind {k} to a Cancel")
            return
        self.out_kind = 0
        w.busy -= 1
        self._record_done(now)
        self._record_latency(now - self.out_due)
        self._record_kind(recorded)
        self._record_who(self.local)
        if not self.answered:
            self.answered = True
            w.first_answer(now)
        if self.per_request:
            self.close()
        if recorded == SEAT:
            w.on_seat(self, a, now)
            if self.refill and not w.finished:  # (finished: a late answer after the run, kept held)
                if self.hold:
                    to_cancel, self.kept = self.kept, (self.uuid, self.uuid_b, self.book_cancel)
                else:
                    to_cancel = (self.uuid, self.uuid_b, self.book_cancel)
                if to_cancel is not None:
                    self.cancel_uuid, self.cancel_uuid_b, self.cancel_frame = to_cancel
                    w.on_cancel_sent(self, now)
                    self._issue(CANCEL, now)
                    return
        elif recorded == RELEASED:
            w.on_released(self, a)
        elif recorded == SOLD_OUT:
            if a != self.capacity:
                w.violation(f"SoldOut{{capacity={a}}} but Stats said capacity {self.capacity}")
            if self.settings.sellout:
                self.sold_out_at = now
                self.done = True
                self.close()
                w.client_done(self, now, gave_up=False)
                return
        else:
            self.errors += 1
            w.server_error(a, b)
            if recorded == CANCEL_ERROR:
                w.on_cancel_error(self, a)
        w.next_request(self, now)
