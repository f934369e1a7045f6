"""Bad input and bad clients: each answered per the spec, and the server keeps serving everyone else."""

from __future__ import annotations

import contextlib
import resource
import socket
import threading
import time

import psutil
import pytest

from seatlab.protocol import seat_pb2
from seatlab.protocol.codec import encode, encode_varint, frame
from seatlab.protocol.messages import ErrorCode, book_request, seat_frame
from seatlab.server.process import ServerProcess
from server.harness import Client, Connect, StartServer, new_uuid


def _still_serves(server: ServerProcess, connect: Connect) -> None:
    """A normal booking on a new connection works, and the server is alive."""
    client = connect(server)
    u = new_uuid()
    response = client.book(u)
    assert response.WhichOneof("result") == "seat" and response.seat.uuid == u
    client.close()
    assert server.running


@pytest.mark.parametrize(
    ("prefix", "code"),
    [
        (encode_varint(65537), ErrorCode.FRAME_TOO_LARGE),
        (b"\xff\xff\xff\xff", ErrorCode.FRAME_TOO_LARGE),
        (b"\x80\x80\x80\x80\x80", ErrorCode.BAD_FRAME),
    ],
    ids=["65537", "huge", "five-continuations"],
)
def test_framing_error_answers_one_error_then_closes(
    start_server: StartServer, connect: Connect, prefix: bytes, code: int
) -> None:
    server = start_server()
    client = connect(server)
    u = new_uuid()
    client.send(book_request(3, u) + prefix)  # the frame before the error is still answered
    first = client.receive()
    assert first.id == 3 and first.seat.uuid == u
    error = client.receive()
    assert error.id == 0
    assert error.error.code == code and error.error.message
    assert client.at_eof()
    _still_serves(server, connect)


def test_exactly_max_frame_is_not_a_framing_error(start_server: StartServer, connect: Connect) -> None:
    server = start_server()
    client = connect(server)
    client.send(frame(b"\xff" * 65536))  # valid framing, not a Request
    assert client.receive().error.code == ErrorCode.BAD_REQUEST
    assert client.book(new_uuid()).WhichOneof("result") == "seat"  # same connection still open


@pytest.mark.parametrize(
    "payload",
    [
        b"\xff\xff\xff",  # not a protobuf message
        seat_pb2.Request(id=7).SerializeToString(),  # no op set
        seat_frame(1, 5, "00000000-0000-4000-8000-000000000001")[1:],  # a Response, sent to the server
    ],
    ids=["garbage", "no-op", "response"],
)
def test_malformed_request_is_bad_request_and_connection_stays(
    start_server: StartServer, connect: Connect, payload: bytes
) -> None:
    server = start_server()
    client = connect(server)
    client.send(frame(payload))
    response = client.receive()
    assert response.WhichOneof("result") == "error"
    assert response.error.code == ErrorCode.BAD_REQUEST
    assert client.book(new_uuid()).WhichOneof("result") == "seat"  # the connection stays open
    _still_serves(server, connect)


@pytest.mark.parametrize(
    "bad", ["not-a-uuid", "{" + "0" * 8 + "-0000-0000-0000-" + "0" * 12 + "}", "", " " * 36]
)
def test_bad_uuid_is_bad_request(start_server: StartServer, connect: Connect, bad: str) -> None:
    server = start_server()
    client = connect(server)
    request = seat_pb2.Request(id=9)
    request.book.uuid = bad
    client.send(encode(request))
    response = client.receive()
    assert response.id == 9 and response.error.code == ErrorCode.BAD_REQUEST
    assert client.stats().stats.booked == 0
    _still_serves(server, connect)


def test_client_leaving_mid_frame(start_server: StartServer, connect: Connect) -> None:
    server = start_server()
    client = connect(server)
    client.send(book_request(1, new_uuid())[:10])
    client.close()
    _still_serves(server, connect)


def test_client_leaving_mid_delay(start_server: StartServer, connect: Connect) -> None:
    server = start_server(delay_ms=200, threads=2)
    for _ in range(3):
        client = connect(server)
        client.send(book_request(1, new_uuid()) * 2)
        client.close()
    _still_serves(server, connect)
    time.sleep(0.5)  # the abandoned requests' delays are over
    _still_serves(server, connect)


def test_pipelining_client_that_never_reads_stalls_only_itself(
    start_server: StartServer, connect: Connect
) -> None:
    server = start_server(capacity=20000, threads=2)
    hog = connect(server)
    hog.sock.settimeout(20)
    requests = b"".join(book_request(i + 1, new_uuid()) for i in range(10_000))
    sent = threading.Event()

    def flood() -> None:
        with contextlib.suppress(OSError):
            hog.sock.sendall(requests)
        sent.set()

    threading.Thread(target=flood, daemon=True).start()
    sent.wait(3.0)  # it may still be blocked: the server stopped reading from it
    _still_serves(server, connect)
    # the hog still gets every answer in order once it reads
    answers = [hog.receive() for _ in range(10_000)]
    assert [a.id for a in answers] == list(range(1, 10_001))
    assert connect(server).stats().stats.booked == 10_001


def test_a_client_that_never_reads_cannot_grow_the_servers_memory(
    start_server: StartServer, connect: Connect
) -> None:
    server = start_server(threads=2)
    rss_before = psutil.Process(server.pid).memory_info().rss
    hog = socket.create_connection((server.host, server.port))
    hog.setblocking(False)
    flood = book_request(1, new_uuid()) * 1_000_000  # 40 MB of pipelined (idempotent) bookings
    view = memoryview(flood)
    sent = 0
    last_progress = time.monotonic()
    while sent < len(flood) and time.monotonic() - last_progress < 1.5:
        try:
            n = hog.send(view[sent : sent + (1 << 20)])
        except BlockingIOError:
            time.sleep(0.01)
            continue
        sent += n
        last_progress = time.monotonic()
    try:
        # the server stopped reading once the answers it could not send piled up: the kernel's
        # socket buffers hold a few MB, and the rest of the 40 MB is still with the client
        assert sent < len(flood) // 2, f"the server kept reading: {sent} of {len(flood)} bytes accepted"
        growth_mib = (psutil.Process(server.pid).memory_info().rss - rss_before) / 2**20
        assert growth_mib < 32, f"server memory grew {growth_mib:.0f} MiB for one client that never reads"
        _still_serves(server, connect)
    finally:
        hog.close()


def _open_idle(server: ServerProcess, n: int) -> list[socket.socket]:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < n + 200:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, n + 1000), hard))
    return [socket.create_connection((server.host, server.port), timeout=10) for _ in range(n)]


def test_thousands_of_idle_connections(backend: str, start_server: StartServer, connect: Connect) -> None:
    server = start_server(threads=2, max_backlog=2048)
    idle = _open_idle(server, 2000)
    try:
        client = Client(server.host, server.port, timeout=10)
        client.send(book_request(1, new_uuid()))
        if backend == "tpool":
            # two idle connections hold both pool threads: the rest, ours too, wait in the queue
            client.sock.settimeout(0.5)
            with pytest.raises(TimeoutError):
                client.receive()
            client.sock.settimeout(10)
        else:
            assert client.receive().WhichOneof("result") == "seat"
    finally:
        for s in idle:
            s.close()
    if backend == "tpool":
        assert client.receive().WhichOneof("result") == "seat"  # served once the idle ones left
    client.close()
    _still_serves(server, connect)
