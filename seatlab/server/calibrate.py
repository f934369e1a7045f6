"""The calibration backend: the machine's ceiling for this protocol in Python on uvloop.

What it does: the ``event`` backend's driver (``--threads`` loops, the same
``ServerConnection`` framing, fair turns, bounded buffering, lingering close
after a framing error), with one change: every correctly framed request is
answered with one fixed, precomputed ``Seat`` frame (id 1, seat 1, a fixed
uuid), without parsing it, without a store, a delay or a db file. It does not
echo request ids: clients that match answers by order per connection (the
load generator does) count them correctly; clients that match by id do not.

What it measures: how many requests per second the loop, the sockets, the
kernel and the framing every backend pays can move with no work at all; a
backend's throughput divided by this is the share its own work leaves.
"""

from __future__ import annotations

import asyncio
import socket

from seatlab.protocol.codec import FrameDecoder, FrameError
from seatlab.protocol.messages import error_frame, seat_frame
from seatlab.server.context import ServerContext
from seatlab.server.event import EventServer
from seatlab.server.listener import LoopListener
from seatlab.server.loops import run_loops

FIXED_UUID = "00000000-0000-4000-8000-000000000001"
FIXED_ANSWER = seat_frame(1, 1, FIXED_UUID)
"""The one answer calibrate sends, for every frame."""


def fixed_answers(payloads: list[bytes]) -> bytes:
    """``FIXED_ANSWER`` once per request, whatever it asked."""
    return FIXED_ANSWER * len(payloads)


def count_frames(buf: bytes) -> tuple[int, int, bytes | None]:
    """(whole frames in ``buf``, bytes they take, an Error frame if the next length is malformed).

    The codec's own framing, for the benchmarks that count what calibrate answers.
    """
    decoder = FrameDecoder()
    decoder.feed(buf)
    n = 0
    try:
        while decoder.next_frame() is not None:
            n += 1
    except FrameError as exc:
        return n, len(buf) - decoder.buffered, error_frame(0, exc.code, exc.message)
    return n, len(buf) - decoder.buffered, None


def serve(ctx: ServerContext) -> None:
    """Answer every frame with FIXED_ANSWER on ``--threads`` loops until a signal."""

    def make(loop: asyncio.AbstractEventLoop, sock: socket.socket) -> LoopListener:
        return EventServer(loop, sock, fixed_answers, lambda payload: FIXED_ANSWER).listener

    run_loops(ctx, make)
