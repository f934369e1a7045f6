"""Clients that abuse the server (issue 13): they may slow themselves down, never the others.

The abusers run in a separate process, so that their sending never holds
the GIL of the process that times the honest client.
"""

from __future__ import annotations

import contextlib
import errno
import multiprocessing
import os
import resource
import selectors
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from seatlab.protocol.codec import FrameDecoder, encode_varint
from seatlab.protocol.messages import ErrorCode, book_request, parse_response
from server.harness import Client, StartServer, new_uuid


def abuse(host: str, port: int, hogs: int, slow: int, seconds: float) -> None:
    """Open ``hogs`` connections that pipeline Books as fast as the socket takes them and never read,
    and ``slow`` slowloris connections that send one byte every 200 ms; keep it up for ``seconds``."""
    flood = book_request(1, new_uuid()) * 1600  # 64 KiB of pipelined (idempotent) Books
    one = book_request(1, new_uuid())
    sel = selectors.DefaultSelector()
    socks = []
    for _ in range(hogs):
        s = socket.create_connection((host, port))
        s.setblocking(False)
        sel.register(s, selectors.EVENT_WRITE)
        socks.append(s)
    slow_socks = [socket.create_connection((host, port)) for _ in range(slow)]
    end = time.monotonic() + seconds
    next_drip = 0.0
    drip = 0
    while (now := time.monotonic()) < end:
        if now >= next_drip:  # slowloris: the next byte of a frame, over and over
            for s in slow_socks:
                with contextlib.suppress(OSError):
                    s.send(one[drip % len(one) : drip % len(one) + 1])
            drip += 1
            next_drip = now + 0.2
        for key, _ in sel.select(timeout=0.05):
            with contextlib.suppress(BlockingIOError, OSError):
                key.fileobj.send(flood)  # type: ignore[union-attr]
    for s in socks + slow_socks:
        s.close()


@contextlib.contextmanager
def _abusers(host: str, port: int, hogs: int, slow: int, seconds: float) -> Iterator[None]:
    process = multiprocessing.get_context("spawn").Process(
        target=abuse, args=(host, port, hogs, slow, seconds), daemon=True
    )
    process.start()
    try:
        yield
    finally:
        process.join(seconds + 10)
        if process.is_alive():
            process.kill()
            process.join()


@pytest.mark.parametrize("backend", ["coro", "event"])
def test_abusive_clients_starve_neither_an_honest_client_nor_new_ones(start_server: StartServer) -> None:
    """40 pipelining hogs and 40 slowloris connections; an honest closed loop and a fresh connection
    every 0.3 s are still answered promptly: fair turns per connection, an accept never starved."""
    # one loop: what is tested is the per-connection turn and the accept. With two loops on one GIL every
    # hog's read callback re-takes the GIL from the other loop (up to the 5 ms switch interval each), and
    # the honest client's waits grow to 50-300 ms from the hand-offs alone (experiments/core/README.md)
    server = start_server(capacity=100_000, threads=1, max_backlog=1024)
    honest = Client(server.host, server.port, timeout=5)
    honest.book(new_uuid())
    latencies: list[float] = []
    fresh: list[float] = []
    with _abusers(server.host, server.port, hogs=40, slow=40, seconds=6.0):
        time.sleep(1.0)  # the hogs are connected and flooding
        end = time.monotonic() + 4.0
        next_fresh = 0.0
        while (now := time.monotonic()) < end:
            start = time.monotonic()
            assert honest.book(new_uuid()).WhichOneof("result") == "seat"
            latencies.append(time.monotonic() - start)
            if now >= next_fresh:
                start = time.monotonic()
                newcomer = Client(server.host, server.port, timeout=5)
                assert newcomer.book(new_uuid()).WhichOneof("result") == "seat"
                fresh.append(time.monotonic() - start)
                newcomer.close()
                next_fresh = now + 0.3
    honest.close()
    p99 = statistics.quantiles(latencies, n=100)[98] if len(latencies) > 100 else max(latencies)
    assert len(latencies) > 100, f"the honest client got {len(latencies)} answers in 4 s"
    assert p99 < 0.25, f"honest p99 {p99 * 1000:.0f} ms over {len(latencies)} answers"
    assert max(fresh) < 1.0, f"fresh connections answered in up to {max(fresh):.2f} s"


