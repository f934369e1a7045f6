"""Fixtures for the native servers: one build per session (cached by source hash), or a skip that says why."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from seatlab import native
from seatlab.harness.process import ServerProcess, shorthand_config
from seatlab.harness.templates import command_argv
from seatlab.server.config import ServerConfig

SEAT_SERVERS = ["tpool", "coro", "event"]
TEMPLATE = (
    "native:{name} --address {{address}} --port {{port}} --max-backlog {{max_backlog}} --capacity {{capacity}} "
    "--delay {{delay}} --threads {{threads}} --db-path {{db_path}} --sync {{sync}}"
)


@pytest.fixture(scope="session")
def native_build() -> Path:
    """The build dir of the current native sources, built now if need be; a skip naming what is missing."""
    missing = native.missing_toolchain()
    if missing and not native.is_built():
        pytest.skip(f"native toolchain missing ({', '.join(missing)}); as root: {native.APT_LINE}")
    return native.build()


StartNative = Callable[..., ServerProcess]


@pytest.fixture
def start_native(native_build: Path, tmp_path: Path) -> Iterator[StartNative]:
    """``start_native("event", capacity=10, delay_ms=5, db_path=...)``: a running native server, always stopped."""
    started: list[ServerProcess] = []

    def start(name: str, **fields: Any) -> ServerProcess:
        config: ServerConfig = shorthand_config(name, **fields)
        argv = command_argv(TEMPLATE.format(name=name), config)
        server = ServerProcess(config, command=argv, log_dir=tmp_path / f"{name}-{len(started)}")
        started.append(server)
        return server.__enter__()

    yield start
    for server in started:
        server.__exit__(None, None, None)
