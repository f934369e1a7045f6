"""What the conformance package does not cover of the server's answers: the half-close matrix.

The protocol's checks live in ``seatlab.conformance`` (one source of truth,
run on every backend by ``tests/conformance/test_backends.py``); its
``pipelining.half-close`` runs delay 0 with ``--sync os`` and
``pipelining.half-close-with-delay`` delay 20 ms with ``--sync fsync``.
The two other corners of the matrix stay here: they take other paths
through the backends' pacing and group commit.
"""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from seatlab.protocol import seat_pb2
from seatlab.protocol.codec import encode
from seatlab.protocol.messages import book_request
from server.harness import Connect, StartServer, new_uuid


@pytest.mark.parametrize(("delay_ms", "sync"), [(20, "os"), (0, "fsync")])
def test_half_closed_client_still_gets_every_answer(
    start_server: StartServer, connect: Connect, tmp_path: Path, delay_ms: int, sync: str
) -> None:
    # a client may send its requests, shut down its side (EOF), then read: each is answered once
    server = start_server(delay_ms=delay_ms, db_path=tmp_path / "half.csv", sync=sync)
    client = connect(server)
    uuids = [new_uuid() for _ in range(5)]
    stats = seat_pb2.Request(id=6)
    stats.stats.SetInParent()
    client.send(b"".join(book_request(i + 1, u) for i, u in enumerate(uuids)) + encode(stats))
    client.sock.shutdown(socket.SHUT_WR)
    answers = [client.receive() for _ in range(6)]
    assert [a.id for a in answers] == [1, 2, 3, 4, 5, 6]
    assert [a.seat.uuid for a in answers[:5]] == uuids and answers[5].stats.booked == 5
    assert client.at_eof() and client.at_eof(), "the server closes once everything is answered"
