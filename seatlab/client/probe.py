"""A blocking ``Stats`` request: the server's capacity and seats booked, before and after a run."""

from __future__ import annotations

import socket

from seatlab.client.answers import STATS, read_answer, stats_request
from seatlab.protocol.codec import FrameDecoder, FrameError


class NotStatsError(ValueError):
    """The server answered Stats with something else (``kind``): calibrate answers every frame with a Seat."""

    def __init__(self, message: str, kind: int) -> None:
        super().__init__(message)
        self.kind = kind


def read_stats(host: str, port: int, timeout_s: float) -> tuple[int, int]:
    """(capacity, booked) from the server; raises OSError or ValueError naming what went wrong."""
    with socket.create_connection((host, port), timeout=timeout_s) as sock:
        sock.sendall(stats_request(1))
        decoder = FrameDecoder()
        while True:
            data = sock.recv(65536)
            if not data:
                raise ConnectionError(f"{host}:{port} closed the connection before answering Stats")
            decoder.feed(data)
            try:
                payload = decoder.next_frame()
            except FrameError as exc:
                raise ValueError(f"{host}:{port} answered Stats with a bad frame: {exc}") from exc
            if payload is not None:
                kind, _, capacity, booked = read_answer(payload)
                if kind != STATS:
                    raise NotStatsError(f"{host}:{port} answered Stats with answer kind {kind}", kind)
                assert isinstance(booked, int)
                return capacity, booked
