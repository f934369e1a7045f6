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

Request = seat_pb2.Request
Response = seat_pb2.Response
ErrorCode = seat_pb2.Error.Code

_CANONICAL_UUID = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
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
    return frame(_id_field(request_id) + b"\x12" + encode_varint(len(inner)) + inner)


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
