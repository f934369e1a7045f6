"""Hand-encoded hot messages must equal protobuf's own encoding; uuids are canonical."""

from __future__ import annotations

import uuid as uuidlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from seatlab.protocol import seat_pb2
from seatlab.protocol.codec import encode
from seatlab.protocol.messages import (
    book_request,
    canonical_uuid,
    error_frame,
    fast_book,
    fast_cancel,
    id_field,
    id_of,
    released_answer,
    seat_answer,
    seat_frame,
    sold_out_frame,
)

ids = st.integers(min_value=0, max_value=2**64 - 1)
u32 = st.integers(min_value=0, max_value=2**32 - 1)
uuids = st.uuids().map(str)


@given(ids, st.integers(min_value=1, max_value=2**32 - 1), uuids)
def test_seat_frame_is_protobufs_encoding(rid: int, number: int, uuid: str) -> None:
    expected = seat_pb2.Response(id=rid, seat=seat_pb2.Seat(number=number, uuid=uuid))
    assert seat_frame(rid, number, uuid) == encode(expected)


@given(ids, u32)
def test_sold_out_frame_is_protobufs_encoding(rid: int, capacity: int) -> None:
    expected = seat_pb2.Response(id=rid, sold_out=seat_pb2.SoldOut(capacity=capacity))
    assert sold_out_frame(rid, capacity) == encode(expected)


@given(ids, uuids)
def test_book_request_is_protobufs_encoding(rid: int, uuid: str) -> None:
    expected = seat_pb2.Request(id=rid, book=seat_pb2.Book(uuid=uuid))
    assert book_request(rid, uuid) == encode(expected)


def test_error_frame() -> None:
    frame = error_frame(3, seat_pb2.Error.NOT_FOUND, "no such uuid")
    response = seat_pb2.Response()
    response.ParseFromString(frame[1:])
    assert response.id == 3
    assert response.error.code == seat_pb2.Error.NOT_FOUND
    assert response.error.message == "no such uuid"


@given(st.uuids())
def test_canonical_uuid_accepts_either_case_and_lowers(u: uuidlib.UUID) -> None:
    text = str(u)
    assert canonical_uuid(text) == text
    assert canonical_uuid(text.upper()) == text


@pytest.mark.parametrize(
    "text",
    [
        "",
        "123e4567e89b12d3a456426614174000",  # no hyphens
        "{123e4567-e89b-12d3-a456-426614174000}",
        "urn:uuid:123e4567-e89b-12d3-a456-426614174000",
        "123e4567-e89b-12d3-a456-426614174000\n",
        " 123e4567-e89b-12d3-a456-426614174000",
        "123e4567-e89b-12d3-a456-42661417400g",
        "123e4567-e89b-12d3-a456_426614174000",
        "123e4567-e89b-12d3-a4564-26614174000",
        "１２３e4567-e89b-12d3-a456-426614174000",  # fullwidth digits are not hex
    ],
)
def test_canonical_uuid_rejects(text: str) -> None:
    assert canonical_uuid(text) is None


@given(ids, uuids)
def test_fast_book_agrees_with_protobuf_on_plain_books(rid: int, uuid: str) -> None:
    payload = book_request(rid, uuid.upper())[1:]
    got = fast_book(payload)
    if rid < 2**63:
        assert got is not None
        field, lowered = got
        assert (id_of(field), lowered) == (rid, uuid.encode())
        assert field == id_field(rid)
    else:  # ids of ten varint bytes are left to protobuf
        assert got is None


@given(st.binary(max_size=60))
def test_fast_book_never_accepts_what_protobuf_reads_differently(payload: bytes) -> None:
    got = fast_book(payload)
    if got is None:
        return
    parsed = seat_pb2.Request()
    parsed.ParseFromString(payload)
    assert parsed.WhichOneof("op") == "book"
    field, uuid = got
    assert (parsed.id, parsed.book.uuid.lower()) == (id_of(field), uuid.decode())
    assert field == id_field(parsed.id), "the echoed id field must be protobuf's own encoding"


@pytest.mark.parametrize(
    "payload",
    [
        seat_pb2.Request(id=1, book=seat_pb2.Book(uuid="x" * 36)).SerializeToString(),  # not hex
        seat_pb2.Request(id=1, cancel=seat_pb2.Cancel(uuid=str(uuidlib.UUID(int=5)))).SerializeToString(),
        b"\x10\x01" + seat_pb2.Request(book=seat_pb2.Book(uuid=str(uuidlib.UUID(int=5)))).SerializeToString(),
        b"\x08\x80\x00"
        + seat_pb2.Request(book=seat_pb2.Book(uuid=str(uuidlib.UUID(int=5)))).SerializeToString(),
        b"\x08"
        + b"\xff" * 10
        + b"\x01"
        + seat_pb2.Request(book=seat_pb2.Book(uuid=str(uuidlib.UUID(int=5)))).SerializeToString(),
    ],
)
def test_fast_book_leaves_the_rest_to_protobuf(payload: bytes) -> None:
    assert fast_book(payload) is None


@given(ids, st.integers(min_value=1, max_value=2**32 - 1), st.uuids())
def test_seat_answer_from_a_plain_book_is_protobufs_encoding(rid: int, number: int, u: uuidlib.UUID) -> None:
    got = fast_book(book_request(rid, str(u).upper())[1:])
    if got is None:  # ids of ten varint bytes take the protobuf path
        return
    field, uuid = got
    expected = seat_pb2.Response(id=rid, seat=seat_pb2.Seat(number=number, uuid=str(u)))
    assert seat_answer(field, number, uuid) == encode(expected)


@given(ids, st.integers(min_value=1, max_value=2**32 - 1), st.uuids())
def test_fast_cancel_and_released_answer_are_protobufs_encoding(
    rid: int, number: int, u: uuidlib.UUID
) -> None:
    request = seat_pb2.Request(id=rid, cancel=seat_pb2.Cancel(uuid=str(u).upper())).SerializeToString()
    got = fast_cancel(request)
    if rid >= 2**63:  # ids of ten varint bytes are left to protobuf
        assert got is None
        return
    assert got is not None
    field, uuid = got
    assert (id_of(field), uuid) == (rid, str(u).encode())
    assert fast_book(request) is None
    expected = seat_pb2.Response(id=rid, released=seat_pb2.Released(number=number))
    assert released_answer(field, number) == encode(expected)


@given(st.binary(max_size=60))
def test_fast_cancel_never_accepts_what_protobuf_reads_differently(payload: bytes) -> None:
    got = fast_cancel(payload)
    if got is None:
        return
    parsed = seat_pb2.Request()
    parsed.ParseFromString(payload)
    assert parsed.WhichOneof("op") == "cancel"
    assert (parsed.id, parsed.cancel.uuid.lower()) == (id_of(got[0]), got[1].decode())