def _limited_server(backend: str, log: Path, nofile: int) -> tuple[subprocess.Popen[str], int]:
    """A server whose open-files limit (soft and hard: it cannot raise it) is ``nofile``."""

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))

    flags = f"--backend {backend} --port 0 --max-backlog 512".split()
    argv = [sys.executable, "-m", "seatlab.server", *flags]
    with log.open("w") as err:
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=err, text=True, preexec_fn=limit)  # noqa: PLW1509
    assert proc.stdout is not None
    ready = proc.stdout.readline().split()
    assert ready[:1] == ["READY"], log.read_text()
    return proc, int(ready[2])


def reconnect(host: str, port: int, n: int, seconds: float) -> None:
    """Keep ``n`` connections open for ``seconds``: one the server closes is opened again at once."""
    sel = selectors.DefaultSelector()

    def open_one() -> None:
        with contextlib.suppress(OSError):
            sel.register(socket.create_connection((host, port), timeout=2), selectors.EVENT_READ)

    for _ in range(n):
        open_one()
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        for key, _ in sel.select(timeout=0.05):
            sock: socket.socket = key.fileobj  # type: ignore[assignment]
            try:
                data = sock.recv(4096)
            except OSError:
                data = b""
            if not data:  # closed by the server: come back
                sel.unregister(sock)
                sock.close()
                open_one()
    for key in list(sel.get_map().values()):
        key.fileobj.close()  # type: ignore[union-attr]


@pytest.mark.parametrize("backend", ["tpool", "tpool_dispatch", "coro", "event"])
def test_out_of_fds_backs_off_with_one_line_and_serves_again(backend: str, tmp_path: Path) -> None:
    """Past the fd limit, with clients that come back when closed, the server neither spins nor logs
    per attempt, and serves again once descriptors are free."""
    log = tmp_path / "server.stderr"
    proc, port = _limited_server(backend, log, nofile=64)
    clients = multiprocessing.get_context("spawn").Process(
        target=reconnect, args=("127.0.0.1", port, 150, 4.0), daemon=True
    )
    try:
        clients.start()
        time.sleep(1.5)  # every descriptor taken, the rest waiting or coming back
        server = psutil.Process(proc.pid)
        server.cpu_percent()
        time.sleep(2.0)
        cpu = server.cpu_percent()
        clients.join(10)
        assert cpu < 25, f"{cpu:.0f}% CPU while out of file descriptors"
        client = Client("127.0.0.1", port, timeout=5)
        start = time.monotonic()
        assert client.book(new_uuid()).WhichOneof("result") == "seat"  # served again
        assert time.monotonic() - start < 3
        client.close()
        lines = [line for line in log.read_text().splitlines() if "EMFILE" in line or "Too many open" in line]
        # a line when an episode begins and one when it ends, per accepting loop (2) or thread (1)
        assert 1 <= len(lines) <= 12, f"{len(lines)} lines about it:\n" + "\n".join(lines[:10])
    finally:
        if clients.is_alive():
            clients.kill()
        proc.terminate()
        assert proc.wait(15) == 0


