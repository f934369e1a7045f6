"""The protocol's semantics, the same script against every backend over real sockets."""

from __future__ import annotations

import socket
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from seatlab.protocol import seat_pb2
from seatlab.protocol.codec import encode
from seatlab.protocol.messages import ErrorCode, book_request
from server.harness import Client, Connect, StartServer, new_uuid


def _book_until_sold_out(client: Client) -> list[tuple[int, str]]:
    seats = []
    while True:
        u = new_uuid()
        response = client.book(u)
        kind = response.WhichOneof("result")
        if kind == "sold_out":
            assert response.sold_out.capacity == 200
            client.close()  # tpool: frees the pool thread for a queued connection
            return seats
        assert kind == "seat", response
        assert response.seat.uuid == u
        seats.append((response.seat.number, u))


def test_sellout_from_many_connections(start_server: StartServer, connect: Connect) -> None:
    server = start_server(capacity=200, threads=4)
    clients = [connect(server) for _ in range(12)]
    with ThreadPoolExecutor(len(clients)) as pool:
        results = list(pool.map(_book_until_sold_out, clients))
    seats = [s for r in results for s in r]
    numbers = [n for n, _ in seats]
    assert len(seats) == 200
    assert sorted(numbers) == list(range(1, 201))  # every number distinct, within 1..capacity
    assert len({u for _, u in seats}) == 200
    stats = connect(server).stats()
    assert (stats.stats.capacity, stats.stats.booked) == (200, 200)


def test_rebook_is_idempotent(start_server: StartServer, connect: Connect) -> None:
    server = start_server()
    client = connect(server)
    u = new_uuid()
    first = client.book(u)
    again = client.book(u.upper())  # either case is accepted, echoed in lower case
    assert again.seat.number == first.seat.number
    assert again.seat.uuid == u
    assert client.stats().stats.booked == 1


def test_concurrent_rebook_on_many_connections_takes_one_seat(
    start_server: StartServer, connect: Connect
) -> None:
    server = start_server(threads=8)
    clients = [connect(server) for _ in range(8)]
    u = new_uuid()
    go = threading.Barrier(len(clients))

    def book(client: Client) -> int:
        go.wait()
        return client.book(u).seat.number

    with ThreadPoolExecutor(len(clients)) as pool:
        numbers = set(pool.map(book, clients))
    assert len(numbers) == 1 and numbers != {0}
    assert clients[0].stats().stats.booked == 1


def test_cancel_then_rebook(start_server: StartServer, connect: Connect) -> None:
    server = start_server()
    client = connect(server)
    u = new_uuid()
    number = client.book(u).seat.number
    released = client.cancel(u)
    assert released.WhichOneof("result") == "released"
    assert released.released.number == number
    assert client.stats().stats.booked == 0
    assert client.book(u).WhichOneof("result") == "seat"
    assert client.stats().stats.booked == 1


def test_cancel_unknown_is_not_found(start_server: StartServer, connect: Connect) -> None:
    client = connect(start_server())
    response = client.cancel(new_uuid())
    assert response.WhichOneof("result") == "error"
    assert response.error.code == ErrorCode.NOT_FOUND
    assert response.id == 1


def test_stats_counts_bookings(start_server: StartServer, connect: Connect) -> None:
    client = connect(start_server(capacity=7))
    assert (client.stats().stats.capacity, client.stats().stats.booked) == (7, 0)
    for _ in range(3):
        client.book(new_uuid())
    stats = client.stats()
    assert (stats.stats.capacity, stats.stats.booked) == (7, 3)


def test_pipelined_requests_answered_in_order(start_server: StartServer, connect: Connect) -> None:
    client = connect(start_server())
    uuids = [new_uuid() for _ in range(50)]
    stats = seat_pb2.Request(id=51)
    stats.stats.SetInParent()
    client.send(b"".join(book_request(i + 1, u) for i, u in enumerate(uuids)) + encode(stats))
    answers = [client.receive() for _ in range(51)]
    assert [a.id for a in answers] == list(range(1, 52))
    assert [a.seat.uuid for a in answers[:50]] == uuids
    assert len({a.seat.number for a in answers[:50]}) == 50
    assert answers[50].stats.booked == 50


@pytest.mark.parametrize(("delay_ms", "sync"), [(0, "os"), (20, "os"), (0, "fsync"), (20, "fsync")])
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


def test_pipelined_requests_with_delay_answered_in_order(start_server: StartServer, connect: Connect) -> None:
    client = connect(start_server(delay_ms=5))
    uuids = [new_uuid() for _ in range(10)]
    client.send(b"".join(book_request(i + 1, u) for i, u in enumerate(uuids)))
    answers = [client.receive() for _ in range(10)]
    assert [(a.id, a.seat.uuid) for a in answers] == [(i + 1, u) for i, u in enumerate(uuids)]
