"""The event-loop backend: asyncio.Protocol callbacks on uvloop, the delay as timers.

How this works: each of the ``--threads`` loops (see ``seatlab.server.loops``
for what the GIL makes of several) serves the shared listener with one
``_Connection`` protocol object per connection; no coroutines. A connection
is one client: at most one of its requests is in its delay at a time, the
rest wait in its ``FrameDecoder`` and are started one after another.

The delay: one timer per request costs too much at thousands of clients.
The delay is the same for every request, so requests fall due in the order
they started: each loop keeps one FIFO of connections in their delay (with
their due time) and one timer, armed for the head of the FIFO. When it
fires, ``_LoopState._release`` answers every request that is due, in one
callback: so with ``--sync fsync`` those answers share one
``service.commit()`` (group commit) before any of them is written. A
connection whose answer went out starts its next request, which joins the
back of the FIFO. Without a delay, the frames of one read are answered at
once with one ``transport.write``; with ``--sync fsync`` those writes are
collected for one commit per loop iteration (``loop.call_soon``). The fsync
runs on the loop's thread and stalls every connection of that loop while it
lasts: the price of durability in this model, and a reason for --threads > 1.

Bounded buffering: when a connection's unsent answers pass the transport's
high-water mark (``pause_writing``), it starts no new request; when its
unanswered bytes pass 64 KiB, it stops reading (``pause_reading``), so a
client that pipelines without reading stalls only itself.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections import deque
from time import monotonic

from seatlab.protocol.codec import FrameDecoder, FrameError
from seatlab.protocol.messages import error_frame
from seatlab.server.lifecycle import ServerContext
from seatlab.server.loops import run_loops
from seatlab.service import failed_commit_answers

log = logging.getLogger("seatlab.server.event")

_MAX_UNREAD = 65536
"""Received bytes a connection may hold unanswered before it stops reading."""


class _LoopState:
    """One loop's server: its connections, its delay FIFO and timer, its group commit."""

    def __init__(self, loop: asyncio.AbstractEventLoop, ctx: ServerContext) -> None:
        self.loop = loop
        self.service = ctx.service
        self.handle = ctx.service.handle
        self.needs_commit = ctx.service.needs_commit
        self.delay_s = ctx.config.delay_s
        self.hot = not self.delay_s and not self.needs_commit  # data_received answers at once
        self.backlog = ctx.config.max_backlog
        self.connections: set[_Connection] = set()
        self.stopping = False
        self._server: asyncio.AbstractServer | None = None
        self._waiting: deque[_Connection] = deque()  # in their delay, in due order
        self._timer: asyncio.TimerHandle | None = None
        self._releasing = False
        # delay 0 + fsync: (connection, answers, their requests, a last Error) wait for the commit
        self._deferred: list[tuple[_Connection, bytes, list[bytes], bytes]] = []

    async def start(self, sock: socket.socket) -> None:
        self._server = await self.loop.create_server(
            lambda: _Connection(self), sock=sock, backlog=self.backlog
        )

    def begin_shutdown(self) -> None:
        self.stopping = True
        if self._server is not None:
            self._server.close()
        for conn in list(self.connections):
            if not conn.in_flight:
                conn.close()

    def open_connections(self) -> int:
        return len(self.connections)

    def abort_all(self) -> None:
        for conn in list(self.connections):
            if conn.transport is not None:
                conn.transport.abort()

    # -- the delay FIFO

    def start_delay(self, conn: _Connection) -> None:
        """``conn`` started a request: its answer is due one delay from now."""
        conn.due = monotonic() + self.delay_s
        self._waiting.append(conn)
        if self._timer is None and not self._releasing:
            self._timer = self.loop.call_later(self.delay_s, self._release)

    def _release(self) -> None:
        """Answer every request whose delay is over; one commit, then the writes."""
        self._timer = None
        self._releasing = True  # the FIFO's head decides the next timer, below
        waiting = self._waiting
        now = monotonic()
        handle = self.handle
        try:
            if not self.needs_commit:
                # answer as we go: a request started by answered() is due a delay from now, so the loop ends
                while waiting and waiting[0].due <= now:
                    conn = waiting.popleft()
                    payload, conn.pending = conn.pending, b""
                    conn.answered(handle(payload))
            else:
                released: list[tuple[_Connection, bytes, bytes]] = []
                while waiting and waiting[0].due <= now:
                    conn = waiting.popleft()
                    payload, conn.pending = conn.pending, b""
                    released.append((conn, payload, handle(payload)))
                if released:
                    try:
                        self.service.commit()  # one fsync for the whole batch, before any answer is sent
                    except Exception as exc:
                        log.exception(
                            "commit of the db file failed: %d requests answered INTERNAL", len(released)
                        )
                        released = [(c, p, failed_commit_answers([p], exc)) for c, p, _ in released]
                for conn, _, answer in released:
                    conn.answered(answer)
        finally:
            self._releasing = False
        if waiting:
            # a libuv timer can fire up to a millisecond early: never answer before the delay
            self._timer = self.loop.call_later(max(waiting[0].due - monotonic(), 0.0) + 0.0005, self._release)

    # -- group commit without a delay

    def defer_write(self, conn: _Connection, data: bytes, payloads: list[bytes], last: bytes = b"") -> None:
        """After this iteration's one commit, write ``data`` (the answers to ``payloads``).

        ``last`` (a framing error's Error) is written after them and closes the connection.
        """
        if not self._deferred:
            self.loop.call_soon(self._flush_deferred)
        self._deferred.append((conn, data, payloads, last))
        conn.deferred += 1

    def _flush_deferred(self) -> None:
        deferred, self._deferred = self._deferred, []
        try:
            self.service.commit()
        except Exception as exc:
            log.exception("commit of the db file failed: %d connections answered INTERNAL", len(deferred))
            deferred = [(c, failed_commit_answers(p, exc), p, last) for c, _, p, last in deferred]
        for conn, data, _, last in deferred:
            conn.deferred -= 1
            if conn.transport is not None:
                conn.transport.write(data + last if last else data)
                if last:
                    conn.close()
                elif conn.eof:
                    conn.finish_if_done()


