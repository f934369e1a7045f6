"""Client-side wire helpers: pre-encoded request pieces and a fast reader of answers.

Requests are built from two pre-encoded pieces: a per-connection prefix (the
frame length and the ``id`` field) and a per-uuid body (``book`` or ``cancel``
with its uuid), so sending costs one bytes concatenation. A test checks
``prefix + book_body(u)`` against ``messages.book_request``. Answers are read
by hand for the hot kinds (Seat, SoldOut, Released) when their bytes have the
exact shape proto3 gives them; anything else goes through protobuf.
"""

from __future__ import annotations

from typing import Any

from google.protobuf.message import DecodeError

from seatlab.protocol.codec import decode_varint, encode, encode_varint
from seatlab.protocol.messages import Request, parse_response

SEAT = 1
SOLD_OUT = 2
RELEASED = 3
ERROR = 4
STATS = 5
CANCEL_ERROR = 6
"""Kind recorded for an Error answer to a Cancel (``ERROR`` is an Error answer to a Book)."""

ANSWER_COUNTS = ("all", "book", "seat", "sold_out", "released", "error")
"""The answer counts a run keeps (the window's, and each interval's of the timeline), in this order."""


def book_mask(kinds: Any) -> Any:
    """Which of these recorded kinds (a numpy array) answered a Book: Seat, SoldOut or its Error."""
    return (kinds == SEAT) | (kinds == SOLD_OUT) | (kinds == ERROR)


def answer_masks(kinds: Any) -> dict[str, Any]:
    """One boolean mask per count of ``ANSWER_COUNTS`` over these recorded kinds (a numpy array)."""
    import numpy as np

    return {
        "all": np.ones(len(kinds), dtype=bool),
        "book": book_mask(kinds),
        "seat": kinds == SEAT,
        "sold_out": kinds == SOLD_OUT,
        "released": kinds == RELEASED,
        "error": (kinds == ERROR) | (kinds == CANCEL_ERROR),
    }


_UUID_LEN = 36
_BODY_LEN = 4 + _UUID_LEN  # tag, length, Book/Cancel{uuid} tag, uuid length, uuid


def request_prefix(request_id: int) -> bytes:
    """Frame length and ``id`` field for a Book or Cancel body built by ``book_body``/``cancel_body``."""
    id_field = b"\x08" + encode_varint(request_id) if request_id else b""
    return encode_varint(len(id_field) + _BODY_LEN) + id_field


def book_body(uuid: str) -> bytes:
    """The ``book: Book{uuid}`` part of a Request; ``uuid`` is canonical (36 ASCII characters)."""
    u = uuid.encode("ascii")
    if len(u) != _UUID_LEN:
        raise ValueError(f"uuid {uuid!r} is not 36 characters")
    return b"\x12\x26\x0a\x24" + u


def cancel_body(uuid: str) -> bytes:
    """The ``cancel: Cancel{uuid}`` part of a Request."""
    u = uuid.encode("ascii")
    if len(u) != _UUID_LEN:
        raise ValueError(f"uuid {uuid!r} is not 36 characters")
    return b"\x1a\x26\x0a\x24" + u


def stats_request(request_id: int) -> bytes:
    """Frame of ``Request{id, stats: Stats{}}``."""
    request = Request(id=request_id)
    request.stats.SetInParent()
    return encode(request)


def read_answer(p: bytes) -> tuple[int, int, int, object]:
    """(kind, id, a, b) of a Response payload; raises ValueError if it is not one.

    seat: a=number, b=uuid bytes; sold_out: a=capacity; released: a=number;
    error: a=code, b=message; stats: a=capacity, b=booked.
    """
    try:
        n = len(p)
        i = 0
        rid = 0
        if n and p[0] == 0x08:
            rid = p[1]
            if rid < 0x80:  # one- and two-byte ids read inline: a call less per answer
                i = 2
            elif p[2] < 0x80:
                rid, i = (rid & 0x7F) | (p[2] << 7), 3
            else:
                rid, i = decode_varint(p, 1)
        if i < n:
            tag = p[i]
            if p[i + 1] >= 0x80:
                pass  # a long field: not one of the hot shapes
            elif tag == 0x12 and p[i + 2] == 0x08:  # seat: 08 number 12 len uuid
                end = i + 2 + p[i + 1]
                number = p[i + 3]
                if number < 0x80:
                    j = i + 4
                else:
                    number, j = decode_varint(p, i + 3)
                if end == n and p[j] == 0x12 and j + 2 + p[j + 1] == n:
                    return SEAT, rid, number, p[j + 2 :]
            elif tag == 0x1A:  # sold_out
                if p[i + 1] == 0 and i + 2 == n:
                    return SOLD_OUT, rid, 0, None
                if p[i + 2] == 0x08:
                    capacity, j = decode_varint(p, i + 3)
                    if j == n == i + 2 + p[i + 1]:
                        return SOLD_OUT, rid, capacity, None
            elif tag == 0x22 and p[i + 2] == 0x08:  # released
                number, j = decode_varint(p, i + 3)
                if j == n == i + 2 + p[i + 1]:
                    return RELEASED, rid, number, None
    except (IndexError, ValueError):  # cut short, or a varint past 64 bits: protobuf will say which
        pass
    return _read_slow(p)


def _read_slow(p: bytes) -> tuple[int, int, int, object]:
    try:
        r = parse_response(p)
    except DecodeError as exc:
        raise ValueError(f"not a Response message: {exc}") from exc
    which = r.WhichOneof("result")
    if which == "seat":
        return SEAT, r.id, r.seat.number, r.seat.uuid.encode("ascii", "replace")
    if which == "sold_out":
        return SOLD_OUT, r.id, r.sold_out.capacity, None
    if which == "released":
        return RELEASED, r.id, r.released.number, None
    if which == "error":
        return ERROR, r.id, int(r.error.code), r.error.message
    if which == "stats":
        return STATS, r.id, r.stats.capacity, r.stats.booked
    raise ValueError(f"Response {r.id} has no result set")
