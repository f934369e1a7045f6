"""The event-loop backend: asyncio.Protocol callbacks on uvloop, the delay as one timer per loop.

How this works: each of the ``--threads`` loops (``seatlab.server.loops``)
accepts on the shared listener (``LoopListener``) and serves each
connection with one ``_Connection`` protocol object, no coroutines. The
protocol only moves bytes: what to serve comes from the sans-IO
``ServerConnection``, the answers from ``SeatService``, the waiting from
``DelayQueue`` and ``GroupCommit`` (``seatlab.server.pacing``).

A connection is one client: it serves one batch at a time. Without a delay a
batch is every whole request of a read, up to ``TURN_FRAMES``; a client that
pipelined more gets the rest on the loop's next turns (its reading paused
meanwhile), so it cannot starve the others or the accept. With a delay a
batch is one request: it waits in the loop's ``DelayQueue``, then its answer
goes out and the next one starts. Bounded buffering: while its answers do not
drain (``pause_writing``) it starts nothing new, and past ``MAX_UNREAD``
unserved bytes it stops reading, so a client that never reads stalls only
itself. A framing error ends it with the lingering close.

``calibrate`` is this same driver with a fixed answer instead of the seat
service, so the ceiling it measures pays the same framing cost.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable

from seatlab.protocol.connection import LINGER_S, MAX_UNREAD, TURN_FRAMES, Batch, ServerConnection
from seatlab.seats.service import shutting_down_answers
from seatlab.server.context import ServerContext
from seatlab.server.listener import LoopListener
from seatlab.server.loops import run_loops
from seatlab.server.pacing import DelayQueue, GroupCommit


class EventServer:
    """One loop's event server: how its connections are answered, delayed and committed."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        sock: socket.socket,
        answer: Callable[[list[bytes]], bytes],
        delay_s: float = 0.0,
        commit: GroupCommit | None = None,
        answer_one: Callable[[bytes], bytes] | None = None,
    ) -> None:
        self.loop = loop
        self.answer = answer
        """Payloads to their answers: committed, or for ``commit`` to commit."""
        self.answer_one = answer_one or (lambda payload: answer([payload]))
        """One payload to its answer, as ``answer([payload])`` (the hot path's one-request read)."""
        self.commit = commit
        self.delays = DelayQueue(loop, delay_s) if delay_s else None
        self.limit = 1 if delay_s else TURN_FRAMES
        self.hot = not delay_s and commit is None
        """No delay and no commit: a batch is answered as soon as it is taken."""
        self.single = commit is None
        """A read that is exactly one request skips the batch: answered at once, or after the delay."""
        self.listener = LoopListener(loop, sock, self._accepted)

    def _accepted(self, sock: socket.socket) -> None:
        self.loop.create_task(self.loop.connect_accepted_socket(lambda: _Connection(self), sock))


