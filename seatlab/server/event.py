"""The event-loop backend: asyncio.Protocol callbacks on uvloop, the delay as one timer per loop.

How this works: each of the ``--threads`` loops (``seatlab.server.loops``)
accepts on the shared listener (``LoopListener``) and serves each
connection with one ``_Connection`` protocol object, no coroutines. The
protocol only moves bytes: what to serve comes from the sans-IO
``ServerConnection``, the answers from ``SeatService``, the waiting from
``DelayQueue`` and ``GroupCommit`` (``seatlab.server.pacing``).

A connection is one client: it serves one batch at a time, on one path:
``data_received`` feeds the core, ``_serve`` answers the batch it hands out
now or hands it to the delay or the commit, ``_send`` writes the delayed or
committed answers, ``_next`` takes the next batch of what is held. Without a delay a
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
import logging
import socket
from collections.abc import Callable

from seatlab.modes import Offload
from seatlab.protocol.connection import LINGER_S, TURN_FRAMES, Batch, ServerConnection
from seatlab.seats.service import shutting_down_answers
from seatlab.seats.work import Work
from seatlab.server.context import ServerContext
from seatlab.server.listener import LoopListener
from seatlab.server.loops import run_loops
from seatlab.server.pacing import DelayQueue, GroupCommit

log = logging.getLogger("seatlab.server.event")


class EventServer:
    """One loop's event server: how its connections are answered, delayed and committed."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        sock: socket.socket,
        answer: Callable[[list[bytes]], bytes],
        handle: Callable[[bytes], bytes],
        delay_s: float = 0.0,
        commit: GroupCommit | None = None,
        work: Work | None = None,
        offload: bool = False,
    ) -> None:
        self.loop = loop
        self.answer = answer
        """Payloads to their answers: committed, or for ``commit`` to commit."""
        self.handle = handle
        """One payload to its answer: ``answer([payload])`` without the list (most batches are one request)."""
        self.commit = commit
        self.delays = DelayQueue(loop, delay_s) if delay_s else None
        self.work = work
        """Each request's CPU work, done on the loop before its delay; or in a thread, with ``offload``."""
        self.offload = offload and work is not None
        self.later = self.delays is not None or commit is not None or self.offload
        """A batch's answers wait for its work in a thread, its delay or its commit (else they go out as
        it is taken)."""
        self.limit = 1 if delay_s else TURN_FRAMES
        self.listener = LoopListener(loop, sock, self._accepted)

    def _accepted(self, sock: socket.socket) -> None:
        self.loop.create_task(self.loop.connect_accepted_socket(lambda: _Connection(self), sock))


