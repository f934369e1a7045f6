"""Bad clients, per backend: memory and idle connections (the bad-input checks are in seatlab.conformance)."""

from __future__ import annotations

import resource
import socket
import time

import psutil
import pytest

from seatlab.harness.process import ServerProcess
from seatlab.protocol.messages import book_request
from server.harness import Client, Connect, StartServer, new_uuid


def _still_serves(server: ServerProcess, connect: Connect) -> None:
    """A normal booking on a new connection works, and the server is alive."""
    client = connect(server)
    u = new_uuid()
    response = client.book(u)
    assert response.WhichOneof("result") == "seat" and response.seat.uuid == u
    client.close()
    assert server.running


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
