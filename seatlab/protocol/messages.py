"""Building and reading seatlab messages, without I/O.

The hot replies (``Seat`` and ``SoldOut``) are encoded by hand: building a
protobuf object per request costs more than the rest of the request path,
and proto3's encoding of these two small messages is fixed. A test checks
the bytes against protobuf's own ``SerializeToString`` for arbitrary inputs,
so the hand encoding cannot drift from ``seat.proto``.
"""

from __future__ import annotations

import re

from seatlab.protocol import seat_pb2
from seatlab.protocol.codec import decode_varint, encode, encode_varint, frame

_BYTE = [bytes((i,)) for i in range(0x80)]

Request = seat_pb2.Request
Response = seat_pb2.Response
ErrorCode = seat_pb2.Error.Code

_UUID_PATTERN = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
_CANONICAL_UUID = re.compile(_UUID_PATTERN)
# A plain Book (Cancel) request: [Request.id (field 1) as a minimal varint], then Request.book
# (field 2; Request.cancel, field 3) of 38 bytes holding its uuid (field 1) of 36 bytes. Group 1 is
# the id field exactly as the answer echoes it (absent for id 0, which proto3 leaves out); group 2
# the uuid.
_ID_FIELD = rb"(?:(\x08[\x80-\xff]{0,8}[\x01-\x7f])|\x08\x00)?"
# Group 2 is the op's field tag: BOOK_TAG or CANCEL_TAG; one pattern for both, one match per request.
# The uuid's 36 bytes are only taken here (a regex's hex classes cost ~10% of a request); their
# shape is checked after, with one translate: UUID_CLASSES maps a lower-case hex digit to "h", "-"
# to itself and any other byte to "x", so a canonical lower-case uuid becomes exactly UUID_SHAPE.
# Upper-case hex is canonical too, but takes the general path (protobuf, ``canonical_uuid``, which
# lowers it): the plain path's uuid is then already the stored and echoed form, no ``lower()`` per
# request (every client this project knows sends lower case).
_PLAIN_REQUEST = re.compile(_ID_FIELD + rb"([\x12\x1a])\x26\x0a\x24(.{36})", re.DOTALL)
UUID_CLASSES = bytes(
    ord("h") if chr(i) in "0123456789abcdef" else ord("-") if i == ord("-") else ord("x") for i in range(256)
)
UUID_SHAPE = b"hhhhhhhh-hhhh-hhhh-hhhh-hhhhhhhhhhhh"
BOOK_TAG = b"\x12"
"""``Request.book``'s field tag (field 2, length-delimited): group 2 of a ``match_plain`` match."""
CANCEL_TAG = b"\x1a"
"""``Request.cancel``'s field tag (field 3, length-delimited)."""
match_plain = _PLAIN_REQUEST.fullmatch
"""``match_plain(payload)``: a match if ``payload`` has the plain shape of a Book or a Cancel, else None.

Its ``groups()`` are (the id field as the answer echoes it, None for id 0; ``BOOK_TAG`` or
``CANCEL_TAG``; 36 bytes in the uuid's place). It is a plain request only if those bytes are a
canonical lower-case uuid: ``uuid.translate(UUID_CLASSES) == UUID_SHAPE``. The
service's hot path calls the compiled pattern's own method and ``translate``: two C calls per
request, no Python frame (``fast_book`` says what it recognizes)."""
_SEAT_HEADS = [b""]  # number -> the bytes of a Seat answer between the id field and the uuid


def _seat_head(number: int) -> bytes:
    inner = b"\x08" + encode_varint(number) + b"\x12\x24"  # Seat.number, then Seat.uuid of 36 bytes
    return b"\x12" + encode_varint(len(inner) + 36) + inner  # Response.seat


_SEAT_HEADS.extend(_seat_head(n) for n in range(1, 1 << 14))


def _released_tail(number: int) -> bytes:
    inner = b"\x08" + encode_varint(number)  # Released.number
    return b"\x22" + _BYTE[len(inner)] + inner  # Response.released


_RELEASED_TAILS = [_released_tail(n) for n in range(1 << 14)]
"""number -> the bytes of a Released answer after the id field (the Cancel's hot path: no call)."""


def canonical_uuid(text: str) -> str | None:
    """The uuid in lower case if ``text`` is canonical 8-4-4-4-12 hex, else None."""
    if len(text) != 36 or _CANONICAL_UUID.fullmatch(text) is None:
        return None
    return text.lower()


