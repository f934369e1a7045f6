"""The command line: bad flags exit 2 naming the flag; READY once; the backend registry is lazy."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from seatlab.modes import Sync
from seatlab.server.backends import BACKENDS, load_backend
from seatlab.server.config import ServerConfig, parse_args


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--capacity", "0"], "--capacity"),
        (["--capacity", "many"], "--capacity"),
        (["--capacity", "4294967296"], "--capacity"),
        (["--address", "999.1.1.1"], "--address"),
        (["--delay", "-1"], "--delay"),
        (["--delay", "nan"], "--delay"),
        (["--threads", "0"], "--threads"),
        (["--port", "70000"], "--port"),
        (["--max-backlog", "0"], "--max-backlog"),
        (["--backend", "fibers"], "--backend"),
        (["--sync", "sometimes"], "--sync"),
        (["--bogus"], "--bogus"),
    ],
)
def test_bad_flag_exits_2_naming_it(args: list[str], named: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "seatlab.server", "--port", "0", *args],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2
    assert named in result.stderr
    assert result.stdout == ""  # no READY


def test_defaults_are_the_spec_s() -> None:
    assert parse_args([]) == ServerConfig(
        backend="coro",
        address="127.0.0.1",
        port=8080,
        max_backlog=128,
        db_path=None,
        capacity=5000,
        delay_ms=0.0,
        threads=2,
        sync="os",
    )


def test_registry_is_lazy_and_tpool_never_imports_uvloop() -> None:
    code = (
        "import sys; from seatlab.server.backends import load_backend; load_backend('tpool'); "
        "print('uvloop' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=False
    )
    assert result.stdout.strip() == "False", result.stderr
    assert set(BACKENDS) == {"tpool", "tpool_dispatch", "coro", "event", "calibrate"}
    with pytest.raises(ValueError, match="unknown backend 'fibers'"):
        load_backend("fibers")


def test_to_argv_round_trips_through_the_parser(tmp_path: Path) -> None:
    config = ServerConfig(
        backend="event", address="127.0.0.1", port=0, max_backlog=7, db_path=tmp_path / "db.csv",
        capacity=12, delay_ms=2.5, threads=3, sync=Sync.fsync,
    )  # fmt: skip
    assert parse_args(config.to_argv()) == config
    assert parse_args(ServerConfig().to_argv()) == ServerConfig()
