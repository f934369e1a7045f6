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
from seatlab.protocol.codec import encode, encode_varint, frame

_BYTE = [bytes((i,)) for i in range(0x80)]

Request = seat_pb2.Request
Response = seat_pb2.Response
ErrorCode = seat_pb2.Error.Code

_UUID_PATTERN = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
_CANONICAL_UUID = re.compile(_UUID_PATTERN)
# Request.id (field 1, varint), then Request.book (field 2, 38 bytes) holding Book.uuid (field 1, 36 bytes)
_PLAIN_BOOK = re.compile(
    rb"(?:\x08([\x80-\xff]{0,8}[\x00-\x7f]))?\x12\x26\x0a\x24(" + _UUID_PATTERN.encode() + rb")", re.DOTALL
)


def canonical_uuid(text: str) -> str | None:
    """The uuid in lower case if ``text`` is canonical 8-4-4-4-12 hex, else None."""
    if len(text) != 36 or _CANONICAL_UUID.fullmatch(text) is None:
        return None
    return text.lower()


def _id_field(request_id: int) -> bytes:
    # proto3 leaves a zero scalar out of the encoding
    return b"\x08" + encode_varint(request_id) if request_id else b""


def seat_frame(request_id: int, number: int, uuid: str) -> bytes:
    """Frame of ``Response{id, seat: Seat{number, uuid}}``; uuid is ASCII."""
    u = uuid.encode("ascii")
    inner = b"\x08" + encode_varint(number) + b"\x12" + encode_varint(len(u)) + u
    body = (b"\x08" + encode_varint(request_id) if request_id else b"") + b"\x12" + encode_varint(len(inner)) + inner
    if len(body) < 0x80:
        return _BYTE[len(body)] + body
    return frame(body)


def fast_book(payload: bytes) -> tuple[int, str] | None:
    """(id, canonical lower-case uuid) if ``payload`` is the plain encoding of a Book request.

    Recognizes only ``[08 <id varint of at most 9 bytes>] 12 26 0a 24 <36
    uuid bytes>``, the encoding every protobuf library produces for
    ``Request{id, book{uuid}}`` with a canonical uuid; anything else returns
    None and takes the general protobuf path, so this never accepts what
    protobuf would read differently.
    """
    match = _PLAIN_BOOK.fullmatch(payload)
    if match is None:
        return None
    id_bytes, raw = match.groups()
    n = len(id_bytes) if id_bytes else 0
    if n == 0:
        rid = 0
    elif n == 1:
        rid = id_bytes[0]
    elif n == 2:
        rid = (id_bytes[0] & 0x7F) | id_bytes[1] << 7
    else:
        rid = 0
        shift = 0
        for byte in id_bytes:
            rid |= (byte & 0x7F) << shift
            shift += 7
    return rid, raw.decode("ascii").lower()


def sold_out_frame(request_id: int, capacity: int) -> bytes:
    """Frame of ``Response{id, sold_out: SoldOut{capacity}}``."""
    inner = b"\x08" + encode_varint(capacity) if capacity else b""
    return frame(_id_field(request_id) + b"\x1a" + encode_varint(len(inner)) + inner)


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
    return frame(_id_field(request_id) + b"\x12" + encode_varint(len(inner)) + inner)


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
