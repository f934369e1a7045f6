"""The server process's lifecycle, written once for every backend (uvicorn ``server.py`` style).

How this works: ``main`` parses the flags (a bad one exits 2 naming it),
imports the chosen backend lazily, checks that protobuf runs on its fast
upb backend, raises the open-files limit, opens the db file and the seat
service (an unusable db exits 1 naming the file and line), binds the
listening socket, and installs SIGTERM/SIGINT handlers. It then calls the
backend's ``serve(ctx)`` in the main thread. The backend starts its threads
or loops, calls ``ctx.announce_ready()`` once it accepts connections (that
prints ``READY <host> <port>`` once, flushed), blocks in
``ctx.wait_for_stop()``, and on a signal stops accepting, finishes the
requests it has started, closes its connections within
``ctx.shutdown_grace`` seconds and returns. ``main`` then closes the
listener and flushes the db file, and exits 0. A watchdog ends the process
(exit 1) if a backend overstays the spec's 10 seconds; a second signal ends
it at once.
"""

from __future__ import annotations

import faulthandler
import logging
import os
import signal
import socket
import sys
import threading
import time
from types import FrameType

from seatlab.registry import FIXED_ANSWER
from seatlab.seats.journal import DbFileError, Journal
from seatlab.seats.service import SeatService
from seatlab.seats.shared import SharedSeatStore
from seatlab.seats.store import SeatStore
from seatlab.seats.work import Work
from seatlab.server.backends import Serve, load_backend
from seatlab.server.config import ServerConfig, parse_args
from seatlab.server.context import ServerContext
from seatlab.server.workers import supervise

log = logging.getLogger("seatlab.server")

SHUTDOWN_DEADLINE_S = 9.5
"""After a signal the process is gone within this, whatever the backend does."""


def check_protobuf() -> str:
    """Warn loudly unless protobuf runs on upb: the pure-Python one is ~10x slower."""
    from google.protobuf.internal import api_implementation

    kind = str(api_implementation.Type())
    if kind != "upb":
        log.warning(
            "!!! protobuf runs on its %r implementation, not 'upb': every request is much slower and "
            "measurements are not comparable (is PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION set?) !!!",
            kind,
        )
    return kind


