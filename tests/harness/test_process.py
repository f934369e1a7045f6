"""ServerProcess on another interpreter (``python=``), and the ``{workers}`` placeholder (real processes)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from seatlab.harness.process import ServerProcess, ServerStartError
from seatlab.harness.templates import command_argv, placeholders
from seatlab.server.config import ServerConfig


def test_a_server_runs_on_the_python_it_is_given(tmp_path: Path) -> None:
    python = Path(sys.executable)  # a path, as the runner's server_python is given
    with ServerProcess("coro", python=python, log_dir=tmp_path / "logs") as server:
        assert server.command[:3] == [str(python), "-m", "seatlab.server"]
        assert server.port > 0 and server.running
    assert ServerProcess("coro").command[0] == sys.executable  # by default, this one
    assert ServerProcess("coro", python="/opt/py/bin/python").command[0] == "/opt/py/bin/python"


def test_a_python_without_seatlab_fails_to_start_saying_why(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=60)
    server = ServerProcess("coro", python=venv / "bin" / "python", log_dir=tmp_path / "logs")
    # seatlab itself, or (in a checkout, which it finds in the working directory) protobuf
    with pytest.raises(ServerStartError, match=r"exited with code 1 before READY: .*No module named"), server:
        pass


def test_the_workers_placeholder_fills_in_the_servers_processes() -> None:
    config = ServerConfig(backend="external", port=9000, workers=3)
    assert command_argv("./srv --port {port} -w {workers}", config) == ["./srv", "--port", "9000", "-w", "3"]
    assert placeholders("./srv --port {port} -w{workers}") == {"port", "workers"}
    assert placeholders("./srv --port {port}") == {"port"}
