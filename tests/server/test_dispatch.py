"""tpool_dispatch: a selector hands each request to the pool, so a thread is held for a request, not a
connection (issue 23). Same bound as tpool (threads / delay), no client starved, answers in order."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from seatlab.client import LoadSpec, run_load
from seatlab.harness.process import ServerProcess
from seatlab.protocol.messages import book_request
from server.harness import Client, new_uuid

DELAY_MS = 50.0


@pytest.fixture
def pool(tmp_path: Path) -> Iterator[ServerProcess]:
    with ServerProcess(
        "tpool_dispatch", capacity=10_000, delay_ms=DELAY_MS, threads=2, log_dir=tmp_path / "server"
    ) as server:
        yield server


def _pipeline(server: ServerProcess, n: int, out: list[float], ids: list[list[int]]) -> None:
    client = Client(server.host, server.port, timeout=10)
    start = time.monotonic()
    client.send(b"".join(book_request(i, new_uuid()) for i in range(1, n + 1)))  # n Books in one write
    answers = [client.receive() for _ in range(n)]
    out.append(time.monotonic() - start)
    ids.append([a.id for a in answers])
    assert all(a.WhichOneof("result") == "seat" for a in answers)
    client.close()


def test_pipelined_requests_are_answered_in_order_one_after_another(pool: ServerProcess) -> None:
    """Six Books in one write: six answers, in the requests' order, each after its own delay (the spec
    serves a connection's requests one after another), whichever pool thread served each."""
    took: list[float] = []
    ids: list[list[int]] = []
    _pipeline(pool, 6, took, ids)
    assert ids == [[1, 2, 3, 4, 5, 6]]
    assert took[0] >= 6 * DELAY_MS / 1000 * 0.95


def test_two_pipelining_clients_are_served_at_once_by_two_threads(pool: ServerProcess) -> None:
    """Two connections, four Books each: the two pool threads serve them side by side (about 4 delays,
    not 8), and each connection's answers keep their order."""
    took: list[float] = []
    ids: list[list[int]] = []
    clients = [threading.Thread(target=_pipeline, args=(pool, 4, took, ids)) for _ in range(2)]
    for t in clients:
        t.start()
    for t in clients:
        t.join(30)
    assert ids == [[1, 2, 3, 4]] * 2
    assert max(took) < 7 * DELAY_MS / 1000, (
        f"took {max(took):.3f} s: the connections were served one at a time"
    )


def test_more_clients_than_threads_take_turns_and_none_starves(tmp_path: Path) -> None:
    """tpool at 2 threads and 6 clients starves 4 (tests/client/test_backends.py); here every client gets
    its turn at the same bound, 2 / 20 ms = 100 answers/s."""
    with ServerProcess(
        "tpool_dispatch", capacity=1000, delay_ms=20, threads=2, log_dir=tmp_path / "server"
    ) as server:
        s = run_load(LoadSpec(port=server.port, clients=6, diversity=2, mode="duration", warmup_s=0.3,
                              duration_s=1.5, answer_wait_s=0.5, drain_s=0.5, out_dir=tmp_path / "load"))  # fmt: skip
    assert s.starved_clients == 0 and s.min_client_answers > 0, s.warnings
    assert s.fairness_jain > 0.9
    assert 60 <= s.throughput_rps <= 105  # the bound, threads / delay: 100/s
    assert s.audit.ok is True
