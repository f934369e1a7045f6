"""The codec with bytes only: whole, one byte at a time, many frames per chunk, errors."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from seatlab.protocol import seat_pb2
from seatlab.protocol.codec import (
    MAX_FRAME,
    FrameDecoder,
    FrameError,
    decode_varint,
    encode,
    encode_varint,
    frame,
)

BAD_FRAME = seat_pb2.Error.BAD_FRAME
FRAME_TOO_LARGE = seat_pb2.Error.FRAME_TOO_LARGE


def drain(decoder: FrameDecoder) -> list[bytes]:
    out = []
    while (payload := decoder.next_frame()) is not None:
        out.append(payload)
    return out


def feed_in_chunks(stream: bytes, size: int) -> list[bytes]:
    decoder = FrameDecoder()
    out: list[bytes] = []
    for i in range(0, len(stream), size):
        decoder.feed(stream[i : i + size])
        out.extend(drain(decoder))
    assert decoder.buffered == 0
    return out


PAYLOADS = [b"", b"x", b"a" * 127, b"b" * 128, b"c" * 300, b"d" * 16384, b"e" * MAX_FRAME]


@pytest.mark.parametrize("chunk", [1, 2, 7, 128, 1 << 20])
def test_frames_survive_any_chunking(chunk: int) -> None:
    stream = b"".join(frame(p) for p in PAYLOADS)
    assert feed_in_chunks(stream, chunk) == PAYLOADS


@given(st.lists(st.binary(max_size=400), max_size=20), st.integers(min_value=1, max_value=64))
def test_roundtrip_property(payloads: list[bytes], chunk: int) -> None:
    stream = b"".join(frame(p) for p in payloads)
    assert feed_in_chunks(stream, chunk) == payloads


def test_trailing_partial_frame_waits_for_the_rest() -> None:
    decoder = FrameDecoder()
    whole = frame(b"hello")
    partial = frame(b"world!")
    decoder.feed(whole + partial[:3])
    assert drain(decoder) == [b"hello"]
    assert decoder.buffered == 3
    decoder.feed(partial[3:])
    assert drain(decoder) == [b"world!"]


def test_partial_length_varint_waits() -> None:
    decoder = FrameDecoder()
    stream = frame(b"z" * 300)  # two-byte length
    decoder.feed(stream[:1])
    assert decoder.next_frame() is None
    decoder.feed(stream[1:])
    assert decoder.next_frame() == b"z" * 300


def test_varint_matches_protobuf_delimited_encoding() -> None:
    from google.protobuf.internal.encoder import _VarintBytes

    for n in [0, 1, 127, 128, 300, 16383, 16384, MAX_FRAME, 2**32]:
        assert encode_varint(n) == _VarintBytes(n)


def test_limit_is_inclusive() -> None:
    decoder = FrameDecoder()
    decoder.feed(frame(b"\x00" * MAX_FRAME))
    assert decoder.next_frame() == b"\x00" * MAX_FRAME


def test_too_large_is_detected_from_the_prefix_alone() -> None:
    decoder = FrameDecoder()
    decoder.feed(encode_varint(MAX_FRAME + 1))  # no payload at all: never buffered
    with pytest.raises(FrameError) as err:
        decoder.next_frame()
    assert err.value.code == FRAME_TOO_LARGE


def test_too_large_is_detected_byte_by_byte() -> None:
    # 0xff 0xff 0x7f would be 2**21-1: the third byte already exceeds the limit
    decoder = FrameDecoder()
    decoder.feed(b"\xff\xff")
    assert decoder.next_frame() is None  # 16383 so far: still possible
    decoder.feed(b"\x05")
    with pytest.raises(FrameError) as err:
        decoder.next_frame()
    assert err.value.code == FRAME_TOO_LARGE


def test_fifth_continued_byte_is_bad_frame() -> None:
    # non-minimal zero padding keeps the value small; the fifth byte still continues
    decoder = FrameDecoder()
    decoder.feed(b"\x80\x80\x80\x80\x80")
    with pytest.raises(FrameError) as err:
        decoder.next_frame()
    assert err.value.code == BAD_FRAME


def test_non_minimal_varint_of_five_bytes_is_valid() -> None:
    decoder = FrameDecoder()
    decoder.feed(b"\x83\x80\x80\x80\x00abc")
    assert decoder.next_frame() == b"abc"


def test_frames_before_an_error_are_still_returned() -> None:
    decoder = FrameDecoder()
    decoder.feed(frame(b"ok") + encode_varint(MAX_FRAME + 1))
    assert decoder.next_frame() == b"ok"
    with pytest.raises(FrameError):
        decoder.next_frame()


def test_encode_refuses_oversized_payload() -> None:
    with pytest.raises(ValueError, match="exceeds"):
        frame(b"x" * (MAX_FRAME + 1))


def test_encode_message_roundtrip() -> None:
    request = seat_pb2.Request(id=7)
    request.stats.SetInParent()
    decoder = FrameDecoder()
    decoder.feed(encode(request))
    parsed = seat_pb2.Request()
    parsed.ParseFromString(decoder.next_frame())
    assert parsed == request


@pytest.mark.parametrize("value", [0, 1, 127, 128, 300, 2**14, 2**32 - 1, 2**63, 2**64 - 1])
def test_decode_varint_reads_what_encode_varint_wrote(value: int) -> None:
    data = b"\xaa" + encode_varint(value) + b"\xbb"
    assert decode_varint(data, 1) == (value, len(data) - 1)


def test_decode_varint_truncated_and_overlong() -> None:
    with pytest.raises(IndexError):
        decode_varint(b"\x80\x80")
    with pytest.raises(ValueError, match="10 bytes"):
        decode_varint(b"\xff" * 11)


@given(
    st.lists(st.binary(max_size=300), max_size=8),
    st.lists(st.integers(min_value=1, max_value=64), min_size=1, max_size=20),
)
def test_buffered_counts_what_was_fed_and_not_handed_out(payloads: list[bytes], cuts: list[int]) -> None:
    """``buffered`` is kept up to date by feed and next_frame: always fed minus handed out."""
    stream = b"".join(frame(p) for p in payloads)
    decoder = FrameDecoder()
    fed = taken = 0
    got: list[bytes] = []
    pos, i = 0, 0
    while pos < len(stream):
        chunk = stream[pos : pos + cuts[i % len(cuts)]]
        pos += len(chunk)
        i += 1
        decoder.feed(chunk)
        fed += len(chunk)
        assert decoder.buffered == fed - taken
        while (payload := decoder.next_frame()) is not None:
            got.append(payload)
            taken += len(frame(payload))
            assert decoder.buffered == fed - taken
    assert got == payloads
    assert decoder.buffered == 0
