"""The coroutine backend: asyncio streams on uvloop, one coroutine per connection.

How this works: each of the ``--threads`` loops (see ``seatlab.server.loops``
for what the GIL makes of several) runs ``asyncio.start_server`` on the
shared listener. A connection's coroutine reads up to 64 KiB, feeds the
sans-IO ``FrameDecoder`` and answers the frames in order: with a delay, each
request awaits its delay and its answer is written at once; without one, the
answers of one read go out in one write.

The delay is an awaited sleep of the coroutine, but not ``asyncio.sleep``:
that arms one timer per request, which at thousands of connections costs
more than the request itself. Every request of a loop sleeps the same
delay, so they fall due in the order they began: ``_DelayGate`` keeps one
FIFO of (due time, future) per loop and one timer for its head, and wakes
every coroutine whose delay is over in one callback (the same idea as the
``event`` backend's release timer, here through futures the coroutines
await). For the coroutine nothing changes: it awaits, the loop serves the
others meanwhile, and it resumes no earlier than ``delay`` later. ``await
writer.drain()`` after writing is the bounded buffering: a client that does
not read its answers stalls only its own coroutine, which then stops
reading, and the StreamReader pauses the socket once 128 KiB wait unread.

With ``--sync fsync``, answers wait for a group commit: the first coroutine
that needs one in a loop iteration creates a shared future and schedules
one ``service.commit()`` with ``loop.call_soon``; every coroutine that
handled a request in that iteration awaits the same future. The fsync runs
on the loop's thread and stalls that loop's connections while it lasts. If
the commit fails, each of those requests is answered ``Error{INTERNAL}``
and the connections go on.
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

log = logging.getLogger("seatlab.server.coro")

_READ_SIZE = 65536


class _Connection:
    __slots__ = ("busy", "writer")

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self.writer = writer
        self.busy = False


class _DelayGate:
    """One loop's sleeping coroutines: one FIFO, one timer, every due one woken in one callback."""

    __slots__ = ("delay_s", "loop", "timer", "waiting")

    def __init__(self, loop: asyncio.AbstractEventLoop, delay_s: float) -> None:
        self.loop = loop
        self.delay_s = delay_s
        self.waiting: deque[tuple[float, asyncio.Future[None]]] = deque()
        self.timer: asyncio.TimerHandle | None = None

    def sleep(self) -> asyncio.Future[None]:
        """A future done once ``delay_s`` has passed (await it, as ``asyncio.sleep(delay_s)``)."""
        future = self.loop.create_future()
        self.waiting.append((monotonic() + self.delay_s, future))
        if self.timer is None:
            self.timer = self.loop.call_later(self.delay_s, self._release)
        return future

    def _release(self) -> None:
        self.timer = None
        waiting = self.waiting
        now = monotonic()
        while waiting and waiting[0][0] <= now:
            future = waiting.popleft()[1]
            if not future.done():  # cancelled: its coroutine is gone
                future.set_result(None)
        if waiting:
            # a libuv timer can fire up to a millisecond early: never wake before the delay
            self.timer = self.loop.call_later(max(waiting[0][0] - monotonic(), 0.0) + 0.0005, self._release)


class CoroServer:
    """One loop's coroutine server."""

    def __init__(self, loop: asyncio.AbstractEventLoop, ctx: ServerContext) -> None:
        self.loop = loop
        self.service = ctx.service
        self.delay_s = ctx.config.delay_s
        self.backlog = ctx.config.max_backlog
        self.stopping = False
        self.connections: set[_Connection] = set()
        self._server: asyncio.AbstractServer | None = None
        self._commit_waiter: asyncio.Future[BaseException | None] | None = None
        self._gate = _DelayGate(loop, self.delay_s)

    async def start(self, sock: socket.socket) -> None:
        self._server = await asyncio.start_server(self._serve, sock=sock, backlog=self.backlog)

    def begin_shutdown(self) -> None:
        self.stopping = True
        if self._server is not None:
            self._server.close()
        for conn in list(self.connections):
            if not conn.busy:
                conn.writer.close()  # its read() sees EOF and the coroutine ends

    def open_connections(self) -> int:
        return len(self.connections)

    def abort_all(self) -> None:
        for conn in list(self.connections):
            conn.writer.transport.abort()

    async def _commit(self) -> BaseException | None:
        """Group commit: one fsync for every request handled in this loop iteration; its failure or None."""
        waiter = self._commit_waiter
        if waiter is None:
            waiter = self._commit_waiter = self.loop.create_future()
            self.loop.call_soon(self._flush_commit)
        return await waiter

    def _flush_commit(self) -> None:
        waiter, self._commit_waiter = self._commit_waiter, None
        assert waiter is not None
        try:
            self.service.commit()
        except Exception as exc:
            log.exception("commit of the db file failed: its requests are answered INTERNAL")
            waiter.set_result(exc)
        else:
            waiter.set_result(None)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = _Connection(writer)
        if self.stopping:
            writer.close()
            return
        self.connections.add(conn)
        try:
            await self._serve_requests(reader, writer, conn)
        except (ConnectionError, OSError):
            pass  # the client went away mid-request: nothing more to answer
        except Exception:
            log.exception("connection failed")
        finally:
            self.connections.discard(conn)
            writer.close()

    async def _serve_requests(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, conn: _Connection
    ) -> None:
        decoder = FrameDecoder()
        handle = self.service.handle
        needs_commit = self.service.needs_commit
        delay_s = self.delay_s
        sleep = self._gate.sleep
        read = reader.read
        write = writer.write
        drain = writer.drain
        buffered = writer.transport.get_write_buffer_size  # drain() only when the kernel did not take it all
        while True:
            data = await read(_READ_SIZE)
            if not data:
                return
            decoder.feed(data)
            conn.busy = True
            answers: list[bytes] = []  # batched per read when there is no delay
            payloads: list[bytes] = []  # with --sync fsync: their requests, for a failed commit's answers
            while not self.stopping:
                try:
                    payload = decoder.next_frame()
                except FrameError as exc:
                    before = b"".join(answers)
                    if needs_commit and answers:
                        failed = await self._commit()
                        if failed is not None:
                            before = failed_commit_answers(payloads, failed)
                    write(before + error_frame(0, exc.code, exc.message))
                    await drain()
                    return
                if payload is None:
                    break
                if delay_s:
                    await sleep()
                    answer = handle(payload)
                    if needs_commit:
                        failed = await self._commit()
                        if failed is not None:
                            answer = failed_commit_answers([payload], failed)
                    write(answer)
                    if buffered():
                        await drain()
                else:
                    answers.append(handle(payload))
                    if needs_commit:
                        payloads.append(payload)
            if answers:
                out = answers[0] if len(answers) == 1 else b"".join(answers)
                if needs_commit:
                    failed = await self._commit()
                    if failed is not None:
                        out = failed_commit_answers(payloads, failed)
                write(out)
                if buffered():
                    await drain()
            conn.busy = False
            if self.stopping:
                return


def serve(ctx: ServerContext) -> None:
    """Run ``--threads`` loops of coroutines until a signal."""
    run_loops(ctx, lambda loop: CoroServer(loop, ctx))
