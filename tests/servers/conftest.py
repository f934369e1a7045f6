"""Fixtures for the server conformance suite: real server subprocesses, real sockets, the project's codec."""

from __future__ import annotations

import socket
import uuid as uuidlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from seatlab.protocol import seat_pb2
from seatlab.protocol.codec import FrameDecoder, encode
from seatlab.protocol.messages import book_request, parse_response
from seatlab.server.process import ServerProcess

SERVING_BACKENDS = ["tpool", "coro", "event"]
IO_TIMEOUT_S = 15.0


class Client:
    """A blocking test client on one connection: frames out, parsed Responses in."""

    def __init__(self, host: str, port: int, timeout: float = IO_TIMEOUT_S) -> None:
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.decoder = FrameDecoder()
        self.next_id = 1

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def receive(self) -> seat_pb2.Response:
        """The next Response; AssertionError if the server closes first."""
        while (payload := self.decoder.next_frame()) is None:
            data = self.sock.recv(65536)
            assert data, "the server closed the connection before answering"
            self.decoder.feed(data)
        return parse_response(payload)

    def at_eof(self) -> bool:
        """True once the server has closed its side (after any answers still unread)."""
        try:
            data = self.sock.recv(65536)
        except ConnectionResetError:
            return True
        if data:
            self.decoder.feed(data)
            return False
        return True

    def _id(self) -> int:
        rid = self.next_id
        self.next_id += 1
        return rid

    def book(self, uuid: str) -> seat_pb2.Response:
        self.send(book_request(self._id(), uuid))
        return self.receive()

    def cancel(self, uuid: str) -> seat_pb2.Response:
        request = seat_pb2.Request(id=self._id())
        request.cancel.uuid = uuid
        self.send(encode(request))
        return self.receive()

    def stats(self) -> seat_pb2.Response:
        request = seat_pb2.Request(id=self._id())
        request.stats.SetInParent()
        self.send(encode(request))
        return self.receive()

    def close(self) -> None:
        self.sock.close()


def new_uuid() -> str:
    return str(uuidlib.uuid4())


StartServer = Callable[..., ServerProcess]
Connect = Callable[[ServerProcess], Client]


@pytest.fixture(params=SERVING_BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """Every serving backend: one conformance suite for all of them."""
    return str(request.param)


@pytest.fixture
def start_server(backend: str, tmp_path: Path) -> Iterator[StartServer]:
    """Start servers of the test's backend on port 0; every one is stopped and reaped after the test."""
    started: list[ServerProcess] = []

    def start(**kwargs: Any) -> ServerProcess:
        kwargs.setdefault("capacity", 200)
        kwargs.setdefault("log_dir", tmp_path / f"server{len(started)}")
        server = ServerProcess(kwargs.pop("backend", backend), **kwargs)
        started.append(server)
        return server.__enter__()

    yield start
    codes = {}
    for server in started:
        if server.running:  # every test also checks the graceful shutdown from whatever state it left
            codes[server.pid] = server.stop()
        server.__exit__(None, None, None)
    assert all(code == 0 for code in codes.values()), f"SIGTERM exit codes: {codes}"


@pytest.fixture
def connect() -> Iterator[Connect]:
    """Open test clients to a server; all closed after the test."""
    clients: list[Client] = []

    def open_client(server: ServerProcess) -> Client:
        client = Client(server.host, server.port)
        clients.append(client)
        return client

    yield open_client
    for client in clients:
        client.close()
