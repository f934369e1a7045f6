"""Semantics: book, idempotent rebook, sold out, cancel, not found, stats (protocol.md, "Semantics")."""

from __future__ import annotations

from seatlab.conformance.registry import (
    Context,
    check,
    expect,
    expect_error,
    expect_seat,
    free_seats,
    stats_of,
)
from seatlab.conformance.target import Settings
from seatlab.conformance.wire import kind, new_uuid
from seatlab.protocol.messages import ErrorCode

SHARED_CAPACITY = 10_000
"""The capacity of the server the shared checks use (when the suite starts it)."""


@check("semantics.stats", "Stats answers StatsReply{capacity, booked}, its id echoed, booked <= capacity")
def stats(ctx: Context) -> None:
    wire = ctx.connect()
    response = wire.stats(rid=41)
    expect(kind(response) == "stats", f"Stats was answered with {kind(response)}, not a StatsReply")
    expect(response.id == 41, f"the StatsReply to request 41 carries id {response.id}")
    capacity, booked = response.stats.capacity, response.stats.booked
    expect(capacity > 0, "StatsReply.capacity is 0")
    if ctx.capacity is not None:
        expect(
            capacity == ctx.capacity,
            f"StatsReply.capacity is {capacity}; the server was started with --capacity {ctx.capacity}",
        )
    expect(booked <= capacity, f"StatsReply says {booked} booked of {capacity}")


@check("semantics.book", "Book of a free uuid answers Seat{number in 1..capacity, uuid}, and Stats counts it")
def book(ctx: Context) -> None:
    wire = ctx.connect()
    before = free_seats(wire, 1)
    u = new_uuid()
    response = wire.book(u, rid=7)
    number = expect_seat(response, u, rid=7)
    capacity, booked = stats_of(wire)
    expect(number <= capacity, f"seat number {number} is above the capacity {capacity}")
    expect(booked == before + 1, f"Stats says {booked} booked after one Book; it said {before} before")


@check("semantics.book-upper-case", "a uuid in upper case is accepted, stored and echoed in lower case")
def book_upper_case(ctx: Context) -> None:
    wire = ctx.connect()
    free_seats(wire, 1)
    u = new_uuid()
    expect_seat(wire.book(u.upper()), u)
    expect_seat(wire.book(u), u)  # the same uuid: the lower-case form holds the seat


@check(
    "semantics.rebook-idempotent", "a Book whose uuid holds a seat answers that Seat again, no second seat"
)
def rebook_idempotent(ctx: Context) -> None:
    wire = ctx.connect()
    before = free_seats(wire, 2)
    u = new_uuid()
    first = expect_seat(wire.book(u), u)
    again = expect_seat(wire.book(u), u)
    expect(again == first, f"the second Book of {u} got seat {again}; the first got {first}")
    other = ctx.connect()
    upper = expect_seat(other.book(u.upper()), u)
    expect(upper == first, f"Book of {u.upper()} on another connection got seat {upper}, not {first}")
    _, booked = stats_of(wire)
    expect(
        booked == before + 1, f"Stats says {booked} booked after three Books of one uuid; before: {before}"
    )


@check("semantics.cancel", "Cancel of a booked uuid answers Released{its number} and frees the seat")
def cancel(ctx: Context) -> None:
    wire = ctx.connect()
    before = free_seats(wire, 1)
    u = new_uuid()
    number = expect_seat(wire.book(u), u)
    response = wire.cancel(u, rid=12)
    expect(kind(response) == "released", f"Cancel {u} was answered with {kind(response)}, not Released")
    expect(response.id == 12, f"the Released answer to request 12 carries id {response.id}")
    expect(
        response.released.number == number,
        f"Cancel {u} released seat {response.released.number}; it held {number}",
    )
    _, booked = stats_of(wire)
    expect(booked == before, f"Stats says {booked} booked after Book and Cancel; before: {before}")
    expect_seat(wire.book(u), u)  # the uuid may book again
    _, booked = stats_of(wire)
    expect(booked == before + 1, f"Stats says {booked} booked after booking again; before: {before}")


@check("semantics.cancel-upper-case", "Cancel accepts the uuid in upper case")
def cancel_upper_case(ctx: Context) -> None:
    wire = ctx.connect()
    free_seats(wire, 1)
    u = new_uuid()
    number = expect_seat(wire.book(u), u)
    response = wire.cancel(u.upper())
    expect(kind(response) == "released", f"Cancel {u.upper()} was answered with {kind(response)}")
    expect(response.released.number == number, f"released seat {response.released.number}, not {number}")


@check(
    "semantics.cancel-unknown",
    "Cancel of a uuid that holds no seat is Error{NOT_FOUND}; the connection stays",
)
def cancel_unknown(ctx: Context) -> None:
    wire = ctx.connect()
    free_seats(wire, 1)
    u = new_uuid()
    expect_error(wire.cancel(u, rid=5), ErrorCode.NOT_FOUND, 5, f"Cancel of unknown {u}")
    v = new_uuid()
    expect_seat(wire.book(v), v)  # the same connection still serves


@check("semantics.cancel-twice", "a second Cancel of the same uuid is Error{NOT_FOUND}")
def cancel_twice(ctx: Context) -> None:
    wire = ctx.connect()
    free_seats(wire, 1)
    u = new_uuid()
    expect_seat(wire.book(u), u)
    first = wire.cancel(u)
    expect(kind(first) == "released", f"the first Cancel of {u} was answered with {kind(first)}")
    expect_error(wire.cancel(u, rid=99), ErrorCode.NOT_FOUND, 99, f"the second Cancel of {u}")


@check(
    "semantics.sold-out",
    "with every seat taken Book answers SoldOut{capacity}; seats are 1..capacity; a freed seat is booked again",
    own_server=True,
    placeholders=("capacity",),
)
def sold_out(ctx: Context) -> None:
    capacity = 5
    server = ctx.start(Settings(capacity=capacity))
    wire = ctx.connect(server)
    held = {}
    for _ in range(capacity):
        u = new_uuid()
        held[expect_seat(wire.book(u), u)] = u
    expect(
        sorted(held) == list(range(1, capacity + 1)),
        f"{capacity} Books of distinct uuids got seats {sorted(held)}, not 1..{capacity}",
    )
    late = new_uuid()
    response = wire.book(late, rid=77)
    expect(kind(response) == "sold_out", f"Book with every seat taken was answered with {kind(response)}")
    expect(response.id == 77, f"the SoldOut answer to request 77 carries id {response.id}")
    expect(
        response.sold_out.capacity == capacity,
        f"SoldOut.capacity is {response.sold_out.capacity}, the server has {capacity}",
    )
    number, u = next(iter(held.items()))
    expect(
        expect_seat(wire.book(u), u) == number, f"rebook of {u} when sold out did not answer seat {number}"
    )
    expect(stats_of(wire) == (capacity, capacity), f"Stats is not ({capacity}, {capacity}) when sold out")
    released = wire.cancel(u)
    expect(kind(released) == "released", f"Cancel {u} was answered with {kind(released)}")
    expect(
        expect_seat(wire.book(late), late) == number, f"the freed seat {number} did not go to the next Book"
    )