@pytest.mark.parametrize("backend", ["tpool", "tpool_dispatch", "coro", "event"])
def test_at_the_fd_limit_clients_coming_and_going_make_one_episode_not_a_line_per_accept(
    backend: str, tmp_path: Path
) -> None:
    """Every answered per-request client frees a descriptor: one accept works, the next fails. Under that
    churn the episode goes on (one line when it begins) instead of ending and beginning per attempt."""
    from seatlab.client import LoadSpec, run_load

    log = tmp_path / "server.stderr"
    proc, port = _limited_server(backend, log, nofile=64)
    try:
        summary = run_load(LoadSpec(port=port, clients=150, diversity=1, mode="duration", warmup_s=0.3,
                                    duration_s=2.0, connect="per-request", timeout_s=5.0, drain_s=1.0,
                                    out_dir=tmp_path / "load", progress=False))  # fmt: skip
        assert summary.answers > 100, "the clients were not served at the limit"
        begun = [line for line in log.read_text().splitlines() if "not accepting for" in line]
        assert 1 <= len(begun) <= 4, f"{len(begun)} EMFILE episodes begun in 2.3 s of churn (one per accept?)"
    finally:
        proc.terminate()
        assert proc.wait(15) == 0


def newcomers(host: str, port: int, n: int, wait_s: float) -> list[float]:
    """Open ``n`` connections at once, a Book on each once connected; seconds from connect() to Seat."""
    sel = selectors.DefaultSelector()
    started: dict[socket.socket, float] = {}
    decoders: dict[socket.socket, FrameDecoder] = {}
    took: list[float] = []
    for _ in range(n):
        s = socket.socket()
        s.setblocking(False)
        started[s] = time.monotonic()
        code = s.connect_ex((host, port))
        if code not in (0, errno.EINPROGRESS):
            raise OSError(code, os.strerror(code))
        sel.register(s, selectors.EVENT_WRITE)
    deadline = time.monotonic() + wait_s
    while len(took) < n and time.monotonic() < deadline:
        for key, events in sel.select(timeout=0.05):
            s: socket.socket = key.fileobj  # type: ignore[assignment, no-redef]
            if events & selectors.EVENT_WRITE:  # connected: send the one Book
                s.send(book_request(1, new_uuid()))
                decoders[s] = FrameDecoder()
                sel.modify(s, selectors.EVENT_READ)
                continue
            data = s.recv(4096)
            if not data:
                raise ConnectionError("the server closed a probe connection")
            decoders[s].feed(data)
            if (payload := decoders[s].next_frame()) is not None:
                assert parse_response(payload).WhichOneof("result") == "seat"
                took.append(time.monotonic() - started[s])
                sel.unregister(s)
                s.close()
    for s in started:
        s.close()
    return took


