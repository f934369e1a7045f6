"""``--workers N``: N real server processes on one port, one seat store, one db file.

The conformance suite runs on every backend with ``--workers 2`` (tests/conformance); these are the
promises that only exist across processes: the clients spread over the workers, the capacity sold
once whichever worker a Book reaches, a kill -9 of the whole server losing nothing acknowledged,
and a worker that dies stopping the server.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil
import pytest

from seatlab.harness.process import ServerProcess
from server.harness import Client, new_uuid


def workers_of(server: ServerProcess) -> list[psutil.Process]:
    return psutil.Process(server.pid).children()


def test_the_clients_spread_over_the_workers_and_the_capacity_is_sold_once(tmp_path: Path) -> None:
    """300 connections over 2 coro workers, 200 seats: every connection books its own uuid and one
    uuid they all share. Both workers hold connections; 199 seats go to the own uuids, 1 to the
    shared one, the rest sell out; Stats agree on every connection; the db file holds exactly that."""
    db = tmp_path / "db.csv"
    with ServerProcess("coro", capacity=200, workers=2, db_path=db, log_dir=tmp_path / "log") as server:
        assert server.stdout_path.read_text().count("READY") == 1
        clients = [Client(server.host, server.port) for _ in range(300)]
        time.sleep(0.3)  # the accepts: each worker's loop takes its connections off its own socket
        held = [
            sum(1 for c in w.net_connections("tcp") if c.status == psutil.CONN_ESTABLISHED)
            for w in workers_of(server)
        ]
        assert len(held) == 2 and min(held) >= 30, f"connections per worker: {held}"
        shared = new_uuid()

        def book(client: Client) -> tuple[int, int]:
            return client.book(shared).seat.number, client.book(new_uuid()).seat.number

        with ThreadPoolExecutor(32) as pool:
            answers = list(pool.map(book, clients))
        assert len({s for s, _ in answers}) == 1, "the shared uuid got two seats"
        own = [n for _, n in answers if n]
        assert len(own) == len(set(own)) == 199 and answers[0][0] not in own
        assert {c.stats().stats.booked for c in clients} == {200}
        for client in clients:
            client.close()
        assert server.stop() == 0
    lines = db.read_text().splitlines()[1:]
    assert sorted(int(line.split(",")[0]) for line in lines) == list(range(1, 201))


@pytest.mark.parametrize("backend", ["tpool", "event"])
def test_kill_9_of_the_whole_server_under_load_loses_no_acknowledged_booking(
    backend: str, tmp_path: Path
) -> None:
    """Eight clients book as fast as they are answered on 2 workers; the supervisor gets SIGKILL.
    Its workers die with it (no orphan keeps the port or the file), and a new server on the same
    db file holds every seat that was acknowledged, at the same number."""
    db = tmp_path / "db.csv"
    acknowledged: dict[str, int] = {}
    lock = threading.Lock()
    stop = threading.Event()
    server = ServerProcess(
        backend, capacity=100_000, workers=2, threads=4, db_path=db, log_dir=tmp_path / "a"
    )
    server.__enter__()
    workers = workers_of(server)

    def load() -> None:
        client = Client(server.host, server.port, timeout=5)
        try:
            while not stop.is_set():
                u = new_uuid()
                number = client.book(u).seat.number
                with lock:
                    acknowledged[u] = number
        except (OSError, AssertionError):  # the server is gone mid-request: that one was not acknowledged
            pass
        finally:
            client.close()

    threads = [threading.Thread(target=load) for _ in range(8)]
    for t in threads:
        t.start()
    time.sleep(1.0)
    server.kill()
    stop.set()
    for t in threads:
        t.join(10)
    _, alive = psutil.wait_procs(workers, timeout=5)
    assert not alive, f"workers outlived the supervisor's kill -9: {alive}"
    assert len(acknowledged) > 50, f"only {len(acknowledged)} bookings before the kill"
    with ServerProcess(backend, capacity=100_000, workers=2, db_path=db, log_dir=tmp_path / "b") as again:
        client = Client(again.host, again.port)
        assert client.stats().stats.booked >= len(acknowledged)
        lost = {u: n for u, n in acknowledged.items() if client.book(u).seat.number != n}
        assert not lost, f"{len(lost)} of {len(acknowledged)} acknowledged bookings lost or moved"
        client.close()


def test_a_worker_that_dies_stops_the_server_non_zero_naming_it(tmp_path: Path) -> None:
    with ServerProcess("event", capacity=50, workers=2, log_dir=tmp_path / "log") as server:
        victim = workers_of(server)[1]
        victim.kill()
        assert server.popen is not None
        code = server.popen.wait(timeout=15)
        assert code == 1
        stderr = server.stderr_text()
        assert f"(pid {victim.pid}) killed by SIGKILL" in stderr and "stopping the server" in stderr


def test_sigterm_before_every_worker_is_ready_still_stops_them_all(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "seatlab.server", "--backend", "coro", "--port", "0", "--workers", "3"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    time.sleep(0.4)  # the supervisor has forked, the workers are starting their loops
    workers = psutil.Process(proc.pid).children()
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=15) == 0, proc.stderr.read().decode() if proc.stderr else ""
    _, alive = psutil.wait_procs(workers, timeout=1)
    assert not alive


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--workers", "0"], "--workers: 0 is out of range"),
        (["--workers", "two"], "--workers: 'two' is not an integer"),
        (["--workers", "2", "--capacity", "4294967295"], "--workers 2: --capacity 4294967295 needs"),
    ],
)
def test_a_bad_workers_flag_exits_2_naming_it(argv: list[str], message: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "seatlab.server", "--port", "0", *argv],
        check=False,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2 and message in done.stderr, done.stderr


def test_workers_1_is_the_one_process_server(tmp_path: Path) -> None:
    """No supervisor, no fork: the default server is exactly what it was."""
    with ServerProcess("coro", capacity=5, log_dir=tmp_path / "log") as server:
        assert workers_of(server) == []
        assert os.path.exists(f"/proc/{server.pid}")
