"""``--workers N``: N processes of one backend on one address and port, sharing one seat store.

How this works (gunicorn's arbiter, uvicorn's multiprocess supervisor): the lifecycle opens the
db file into a ``SharedSeatStore`` (shared memory, one process-shared lock) and binds N listening
sockets to the same address and port with ``SO_REUSEPORT`` (``lifecycle.bind_listeners``); ``supervise`` then forks N workers.
Worker i keeps socket i, closes the others, and serves it with the chosen backend exactly as a
one-process server does (its own signal handlers, its own watchdog), except that it tells the
supervisor it accepts instead of printing READY. The supervisor keeps no socket (a socket of the
group that nobody accepts on would still be handed connections), prints ``READY <host> <port>``
once every worker accepts, and then only watches:

- SIGTERM or SIGINT: it passes SIGTERM to every worker, waits for them, and exits 0 when every
  one exited 0; past the spec's 10 s it kills what is left and exits 1. A signal sent to the
  whole process group (a terminal's Ctrl-C) reaches each worker twice, from the terminal and from
  the supervisor: a worker takes both as one stop, and only the supervisor's own second signal
  ends everything at once.
- a worker that exits while nobody asked it to: the server stops, non-zero, naming the worker
  and how it ended. It does not start a new one: a worker can die holding the store's lock, or
  half-way through a change of the shared region, and no other process can tell; as PostgreSQL's
  postmaster does when a backend crashes, the shared state is given up, and the next start
  rebuilds it from the db file, which holds every acknowledged change.
- the supervisor itself killed (kill -9): every worker gets SIGKILL from the kernel
  (``PR_SET_PDEATHSIG``), so no orphan keeps serving, or holding the port, behind a restart.

Why ``SO_REUSEPORT`` and not one inherited listening socket: the kernel then hands each new
connection to one worker's socket by a hash of its addresses, so N workers get an even share of
the clients, whatever each is doing. With one shared socket every worker's loop is woken for
every connection and whichever accepts first takes it, which on a 2-core machine shared with the
load generator puts most clients on whichever worker happens to be scheduled. The price: a
connection waiting in the backlog of a worker that dies is lost with it (the server stops then
anyway), and the balance is by connection, not by load.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
import socket
import sys
import time
from collections.abc import Sequence
from types import FrameType

from seatlab.seats.service import SeatService
from seatlab.seats.work import Work
from seatlab.server.backends import Serve
from seatlab.server.config import ServerConfig
from seatlab.server.context import ServerContext

log = logging.getLogger("seatlab.server")

STOP_DEADLINE_S = 9.5
"""After a signal (or a worker's death) every worker is gone within this: then SIGKILL."""
_POLL_S = 0.02
_PR_SET_PDEATHSIG = 1


def supervise(
    config: ServerConfig,
    serve: Serve,
    service: SeatService | None,
    socks: Sequence[socket.socket],
    work: Work | None,
) -> int:
    """Fork the workers, print READY once all accept, pass on the stop; the server's exit code."""
    host, port = socks[0].getsockname()[:2]
    ready_r, ready_w = os.pipe()
    stop: list[str] = []
    pids: dict[int, int] = {}  # pid -> worker number

    def on_signal(signum: int, frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if stop:  # a second signal: at once, as a one-process server does
            os.write(2, f"seatlab.server WARNING: second {name}: killing the workers now\n".encode())
            for pid in pids:
                _signal(pid, signal.SIGKILL)
            os._exit(1)
        stop.append(name)

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, on_signal)  # before the forks: a signal meanwhile is kept, not lost
    supervisor = os.getpid()
    for number in range(config.workers):
        pid = os.fork()
        if pid == 0:  # the worker: never returns
            os.close(ready_r)
            _die_with(supervisor)
            _run_worker(number, config, serve, service, socks, work, ready_w)
        pids[pid] = number
    os.close(ready_w)
    for sock in socks:
        sock.close()
    log.info(
        "%d %s workers started (pids %s), one seat store",
        len(pids),
        config.backend,
        ", ".join(map(str, pids)),
    )

    codes: dict[int, int] = {}  # worker number -> exit status (negative: the signal that ended it)
    ready = 0
    failed: str | None = None
    os.set_blocking(ready_r, False)
    while not stop and failed is None:
        if ready < len(pids):
            with contextlib.suppress(BlockingIOError):
                ready += len(os.read(ready_r, 64))
            if ready >= len(pids):
                sys.stdout.write(f"READY {host} {port}\n")
                sys.stdout.flush()
                log.info("%s backend ready on %s:%d (%s)", config.backend, host, port, config.describe())
        failed = _reap(pids, codes)
        if failed is None and not stop:
            time.sleep(_POLL_S)
    os.close(ready_r)

    if failed is not None:
        log.error("%s; stopping the server: a worker may die holding the seat store's lock, so the "
                  "others do not go on without it (the db file holds every acknowledged change)", failed)  # fmt: skip
    else:
        log.info("%s: stopping %d workers", stop[0], len(pids))
    for pid in pids:
        _signal(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_DEADLINE_S
    while pids and time.monotonic() < deadline:
        _reap(pids, codes)
        time.sleep(_POLL_S)
    for pid, number in pids.items():
        log.error(
            "worker %d (pid %d) still running %.1f s after SIGTERM: killed", number, pid, STOP_DEADLINE_S
        )
        _signal(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        codes[number] = -signal.SIGKILL
    if failed is None and all(code == 0 for code in codes.values()):
        log.info("stopped")
        return 0
    log.error("workers' exit statuses: %s", ", ".join(f"{n}: {_status(c)}" for n, c in sorted(codes.items())))
    return 1


def _reap(pids: dict[int, int], codes: dict[int, int]) -> str | None:
    """Collect the workers that ended; the first one's story, if any did."""
    story: str | None = None
    while pids:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            break
        if pid == 0:
            break
        number = pids.pop(pid, None)
        if number is None:
            continue
        code = os.waitstatus_to_exitcode(status)
        codes[number] = code
        if story is None:
            story = f"worker {number} (pid {pid}) {_status(code)}"
    return story


def _status(code: int) -> str:
    return f"killed by {signal.Signals(-code).name}" if code < 0 else f"exited with status {code}"


def _signal(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


def _run_worker(
    number: int,
    config: ServerConfig,
    serve: Serve,
    service: SeatService | None,
    socks: Sequence[socket.socket],
    work: Work | None,
    ready_w: int,
) -> None:
    """A worker's whole life, in the forked child: serve socket ``number`` until SIGTERM; exits."""
    from seatlab.server.lifecycle import serve_until_stopped

    code = 1
    try:
        for handler in logging.getLogger().handlers:
            handler.setFormatter(logging.Formatter(f"seatlab.server[{number}] %(levelname)s: %(message)s"))
        sock = socks[number]
        for other in socks:
            if other is not sock:
                other.close()

        def tell_ready() -> None:
            os.write(ready_w, b"r")

        ctx = ServerContext(config, sock, service, worker=number, on_ready=tell_ready)
        ctx.work = work
        serve_until_stopped(ctx, serve, service)  # this worker's lines fsynced, its descriptor closed
        log.info("worker %d stopped", number)
        code = 0
    except BaseException:
        log.exception("worker %d failed", number)
    finally:
        logging.shutdown()
        sys.stdout.flush()
        os._exit(code)


def _die_with(supervisor: int) -> None:
    """SIGKILL this worker when the supervisor dies (Linux ``prctl``); exit if it is gone already."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        log.warning("cannot ask to die with the supervisor (prctl): a kill -9 of it leaves this worker")
    if os.getppid() != supervisor:  # it died before prctl took effect
        os._exit(1)
