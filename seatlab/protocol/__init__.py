"""The seatlab wire protocol: generated messages and the sans-IO codec."""

from __future__ import annotations

from seatlab.protocol import seat_pb2
from seatlab.protocol.codec import MAX_FRAME, FrameDecoder, FrameError, encode, frame

__all__ = ["MAX_FRAME", "FrameDecoder", "FrameError", "encode", "frame", "seat_pb2"]
