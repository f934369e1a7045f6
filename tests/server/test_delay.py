"""The delay is spent the backend's way: blocking a pool thread, or overlapping in a loop.

Only lower bounds are tight here (a noisy machine makes things slower, never
faster); the upper bound for the loop backends has a 5x margin.
"""

from __future__ import annotations

import time

from seatlab.protocol.messages import book_request
from server.harness import Client, Connect, StartServer, new_uuid


def _book_concurrently(clients: list[Client]) -> float:
    """Send one booking on every connection at once; seconds until the last answer.

    Each client closes once answered: a tpool connection holds its thread until it closes.
    """
    start = time.monotonic()
    for i, client in enumerate(clients):
        client.send(book_request(i + 1, new_uuid()))
    for client in clients:
        assert client.receive().WhichOneof("result") == "seat"
        client.close()
    return time.monotonic() - start


def test_delay_holds_a_pool_thread(backend: str, start_server: StartServer, connect: Connect) -> None:
    """tpool, tpool_dispatch: T threads, T+1 concurrent bookings take two delays; loops: 50 take about one."""
    pool = backend in ("tpool", "tpool_dispatch")
    delay_s = 0.2 if pool else 0.1
    threads = 2
    server = start_server(delay_ms=delay_s * 1000, threads=threads)
    if pool:
        clients = [connect(server) for _ in range(threads + 1)]
        elapsed = _book_concurrently(clients)
        assert elapsed >= 2 * delay_s
    else:
        clients = [connect(server) for _ in range(50)]
        clients[0].stats()  # every connection accepted before the clock starts
        elapsed = _book_concurrently(clients)
        assert delay_s <= elapsed < 10 * delay_s


def test_each_pipelined_request_gets_its_own_delay(start_server: StartServer, connect: Connect) -> None:
    """A connection is one client: its requests are served one after another, each with the delay."""
    delay_s = 0.1
    client = connect(start_server(delay_ms=delay_s * 1000))
    start = time.monotonic()
    client.send(b"".join(book_request(i + 1, new_uuid()) for i in range(3)))
    for _ in range(3):
        client.receive()
    assert time.monotonic() - start >= 3 * delay_s