class _Connection(asyncio.Protocol):
    """One client: bytes to its ``ServerConnection``, its batches to the service, answers out.

    Its flow state is three fields: ``batch`` (in flight: in its delay or its commit),
    ``write_paused`` (its answers do not drain) and ``read_paused`` (past the buffering bound, or
    waiting for its next turn); while either of the first two holds, what it reads is only held.
    """

    __slots__ = ("batch", "core", "read_paused", "server", "transport", "write_paused")

    def __init__(self, server: EventServer) -> None:
        self.server = server
        self.core = ServerConnection()
        self.transport: asyncio.Transport | None = None
        self.batch: Batch | None = None  # in its delay or waiting for the commit
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
        if self.batch is not None or self.write_paused or core.failed:
            core.receive_data(data)  # held until the batch in flight is answered, or discarded (lingering)
            if core.failed and core.linger_over:
                self.abort()
            elif not core.wants_read:
                self._pause_reading()
            return
        self._serve(core.feed(data, self.server.limit))

    def eof_received(self) -> bool:
        """The client half-closed: every request it sent is still answered (spec), then we close."""
        core = self.core
        if core.failed:
            return False  # the lingering close is over: the transport closes
        core.receive_data(b"")
        if self.batch is None and not self.write_paused:
            self._serve(core.next_batch(self.server.limit))
        return True  # keep the transport open for the answers; the last batch closes it

    @property
    def busy(self) -> bool:
        """A batch in its delay or commit: a shutdown lets it finish (``_send`` then shuts down)."""
        return self.batch is not None

    def pause_writing(self) -> None:
        self.write_paused = True

    def resume_writing(self) -> None:
        self.write_paused = False
        if self.batch is None and self.transport is not None and not self.core.failed:
            self._next()

    def _serve(self, batch: Batch) -> None:
        """A batch: answered now, or after its delay or its commit; then the next."""
        payloads = batch.payloads
        error = batch.error
        server = self.server
        if payloads:
            work = server.work
            if work is not None and not server.offload:
                work(len(payloads))  # on the loop: every other client of this loop waits meanwhile
            if server.later:
                self.batch = batch
                if work is not None and server.offload:
                    done = server.loop.run_in_executor(None, work, len(payloads))
                    done.add_done_callback(self._worked)
                elif server.delays is not None:
                    server.delays.after_delay(_Connection._send, self)
                else:
                    self._send()
                return
            answers = server.handle(payloads[0]) if len(payloads) == 1 else server.answer(payloads)
            self.transport.write(answers + error if error else answers)  # type: ignore[union-attr]
        elif error:
            self.transport.write(error)  # type: ignore[union-attr]
        # (no check of stopping here: a shutdown closes every connection without a batch in flight)
        if batch.close or batch.more or self.read_paused:
            self._after(batch)

    def _worked(self, done: asyncio.Future[None]) -> None:
        """The batch's work in a thread is over: its delay, or its answers."""
        if done.exception() is not None:
            log.error("work in a thread failed: %r", done.exception())
        delays = self.server.delays
        if delays is not None:
            delays.after_delay(_Connection._send, self)
        else:
            self._send()

    def _send(self, answers: bytes | None = None) -> None:
        """The batch in flight is due (its delay is over: ``answers`` None, so answer it, or hand it to
        the commit) or committed (``answers`` given): write its answers, then go on."""
        batch = self.batch
        assert batch is not None
        if answers is None:
            payloads = batch.payloads
            server = self.server
            if server.commit is not None:
                server.commit.after_commit(payloads, server.answer(payloads), self._send)
                return
            answers = server.handle(payloads[0]) if len(payloads) == 1 else server.answer(payloads)
        self.batch = None
        transport = self.transport
        if transport is None:
            return  # the client left meanwhile
        transport.write(answers + batch.error if batch.error else answers)
        if batch.close or batch.more or self.read_paused or self.server.listener.stopping:
            self._after(batch)
        elif not self.core.idle and not self.write_paused:
            self._next()  # what came during the delay or the commit

    def _after(self, batch: Batch) -> None:
        """After a batch's answers went out: close, shut down, take the next turn, or read on."""
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
        elif self.write_paused:
            pass  # resume_writing goes on
        elif batch.more:
            if self.server.delays is not None:
                self._next()  # the next request starts its delay now
            else:
                self._pause_reading()
                self.server.loop.call_soon(self._next_turn)  # the others first
        else:
            self._next()

    def _next(self) -> None:
        """The next batch from what is held, or read on (resumed below the buffering bound)."""
        if self.server.listener.stopping:
            self.shutdown()
            return
        core = self.core
        batch = core.next_batch(self.server.limit)
        if batch.payloads or batch.error or batch.close or batch.more:
            self._serve(batch)
        elif self.read_paused and core.wants_read:
            self.read_paused = False
            self.transport.resume_reading()  # type: ignore[union-attr]

    def _next_turn(self) -> None:
        if self.transport is not None and self.batch is None and not self.write_paused:
            self._next()

    def _pause_reading(self) -> None:
        if not self.read_paused and self.transport is not None:
            self.read_paused = True
            self.transport.pause_reading()

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
        offload = ctx.config.offload is Offload.thread
        return EventServer(
            loop, sock, answer, service.handle, ctx.config.delay_s, commit, ctx.work, offload
        ).listener

    run_loops(ctx, make)
