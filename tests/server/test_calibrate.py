"""The calibrate backend answers every frame with its fixed Seat, and framing errors per the spec."""

from __future__ import annotations

from pathlib import Path

import pytest

from seatlab.harness.process import ServerProcess
from seatlab.protocol.codec import encode_varint
from seatlab.protocol.messages import ErrorCode, book_request
from seatlab.server.calibrate import FIXED_ANSWER, FIXED_UUID, count_frames
from server.harness import Client, new_uuid


def test_calibrate_answers_each_frame_with_the_fixed_seat(tmp_path: Path) -> None:
    with ServerProcess("calibrate", threads=2, log_dir=tmp_path) as server:
        client = Client(server.host, server.port)
        requests = b"".join(book_request(i + 1, new_uuid()) for i in range(100))
        client.send(requests)
        answers = [client.receive() for _ in range(100)]
        assert {(a.seat.number, a.seat.uuid) for a in answers} == {(1, FIXED_UUID)}
        client.send(encode_varint(70000))
        assert client.receive().error.code == ErrorCode.FRAME_TOO_LARGE
        assert client.at_eof()
        client.close()
        assert server.stop() == 0


def test_calibrate_answers_a_frame_split_across_writes_once_when_whole(tmp_path: Path) -> None:
    with ServerProcess("calibrate", threads=1, log_dir=tmp_path) as server:
        client = Client(server.host, server.port)
        one = book_request(1, new_uuid())
        for cut in (1, 7, len(one) - 1):  # the length byte alone, inside the uuid, all but the last byte
            client.send(one[:cut])
            client.sock.settimeout(0.3)
            with pytest.raises(TimeoutError):  # no answer for a frame that is not whole yet
                client.receive()
            client.sock.settimeout(10)
            client.send(one[cut:] + one[:1])  # the rest, and the next frame's first byte
            assert client.receive().seat.uuid == FIXED_UUID
            client.send(one[1:])
            assert client.receive().seat.uuid == FIXED_UUID
        client.sock.settimeout(0.3)
        with pytest.raises(TimeoutError):  # each frame was answered once: nothing more comes
            client.receive()
        client.close()
        assert server.stop() == 0


_ONE = book_request(1, new_uuid())


@pytest.mark.parametrize("split", [0, 1, 5, len(_ONE) - 1, len(_ONE), len(_ONE) + 1])
def test_count_frames_matches_framing(split: int) -> None:
    data = _ONE * 2 + b"\x03ab"  # two whole frames, one partial
    assert count_frames(data) == (2, 2 * len(_ONE), None)
    assert count_frames(data[:split])[:2] == ((1, len(_ONE)) if split >= len(_ONE) else (0, 0))
    assert count_frames(_ONE + b"\x80\x80\x80\x80\x80")[:2] == (1, len(_ONE))
    assert count_frames(b"\x80\x80\x80\x80\x80")[2] is not None
    assert count_frames(b"\x80\x80\x80\x80")[2] is None  # may still end: wait for more


def test_fixed_answer_is_one_frame() -> None:
    assert count_frames(FIXED_ANSWER)[:2] == (1, len(FIXED_ANSWER))