def id_field(request_id: int) -> bytes:
    """The encoded ``Response.id`` field; empty for 0, which proto3 leaves out."""
    return b"\x08" + encode_varint(request_id) if request_id else b""


def id_of(field: bytes) -> int:
    """The request id held by an encoded id field (the inverse of ``id_field``)."""
    return decode_varint(field, 1)[0] if field else 0


def fast_book(payload: bytes) -> tuple[bytes, bytes] | None:
    """(id field, lower-case uuid) if ``payload`` is the plain encoding of a Book request.

    Recognizes only ``[08 <minimal id varint of at most 9 bytes>] 12 26 0a
    24 <36 canonical uuid bytes>``: the encoding every protobuf library
    produces for ``Request{id, book{uuid}}``. Anything else returns None and
    takes the general protobuf path, so this never accepts what protobuf
    would read differently. The id comes back as the encoded field the
    answer echoes (see ``id_field``), so the hot path never decodes it.
    """
    match = match_plain(payload)
    if match is None or match.group(2) != BOOK_TAG:
        return None
    field, _, raw = match.groups()
    if raw.translate(UUID_CLASSES) != UUID_SHAPE:
        return None
    return field or b"", raw


def fast_cancel(payload: bytes) -> tuple[bytes, bytes] | None:
    """(id field, lower-case uuid) if ``payload`` is the plain encoding of a Cancel request.

    The Cancel twin of ``fast_book``: ``[08 <id>] 1a 26 0a 24 <36 uuid bytes>``.
    """
    match = match_plain(payload)
    if match is None or match.group(2) != CANCEL_TAG:
        return None
    field, _, raw = match.groups()
    if raw.translate(UUID_CLASSES) != UUID_SHAPE:
        return None
    return field or b"", raw


def released_answer(field: bytes, number: int) -> bytes:
    """Frame of ``Response{id, released: Released{number}}`` from an id field."""
    body = field + (_RELEASED_TAILS[number] if number < len(_RELEASED_TAILS) else _released_tail(number))
    return _BYTE[len(body)] + body


def seat_answer(field: bytes, number: int, uuid: bytes) -> bytes:
    """Frame of ``Response{id, seat: Seat{number, uuid}}`` from an id field and a 36-byte uuid."""
    head = _SEAT_HEADS[number] if number < len(_SEAT_HEADS) else _seat_head(number)
    body = field + head + uuid
    return _BYTE[len(body)] + body  # at most 10 + 10 + 36 bytes: a one-byte length


def seat_frame(request_id: int, number: int, uuid: str) -> bytes:
    """Frame of ``Response{id, seat: Seat{number, uuid}}``."""
    u = uuid.encode("ascii")
    if len(u) == 36:
        return seat_answer(id_field(request_id), number, u)
    response = Response(id=request_id)
    response.seat.number = number
    response.seat.uuid = uuid
    return encode(response)


def sold_out_answer(field: bytes, capacity: int) -> bytes:
    """Frame of ``Response{id, sold_out: SoldOut{capacity}}`` from an id field."""
    inner = b"\x08" + encode_varint(capacity) if capacity else b""
    body = field + b"\x1a" + _BYTE[len(inner)] + inner
    return _BYTE[len(body)] + body


def sold_out_frame(request_id: int, capacity: int) -> bytes:
    """Frame of ``Response{id, sold_out: SoldOut{capacity}}``."""
    return sold_out_answer(id_field(request_id), capacity)


def error_frame(request_id: int, code: int, message: str) -> bytes:
    """Frame of ``Response{id, error: Error{code, message}}``."""
    response = Response(id=request_id)
    response.error.code = code  # type: ignore[assignment]
    response.error.message = message
    return encode(response)


def book_request(request_id: int, uuid: str) -> bytes:
    """Frame of ``Request{id, book: Book{uuid}}``; what clients send most."""
    u = uuid.encode("ascii")
    inner = b"\x0a" + encode_varint(len(u)) + u
    return frame(id_field(request_id) + b"\x12" + encode_varint(len(inner)) + inner)


def parse_request(payload: bytes) -> Request:
    """Parse a frame payload as a Request; raises ``DecodeError`` if it is not one."""
    request = Request()
    request.ParseFromString(payload)
    return request


def parse_response(payload: bytes) -> Response:
    """Parse a frame payload as a Response; raises ``DecodeError`` if it is not one."""
    response = Response()
    response.ParseFromString(payload)
    return response
