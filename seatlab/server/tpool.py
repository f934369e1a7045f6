"""The thread-pool backend: a fixed ThreadPoolExecutor, blocking sockets.

How this works: an acceptor thread accepts connections and submits one task
per connection to a ``ThreadPoolExecutor(max_workers=--threads)``. The pool
thread that picks the task up serves that connection for its whole life
with blocking ``recv``/``sendall`` and spends the delay in ``time.sleep``.
With more connections than threads, the others wait in the executor's queue
unanswered, exactly like the original C++ pool: this is the effect the
experiments measure, so it is not hidden behind extra threads.

Bounded buffering comes free: a thread reads at most 64 KiB, answers it, and
blocks in ``sendall`` while a client does not read its answers.

What to serve comes from the sans-IO ``ServerConnection`` and the answers
from ``SeatService.answer``, as in every backend; a framing error ends the
connection with the lingering close. Out of file descriptors, the acceptor
backs off (``AcceptBackoff``) instead of retrying at once.

Shutdown: the acceptor stops; every connection idle in ``recv`` gets
``shutdown(SHUT_RD)``, which wakes it with EOF; a busy one finishes the
request it has started, sends its answer, answers what it received but did
not start ``Error{INTERNAL}`` "shutting down" and closes. Connections still
queued are taken back from the executor (``cancel_futures``) and answered
the same for what they sent, unserved, without blocking: what their socket
buffers take (a client that never reads gets what fits), then closed. A
pool thread still running after the grace period (blocked in a ``sendall``
to a client that never reads) is woken by ``shutdown(SHUT_RDWR)`` on its
socket (closing it from another thread would not wake the call), so the
interpreter's exit, which joins the pool's threads, is not held up.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor

from seatlab.protocol.connection import LINGER_S, TURN_FRAMES, ServerConnection
from seatlab.seats.service import SeatService, shutting_down_answers
from seatlab.seats.work import Work
from seatlab.server.context import ServerContext
from seatlab.server.listener import OUT_OF_FDS, AcceptBackoff

log = logging.getLogger("seatlab.server.tpool")

_RECV_SIZE = 65536
_ACCEPT_POLL_S = 0.2
_REFUSE_READ_BYTES = _RECV_SIZE
"""A queued connection at shutdown: at most this much of what it sent is read (and answered)."""


class _Connections:
    """The open connections and which are idle in ``recv``, so shutdown can wake exactly those.

    A busy connection is never shut for reading during the grace period: a
    client still sending would get a reset and could lose the answer of the
    request it has started. Going idle and beginning the shutdown take the
    same lock, so a thread either sees the shutdown or is woken by it.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._idle: set[socket.socket] = set()
        self._queued: dict[socket.socket, Future[None]] = {}
        self.closed = False

    def queue(self, conn: socket.socket, task: Future[None]) -> None:
        """``conn`` waits in the executor's queue as ``task`` (until a pool thread takes it)."""
        with self._lock:
            self._queued[conn] = task
        task.add_done_callback(lambda done: self._dequeue(conn, done))

    def _dequeue(self, conn: socket.socket, task: Future[None]) -> None:
        if task.cancelled():
            return  # kept for ``take_cancelled``: no pool thread will answer or close it
        with self._lock:
            self._queued.pop(conn, None)

    def take_cancelled(self) -> list[socket.socket]:
        """The queued connections whose task was cancelled (never started): the caller answers them."""
        with self._lock:
            conns = [conn for conn, task in self._queued.items() if task.cancelled()]
            for conn in conns:
                del self._queued[conn]
        return conns

    def add(self, conn: socket.socket) -> bool:
        """Register ``conn``; False once shutdown began (the caller closes it)."""
        with self._lock:
            if self.closed:
                return False
            self._open.add(conn)
            return True

    def discard(self, conn: socket.socket) -> None:
        with self._lock:
            self._open.discard(conn)
            self._idle.discard(conn)

    def go_idle(self, conn: socket.socket) -> bool:
        """About to block in ``recv``: False if shutdown began (serve no more)."""
        with self._lock:
            if self.closed:
                return False
            self._idle.add(conn)
            return True

    def go_busy(self, conn: socket.socket) -> None:
        with self._lock:
            self._idle.discard(conn)

    def begin_shutdown(self) -> None:
        """No connection goes idle again; the idle ones are woken by EOF (``SHUT_RD``)."""
        with self._lock:
            self.closed = True
            idle = list(self._idle)
        _shutdown(idle, socket.SHUT_RD)

    def shutdown_all(self) -> int:
        """``SHUT_RDWR`` every open connection (after the grace period); how many."""
        with self._lock:
            self.closed = True
            conns = list(self._open)
        _shutdown(conns, socket.SHUT_RDWR)
        return len(conns)


def _shutdown(conns: list[socket.socket], how: int) -> None:
    for conn in conns:
        with contextlib.suppress(OSError):
            conn.shutdown(how)


