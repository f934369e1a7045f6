"""Limits: the largest valid frame, the largest id, a client that never reads (protocol.md)."""

from __future__ import annotations

import contextlib
import threading

from seatlab.conformance.checks.bad_input import expect_fixed_answer, still_serves
from seatlab.conformance.registry import Context, check, expect, expect_error, expect_seat, free_seats
from seatlab.conformance.wire import kind, new_uuid
from seatlab.protocol.codec import MAX_FRAME, frame
from seatlab.protocol.messages import ErrorCode, book_request

_MAX_ID = 2**64 - 1
_HOG_REQUESTS = 20_000


@check(
    "limits.max-frame",
    f"a frame of exactly {MAX_FRAME} bytes is valid framing: answered (BAD_REQUEST here), connection open",
    store=False,
)
def max_frame(ctx: Context) -> None:
    wire = ctx.connect()
    wire.send(frame(b"\xff" * MAX_FRAME), f"a frame of {MAX_FRAME} bytes ff ... (not a Request)")
    response = wire.receive(f"the answer to a frame of {MAX_FRAME} bytes")
    if ctx.fixed:
        expect_fixed_answer(response, f"a frame of {MAX_FRAME} bytes that is not a Request")
    else:
        expect_error(response, ErrorCode.BAD_REQUEST, 0, f"a {MAX_FRAME}-byte frame that is not a Request")
    u = new_uuid()
    after = wire.book(u)
    if not ctx.fixed and kind(after) != "sold_out":
        expect_seat(after, u)


@check(
    "limits.max-id", f"request id {_MAX_ID} (the largest uint64) is echoed in Seat, Released and StatsReply"
)
def max_id(ctx: Context) -> None:
    wire = ctx.connect()
    free_seats(wire, 1)
    u = new_uuid()
    expect_seat(wire.book(u, rid=_MAX_ID), u, rid=_MAX_ID)
    released = wire.cancel(u, rid=_MAX_ID)
    expect(kind(released) == "released", f"Cancel {u} was answered with {kind(released)}")
    expect(released.id == _MAX_ID, f"the Released answer carries id {released.id}, not {_MAX_ID}")
    stats = wire.stats(rid=_MAX_ID)
    expect(stats.id == _MAX_ID, f"the StatsReply carries id {stats.id}, not {_MAX_ID}")


@check(
    "limits.client-that-never-reads",
    f"a client that pipelines {_HOG_REQUESTS} Books and does not read stalls only itself, then gets every answer",
    store=False,
)
def client_that_never_reads(ctx: Context) -> None:
    if not ctx.fixed:
        probe = ctx.connect()
        free_seats(probe, 1)
        probe.close()
    hog = ctx.connect(timeout_s=max(ctx.timeout_s, 20.0))
    u = new_uuid()  # one uuid: the rebooks are idempotent, so the flood takes one seat
    requests = b"".join(book_request(i + 1, u) for i in range(_HOG_REQUESTS))
    hog.note(f"sent     {_HOG_REQUESTS} pipelined Books of {u} (ids 1..{_HOG_REQUESTS}), reading nothing")
    sent = threading.Event()

    def flood() -> None:
        with contextlib.suppress(OSError):
            hog.sock.sendall(requests)
        sent.set()

    threading.Thread(target=flood, daemon=True).start()
    sent.wait(2.0)  # it may still be blocked: the server stopped reading from it, as it should
    still_serves(ctx)
    answers = hog.receive_many(_HOG_REQUESTS, "answers to the pipelined Books")
    if ctx.fixed:
        return
    ids = [a.id for a in answers]
    expect(ids == list(range(1, _HOG_REQUESTS + 1)), "the stalled client's answers did not come in order")
    numbers = {a.seat.number for a in answers if kind(a) == "seat"}
    expect(len(numbers) == 1, f"{_HOG_REQUESTS} Books of one uuid got {len(numbers)} different seats")
