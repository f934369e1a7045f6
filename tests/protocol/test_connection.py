"""The server's connection core with bytes only: every chunking, trailing bytes, errors, the end, the bounds."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from seatlab.protocol import seat_pb2
from seatlab.protocol.codec import MAX_FRAME, encode_varint, frame
from seatlab.protocol.connection import LINGER_BYTES, MAX_UNREAD, Batch, ServerConnection
from seatlab.protocol.messages import book_request, parse_response

PAYLOADS = [book_request(1, "123e4567-e89b-12d3-a456-426614174000")[1:], b"", b"x" * 200, b"\x08\x07"]
STREAM = b"".join(frame(p) for p in PAYLOADS)


def serve(chunks: list[bytes], limit: int = 32) -> tuple[list[bytes], list[Batch]]:
    """Drive a ServerConnection as a backend does: after each read, take batches until one is empty."""
    conn = ServerConnection()
    served: list[bytes] = []
    batches: list[Batch] = []
    for chunk in chunks:
        if not chunk:
            continue  # b"" is the end of the stream: a backend never reads an empty chunk otherwise
        conn.receive_data(chunk)
        while True:
            batch = conn.next_batch(limit)
            batches.append(batch)
            served += batch.payloads
            if batch.close or not batch.more:
                break
        if batches[-1].close:
            break
    return served, batches


def test_whole_stream_in_one_read() -> None:
    served, batches = serve([STREAM])
    assert served == PAYLOADS
    assert batches[0] == Batch(PAYLOADS, b"", False, False)


def test_one_byte_at_a_time() -> None:
    served, batches = serve([STREAM[i : i + 1] for i in range(len(STREAM))])
    assert served == PAYLOADS
    assert all(len(b.payloads) <= 1 and not b.error and not b.close for b in batches)


def test_every_split_into_two_and_three_reads() -> None:
    n = len(STREAM)
    for i in range(n + 1):
        assert serve([STREAM[:i], STREAM[i:]])[0] == PAYLOADS, i
    for i, j in itertools.combinations(range(0, n + 1, 3), 2):
        assert serve([STREAM[:i], STREAM[i:j], STREAM[j:]])[0] == PAYLOADS, (i, j)


@given(st.lists(st.binary(max_size=300), max_size=12), st.lists(st.integers(1, 80), min_size=1))
def test_any_chunking_of_any_frames(payloads: list[bytes], sizes: list[int]) -> None:
    stream = b"".join(frame(p) for p in payloads)
    chunks = []
    pos = 0
    for size in itertools.cycle(sizes):
        if pos >= len(stream):
            break
        chunks.append(stream[pos : pos + size])
        pos += size
    assert serve(chunks)[0] == payloads


def test_trailing_partial_frame_waits_and_completes() -> None:
    partial = frame(b"world!")
    conn = ServerConnection()
    conn.receive_data(STREAM + partial[:3])
    assert conn.next_batch().payloads == PAYLOADS
    assert conn.next_batch() == Batch([], b"", False, False)  # wait for data
    assert conn.buffered == 3
    conn.receive_data(partial[3:])
    assert conn.next_batch().payloads == [b"world!"]


def test_single_frame_fast_path_keeps_order_with_a_second_read() -> None:
    one, two = frame(b"first"), frame(b"second")
    conn = ServerConnection()
    conn.receive_data(one)  # exactly one frame: held apart from the decoder
    assert conn.buffered == len(one)
    conn.receive_data(two)  # arrives before the first was served
    assert conn.next_batch().payloads == [b"first", b"second"]


def test_feed_hands_out_one_whole_frame_and_leaves_the_connection_empty() -> None:
    conn = ServerConnection()
    assert conn.feed(frame(b"first")) == Batch([b"first"], b"", False, False)
    assert conn.buffered == 0
    assert conn.next_batch() == Batch([], b"", False, False)  # nothing left to serve
    assert conn.feed(frame(b"")) == Batch([b""], b"", False, False)  # an empty payload is a whole frame too


def _twin(held: bytes, eof: bool = False) -> ServerConnection:
    conn = ServerConnection()
    if held:
        conn.receive_data(held)
    if eof:
        conn.receive_data(b"")
    return conn


@pytest.mark.parametrize(
    ("held", "data", "limit"),
    [
        (b"", frame(b"a") + frame(b"b"), 8),  # two frames
        (b"", frame(b"a") + frame(b"b"), 1),  # two frames, one per turn: more
        (b"", frame(b"abc")[:-1], 8),  # a partial frame
        (b"", frame(b"abc") + b"\x05", 8),  # a frame and the start of the next
        (b"", frame(b"x" * 200), 8),  # a two-byte length: the decoder's
        (frame(b"one")[:2], frame(b"two"), 8),  # behind a partial frame in the decoder
        (frame(b"one"), frame(b"two"), 8),  # behind a single frame not yet served
        (b"", b"", 8),  # the end of the stream
        (encode_varint(MAX_FRAME + 1), frame(b"late"), 8),  # after a framing error
    ],
)
def test_feed_is_receive_data_then_next_batch(held: bytes, data: bytes, limit: int) -> None:
    fed, twin = _twin(held), _twin(held)
    twin.receive_data(data)
    assert fed.feed(data, limit) == twin.next_batch(limit)
    assert (fed.buffered, fed.eof, fed.failed) == (twin.buffered, twin.eof, twin.failed)
    assert fed.next_batch(limit) == twin.next_batch(limit)


def test_feed_after_the_end_of_the_stream_takes_no_fast_path() -> None:
    ended = _twin(b"", eof=True)
    assert ended.feed(frame(b"late")).close


@pytest.mark.parametrize(
    ("prefix", "code"),
    [
        (encode_varint(MAX_FRAME + 1), seat_pb2.Error.FRAME_TOO_LARGE),
        (b"\xff\xff\xff\xff", seat_pb2.Error.FRAME_TOO_LARGE),
        (b"\x80\x80\x80\x80\x80", seat_pb2.Error.BAD_FRAME),
    ],
)
def test_framing_error_after_frames_then_nothing_more(prefix: bytes, code: int) -> None:
    for chunks in ([STREAM + prefix + b"junk"], [bytes([b]) for b in STREAM + prefix]):
        served, batches = serve(chunks)
        assert served == PAYLOADS
        last = batches[-1]
        assert last.close and not last.more
        error = parse_response(last.error[1:])
        assert (error.id, error.error.code) == (0, code) and error.error.message


def test_after_a_framing_error_bytes_are_discarded_and_counted() -> None:
    conn = ServerConnection()
    conn.receive_data(encode_varint(MAX_FRAME + 1) + b"abc")
    assert conn.next_batch().error
    assert conn.failed and conn.wants_read  # the lingering close keeps reading
    conn.receive_data(b"x" * 1000)
    assert conn.discarded == 6 + 1000 and not conn.linger_over  # the bad prefix and what followed it
    assert conn.next_batch() == Batch([], b"", True, False)
    conn.receive_data(b"x" * LINGER_BYTES)
    assert conn.linger_over


def test_end_of_stream_answers_what_was_sent_then_closes() -> None:
    conn = ServerConnection()
    conn.receive_data(STREAM + frame(b"cut")[:2])
    conn.receive_data(b"")
    assert conn.eof
    assert conn.next_batch() == Batch(PAYLOADS, b"", True, False)  # the partial frame can never complete


def test_end_of_stream_after_a_fast_path_read() -> None:
    conn = ServerConnection()
    conn.receive_data(frame(b"one"))
    conn.receive_data(b"")
    assert conn.next_batch() == Batch([b"one"], b"", True, False)


def test_end_of_stream_with_nothing_left() -> None:
    conn = ServerConnection()
    conn.receive_data(b"")
    assert conn.next_batch() == Batch([], b"", True, False)


def test_turn_limit_leaves_the_rest_for_the_next_turn() -> None:
    conn = ServerConnection()
    conn.receive_data(frame(b"r") * 10)
    assert conn.next_batch(4) == Batch([b"r"] * 4, b"", False, True)
    assert conn.next_batch(4) == Batch([b"r"] * 4, b"", False, True)
    assert conn.next_batch(4) == Batch([b"r"] * 2, b"", False, False)


def test_reading_pauses_past_the_bound_and_resumes_below() -> None:
    conn = ServerConnection()
    stream = frame(b"p" * 100) * (MAX_UNREAD // 100 + 10)
    conn.receive_data(stream)
    assert conn.buffered == len(stream) > MAX_UNREAD and not conn.wants_read
    while conn.buffered > MAX_UNREAD:
        conn.next_batch(8)
    assert conn.wants_read


def test_take_all_hands_out_every_whole_request_then_serves_nothing() -> None:
    conn = ServerConnection()
    conn.receive_data(frame(b"a") * 50 + frame(b"b")[:1])
    assert conn.take_all() == [b"a"] * 50
    conn.receive_data(frame(b"c"))
    assert conn.next_batch() == Batch([], b"", True, False)