class _Connection(asyncio.Protocol):
    """One client: bytes to its ``ServerConnection``, its batches to the service, answers out."""

    __slots__ = ("batch", "busy", "core", "one", "read_paused", "server", "transport", "write_paused")

    def __init__(self, server: EventServer) -> None:
        self.server = server
        self.core = ServerConnection()
        self.transport: asyncio.Transport | None = None
        self.busy = False  # a batch is in its delay or waiting for the commit
        self.batch: Batch | None = None  # that batch
        self.one: bytes | None = None  # or that one request, taken by the one-request path
        self.write_paused = False
        self.read_paused = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        listener = self.server.listener
        listener.add(self)
        if listener.stopping:
            self.shutdown()

    def connection_lost(self, exc: Exception | None) -> None:
        self.server.listener.discard(self)
        self.transport = None

    def data_received(self, data: bytes) -> None:
        core = self.core
        server = self.server
        delays = server.delays
        if (
            server.single
            and not (self.busy or self.write_paused or self.read_paused)
            and (delays is None or not server.listener.stopping)  # stopping: the batch path says so
        ):
            payload = core.take_single(data)
            if payload is not None:  # a closed-loop client's one request: no batch
                if delays is None:  # answered at once, one write
                    self.transport.write(server.answer_one(payload))  # type: ignore[union-attr]
                else:  # answered after its delay
                    self.busy = True
                    self.one = payload
                    delays.after_delay(_Connection.one_over, self)
                return
        core.receive_data(data)
        if core.failed:  # lingering after a framing error: discard, up to a bound
            if core.linger_over:
                self.abort()
        elif self.busy or self.write_paused:
            self._flow()
        elif server.hot:
            # no delay, no commit: this turn's batch answered here, in one write
            batch = core.next_batch(TURN_FRAMES)
            payloads, error, close, more = batch
            if payloads:
                answers = server.answer(payloads)
                self.transport.write(answers + error if error else answers)  # type: ignore[union-attr]
            elif error:
                self.transport.write(error)  # type: ignore[union-attr]
            if close or more or self.read_paused or core.buffered > MAX_UNREAD:
                self._after(batch)
        else:
            self._serve()

    def eof_received(self) -> bool:
        """The client half-closed: every request it sent is still answered (spec), then we close."""
        core = self.core
        lingering = core.failed
        core.receive_data(b"")
        if lingering:
            return False  # the lingering close is over: the transport closes
        if not (self.busy or self.write_paused):
            self._serve()
        return True  # keep the transport open for the answers; the last batch closes it

    def pause_writing(self) -> None:
        self.write_paused = True

    def resume_writing(self) -> None:
        self.write_paused = False
        if not self.busy and self.transport is not None and not self.core.failed:
            self._serve()

    def _serve(self) -> None:
        """One turn: take the next batch and answer it now, or after its delay or commit."""
        server = self.server
        if server.listener.stopping:
            self.shutdown()
            return
        batch = self.core.next_batch(server.limit)
        if not (batch.payloads or batch.error or batch.close or batch.more):
            self._flow()  # nothing whole held: wait for data
            return
        if batch.payloads:
            if server.delays is not None:
                self.busy = True
                self.batch = batch
                server.delays.after_delay(_Connection.delay_over, self)
                self._flow()
                return
            if server.commit is not None:
                self.busy = True
                self.batch = batch
                server.commit.after_commit(batch.payloads, server.answer(batch.payloads), self._send)
                self._flow()
                return
            self.transport.write(server.answer(batch.payloads) + batch.error)  # type: ignore[union-attr]
        elif batch.error:
            self.transport.write(batch.error)  # type: ignore[union-attr]
        self._after(batch)

    def one_over(self) -> None:
        """The one-request path's delay is over: answer it, then serve what came meanwhile."""
        payload = self.one
        assert payload is not None
        self.one = None
        self.busy = False
        transport = self.transport
        if transport is None:
            return  # the client left meanwhile
        transport.write(self.server.answer_one(payload))
        if self.core.idle and not self.read_paused and not self.server.listener.stopping:
            return  # nothing came during the delay: wait for the next read
        if not self.write_paused:
            self._serve()
        elif self.server.listener.stopping:
            self.shutdown()

    def delay_over(self) -> None:
        """Its batch's delay is over: answer it (after the commit, with fsync)."""
        batch = self.batch
        assert batch is not None
        server = self.server
        if server.commit is not None:
            server.commit.after_commit(batch.payloads, server.answer(batch.payloads), self._send)
        else:
            self._send(server.answer(batch.payloads))

    def _send(self, answers: bytes) -> None:
        """The batch's answers are ready (delayed, committed): write them, go on."""
        batch = self.batch
        assert batch is not None
        self.busy = False
        self.batch = None
        if self.transport is None:
            return  # the client left meanwhile
        self.transport.write(answers + batch.error)
        self._after(batch)

    def _after(self, batch: Batch) -> None:
        """After a batch's answers went out: close, take the next turn, or wait for data."""
        transport = self.transport
        if transport is None:
            return
        if batch.close:
            if batch.error and not self.core.eof:
                self._linger(transport)
            else:
                transport.close()
        elif self.server.listener.stopping:
            self.shutdown()
        elif batch.more and not self.write_paused:
            if self.server.delays is not None:
                self._serve()  # the next request starts its delay now
            else:
                self._pause_reading(transport)
                self.server.loop.call_soon(self._next_turn)  # the others first
        elif not self.server.hot and not self.write_paused:
            self._serve()  # what came during the delay or the commit
        else:
            self._flow()

    def _next_turn(self) -> None:
        if self.transport is not None and not self.busy and not self.write_paused:
            self._serve()

    def _flow(self) -> None:
        """Pause reading past the buffering bound, resume below it."""
        transport = self.transport
        if transport is None:
            return
        if not self.core.wants_read:
            self._pause_reading(transport)
        elif self.read_paused:
            self.read_paused = False
            transport.resume_reading()

    def _pause_reading(self, transport: asyncio.Transport) -> None:
        if not self.read_paused:
            self.read_paused = True
            transport.pause_reading()

    def _linger(self, transport: asyncio.Transport) -> None:
        """After a framing error's Error: shut our side, read and discard a while, then close."""
        if self.read_paused:
            self.read_paused = False
            transport.resume_reading()
        transport.write_eof()
        self.server.loop.call_later(LINGER_S, self.abort)

    def shutdown(self) -> None:
        transport = self.transport
        if transport is None:
            return
        payloads = self.core.take_all()
        if payloads:
            transport.write(shutting_down_answers(payloads))
        transport.close()

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()


def serve(ctx: ServerContext) -> None:
    """Run ``--threads`` event loops of protocol callbacks until a signal."""
    service = ctx.service

    def make(loop: asyncio.AbstractEventLoop, sock: socket.socket) -> LoopListener:
        commit = GroupCommit(loop, service) if service.needs_commit else None
        answer = service.handle_all if commit is not None else service.answer
        # without --sync fsync, answer([p]) is handle(p): the hot path calls it directly
        one = service.handle if not service.needs_commit else None
        return EventServer(loop, sock, answer, ctx.config.delay_s, commit, one).listener

    run_loops(ctx, make)
