"""Pipelining and half-close: answers one per request, in order (protocol.md, "Transport and framing").

A fixed-answer server gets these too: it must answer every frame once, in
order, whatever the frames' chunking; only the ids and seats are not its.
"""

from __future__ import annotations

import time

from seatlab.conformance.registry import Context, check, expect, expect_seat, free_seats
from seatlab.conformance.target import Settings
from seatlab.conformance.wire import CheckFailed, Wire, kind, new_uuid, stats_request
from seatlab.protocol.messages import book_request

_PIPELINED = 1000


def _expect_in_order(ctx: Context, wire: Wire, uuids: list[str], before: int) -> None:
    """Read the answers to Books 1..n of ``uuids`` and a Stats (id n+1): in order, distinct seats."""
    n = len(uuids)
    answers = wire.receive_many(n + 1)
    if ctx.fixed:
        expect(
            all(kind(a) == "seat" for a in answers), "a fixed-answer server answered with other than a Seat"
        )
        return
    ids = [a.id for a in answers]
    if ids != list(range(1, n + 2)):
        raise CheckFailed(f"answers came with ids {_ids(ids)}, not 1..{n + 1} in order")
    numbers = [expect_seat(a, u) for a, u in zip(answers[:n], uuids, strict=True)]
    expect(len(set(numbers)) == n, f"{n} Books of distinct uuids got {len(set(numbers))} distinct seats")
    stats = answers[-1]
    expect(kind(stats) == "stats", f"the pipelined Stats was answered with {kind(stats)}")
    expect(
        stats.stats.booked == before + n,
        f"the Stats after {n} pipelined Books says {stats.stats.booked} booked; before: {before}",
    )


def _ids(ids: list[int]) -> str:
    wrong = next(i for i, rid in enumerate(ids) if rid != i + 1)
    return f"{ids[max(wrong - 2, 0) : wrong + 3]} around answer {wrong + 1}"


def _pipeline(uuids: list[str]) -> bytes:
    return b"".join(book_request(i + 1, u) for i, u in enumerate(uuids)) + stats_request(len(uuids) + 1)


@check(
    "pipelining.in-order",
    f"{_PIPELINED} Books and a Stats sent in one write are answered one each, in order",
    store=False,
)
def in_order(ctx: Context) -> None:
    probe = ctx.connect()
    before = 0 if ctx.fixed else free_seats(probe, _PIPELINED)
    probe.close()
    wire = ctx.connect()
    uuids = [new_uuid() for _ in range(_PIPELINED)]
    wire.send(_pipeline(uuids))
    _expect_in_order(ctx, wire, uuids, before)


@check(
    "pipelining.with-delay",
    "with --delay 20 ms, 10 pipelined Books are answered in order (each after its delay)",
    own_server=True,
    placeholders=("delay",),
)
def with_delay(ctx: Context) -> None:
    server = ctx.start(Settings(delay_ms=20))
    wire = ctx.connect(server)
    uuids = [new_uuid() for _ in range(10)]
    wire.send(_pipeline(uuids))
    _expect_in_order(ctx, wire, uuids, 0)


def _during_previous(ctx: Context, settings: Settings) -> None:
    """Book 1, then Book 2 and a Stats while Book 1 is still in its delay (or its commit): all answered."""
    server = ctx.start(settings)
    wire = ctx.connect(server)
    u, v = new_uuid(), new_uuid()
    wire.send(book_request(1, u))
    time.sleep(settings.delay_ms / 2000)  # half of Book 1's delay
    wire.send(
        book_request(2, v) + stats_request(3), "Book 2 and Stats (id 3) while Book 1 waits out its delay"
    )
    first, second, stats = wire.receive_many(3, "the answers to Book 1, Book 2 and the Stats")
    if not ctx.fixed:
        expect_seat(first, u, rid=1)
        expect_seat(second, v, rid=2)
        expect(kind(stats) == "stats" and stats.id == 3, f"the Stats (id 3) was answered with {kind(stats)}")


@check(
    "pipelining.during-delay",
    "with --delay 40 ms, a Book sent while the previous one waits out its delay is answered after it",
    own_server=True,
    placeholders=("delay",),
)
def during_delay(ctx: Context) -> None:
    _during_previous(ctx, Settings(delay_ms=40))


@check(
    "pipelining.during-delay-fsync",
    "the same with --sync fsync: a request that arrives while one is being committed is answered",
    own_server=True,
    placeholders=("delay",),
)
def during_delay_fsync(ctx: Context) -> None:
    _during_previous(ctx, Settings(delay_ms=40, sync="fsync"))


@check(
    "pipelining.byte-at-a-time",
    "a Book sent one byte per write is answered once, when whole; the Stats after it too",
    store=False,
)
def byte_at_a_time(ctx: Context) -> None:
    wire = ctx.connect()
    u = new_uuid()
    data = book_request(1, u) + stats_request(2)
    wire.note(f"sending Book {u} (id 1) and Stats (id 2), one byte per write, 2 ms apart")
    for i in range(len(data)):
        wire.sock.sendall(data[i : i + 1])
        time.sleep(0.002)
    first, second = wire.receive_many(2)
    if ctx.fixed:
        expect(kind(first) == kind(second) == "seat", "a fixed-answer server answered with other than a Seat")
        return
    expect_seat(first, u, rid=1)
    expect(kind(second) == "stats" and second.id == 2, f"the Stats (id 2) was answered with {kind(second)}")


@check(
    "pipelining.split-frame",
    "a whole frame is answered before the next one, split across writes, is complete",
    store=False,
)
def split_frame(ctx: Context) -> None:
    wire = ctx.connect()
    u, v = new_uuid(), new_uuid()
    second = book_request(2, v)
    wire.send(book_request(1, u) + second[:20])
    first = wire.receive("the answer to the whole first frame while the second is half sent")
    wire.send(second[20:])
    last = wire.receive("the answer to the second frame once it is whole")
    if not ctx.fixed:
        expect_seat(first, u, rid=1)
        expect_seat(last, v, rid=2)


def _half_close(ctx: Context, wire: Wire, before: int) -> None:
    uuids = [new_uuid() for _ in range(5)]
    wire.send(_pipeline(uuids))
    wire.shutdown_write()
    _expect_in_order(ctx, wire, uuids, before)
    expect(wire.at_eof(), "after answering everything a half-closed client sent, the server did not close")


@check(
    "pipelining.half-close",
    "a client that sends, then shuts its write side, still gets every answer, then EOF",
    store=False,
)
def half_close(ctx: Context) -> None:
    probe = ctx.connect()
    before = 0 if ctx.fixed else free_seats(probe, 5)
    probe.close()
    _half_close(ctx, ctx.connect(), before)


@check(
    "pipelining.half-close-with-delay",
    "half-close with --delay 20 ms and --sync fsync: every answer still comes, then EOF",
    own_server=True,
    placeholders=("delay",),
    store=False,
)
def half_close_with_delay(ctx: Context) -> None:
    server = ctx.start(Settings(delay_ms=20, sync="fsync"))
    _half_close(ctx, ctx.connect(server), 0)
