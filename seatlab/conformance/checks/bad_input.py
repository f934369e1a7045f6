"""Bad input: framing errors close with one Error, malformed requests get BAD_REQUEST and stay open.

After each, a new connection must still be served (protocol.md: "the server
keeps serving every other connection"). Framing checks apply to a
fixed-answer server too: it frames through the same rules.
"""

from __future__ import annotations

import time

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
from seatlab.protocol import seat_pb2
from seatlab.protocol.codec import encode_varint, frame
from seatlab.protocol.messages import ErrorCode, book_request, seat_frame


def expect_fixed_answer(response: seat_pb2.Response, what: str) -> None:
    """What a fixed-answer server may answer a correctly framed request with: its Seat, or BAD_REQUEST."""
    got = kind(response)
    expect(
        got == "seat" or (got == "error" and response.error.code == ErrorCode.BAD_REQUEST),
        f"a fixed-answer server answered {what} with {got}, neither its Seat nor Error{{BAD_REQUEST}}",
    )


def still_serves(ctx: Context) -> None:
    """A Book on a new connection is answered (a Seat, unless the server is fixed-answer or full)."""
    wire = ctx.connect()
    u = new_uuid()
    response = wire.book(u)
    if not ctx.fixed:
        got = kind(response)
        expect(got in ("seat", "sold_out"), f"after the bad input, a new connection's Book got {got}")
        if got == "seat":
            expect_seat(response, u)
    wire.close()


def _framing_error(ctx: Context, prefix: bytes, code: int, what: str) -> None:
    wire = ctx.connect()
    u = new_uuid()
    wire.send(book_request(3, u) + prefix)
    first = wire.receive("the answer to the whole frame before the bad length")
    if not ctx.fixed and kind(first) != "sold_out":
        expect_seat(first, u, rid=3)
    error = wire.receive(f"Error{{{seat_pb2.Error.Code.Name(code)}}} for {what}")
    expect_error(error, code, 0, what)
    expect(wire.at_eof(), f"the server did not close the connection after {what}")
    still_serves(ctx)


_FRAMING = [
    ("frame-too-large", encode_varint(65537), ErrorCode.FRAME_TOO_LARGE, "a length prefix of 65537"),
    ("frame-too-large-huge", b"\xff\xff\xff\xff", ErrorCode.FRAME_TOO_LARGE, "a length prefix ff ff ff ff"),
    ("bad-frame", b"\x80\x80\x80\x80\x80", ErrorCode.BAD_FRAME, "a fifth length byte that still continues"),
]


def _register_framing(name: str, prefix: bytes, code: int, what: str) -> None:
    @check(
        f"bad-input.{name}",
        f"{what} (not followed by its payload) is answered at once with Error{{"
        f"{seat_pb2.Error.Code.Name(code)}}}, id 0, then the connection closes",
        store=False,
    )
    def run(ctx: Context) -> None:
        _framing_error(ctx, prefix, code, what)


for _name, _prefix, _code, _what in _FRAMING:
    _register_framing(_name, _prefix, _code, _what)


@check(
    "bad-input.error-arrives-while-client-writes",
    "after a framing error the Error arrives even while the client keeps writing 1 MiB after the bad length",
    store=False,
)
def error_arrives_while_client_writes(ctx: Context) -> None:
    """The lingering close's purpose, seen from the client.

    On Linux over loopback a server that closes at once, unread bytes pending, still gets its
    Error through (the reset does not discard what the client has already received); over a
    real network, or on other kernels, it may not. So this fails a server that drops the
    Error or dies, and passes one that merely lacks the lingering close here.
    """
    wire = ctx.connect()
    flood = encode_varint(65537) + bytes(1 << 20)
    wire.note(f"sent     length prefix 65537, then up to {len(flood)} bytes of zeros without reading")
    wire.sock.setblocking(False)
    sent = 0
    last_progress = time.monotonic()
    while sent < len(flood) and time.monotonic() - last_progress < 0.5:
        try:
            sent += wire.sock.send(flood[sent : sent + 65536])
            last_progress = time.monotonic()
        except BlockingIOError:
            time.sleep(0.01)
        except OSError as exc:  # the server may close its side while we still write: fine
            wire.note(f"writing stopped after {sent} bytes: {exc}")
            break
    wire.sock.settimeout(ctx.timeout_s)
    error = wire.receive("Error{FRAME_TOO_LARGE} after writing on")
    expect_error(error, ErrorCode.FRAME_TOO_LARGE, 0, "a length prefix of 65537 followed by more bytes")
    still_serves(ctx)


