"""ServerProcess never leaves a process behind and says why a start failed."""

from __future__ import annotations

import sys
from pathlib import Path

import psutil
import pytest

from seatlab.harness.process import ServerProcess, ServerStartError
from seatlab.modes import Sync
from seatlab.server.config import ServerConfig


def test_start_failure_names_backend_code_and_stderr(tmp_path: Path) -> None:
    server = ServerProcess("event", capacity=0, log_dir=tmp_path)
    with pytest.raises(ServerStartError) as info:
        server.__enter__()
    message = str(info.value)
    assert "backend event" in message and "exited with code 2" in message and "--capacity" in message
    assert not psutil.pid_exists(server.pid) or psutil.Process(server.pid).status() == psutil.STATUS_ZOMBIE


def test_ready_timeout_kills_and_reaps(tmp_path: Path) -> None:
    server = ServerProcess("tpool", log_dir=tmp_path, ready_timeout=0.0001)
    with pytest.raises(ServerStartError, match="not READY within"):
        server.__enter__()
    assert server.popen is not None and server.popen.returncode is not None  # reaped


def test_exit_stops_the_server_even_after_an_error(tmp_path: Path) -> None:
    with pytest.raises(KeyError, match="boom"), ServerProcess("coro", log_dir=tmp_path) as server:  # noqa: PT012
        assert server.port > 0 and server.host == "127.0.0.1"
        raise KeyError("boom")
    assert server.popen is not None and server.popen.returncode == 0  # SIGTERM, graceful
    assert (tmp_path / "server.stdout").read_text().startswith(f"READY 127.0.0.1 {server.port}\n")


def test_warns_loudly_without_upb(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION", "python")
    with ServerProcess("tpool", log_dir=tmp_path) as server:
        assert server.stop() == 0
    assert "not 'upb'" in (tmp_path / "server.stderr").read_text()


def test_runs_a_server_config_as_its_flags(tmp_path: Path) -> None:
    config = ServerConfig(
        backend="tpool", port=0, capacity=7, delay_ms=1.5, threads=3, db_path=tmp_path / "db.csv"
    )
    with ServerProcess(config, log_dir=tmp_path) as server:
        assert server.args == config.to_argv() and server.port > 0
    assert server.popen is not None and server.popen.returncode == 0
    assert (tmp_path / "db.csv").exists()  # the server got --db-path


def test_the_shorthand_builds_a_server_config_on_a_free_port(tmp_path: Path) -> None:
    server = ServerProcess("coro", capacity=50, delay_ms=2, db_path="x.csv", sync="fsync", log_dir=tmp_path)
    assert server.config == ServerConfig(
        backend="coro", port=0, capacity=50, delay_ms=2, db_path=Path("x.csv"), sync=Sync.fsync
    )
    with pytest.raises(TypeError, match="capacity"):
        ServerProcess(ServerConfig(), capacity=5, log_dir=tmp_path)


def test_runs_an_external_command_with_the_same_lifecycle(tmp_path: Path) -> None:
    argv = [sys.executable, "-m", "seatlab.server", *ServerConfig(backend="event", port=0).to_argv()]
    with ServerProcess(ServerConfig(backend="mine"), log_dir=tmp_path, command=argv) as server:
        assert server.command == argv and server.port > 0 and psutil.Process(server.pid).cmdline() == argv
    assert server.popen is not None and server.popen.returncode == 0  # SIGTERM, graceful


def test_a_program_that_does_not_exist_is_named(tmp_path: Path) -> None:
    server = ServerProcess(ServerConfig(backend="mine"), log_dir=tmp_path, command=[str(tmp_path / "nope")])
    with pytest.raises(ServerStartError, match=r"backend mine\) could not start '.*nope': No such file"):
        server.__enter__()
    assert server.popen is None and all(f.closed for f in server._files)


def test_a_program_that_prints_something_else_than_ready_is_killed_and_named(tmp_path: Path) -> None:
    command = [sys.executable, "-c", "import time; print('hello', flush=True); time.sleep(60)"]
    server = ServerProcess(ServerConfig(backend="chatty"), log_dir=tmp_path, command=command)
    with pytest.raises(ServerStartError, match=r"chatty, command .*printed b'hello' instead of READY"):
        server.__enter__()
    assert server.popen is not None and server.popen.returncode == -9  # killed and reaped