def _serve_connection(
    conn: socket.socket,
    service: SeatService,
    delay_s: float,
    work: Work | None,
    stopping: threading.Event,
    conns: _Connections,
) -> None:
    """Serve one connection until it closes: the whole life of one pool thread's task."""
    core = ServerConnection()
    try:
        if stopping.is_set() or not conns.add(conn):
            _refuse_queued(conn, core)  # queued until shutdown: answer what it sent, unserved
            return
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        _serve_requests(conn, core, service, delay_s, work, stopping, conns)
    except OSError:
        pass  # the client went away (reset, broken pipe): nothing more to answer
    except Exception:
        log.exception("connection failed")
    finally:
        conns.discard(conn)
        conn.close()


def _serve_requests(
    conn: socket.socket,
    core: ServerConnection,
    service: SeatService,
    delay_s: float,
    work: Work | None,
    stopping: threading.Event,
    conns: _Connections,
) -> None:
    answer = service.answer
    limit = 1 if delay_s else TURN_FRAMES
    recv = conn.recv
    sendall = conn.sendall
    while True:
        if stopping.is_set():  # start nothing new: what arrived is answered "shutting down"
            payloads = core.take_all()
            if payloads:
                sendall(shutting_down_answers(payloads))
            return
        batch = core.next_batch(limit)
        if batch.payloads:
            if work is not None:
                work(len(batch.payloads))  # in the pool thread: the GIL decides whether threads overlap
            if delay_s:
                time.sleep(delay_s)
            sendall(answer(batch.payloads) + batch.error)
        elif batch.error:
            sendall(batch.error)
        if batch.close:
            if batch.error and not core.eof:
                _linger(conn, core)
            return
        if batch.more:
            continue  # the thread is this connection's alone: no turn to give up
        if not conns.go_idle(conn):
            continue  # shutdown began: answered above
        data = recv(_RECV_SIZE)
        conns.go_busy(conn)
        core.receive_data(data)


def _linger(conn: socket.socket, core: ServerConnection) -> None:
    """After a framing error's Error: shut our side, read and discard a while (bounded), then close."""
    conn.shutdown(socket.SHUT_WR)
    deadline = time.monotonic() + LINGER_S
    while not core.linger_over and (left := deadline - time.monotonic()) > 0:
        conn.settimeout(left)
        try:
            data = conn.recv(_RECV_SIZE)
        except TimeoutError:
            break
        if not data:
            return
        core.receive_data(data)


def _refuse_queued(conn: socket.socket, core: ServerConnection) -> None:
    """A connection still queued at shutdown: ``INTERNAL`` "shutting down" for each request it sent.

    Never blocks: it reads what is there (at most ``_REFUSE_READ_BYTES``, a client that keeps writing
    does not keep it here) and sends what the socket buffer takes of the answers. Shutdown goes
    through every queued connection this way, so one that blocked would hold up the exit.
    """
    conn.setblocking(False)
    read = 0
    with contextlib.suppress(BlockingIOError):
        while read < _REFUSE_READ_BYTES and (data := conn.recv(_RECV_SIZE)):
            read += len(data)
            core.receive_data(data)
    payloads = core.take_all()
    if payloads:
        with contextlib.suppress(BlockingIOError):
            conn.send(shutting_down_answers(payloads))


def serve(ctx: ServerContext) -> None:
    """Run the pool until a signal, then shut down gracefully."""
    config = ctx.config
    service = ctx.service
    stopping = ctx.stopping
    conns = _Connections()
    pool = ThreadPoolExecutor(max_workers=config.threads, thread_name_prefix="tpool")
    listener = ctx.sock
    listener.settimeout(_ACCEPT_POLL_S)
    backoff = AcceptBackoff()

    def accept_loop() -> None:
        while not stopping.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError as exc:
                if stopping.is_set():
                    return
                if exc.errno in OUT_OF_FDS:
                    time.sleep(backoff.failed(exc))  # never spin, one log line per episode
                else:
                    log.warning("accept failed: %s", exc)
                continue
            if backoff.backing_off:
                backoff.succeeded()
            conn.settimeout(None)
            conns.queue(
                conn, pool.submit(_serve_connection, conn, service, config.delay_s, ctx.work, stopping, conns)
            )

    acceptor = threading.Thread(target=accept_loop, name="tpool-acceptor", daemon=True)
    acceptor.start()
    ctx.announce_ready()
    ctx.wait_for_stop()

    acceptor.join()
    grace_over = time.monotonic() + ctx.shutdown_grace
    conns.begin_shutdown()  # wake idle recv()s; started requests still get their answers
    pool.shutdown(wait=False, cancel_futures=True)  # no queued connection starts now
    for conn in conns.take_cancelled():
        try:
            _refuse_queued(conn, ServerConnection())
        except OSError:
            pass  # the client went away
        finally:
            conn.close()
    finished = threading.Event()

    def drain_pool() -> None:
        pool.shutdown(wait=True)
        finished.set()

    threading.Thread(target=drain_pool, name="tpool-drain", daemon=True).start()
    if not finished.wait(max(grace_over - time.monotonic(), 0.0)):
        n = conns.shutdown_all()
        log.warning(
            "%d connections still busy after %.1f s (clients not reading?): closing them",
            n,
            ctx.shutdown_grace,
        )
        finished.wait(2.0)
