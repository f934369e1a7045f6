"""Bad parameters give a clear error naming them, and a non-zero exit from the command."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from seatlab.client import LoadError, LoadSpec, run_load


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"clients": 0}, "clients must be an integer >= 1"),
        ({"clients": 2, "diversity": 3}, "diversity 3 exceeds clients 2"),
        ({"diversity": 0}, "diversity"),
        ({"rate": 0.0}, "rate"),
        ({"rate": -5.0}, "rate"),
        ({"rate": float("nan")}, "rate"),
        ({"schedule": "poisson"}, "needs a rate"),
        ({"mode": "forever"}, "mode"),
        ({"connect": "sometimes"}, "connect"),
        ({"duration_s": 0}, "duration_s"),
        ({"timeout_s": -1}, "timeout_s"),
        ({"port": 0}, "port"),
        ({"port": 70000}, "port"),
    ],
)
def test_bad_spec_is_a_load_error_naming_it(tmp_path: Path, changes: dict[str, object], named: str) -> None:
    spec = LoadSpec(out_dir=tmp_path, **changes)  # type: ignore[arg-type]
    with pytest.raises(LoadError, match=named) as info:
        run_load(spec)
    assert info.value.exit_code == 2


def test_no_server_listening_is_a_load_error(tmp_path: Path) -> None:
    port = _free_port()
    with pytest.raises(LoadError, match=f"no server listening at 127.0.0.1:{port}") as info:
        run_load(LoadSpec(port=port, out_dir=tmp_path))
    assert info.value.exit_code == 1


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "seatlab.client", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
        check=False,
    )


@pytest.mark.parametrize(
    ("args", "code", "named"),
    [
        (["--clients", "0"], 2, "clients must be an integer >= 1, not 0"),
        (["--clients", "2", "--diversity", "4"], 2, "diversity 4 exceeds clients 2"),
        (["--rate", "0"], 2, "rate (bookings/s) must be > 0, not 0.0"),
        (["--rate", "fast"], 2, "--rate: invalid float value: 'fast'"),
        (["--loop", "closed", "--rate", "5"], 2, "cannot go with --loop closed"),
        (["--schedule", "poisson"], 2, "needs a rate"),
        (["--mode", "forever"], 2, "--mode: invalid choice"),
        ([], 1, "no server listening at 127.0.0.1:"),
    ],
)
def test_cli_bad_parameters_exit_non_zero_with_a_clear_message(
    tmp_path: Path, args: list[str], code: int, named: str
) -> None:
    result = _cli("--port", str(_free_port()), "--out-dir", str(tmp_path / "out"), *args, cwd=tmp_path)
    assert result.returncode == code, result.stderr
    assert named in result.stderr
    assert "Traceback" not in result.stderr