def raise_fd_limit() -> int:
    """Raise the soft RLIMIT_NOFILE to the hard limit, so thousands of connections fit; return it."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
    if soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError) as exc:
            log.warning("cannot raise the open-files limit from %d to %d: %s", soft, target, exc)
    return soft


def open_service(config: ServerConfig) -> SeatService:
    """Open the db file (if any) and build the seat service; raises DbFileError.

    With ``--workers`` above 1 the seats go into shared memory (``SharedSeatStore``), built here,
    before the workers are forked, so that every one of them maps the same region.
    """
    journal: Journal | None = None
    seats: dict[int, str] = {}
    if config.db_path is not None:
        journal, seats = Journal.open(config.db_path, config.capacity, config.sync, config.compact_min_bytes)
        log.info("%s: restored %d booked seats", config.db_path, len(seats))
    if config.workers > 1:
        return SeatService(SharedSeatStore(config.capacity, journal, seats))
    return SeatService(SeatStore(config.capacity, journal, seats))


def bind_listeners(config: ServerConfig) -> list[socket.socket]:
    """The listening sockets (SO_REUSEADDR, the given backlog): one, or with ``--workers N`` N on one
    address and port (SO_REUSEPORT, ``seatlab.server.workers``), the first binding ``--port`` (0: a
    free one) and the others the port it got. OSError naming the address, with none left open."""
    shared = config.workers > 1
    socks: list[socket.socket] = []
    try:
        infos = socket.getaddrinfo(
            config.address, config.port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
        family, kind, proto, _, addr = infos[0]
        for _ in range(config.workers):
            sock = socket.socket(family, kind, proto)
            socks.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if shared:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            sock.bind(addr)
            sock.listen(config.max_backlog)
            addr = sock.getsockname()  # the port the first one got
    except OSError as exc:
        for sock in socks:
            sock.close()
        raise OSError(f"cannot listen on {config.address}:{config.port}: {exc.strerror or exc}") from exc
    return socks


def capture_signals(ctx: ServerContext) -> None:
    """SIGTERM/SIGINT -> stop (``ctx.wait_for_stop()`` returns) and a watchdog; a second signal exits at once.

    A worker of ``--workers`` takes a second signal as the same stop: a signal sent to the process
    group (a terminal's Ctrl-C, ``timeout``, a service manager) reaches it and then comes again from
    its supervisor, which alone decides when to give up (``seatlab.server.workers``).

    The handler runs in the main thread, between two bytecodes of whatever
    it was doing, so it takes no lock that thread might hold (an Event's
    or a Condition's, ``threading``'s): it only stores the signal's name
    and writes a byte to a pipe. The watchdog thread, started here, waits
    on that pipe and starts the 9.5 s count. The handlers stay until the
    process exits, so a signal during the final db flush cannot kill it
    half-way with the default action.
    """
    wake_r, wake_w = os.pipe()

    def watchdog() -> None:
        while True:
            try:
                if os.read(wake_r, 1):
                    break
            except InterruptedError:
                continue
        time.sleep(SHUTDOWN_DEADLINE_S)
        _overstayed()

    threading.Thread(target=watchdog, name="shutdown-watchdog", daemon=True).start()

    def handle(signum: int, frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if ctx.stop_signal is not None:
            if ctx.worker is not None:
                return
            os.write(2, f"seatlab.server WARNING: second {name}: exiting now without finishing\n".encode())
            os._exit(1)
        ctx.stop_signal = name
        os.write(wake_w, b"!")

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, handle)


def serve_until_stopped(ctx: ServerContext, serve: Serve, service: SeatService | None) -> None:
    """The signals captured, ``serve(ctx)`` until they stop it, then the listener closed and the db
    file flushed (fsynced and closed): a one-process server's life, and each worker's."""
    capture_signals(ctx)
    try:
        serve(ctx)
    finally:
        ctx.sock.close()
        log.info("connections closed, loops stopped; flushing the db file")
        if service is not None:
            service.store.close()


def _overstayed() -> None:
    log.error(
        "shutdown took longer than %.1f s; exiting without finishing; where each thread was:",
        SHUTDOWN_DEADLINE_S,
    )
    faulthandler.dump_traceback(all_threads=True)  # to stderr: what the shutdown was waiting for
    logging.shutdown()
    os._exit(1)


def run(config: ServerConfig, serve: Serve) -> int:
    """Open everything, run ``serve`` until a signal, close everything; the exit code."""
    check_protobuf()
    raise_fd_limit()
    service: SeatService | None = None
    if config.backend in FIXED_ANSWER:  # it books nothing: no seat service, no db
        if config.db_path is not None or config.delay_ms or config.work_ms:
            log.warning("calibrate ignores --db-path, --delay, --work and --sync: it answers a fixed Seat")
    else:
        try:
            service = open_service(config)
        except DbFileError as exc:
            log.error("%s", exc)
            return 1
    try:
        socks = bind_listeners(config)
    except OSError as exc:
        log.error("%s", exc)
        if service is not None:
            service.store.close()
        return 1
    work: Work | None = None
    if config.work_ms and service is not None:
        work = Work(config.work_ms, config.work_kind)  # once, before the workers: they share it
        log.info("%s", work.calibration.describe())
    if config.workers > 1:
        try:
            return supervise(config, serve, service, socks, work)
        finally:
            for listener in socks:
                listener.close()
            if service is not None:
                service.store.close()
    ctx = ServerContext(config, socks[0], service)
    ctx.work = work
    serve_until_stopped(ctx, serve, service)
    log.info("stopped")
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m seatlab.server``: the exit code (2 for a bad flag, 1 for a db or bind failure)."""
    logging.basicConfig(
        stream=sys.stderr, level=logging.INFO, format="seatlab.server %(levelname)s: %(message)s"
    )
    config = parse_args(argv)
    serve = load_backend(config.backend)
    return run(config, serve)
