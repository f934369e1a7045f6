"""The server process: db file, restart, crash, shutdown, startup errors, every backend."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from pathlib import Path

import pytest
from server_harness import Client, Connect, StartServer, new_uuid

from seatlab.protocol.messages import book_request
from seatlab.server.process import ServerProcess, ServerStartError


def _db_seats(path: Path) -> dict[int, str]:
    lines = path.read_text().splitlines()
    assert lines[0] == "number,uuid"
    seats: dict[int, str] = {}
    for line in lines[1:]:
        number, uuid = line.split(",")
        if uuid:
            seats[int(number)] = uuid
        else:
            del seats[int(number)]
    return seats


def _book(client: Client, n: int) -> dict[int, str]:
    booked = {}
    for _ in range(n):
        u = new_uuid()
        booked[client.book(u).seat.number] = u
    return booked


@pytest.mark.parametrize("sync", ["os", "fsync"])
def test_sigterm_exits_0_with_db_complete_and_restart_restores(
    start_server: StartServer, connect: Connect, tmp_path: Path, sync: str
) -> None:
    db = tmp_path / "db.csv"
    server = start_server(db_path=db, sync=sync)
    booked: dict[int, str] = {}
    for _ in range(3):
        client = connect(server)
        booked |= _book(client, 10)
        client.close()  # tpool: frees its pool thread
    cancelled = next(iter(booked))
    assert connect(server).cancel(booked.pop(cancelled)).released.number == cancelled
    assert server.stop() == 0
    assert _db_seats(db) == booked

    again = start_server(db_path=db, sync=sync)
    client = connect(again)
    assert client.stats().stats.booked == 29
    for number, u in booked.items():
        assert client.book(u).seat.number == number  # the same seat, not a new one


@pytest.mark.parametrize("delay_ms", [0, 5])
def test_fsync_group_commit_under_concurrency(
    start_server: StartServer, connect: Connect, tmp_path: Path, delay_ms: float
) -> None:
    db = tmp_path / "db.csv"
    server = start_server(db_path=db, sync="fsync", delay_ms=delay_ms, threads=4)
    clients = [connect(server) for _ in range(4)]
    uuids = [[new_uuid() for _ in range(10)] for _ in clients]
    for client, us in zip(clients, uuids, strict=False):
        client.send(b"".join(book_request(i + 1, u) for i, u in enumerate(us)))
    numbers = {}
    for client, us in zip(clients, uuids, strict=False):
        for u in us:
            answer = client.receive()
            assert answer.seat.uuid == u
            numbers[answer.seat.number] = u
    assert len(numbers) == 40
    assert _db_seats(db) == numbers  # acknowledged means in the file, before the server stops
    assert server.stop() == 0


def test_sigterm_finishes_started_requests(
    start_server: StartServer, connect: Connect, tmp_path: Path
) -> None:
    db = tmp_path / "db.csv"
    server = start_server(db_path=db, delay_ms=500, threads=2)
    client = connect(server)
    idle = connect(server)
    u = new_uuid()
    client.send(book_request(1, u))
    time.sleep(0.2)  # the request is in its delay
    assert server.popen is not None
    server.popen.terminate()
    answer = client.receive()  # its answer still comes
    assert answer.seat.uuid == u
    assert client.at_eof() and idle.at_eof()  # then every connection is closed
    assert server.popen.wait(10) == 0
    assert list(_db_seats(db).values()) == [u]


def test_kill_9_loses_no_acknowledged_booking(
    start_server: StartServer, connect: Connect, tmp_path: Path
) -> None:
    db = tmp_path / "db.csv"
    server = start_server(db_path=db)
    booked = _book(connect(server), 25)
    server.kill()
    assert server.popen is not None and server.popen.returncode == -9
    client = connect(start_server(db_path=db))
    assert client.stats().stats.booked == 25
    for number, u in booked.items():
        assert client.book(u).seat.number == number


def test_torn_last_line_is_dropped(start_server: StartServer, connect: Connect, tmp_path: Path) -> None:
    db = tmp_path / "db.csv"
    u1, u2 = new_uuid(), new_uuid()
    db.write_text(f"number,uuid\n1,{u1}\n2,{u2[:20]}")
    server = start_server(db_path=db)
    client = connect(server)
    assert client.stats().stats.booked == 1
    assert client.book(u1).seat.number == 1
    u3 = new_uuid()
    number = client.book(u3).seat.number
    assert server.stop() == 0
    assert _db_seats(db) == {1: u1, number: u3}
    assert "torn" in server.stderr_text()


@pytest.mark.parametrize(
    ("content", "line", "what"),
    [
        ("number,uuid\n1,{u}\nbanana\n", 3, "not 'number,uuid'"),
        ("number,uuid\n1,{u}\n201,{v}\n", 3, "outside 1..200"),
        ("seat,owner\n", 1, "header"),
    ],
    ids=["corrupt-line", "above-capacity", "bad-header"],
)
def test_unusable_db_stops_the_start_naming_file_and_line(
    start_server: StartServer, tmp_path: Path, content: str, line: int, what: str
) -> None:
    db = tmp_path / "db.csv"
    db.write_text(content.format(u=new_uuid(), v=new_uuid()))
    with pytest.raises(ServerStartError) as info:
        start_server(db_path=db, capacity=200)
    message = str(info.value)
    assert "exited with code 1" in message
    assert f"{db}: line {line}" in message and what in message


def test_port_in_use_is_an_error(start_server: StartServer) -> None:
    first = start_server()
    with pytest.raises(ServerStartError, match=f"cannot listen on 127.0.0.1:{first.port}"):
        start_server(port=first.port)


def test_sigterm_with_a_client_that_never_reads_exits_0_within_10_s(
    start_server: StartServer, tmp_path: Path
) -> None:
    """Its answers cannot be sent: after the grace period the server drops it and still exits 0 in time."""
    server = start_server(capacity=300_000)
    hog = socket.socket()
    hog.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    hog.connect((server.host, server.port))
    hog.settimeout(15)
    flood = b"".join(book_request(i + 1, f"00000000-0000-4000-8000-{i:012x}") for i in range(200_000))
    threading.Thread(target=_send_ignoring_errors, args=(hog, flood), daemon=True).start()
    deadline = time.monotonic() + 20
    seen = -1
    while time.monotonic() < deadline:  # until the server is stuck sending to it: bookings stop
        booked = _booked(server)
        if booked == seen and booked > 0:
            break
        seen = booked
        time.sleep(0.3)
    assert 0 < seen < 200_000
    assert server.popen is not None
    start = time.monotonic()
    server.popen.terminate()
    assert server.popen.wait(12) == 0
    assert time.monotonic() - start < 10
    hog.close()


def _send_ignoring_errors(sock: socket.socket, data: bytes) -> None:
    with contextlib.suppress(OSError):
        sock.sendall(data)


def _booked(server: ServerProcess) -> int:
    client = Client(server.host, server.port, timeout=5)
    try:
        return client.stats().stats.booked
    finally:
        client.close()