@pytest.mark.parametrize("backend", ["coro"])
def test_newcomers_beside_4500_busy_connections_are_answered_within_1_s(
    start_server: StartServer, tmp_path: Path
) -> None:
    """Issue 13, 6: 4,500 closed-loop connections (the load generator's, delay 50 ms) and 500 more opened
    at once: each newcomer's Seat within 1 s of its connect(). Measured at load 3-4 on 2 cores: max 0.48 s.
    Against 6a237c3 (uvloop's stream accept, before seatlab's own accept loop) 28 of 500 over 1 s with that
    checkout's load generator, 475-490 of 500 (max 3.5-4.4 s) with today's (/work/notes/issue13-verify.md)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard < 12_000:
        pytest.skip(f"5,000 connections on each side need an open-files limit of 12,000 (hard limit {hard})")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 12_000), hard))
    server = start_server(capacity=1_000_000, delay_ms=50, threads=2, max_backlog=4096)
    load = subprocess.Popen(
        [sys.executable, "-m", "seatlab.client", "--port", str(server.port), "--clients", "4500",
         "--diversity", "2", "--mode", "duration", "--warmup", "1", "--duration", "4",
         "--out-dir", str(tmp_path / "load"), "--no-progress"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        time.sleep(3.0)  # its connections made and busy
        took = sorted(newcomers(server.host, server.port, 500, 10.0))
        out, _ = load.communicate(timeout=60)
    finally:
        if load.poll() is None:
            load.kill()
            load.wait()
    # 3: its audit sees the newcomers' 500 seats in the server's Stats, as it should; anything else failed
    assert load.returncode in (0, 3) and "starved clients 0" in out, out
    assert len(took) == 500, f"{500 - len(took)} of 500 newcomers unanswered after 10 s"
    late = [t for t in took if t > 1.0]
    assert not late, (
        f"{len(late)} of 500 newcomers waited over 1 s (p50 {took[250]:.2f} s, max {took[-1]:.2f} s)"
    )


@pytest.mark.parametrize("backend", ["tpool", "tpool_dispatch", "coro", "event", "calibrate"])
def test_error_arrives_although_the_client_keeps_writing(start_server: StartServer) -> None:
    """After an oversized prefix the client writes a megabyte more: the Error still arrives, every time."""
    server = start_server()
    for attempt in range(40):
        sock = socket.create_connection((server.host, server.port), timeout=10)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setblocking(False)
        out = memoryview(encode_varint(70000) + b"\x00" * (1 << 20))
        got = b""
        deadline = time.monotonic() + 10
        while not (got and len(got) >= 1 + got[0]) and time.monotonic() < deadline:  # write while reading
            with contextlib.suppress(BlockingIOError):
                out = out[sock.send(out[:65536]) :] if out else out
            try:
                data = sock.recv(4096)
            except BlockingIOError:
                time.sleep(0.001)
                continue
            except ConnectionResetError:
                pytest.fail(f"attempt {attempt}: reset before the Error arrived ({len(got)} bytes)")
            if not data:
                break
            got += data
        sock.close()
        assert got, f"attempt {attempt}: the server closed without the Error"
        error = parse_response(got[1 : 1 + got[0]])
        assert error.error.code == ErrorCode.FRAME_TOO_LARGE, attempt


@pytest.mark.parametrize("backend", ["tpool", "tpool_dispatch", "coro", "event", "calibrate"])
def test_error_arrives_after_the_client_wrote_4_mib_before_reading(start_server: StartServer) -> None:
    """A client that writes its whole (oversized) request before it reads, as HTTP clients do: the
    server's lingering close lets it finish and then read the Error. 4 MiB, more than the loopback
    socket buffers hold (1 MiB fits in them, so a server closing at once is not seen), less than
    LINGER_BYTES. Against 6a237c3 (close at once: a reset) every try failed with EPIPE or ECONNRESET."""
    server = start_server()
    request = encode_varint(70000) + b"\x00" * (4 << 20)
    for attempt in range(10):
        with socket.create_connection((server.host, server.port), timeout=10) as sock:
            try:
                sock.sendall(request)
            except OSError as exc:
                pytest.fail(
                    f"attempt {attempt}: {exc!r} while writing, before the client could read the Error"
                )
            got = b""
            while not (got and len(got) >= 1 + got[0]):
                data = sock.recv(4096)
                assert data, f"attempt {attempt}: the server closed without the Error"
                got += data
        assert parse_response(got[1 : 1 + got[0]]).error.code == ErrorCode.FRAME_TOO_LARGE, attempt


@pytest.mark.parametrize("backend", ["tpool", "tpool_dispatch"])
def test_sigterm_with_clients_that_never_read_exits_0_within_10_s(start_server: StartServer) -> None:
    """Issue 17.3: a 2-thread pool, 10 connections that pipeline Books without reading and 10 slowloris
    ones. On SIGTERM the pool threads blocked on them are woken and the queued ones answered without
    blocking: exit 0 within the spec's 10 s. Before the fix each queued connection's refusal blocked up
    to 1 s in sendall, two at a time, and the watchdog ended the process (exit 1) at 9.5 s."""
    server = start_server(capacity=100_000, threads=2, max_backlog=256)
    with _abusers(server.host, server.port, hogs=10, slow=10, seconds=10.0):
        time.sleep(2.0)  # connected: 2 served (blocked in sendall or recv), 18 queued with requests sent
        start = time.monotonic()
        code = server.stop()
        took = time.monotonic() - start
    assert code == 0, server.stderr_text()[-3000:]
    assert took < 10.0, f"exited after {took:.1f} s"