class _Connection(asyncio.Protocol):
    """One client: frames in, answers out, one request at a time."""

    __slots__ = (
        "clean",
        "closing",
        "decoder",
        "deferred",
        "due",
        "eof",
        "handle",
        "in_flight",
        "pending",
        "read_paused",
        "state",
        "transport",
        "write_paused",
    )

    def __init__(self, state: _LoopState) -> None:
        self.state = state
        self.transport: asyncio.Transport | None = None
        self.decoder = FrameDecoder()
        self.handle = state.handle
        self.clean = (
            state.hot
        )  # hot path and nothing buffered: a read that is one whole frame skips the decoder
        self.in_flight = False  # a request is in its delay
        self.pending = b""  # that request's payload
        self.due = 0.0
        self.write_paused = False
        self.read_paused = False
        self.closing = False
        self.eof = False  # the client half-closed: answer what it sent, then close
        self.deferred = 0  # answers waiting for this loop iteration's group commit

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.state.connections.add(self)
        if self.state.stopping:
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.state.connections.discard(self)
        self.transport = None
        self.closing = True

    def eof_received(self) -> bool:
        """The client half-closed: every request it sent is still answered (spec), then we close."""
        self.eof = True
        self.finish_if_done()
        return True  # keep the transport open for the answers; finish_if_done closes it

    def finish_if_done(self) -> None:
        """After a half-close: close once no request is in its delay or waiting to be answered."""
        if self.closing or self.in_flight or self.deferred or self.write_paused:
            return
        if self.decoder.buffered:
            self._advance()  # start (or answer) any whole frame still buffered
            if self.in_flight or self.deferred or self.closing:
                return
        self.close()  # what is left is at most a partial frame that can never complete

    def pause_writing(self) -> None:
        self.write_paused = True

    def resume_writing(self) -> None:
        self.write_paused = False
        if self.eof:
            self.finish_if_done()
        else:
            self._advance()

    def data_received(self, data: bytes) -> None:
        n = len(data) - 1
        if (
            self.clean
            and n < 0x80
            and data[0] == n
            and not (self.write_paused or self.closing or self.read_paused)
        ):
            # the hottest path (no delay, no fsync, nothing buffered): this read is exactly one frame
            self.transport.write(self.handle(data[1:]))  # type: ignore[union-attr]
            return
        decoder = self.decoder
        decoder.feed(data)
        if not self.state.hot or self.write_paused or self.closing or self.read_paused:
            self.clean = False
            self._advance()
            return
        # the hot path (no delay, no fsync): answer every whole frame, one write
        handle = self.handle
        answers: list[bytes] = []
        try:
            while (payload := decoder.next_frame()) is not None:
                answers.append(handle(payload))
        except FrameError as exc:
            self._frame_error(exc, b"".join(answers))
            return
        if answers:
            self.transport.write(answers[0] if len(answers) == 1 else b"".join(answers))  # type: ignore[union-attr]
        left = decoder.buffered
        self.clean = not left
        if left > _MAX_UNREAD:
            self._advance()

    def close(self) -> None:
        self.closing = True
        if self.transport is not None:
            self.transport.close()

    def answered(self, answer: bytes) -> None:
        """The release timer answered this connection's request."""
        self.in_flight = False
        if self.transport is None:
            return  # the client left during the delay
        self.transport.write(answer)
        if self.state.stopping:
            self.close()
        elif self.eof:
            self.finish_if_done()
        elif self.read_paused or self.decoder.buffered:  # else nothing waits: skip the bookkeeping
            self._advance()

    def _advance(self) -> None:
        """Start what can start now, then pause or resume reading."""
        if not (self.in_flight or self.write_paused or self.closing or self.state.stopping):
            if self.state.delay_s:
                self._start_next()
            else:
                self._answer_all()
        transport = self.transport
        if transport is None:
            return
        if self.decoder.buffered > _MAX_UNREAD:
            if not self.read_paused:
                self.read_paused = True
                transport.pause_reading()
        elif self.read_paused and not self.closing:
            self.read_paused = False
            transport.resume_reading()

    def _start_next(self) -> None:
        try:
            payload = self.decoder.next_frame()
        except FrameError as exc:
            self._frame_error(exc, b"")
            return
        if payload is not None:
            self.in_flight = True
            self.pending = payload
            self.state.start_delay(self)

    def _answer_all(self) -> None:
        decoder = self.decoder
        handle = self.state.handle
        answers: list[bytes] = []
        payloads: list[bytes] = []  # kept for the answers of a failed commit
        try:
            while (payload := decoder.next_frame()) is not None:
                answers.append(handle(payload))
                payloads.append(payload)
        except FrameError as exc:
            self._frame_error(exc, b"".join(answers), payloads)
            return
        if not answers:
            return
        data = answers[0] if len(answers) == 1 else b"".join(answers)
        if self.state.needs_commit:
            self.state.defer_write(self, data, payloads)
        else:
            self.transport.write(data)  # type: ignore[union-attr]

    def _frame_error(self, exc: FrameError, before: bytes, payloads: list[bytes] | None = None) -> None:
        """Answer the frames before the error (``payloads``), then the one Error, then close."""
        error = error_frame(0, exc.code, exc.message)
        self.closing = True
        if self.state.needs_commit and before:
            self.state.defer_write(self, before, payloads or [], error)
        elif self.transport is not None:
            self.transport.write(before + error)
            self.transport.close()


def serve(ctx: ServerContext) -> None:
    """Run ``--threads`` event loops of protocol callbacks until a signal."""
    run_loops(ctx, lambda loop: _LoopState(loop, ctx))
