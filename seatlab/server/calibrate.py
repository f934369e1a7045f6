"""The calibration backend: the machine's ceiling for this protocol in Python on uvloop.

What it does: an asyncio.Protocol on uvloop (``--threads`` loops, like
``event``) that answers every correctly framed frame with one fixed,
precomputed ``Seat`` frame (id 1, seat 1, a fixed uuid), without parsing
the frame, without a store, a delay or a db file. The answers of one read
go out in one write. It does not echo request ids: clients that match
answers by order per connection (the load generator does) count them
correctly; clients that match by id do not. A framing error is answered
with the one ``Error`` and the connection is closed, as the spec says.

What it measures: how many frames per second the loop, the sockets and
the kernel can move with no work at all; a backend's throughput divided
by this is the share its own work leaves.
"""

from __future__ import annotations

import asyncio
import socket

from seatlab.protocol.codec import MAX_FRAME, ErrorCode
from seatlab.protocol.messages import error_frame, seat_frame
from seatlab.server.lifecycle import ServerContext
from seatlab.server.loops import run_loops

FIXED_UUID = "00000000-0000-4000-8000-000000000001"
FIXED_ANSWER = seat_frame(1, 1, FIXED_UUID)
"""The one answer calibrate sends, for every frame."""


def count_frames(buf: bytes) -> tuple[int, int, bytes | None]:
    """(whole frames in ``buf``, bytes they take, an Error frame if the next length is malformed)."""
    pos = 0
    n = 0
    end = len(buf)
    while pos < end:
        first = buf[pos]
        if first < 0x80:
            stop = pos + 1 + first
        else:
            length = 0
            shift = 0
            i = pos
            while True:
                if i >= end:
                    return n, pos, None
                byte = buf[i]
                i += 1
                length |= (byte & 0x7F) << shift
                shift += 7
                if length > MAX_FRAME:
                    return (
                        n,
                        pos,
                        error_frame(
                            0,
                            ErrorCode.FRAME_TOO_LARGE,
                            f"frame length exceeds the limit of {MAX_FRAME} bytes",
                        ),
                    )
                if byte < 0x80:
                    break
                if i - pos >= 5:
                    return (
                        n,
                        pos,
                        error_frame(
                            0,
                            ErrorCode.BAD_FRAME,
                            "length prefix: varint byte 5 still has the continuation bit set",
                        ),
                    )
            stop = i + length
        if stop > end:
            break
        pos = stop
        n += 1
    return n, pos, None


class _Calibrator(asyncio.Protocol):
    __slots__ = ("rest", "server", "transport")

    def __init__(self, server: _CalibrateServer) -> None:
        self.server = server
        self.transport: asyncio.Transport | None = None
        self.rest = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.server.connections.add(self)
        if self.server.stopping:
            transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.server.connections.discard(self)

    def data_received(self, data: bytes) -> None:
        buf = self.rest + data if self.rest else data
        n, used, error = count_frames(buf)
        self.rest = buf[used:] if used < len(buf) else b""
        transport = self.transport
        assert transport is not None
        if n:
            transport.write(FIXED_ANSWER * n)
        if error is not None:
            transport.write(error)
            transport.close()

    def pause_writing(self) -> None:
        if self.transport is not None:
            self.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.transport is not None:
            self.transport.resume_reading()


class _CalibrateServer:
    def __init__(self, loop: asyncio.AbstractEventLoop, ctx: ServerContext) -> None:
        self.loop = loop
        self.backlog = ctx.config.max_backlog
        self.connections: set[_Calibrator] = set()
        self.stopping = False
        self._server: asyncio.AbstractServer | None = None

    async def start(self, sock: socket.socket) -> None:
        self._server = await self.loop.create_server(
            lambda: _Calibrator(self), sock=sock, backlog=self.backlog
        )

    def begin_shutdown(self) -> None:
        self.stopping = True
        if self._server is not None:
            self._server.close()
        for conn in list(self.connections):
            if conn.transport is not None:
                conn.transport.close()

    def open_connections(self) -> int:
        return len(self.connections)

    def abort_all(self) -> None:
        for conn in list(self.connections):
            if conn.transport is not None:
                conn.transport.abort()


def serve(ctx: ServerContext) -> None:
    """Answer every frame with FIXED_ANSWER on ``--threads`` loops until a signal."""
    run_loops(ctx, lambda loop: _CalibrateServer(loop, ctx))