def _bad_request(ctx: Context, payload: bytes, rid: int | None, what: str) -> None:
    wire = ctx.connect()
    wire.send(frame(payload))
    response = wire.receive(f"Error{{BAD_REQUEST}} for {what}")
    if ctx.fixed:  # calibrate answers it with its Seat without parsing; a parsing one says BAD_REQUEST
        expect_fixed_answer(response, what)
    else:
        expect_error(response, ErrorCode.BAD_REQUEST, rid, what)
    u = new_uuid()
    after = wire.book(u)  # the connection stays open
    if not ctx.fixed and kind(after) != "sold_out":
        expect_seat(after, u)
    still_serves(ctx)


_MALFORMED: list[tuple[str, bytes, int | None, str]] = [
    ("garbage", b"\xff\xff\xff", 0, "a frame of bytes that are not a protobuf message"),
    (
        "truncated-protobuf",
        book_request(4, new_uuid())[1:-5],
        0,
        "a Book whose uuid field runs past the frame",
    ),
    ("malformed-varint-field", b"\x08" + b"\xff" * 10 + b"\x01", 0, "a Request whose id varint is 11 bytes"),
    ("empty-request", b"", 0, "an empty frame (a Request with no op)"),
    ("no-op", seat_pb2.Request(id=7).SerializeToString(), 7, "a Request with id 7 and no op set"),
    ("response-message", seat_frame(1, 5, new_uuid())[1:], None, "a Response message sent to the server"),
]

for _name, _payload, _rid, _what in _MALFORMED:

    def _register_malformed(payload: bytes, rid: int | None, what: str, name: str) -> None:
        @check(
            f"bad-input.{name}",
            f"{what} is answered Error{{BAD_REQUEST}}"
            + ("" if rid is None else f" with id {rid}")
            + "; the connection stays open",
            store=False,
        )
        def run(ctx: Context) -> None:
            _bad_request(ctx, payload, rid, what)

    _register_malformed(_payload, _rid, _what, _name)


_BAD_UUIDS = {
    "not-a-uuid": "not-a-uuid",
    "braces": "{" + new_uuid() + "}",
    "urn": "urn:uuid:" + new_uuid(),
    "empty": "",
    "spaces": " " * 36,
    "newline": new_uuid() + "\n",
    "no-hyphens": new_uuid().replace("-", ""),
    "not-hex": "g" + new_uuid()[1:],
    "hyphen-misplaced": (lambda u: u[:7] + "-" + u[7] + u[9:])(new_uuid()),
}


def _register_bad_uuid(name: str, bad: str) -> None:
    @check(
        f"bad-input.bad-uuid-{name}",
        f"Book and Cancel of uuid {bad!r} are Error{{BAD_REQUEST}}, their ids echoed, nothing booked",
    )
    def run(ctx: Context) -> None:
        wire = ctx.connect()
        before = free_seats(wire, 1)
        request = seat_pb2.Request(id=9)
        request.book.uuid = bad
        expect_error(wire.request(request), ErrorCode.BAD_REQUEST, 9, f"Book of uuid {bad!r}")
        request = seat_pb2.Request(id=10)
        request.cancel.uuid = bad
        expect_error(wire.request(request), ErrorCode.BAD_REQUEST, 10, f"Cancel of uuid {bad!r}")
        _, booked = stats_of(wire)
        expect(booked == before, f"Stats says {booked} booked after a bad uuid; before: {before}")


for _name, _bad in _BAD_UUIDS.items():
    _register_bad_uuid(_name, _bad)


@check(
    "bad-input.client-leaves-mid-frame", "a client that closes inside a frame harms no one else", store=False
)
def client_leaves_mid_frame(ctx: Context) -> None:
    wire = ctx.connect()
    wire.send(book_request(1, new_uuid())[:10])
    wire.close()
    still_serves(ctx)


@check(
    "bad-input.client-leaves-mid-delay",
    "clients that close while their requests are in their --delay harm no one else",
    own_server=True,
    placeholders=("delay",),
    store=False,
)
def client_leaves_mid_delay(ctx: Context) -> None:
    server = ctx.start(Settings(delay_ms=200, threads=2))
    for _ in range(3):
        wire = ctx.connect(server)
        wire.send(book_request(1, new_uuid()) * 2)
        wire.close()
    ctx.host, ctx.port = server.host, server.port
    still_serves(ctx)
    time.sleep(0.5)  # the abandoned requests' delays are over: their answers go nowhere
    still_serves(ctx)
    expect(server.running, "the server exited after clients left during their requests' delay")
