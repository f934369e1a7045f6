"""The server process beyond the conformance suite: group commit, db errors, ports, stuck clients at SIGTERM."""

from __future__ import annotations

import contextlib
import shutil
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from seatlab.harness.process import ServerProcess, ServerStartError
from seatlab.protocol.messages import ErrorCode, book_request
from server.harness import Client, Connect, StartServer, new_uuid


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


class FsyncCounter:
    """Counts a running server's fsync/fdatasync calls, every thread, with strace (the real calls)."""

    def __init__(self, pid: int, out: Path) -> None:
        if shutil.which("strace") is None:
            pytest.skip("strace is not installed: the server's fsyncs cannot be counted")
        self.pid = pid
        self.out = out
        self.count = -1
        self.tracer = subprocess.Popen(
            ["strace", "-f", "-qq", "-e", "trace=fsync,fdatasync", "-o", str(out), "-p", str(pid)],
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 10
        while not all(_traced(task) for task in Path(f"/proc/{pid}/task").iterdir()):
            if self.tracer.poll() is not None or time.monotonic() > deadline:
                err = self.tracer.stderr.read().decode() if self.tracer.stderr else ""
                pytest.skip(f"strace cannot attach to the server here: {err.strip()[:200]}")
            time.sleep(0.02)

    def stop(self) -> int:
        """Detach; the number of fsync and fdatasync calls seen."""
        self.tracer.send_signal(signal.SIGINT)
        self.tracer.wait(10)
        lines = self.out.read_text().splitlines()
        self.count = sum(1 for line in lines if " fsync(" in line or " fdatasync(" in line)
        return self.count


def _traced(task: Path) -> bool:
    try:
        status = (task / "status").read_text()
    except FileNotFoundError:
        return True  # the thread is gone
    return "TracerPid:\t0\n" not in status


@pytest.mark.parametrize(("delay_ms", "sync"), [(0, "fsync"), (5, "fsync"), (0, "os")])
def test_fsync_group_commit_shares_fsyncs_among_concurrent_requests(
    backend: str, start_server: StartServer, connect: Connect, tmp_path: Path, delay_ms: float, sync: str
) -> None:
    """40 bookings from 4 connections at once are durable before their answers, in fewer fsyncs.

    Loops share one fsync per loop iteration among its connections (one loop here, so all four);
    tpool's threads each commit a read's requests at once and the journal lets concurrent commits
    share one fsync. ``--sync os`` must not fsync at all: that the counter sees nothing there shows
    it counts what the mode asks for.
    """
    db = tmp_path / "db.csv"
    threads = 4 if backend == "tpool" else 1
    server = start_server(db_path=db, sync=sync, delay_ms=delay_ms, threads=threads)
    clients = [connect(server) for _ in range(4)]
    for client in clients:
        assert client.stats().stats.booked == 0  # every connection served before counting starts
    uuids = [[new_uuid() for _ in range(10)] for _ in clients]
    fsyncs = FsyncCounter(server.pid, tmp_path / "strace.txt")
    for client, us in zip(clients, uuids, strict=True):
        client.send(b"".join(book_request(i + 1, u) for i, u in enumerate(us)))
    numbers = {}
    for client, us in zip(clients, uuids, strict=True):
        for u in us:
            answer = client.receive()
            assert answer.seat.uuid == u
            numbers[answer.seat.number] = u
            assert _db_seats(db).get(answer.seat.number) == u  # acknowledged means in the file
    count = fsyncs.stop()
    assert len(numbers) == 40
    if sync == "os":
        assert count == 0
    elif delay_ms == 0:
        assert 1 <= count <= 10, f"{count} fsyncs for 40 bookings in 4 pipelined batches"
    else:  # one request per connection at a time: at most one fsync each, and at least one per round
        assert 10 <= count <= 40, f"{count} fsyncs for 40 bookings, 10 rounds of 4 connections"
    assert server.stop() == 0


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


def test_sigterm_answers_pipelined_requests_not_yet_started(
    start_server: StartServer, connect: Connect, tmp_path: Path
) -> None:
    """The request in its delay finishes; the ones queued behind it are answered, never dropped."""
    uuids = [new_uuid() for _ in range(5)]
    server = start_server(db_path=tmp_path / "db.csv", delay_ms=400, threads=2)
    client = connect(server)
    client.send(b"".join(book_request(i + 1, u) for i, u in enumerate(uuids)))
    time.sleep(0.15)  # the first is in its delay, four wait behind it
    assert server.popen is not None
    server.popen.terminate()
    answers = [client.receive() for _ in range(5)]
    assert [a.id for a in answers] == [1, 2, 3, 4, 5]
    assert answers[0].seat.uuid == uuids[0]
    for a, u in zip(answers[1:], uuids[1:], strict=True):
        kind = a.WhichOneof("result")
        assert (kind == "seat" and a.seat.uuid == u) or (
            kind == "error" and a.error.code == ErrorCode.INTERNAL and "shutting down" in a.error.message
        ), a
    assert client.at_eof()
    assert server.popen.wait(10) == 0
    booked = {a.seat.uuid for a in answers if a.WhichOneof("result") == "seat"}
    assert (
        set(_db_seats(tmp_path / "db.csv").values()) == booked
    )  # what was acknowledged is in the file, nothing else


@pytest.mark.parametrize("backend", ["tpool"])
def test_sigterm_answers_tpool_connections_still_queued(start_server: StartServer, tmp_path: Path) -> None:
    """tpool: a connection waiting in the pool's queue at SIGTERM gets ``INTERNAL`` for what it sent."""
    server = start_server(delay_ms=400, threads=1)
    busy = Client(server.host, server.port)
    busy.send(book_request(1, new_uuid()))
    time.sleep(0.1)  # it holds the only pool thread
    queued = Client(server.host, server.port)
    queued.send(book_request(7, new_uuid()) + book_request(8, new_uuid()))
    time.sleep(0.1)
    assert server.popen is not None
    server.popen.terminate()
    assert busy.receive().WhichOneof("result") == "seat"
    refused = [queued.receive() for _ in range(2)]
    assert [(r.id, r.error.code) for r in refused] == [(7, ErrorCode.INTERNAL), (8, ErrorCode.INTERNAL)]
    assert all("shutting down" in r.error.message for r in refused)
    assert queued.at_eof()
    assert server.popen.wait(10) == 0
    busy.close()
    queued.close()
