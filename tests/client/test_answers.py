"""The load generator's pre-encoded requests and fast answer reader agree with protobuf."""

from __future__ import annotations

import uuid as uuidlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from seatlab.client.answers import (
    ERROR,
    RELEASED,
    SEAT,
    SOLD_OUT,
    STATS,
    book_body,
    cancel_body,
    read_answer,
    request_prefix,
    stats_request,
)  # fmt: skip
from seatlab.protocol import seat_pb2
from seatlab.protocol.codec import FrameDecoder, encode
from seatlab.protocol.messages import ErrorCode, book_request, error_frame, seat_frame, sold_out_frame

uuids = st.uuids().map(str)
ids = st.integers(min_value=0, max_value=2**64 - 1)


def _payload(frame: bytes) -> bytes:
    decoder = FrameDecoder()
    decoder.feed(frame)
    payload = decoder.next_frame()
    assert payload is not None and decoder.buffered == 0
    return payload


@given(ids, uuids)
def test_book_and_cancel_frames_match_protobuf(rid: int, u: str) -> None:
    assert request_prefix(rid) + book_body(u) == book_request(rid, u)
    cancel = seat_pb2.Request(id=rid)
    cancel.cancel.uuid = u
    assert request_prefix(rid) + cancel_body(u) == encode(cancel)


def test_stats_request_parses() -> None:
    r = seat_pb2.Request()
    r.ParseFromString(_payload(stats_request(7)))
    assert r.id == 7 and r.WhichOneof("op") == "stats"


@given(ids, st.integers(min_value=1, max_value=2**32 - 1), uuids)
def test_read_seat(rid: int, number: int, u: str) -> None:
    assert read_answer(_payload(seat_frame(rid, number, u))) == (SEAT, rid, number, u.encode())


@given(ids, st.integers(min_value=0, max_value=2**32 - 1))
def test_read_sold_out_and_released(rid: int, n: int) -> None:
    assert read_answer(_payload(sold_out_frame(rid, n)))[:3] == (SOLD_OUT, rid, n)
    released = seat_pb2.Response(id=rid)
    released.released.number = n
    assert read_answer(_payload(encode(released)))[:3] == (RELEASED, rid, n)


def test_read_error_and_stats() -> None:
    kind, rid, code, message = read_answer(_payload(error_frame(3, ErrorCode.NOT_FOUND, "no such uuid")))
    assert (kind, rid, code, message) == (ERROR, 3, ErrorCode.NOT_FOUND, "no such uuid")
    stats = seat_pb2.Response(id=4)
    stats.stats.capacity = 50
    stats.stats.booked = 7
    assert read_answer(_payload(encode(stats))) == (STATS, 4, 50, 7)


def test_unusual_field_order_falls_back_to_protobuf() -> None:
    # seat before id: valid protobuf, not the hot shape
    u = str(uuidlib.uuid4())
    inner = b"\x08\x05\x12\x24" + u.encode()
    payload = b"\x12" + bytes([len(inner)]) + inner + b"\x08\x09"
    assert read_answer(payload) == (SEAT, 9, 5, u.encode())


@pytest.mark.parametrize("garbage", [b"\xff\xff\xff", b"\x12\x05\x08", b""])
def test_garbage_is_a_value_error(garbage: bytes) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - any ValueError: the message varies with the garbage
        read_answer(garbage)


def test_book_body_rejects_a_non_canonical_uuid() -> None:
    with pytest.raises(ValueError, match="36"):
        book_body("{not-a-uuid}")
