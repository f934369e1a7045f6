"""Fixtures for the server conformance suite: real server subprocesses, real sockets, the project's codec."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from seatlab.harness.process import ServerProcess
from server.harness import SERVING_BACKENDS, Client, Connect, StartServer


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
