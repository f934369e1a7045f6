"""The coroutine backend: asyncio streams on uvloop, one coroutine per connection.

How this works: each of the ``--threads`` loops (``seatlab.server.loops``)
accepts on the shared listener (``LoopListener``) and runs one coroutine per
connection over a StreamReader/StreamWriter pair. The coroutine only moves
bytes and awaits: it reads up to 64 KiB, hands it to the sans-IO
``ServerConnection``, and serves the batches it hands out. With a delay each
request awaits its delay (a future of the loop's one ``DelayQueue``, not one
``asyncio.sleep`` timer per request) and its answer is written at once;
without one, the answers of a batch go out in one write. A batch is at most
``TURN_FRAMES`` requests; a client that pipelined more waits one loop turn
(``asyncio.sleep(0)``) before its next batch, so it cannot starve the others
or the accept. ``await writer.drain()`` after writing is the bounded
buffering: a client that does not read its answers stalls only its own
coroutine, which then stops reading. With ``--sync fsync`` the answers of a
batch await the loop's ``GroupCommit`` (one fsync per loop iteration).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from time import monotonic

from seatlab.modes import Offload
from seatlab.protocol.connection import LINGER_S, TURN_FRAMES, ServerConnection
from seatlab.seats.service import SeatService, shutting_down_answers
from seatlab.server.context import ServerContext
from seatlab.server.listener import LoopListener
from seatlab.server.loops import run_loops
from seatlab.server.pacing import DelayQueue, GroupCommit

log = logging.getLogger("seatlab.server.coro")

_READ_SIZE = 65536


class _Connection:
    """The registry's handle on one coroutine's connection."""

    __slots__ = ("busy", "core", "writer")

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self.writer = writer
        self.core = ServerConnection()
        self.busy = False  # serving a batch: shutdown lets it finish

    def shutdown(self) -> None:
        payloads = self.core.take_all()
        if payloads:
            self.writer.write(shutting_down_answers(payloads))
        self.writer.close()  # its read() sees the end and the coroutine ends

    def abort(self) -> None:
        self.writer.transport.abort()


class CoroServer:
    """One loop's coroutine server."""

    def __init__(self, loop: asyncio.AbstractEventLoop, sock: socket.socket, ctx: ServerContext) -> None:
        self.loop = loop
        self.service: SeatService = ctx.service
        self.delay_s = ctx.config.delay_s
        self.delays = DelayQueue(loop, self.delay_s)
        self.commit = GroupCommit(loop, self.service) if self.service.needs_commit else None
        self.work = ctx.work
        self.offload = ctx.config.offload is Offload.thread
        self.listener = LoopListener(loop, sock, self._accepted)

    def _accepted(self, sock: socket.socket) -> None:
        reader = asyncio.StreamReader(limit=_READ_SIZE, loop=self.loop)
        protocol = asyncio.StreamReaderProtocol(reader, self._serve, loop=self.loop)
        self.loop.create_task(self.loop.connect_accepted_socket(lambda: protocol, sock))

    def _sleep(self) -> asyncio.Future[None]:
        """A future done once the delay has passed (await it, as ``asyncio.sleep(delay_s)``)."""
        future: asyncio.Future[None] = self.loop.create_future()
        self.delays.after_delay(_wake, future)
        return future

    def _committed(self, commit: GroupCommit, payloads: list[bytes]) -> asyncio.Future[bytes]:
        """The answers to ``payloads`` once the loop's group commit made them durable (await it)."""
        future: asyncio.Future[bytes] = self.loop.create_future()
        commit.after_commit(payloads, self.service.handle_all(payloads), future.set_result)
        return future

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = _Connection(writer)
        listener = self.listener
        if listener.stopping:
            writer.close()
            return
        listener.add(conn)
        try:
            await self._serve_requests(reader, writer, conn)
        except (ConnectionError, OSError):
            pass  # the client went away mid-request: nothing more to answer
        except Exception:
            log.exception("connection failed")
        finally:
            listener.discard(conn)
            writer.close()

    async def _serve_requests(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, conn: _Connection
    ) -> None:
        core = conn.core
        listener = self.listener
        answer = self.service.answer
        handle = self.service.handle
        commit = self.commit
        delay_s = self.delay_s
        limit = 1 if delay_s else TURN_FRAMES
        read = reader.read
        feed = core.feed
        write = writer.write
        drain = writer.drain
        buffered = writer.transport.get_write_buffer_size  # drain() only when the kernel did not take it all
        sleep = self._sleep
        work = self.work
        offload = self.offload
        loop = self.loop
        batch = core.next_batch(limit)
        while True:  # take a batch, await its delay, answer, write, read
            payloads = batch.payloads
            if payloads:
                conn.busy = True
                if work is not None:  # on the loop, as a naive handler does; or in a thread
                    if offload:
                        await loop.run_in_executor(None, work, len(payloads))
                    else:
                        work(len(payloads))
                if delay_s:
                    await sleep()
                if commit is None:
                    answers = handle(payloads[0]) if len(payloads) == 1 else answer(payloads)
                else:
                    answers = await self._committed(commit, batch.payloads)
                write(answers + batch.error if batch.error else answers)
                if buffered():
                    await drain()
                conn.busy = False
            elif batch.error:
                write(batch.error)
            if batch.close:
                if batch.error and not core.eof:
                    await _linger(reader, writer, core)
                return
            if listener.stopping:  # before the next batch is taken: what is left is answered "shutting down"
                conn.shutdown()
                return
            if batch.more:
                if not delay_s:
                    await asyncio.sleep(0)  # one turn each: the other connections and the accept first
                batch = core.next_batch(limit)
            else:  # (a shutdown meanwhile closes the stream: the read ends it)
                batch = feed(await read(_READ_SIZE), limit)


def _wake(future: asyncio.Future[None]) -> None:
    if not future.done():  # cancelled: its coroutine is gone
        future.set_result(None)


async def _linger(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, core: ServerConnection) -> None:
    """After a framing error's Error: shut our side, read and discard a while (bounded), then close."""
    with contextlib.suppress(OSError):
        writer.write_eof()
    deadline = monotonic() + LINGER_S
    while not core.linger_over and (left := deadline - monotonic()) > 0:
        try:
            data = await asyncio.wait_for(reader.read(_READ_SIZE), left)
        except TimeoutError:
            break
        if not data:
            return  # the client closed too: the plain close that follows loses nothing
        core.receive_data(data)
    writer.transport.abort()  # out of time or bytes: what is still unread cannot hold us


def serve(ctx: ServerContext) -> None:
    """Run ``--threads`` loops of coroutines until a signal."""
    run_loops(ctx, lambda loop, sock: CoroServer(loop, sock, ctx).listener)
