"""Sans-IO framing for the seatlab wire protocol.

How this works: every message is a protobuf message preceded by its length
as a base-128 varint (protobuf's "delimited" format). ``FrameDecoder``
takes bytes in any chunking (``feed``) and hands back whole frame payloads
(``next_frame``), or ``None`` when it needs more data. It reads the length
varint byte by byte and raises ``FrameError`` as soon as the length exceeds
``MAX_FRAME`` or a fifth varint byte still continues, so an oversized frame
is never buffered. It knows nothing about sockets or event loops: every
backend and every client drives this one decoder.
"""

from __future__ import annotations

from seatlab.protocol import seat_pb2

MAX_FRAME = 65536
"""The largest valid frame payload, in bytes."""

_MAX_VARINT_BYTES = 5
"""The spec's limit: a fifth length byte that still continues is BAD_FRAME."""

ErrorCode = seat_pb2.Error.Code


class FrameError(Exception):
    """The byte stream is not valid framing; the connection must close."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def encode_varint(value: int) -> bytes:
    """Encode a non-negative integer as a base-128 varint."""
    if value < _TABLE_SIZE:
        return _VARINTS[value]
    return _encode_varint_slow(value)


def _encode_varint_slow(value: int) -> bytes:
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


_TABLE_SIZE = 1 << 14  # every one- and two-byte varint, precomputed (seat numbers, most ids)
_VARINTS = [_encode_varint_slow(i) for i in range(_TABLE_SIZE)]
_SMALL_VARINTS = _VARINTS[:0x80]


def frame(payload: bytes) -> bytes:
    """Prefix ``payload`` with its varint length: one frame on the wire."""
    n = len(payload)
    if n > MAX_FRAME:
        raise ValueError(f"frame payload of {n} bytes exceeds {MAX_FRAME}")
    if n < 0x80:
        return _SMALL_VARINTS[n] + payload
    return encode_varint(n) + payload


def encode(message: seat_pb2.Request | seat_pb2.Response) -> bytes:
    """Serialize a protobuf message into one frame."""
    return frame(message.SerializeToString())


def decode_varint(
    data: bytes, pos: int = 0, limit: int | None = None, max_bytes: int = 10
) -> tuple[int, int]:
    """The base-128 varint at ``data[pos:]`` and the position after it (the one varint reader).

    Raises IndexError if ``data`` ends inside it, ValueError if byte ``max_bytes``
    (10: 64 bits) still continues, and OverflowError as soon as the value read so
    far exceeds ``limit`` (the frame length check reads its prefix byte by byte).
    """
    value = 0
    shift = 0
    start = pos
    while True:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if limit is not None and value > limit:
            raise OverflowError(f"varint value exceeds {limit}")
        if byte < 0x80:
            return value, pos
        shift += 7
        if pos - start >= max_bytes:
            raise ValueError(f"varint longer than {max_bytes} bytes")


class FrameDecoder:
    """Turns a byte stream into frame payloads; bytes in, payloads out."""

    __slots__ = ("_buf", "_pos", "buffered", "max_frame")

    def __init__(self, max_frame: int = MAX_FRAME) -> None:
        self._buf = b""
        self._pos = 0
        self.max_frame = max_frame
        self.buffered = 0
        """Bytes received but not yet returned as frames (kept up to date: read it, never set it;
        an attribute, not a property, because both hot paths ask it for every read)."""

    def feed(self, data: bytes) -> None:
        """Append received bytes."""
        if self._pos >= len(self._buf):
            self._buf = bytes(data)
        else:
            self._buf = self._buf[self._pos :] + data
        self._pos = 0
        self.buffered = len(self._buf)

    def next_frame(self) -> bytes | None:
        """The next whole frame payload, or None until more data arrives.

        Raises FrameError on a malformed or oversized length prefix.
        """
        buf = self._buf
        pos = self._pos
        end = len(buf)
        if pos >= end:
            return None
        first = buf[pos]
        if first < 0x80:  # the common case: a one-byte length
            start = pos + 1
            stop = start + first
            if stop > end:
                return None
            self._pos = stop
            self.buffered = end - stop
            return buf[start:stop]
        try:
            length, i = decode_varint(buf, pos, self.max_frame, _MAX_VARINT_BYTES)
        except IndexError:
            return None  # the varint itself is incomplete
        except OverflowError:
            raise FrameError(
                ErrorCode.FRAME_TOO_LARGE, f"frame length exceeds the limit of {self.max_frame} bytes"
            ) from None
        except ValueError:
            raise FrameError(
                ErrorCode.BAD_FRAME,
                f"length prefix: varint byte {_MAX_VARINT_BYTES} still has the continuation bit set",
            ) from None
        stop = i + length
        if stop > end:
            return None
        self._pos = stop
        self.buffered = end - stop
        return buf[i:stop]
