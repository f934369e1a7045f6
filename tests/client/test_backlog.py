"""Issue 17.1: a thread pool's backlog after the run is waited for, so its point gets an audit.

With more clients than pool threads, each queued connection holds one Book in its socket buffer
when the run ends, and the pool serves every one of them (one delay each, ``threads`` at a time)
before it reaches the end Stats's connection. The load generator waits for those answers while
the server keeps answering; a server that stops answering still fails the run, as before.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from seatlab.client import FailedRunError, LoadSpec, run_load
from seatlab.harness.process import ServerProcess

CLIENTS = 300
DELAY_MS = 20  # 1 thread: 300 queued Books take about 6 s after the run, more than the Stats wait (3 s)


@pytest.fixture
def pool(tmp_path: Path) -> Iterator[ServerProcess]:
    with ServerProcess(
        "tpool", capacity=100_000, delay_ms=DELAY_MS, threads=1, max_backlog=1024, log_dir=tmp_path / "server"
    ) as server:
        try:
            yield server
        finally:
            os.kill(server.pid, signal.SIGCONT)  # a stopped server must be able to take its SIGTERM


def _spec(server: ServerProcess, out: Path) -> LoadSpec:
    return LoadSpec(port=server.port, clients=CLIENTS, diversity=2, mode="duration", warmup_s=0.2,
                    duration_s=0.5, answer_wait_s=0.2, drain_s=0.2, timeout_s=3.0, max_time_s=60.0,
                    out_dir=out, progress=False)  # fmt: skip


def test_a_thread_pool_with_clients_queued_gets_its_figures_and_its_audit(
    tmp_path: Path, pool: ServerProcess
) -> None:
    """Before: 'the audit could not be done: no Stats from the server ... at the end (timed out)'."""
    summary = run_load(_spec(pool, tmp_path / "load"))
    assert summary.audit.ok is True, summary.audit
    assert summary.starved_clients >= CLIENTS - 2  # the model is unchanged: one thread, one client
    assert summary.backlog_requests >= CLIENTS - 2
    assert summary.backlog_answered == summary.backlog_requests
    assert summary.backlog_outcome == "answered"
    # one delay per queued Book, one thread: the wait is the pool's backlog, measured
    assert summary.backlog_wait_s >= 0.8 * summary.backlog_requests * DELAY_MS / 1000
    assert summary.unanswered == 0
    # the late answers change no figure: every starved request counts at its age when the window closed
    assert summary.latency_ms.censored >= CLIENTS - 2
    assert summary.latency_ms.lower_bound["p50"] is True


def test_a_server_that_stops_answering_its_backlog_still_fails_the_run(
    tmp_path: Path, pool: ServerProcess
) -> None:
    """SIGSTOP while the backlog drains: no answer for the quiet time is a stall, not a slow drain."""

    def stop_soon() -> None:
        time.sleep(2.5)  # the run (about 1.1 s) is over and the backlog (about 6 s) is draining
        os.kill(pool.pid, signal.SIGSTOP)

    timer = threading.Thread(target=stop_soon)
    timer.start()
    with pytest.raises(FailedRunError) as info:
        run_load(_spec(pool, tmp_path / "load"))
    timer.join()
    message = str(info.value)
    assert "the audit could not be done: no Stats from the server" in message
    assert "the server stopped answering with" in message
    summary = info.value.summary
    assert summary is not None and summary.backlog_outcome == "stalled"
    assert 0 < summary.backlog_answered < summary.backlog_requests
