"""A run that measured nothing, or whose audit could not be done, is a failed run (exit code 4).

Real servers killed (SIGKILL) or stopped (SIGSTOP) in the middle of a run,
and in-test servers that answer the first Stats and then close every
connection, send garbage or announce oversized frames.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from loadgen_fakes import HostileServer

from seatlab.client import FailedRunError, LoadSpec, run_load
from seatlab.client.probe import read_stats
from seatlab.harness.process import ServerProcess


@pytest.fixture
def coro(tmp_path: Path) -> Iterator[ServerProcess]:
    with ServerProcess("coro", capacity=10_000, delay_ms=2, log_dir=tmp_path / "server") as server:
        try:
            yield server
        finally:
            os.kill(server.pid, signal.SIGCONT)  # a stopped server must be able to take its SIGTERM


def _signal_once_booking(server: ServerProcess, signum: int) -> threading.Thread:
    """Send ``signum`` to the server 0.5 s after its Stats first show a booking (the run is measuring)."""

    def watch() -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and read_stats(server.host, server.port, 5.0)[1] == 0:
            time.sleep(0.05)
        time.sleep(0.5)  # past the warm-up: the window is open
        os.kill(server.pid, signum)

    thread = threading.Thread(target=watch)
    thread.start()
    return thread


@pytest.mark.parametrize("signum", [signal.SIGKILL, signal.SIGSTOP])
@pytest.mark.parametrize("mode", ["duration", "sellout"])
def test_a_server_killed_or_stopped_mid_run_fails_the_run(
    tmp_path: Path, coro: ServerProcess, signum: int, mode: str
) -> None:
    # 4 clients at 2 ms book at most 2000 seats/s: 10,000 seats outlast the signal
    timer = _signal_once_booking(coro, signum)
    with pytest.raises(FailedRunError) as info:
        run_load(LoadSpec(port=coro.port, clients=4, diversity=2, mode=mode, warmup_s=0.2, duration_s=1.5,
                          answer_wait_s=0.2, drain_s=0.2, timeout_s=1.0, max_time_s=4.0,
                          out_dir=tmp_path / "load"))  # fmt: skip
    timer.join()
    assert info.value.exit_code == 4
    assert "the audit could not be done: no Stats from the server" in str(info.value)
    summary = info.value.summary
    assert summary is not None and summary.audit.ok is None
    assert summary.answers > 0  # it was measuring until the signal: the audit is what failed
    assert json.loads((tmp_path / "load" / "summary.json").read_text())["audit"]["ok"] is None


@pytest.mark.parametrize(
    ("how", "named"),
    [("close", "reset"), ("garbage", "protocol"), ("oversized", "protocol: bad frame from the server")],
)
def test_a_server_that_answers_stats_then_misbehaves_fails_the_run(
    tmp_path: Path, how: str, named: str
) -> None:
    with HostileServer(how) as server, pytest.raises(FailedRunError) as info:
        run_load(LoadSpec(port=server.port, clients=3, diversity=1, mode="duration", warmup_s=0.2,
                          duration_s=0.5, answer_wait_s=0.2, drain_s=0.2, timeout_s=1.0,
                          out_dir=tmp_path / "load"))  # fmt: skip
    message = str(info.value)
    assert "it measured nothing: 0 answers in the measured window" in message and named in message
    assert info.value.summary is not None and info.value.summary.starved_clients == 3
    assert server.connections > 3  # the clients kept reconnecting: the run did try


def test_the_command_exits_4_on_a_failed_run_and_says_so_in_its_help(tmp_path: Path) -> None:
    with HostileServer("close") as server:
        result = subprocess.run(
            [sys.executable, "-m", "seatlab.client", "--port", str(server.port), "--clients", "2",
             "--mode", "duration", "--warmup", "0.1", "--duration", "0.3", "--answer-wait", "0.1",
             "--drain", "0.1", "--timeout", "1", "--out-dir", str(tmp_path / "out")],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
    assert result.returncode == 4, result.stderr
    assert "failed run: it measured nothing" in result.stderr and "Traceback" not in result.stderr
    assert "starved clients 2" in result.stdout  # the summary is printed all the same
    usage = subprocess.run(
        [sys.executable, "-m", "seatlab.client", "--help"], capture_output=True, text=True, check=True
    ).stdout
    assert "4 a failed run" in " ".join(usage.split())


def test_the_runners_point_of_a_run_whose_server_was_killed_is_failed_with_the_reason(
    tmp_path: Path, coro: ServerProcess
) -> None:
    """The runner's path (``load_summary``, ``point_row``): the summary alone looks measured (answers, audit
    not done: the calibration target's state), so only the load generator's verdict fails the point."""
    from seatlab.outputs import PointRow
    from seatlab.runner.execute import Measured, load_summary, point_row
    from seatlab.runner.sampler import ServerUsage

    timer = _signal_once_booking(coro, signal.SIGKILL)
    summary, error = load_summary(LoadSpec(port=coro.port, clients=4, diversity=2, mode="duration", warmup_s=0.2,
                                           duration_s=1.5, answer_wait_s=0.2, drain_s=0.2, timeout_s=1.0,
                                           max_time_s=4.0, out_dir=tmp_path / "load"))  # fmt: skip
    timer.join()
    assert isinstance(error, FailedRunError) and summary.answers > 0
    nan = float("nan")
    params = PointRow(
        point=0, repetition=0, backend="coro", threads=2, delay_ms=0.0, capacity=500, clients=4, mode="duration",
        diversity=2, rate=nan, connect="persistent", duration_s=1.5, bound_rps=nan, predicted_sellout_s=nan,
        server_cpus="", loadgen_cpus="", point_dir="00-coro-c4",
    )  # fmt: skip
    usage = ServerUsage(cpu_pct=5.0, peak_rss_mib=20.0, seconds=1.0)
    row = point_row(params, Measured(summary, error, usage, 0))  # the server's own exit code is judged apart
    assert row.status == "failed"
    assert row.reason.startswith("FailedRunError: failed run: the audit could not be done: no Stats"), row
