"""Hand-encoded hot messages must equal protobuf's own encoding; uuids are canonical."""

from __future__ import annotations

import uuid as uuidlib

import pytest
from hypothesis import given, settings
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
    got = fast_book(book_request(rid, uuid)[1:])
    if rid < 2**63:
        assert got is not None
        field, taken = got
        assert (id_of(field), taken) == (rid, uuid.encode())
        assert field == id_field(rid)
    else:  # ids of ten varint bytes are left to protobuf
        assert got is None
    if uuid.upper() != uuid:  # upper-case hex is canonical too, but left to protobuf (which lowers it)
        assert fast_book(book_request(rid, uuid.upper())[1:]) is None


def _mutate(data: bytes, edits: list[tuple[int, int, int]]) -> bytes:
    """Apply (kind, position, byte) edits: 0 replaces a byte, 1 inserts one, 2 deletes one, 3 truncates."""
    out = bytearray(data)
    for kind, pos, byte in edits:
        at = pos % (len(out) + 1)
        if kind == 0 and at < len(out):
            out[at] = byte
        elif kind == 1:
            out.insert(at, byte)
        elif kind == 2 and at < len(out):
            del out[at]
        elif kind == 3:
            del out[at:]
    return bytes(out)


_EDIT = st.tuples(st.integers(0, 3), st.integers(0, 63), st.integers(0, 255))
# a byte from the alphabet the payloads are made of, so a replaced uuid digit is often still hex
_CLOSE_BYTE = st.sampled_from(b"0123456789abcdefABCDEFgG-\x00\x08\x0a\x12\x1a\x24\x26\x80\xff")
_CLOSE_EDIT = st.tuples(st.integers(0, 3), st.integers(0, 63), _CLOSE_BYTE)


def _plain(op: str, rid: int, uuid: str) -> bytes:
    request = seat_pb2.Request(id=rid)
    getattr(request, op).uuid = uuid
    return request.SerializeToString()


mutated_requests = st.builds(
    lambda op, rid, u, upper, edits: _mutate(_plain(op, rid, u.upper() if upper else u), edits),
    st.sampled_from(["book", "cancel"]),
    st.one_of(st.integers(0, 300), ids),
    uuids,
    st.sampled_from([False, False, False, True]),  # upper case (the general path's) one time in four
    st.lists(st.one_of(_EDIT, _CLOSE_EDIT), max_size=3),
)
"""Valid Book and Cancel payloads with up to three byte edits: near misses of the fast paths."""


def _agrees_with_protobuf(payload: bytes, op: str, got: tuple[bytes, bytes]) -> None:
    parsed = seat_pb2.Request()
    parsed.ParseFromString(payload)  # what the fast path accepted must parse
    assert parsed.WhichOneof("op") == op
    field, uuid = got
    text = getattr(parsed, op).uuid
    assert canonical_uuid(text) == uuid.decode()
    assert (parsed.id, text.lower()) == (id_of(field), uuid.decode())
    assert field == id_field(parsed.id), "the echoed id field must be protobuf's own encoding"


@settings(max_examples=1000)
@given(mutated_requests)
def test_fast_paths_never_accept_what_protobuf_reads_differently(payload: bytes) -> None:
    for op, fast in (("book", fast_book), ("cancel", fast_cancel)):
        got = fast(payload)
        if got is not None:
            _agrees_with_protobuf(payload, op, got)


def test_mutated_requests_reach_both_outcomes() -> None:
    """The property above is only worth its examples if many are accepted and many refused."""
    accepted = refused = 0
    for payload in _examples(mutated_requests, 600):
        if fast_book(payload) is not None or fast_cancel(payload) is not None:
            accepted += 1
        else:
            refused += 1
    assert accepted > 100 and refused > 100, (accepted, refused)


def _examples(strategy: st.SearchStrategy[bytes], n: int) -> list[bytes]:
    out: list[bytes] = []

    @settings(max_examples=n, database=None, derandomize=True)
    @given(strategy)
    def collect(example: bytes) -> None:
        out.append(example)

    collect()
    return out


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
    got = fast_book(book_request(rid, str(u))[1:])
    if got is None:  # ids of ten varint bytes take the protobuf path
        return
    field, uuid = got
    expected = seat_pb2.Response(id=rid, seat=seat_pb2.Seat(number=number, uuid=str(u)))
    assert seat_answer(field, number, uuid) == encode(expected)


@given(ids, st.integers(min_value=1, max_value=2**32 - 1), st.uuids())
def test_fast_cancel_and_released_answer_are_protobufs_encoding(
    rid: int, number: int, u: uuidlib.UUID
) -> None:
    request = seat_pb2.Request(id=rid, cancel=seat_pb2.Cancel(uuid=str(u))).SerializeToString()
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


@pytest.mark.parametrize("number", [1, 127, 128, 300, (1 << 14) - 1, 1 << 14, (1 << 21) + 5])
@pytest.mark.parametrize("rid", [0, 1, 300])
def test_answers_from_the_tables_and_past_them_are_protobufs_encoding(rid: int, number: int) -> None:
    """Seat and Released answers are precomputed up to 2**14 - 1: both sides of that edge."""
    field = id_field(rid)
    uuid = str(uuidlib.UUID(int=number))
    assert released_answer(field, number) == encode(
        seat_pb2.Response(id=rid, released=seat_pb2.Released(number=number))
    )
    assert seat_answer(field, number, uuid.encode()) == encode(
        seat_pb2.Response(id=rid, seat=seat_pb2.Seat(number=number, uuid=uuid))
    )
