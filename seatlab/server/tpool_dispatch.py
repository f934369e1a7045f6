"""The dispatching thread pool: one selector thread moves every connection's bytes, a pool serves requests.

How this works (gunicorn's ``gthread`` worker, Tomcat's NIO connector, Java's selector-plus-executor
servers): one thread runs a ``selectors`` loop over the listener and every connection. It reads what
is ready, hands the bytes to the connection's sans-IO ``ServerConnection``, and puts the batch it
hands out on the queue of a ``ThreadPoolExecutor(max_workers=--threads)``. A pool thread spends the
delay in ``time.sleep``, answers through ``SeatService.answer`` (the commit included) and gives the
answers back; the selector thread writes them. A thread is held for a request, not for a
connection: with more connections than threads, every connection waits its turn in the queue, and
none is starved for the life of another.

Order: a connection has at most one batch in the pool at a time (the spec serves a connection's
requests one after another); its next batch goes in once the previous one's answers are written,
so its answers keep its requests' order, whichever pool threads served them. With a delay a batch
is one request; without one, a turn's worth (``TURN_FRAMES``).

Only the selector thread touches sockets, so what the other backends promise holds the same way:
bounded buffering (reading stops past ``MAX_UNREAD`` unserved bytes, and nothing new starts while
answers wait to be written to a client that does not read), the lingering close after a framing
error, the accept back-off at the fd limit (``AcceptBackoff``). Shutdown: stop accepting; a
connection whose batch is in the pool gets its answers, every other request received is answered
``Error{INTERNAL}`` "shutting down", and each connection closes once its answers are written, or
after the grace period.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import selectors
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from seatlab.protocol.connection import LINGER_S, TURN_FRAMES, Batch, ServerConnection
from seatlab.seats.service import SeatService, shutting_down_answers
from seatlab.server.context import ServerContext
from seatlab.server.listener import ACCEPT_PER_TURN, OUT_OF_FDS, AcceptBackoff

log = logging.getLogger("seatlab.server.tpool_dispatch")

_RECV_SIZE = 65536
_TICK_S = 0.05
"""The selector's longest sleep: how often it looks at stopping, lingering and back-off deadlines."""


class _Conn:
    """One client, as the selector thread sees it: its socket, its core, what waits to be written."""

    __slots__ = ("batch", "closing", "core", "linger", "linger_until", "out", "sock")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.core = ServerConnection()
        self.out = bytearray()  # answers not yet taken by the socket
        self.batch: Batch | None = None  # the batch in the pool: nothing else starts until it is answered
        self.closing = False  # close once ``out`` is written
        self.linger = False  # after a framing error: once its Error is written, the lingering close
        self.linger_until = 0.0  # lingering: read and discard until then (monotonic), then close


class DispatchServer:
    """The selector thread's state: the listener, the connections, the pool and its answers."""

    def __init__(self, ctx: ServerContext) -> None:
        self.ctx = ctx
        self.service: SeatService = ctx.service
        self.delay_s = ctx.config.delay_s
        self.work = ctx.work
        self.limit = 1 if self.delay_s else TURN_FRAMES
        self.pool = ThreadPoolExecutor(max_workers=ctx.config.threads, thread_name_prefix="tpool-dispatch")
        self.selector = selectors.DefaultSelector()
        self.listener = ctx.sock
        self.listener.setblocking(False)
        self.backoff = AcceptBackoff()
        self.accept_again = 0.0  # backing off: no accept before this (monotonic)
        self.conns: set[_Conn] = set()
        self.lingering: set[_Conn] = set()  # after a framing error: closed at their linger_until
        self.answered: queue.SimpleQueue[tuple[_Conn, bytes]] = queue.SimpleQueue()
        self.wake_r, self.wake_w = socket.socketpair()
        self.wake_r.setblocking(False)
        self.wake_w.setblocking(False)
        self.selector.register(self.listener, selectors.EVENT_READ, None)
        self.selector.register(self.wake_r, selectors.EVENT_READ, self.wake_r)
        self.stopping = False

    # ---- the selector thread

    def run(self) -> None:
        """Select, accept, read, take the pool's answers and write them, until stopped and drained."""
        deadline = None
        while True:
            if self.stopping and deadline is None:
                deadline = time.monotonic() + self.ctx.shutdown_grace
                self._begin_shutdown()
            if deadline is not None and (not self.conns or time.monotonic() >= deadline):
                break
            for key, mask in self.selector.select(_TICK_S):
                data = key.data
                if data is None:
                    self._accept()
                elif data is self.wake_r:
                    with contextlib.suppress(BlockingIOError):
                        while self.wake_r.recv(4096):
                            pass
                else:
                    if mask & selectors.EVENT_WRITE:
                        self._writable(data)
                    if mask & selectors.EVENT_READ and data in self.conns:
                        self._readable(data)
            self._take_answers()
            self._housekeeping()
        left = len(self.conns)
        if left:
            log.warning("%d connections still busy after %.1f s (clients not reading?): closing them", left,
                        self.ctx.shutdown_grace)  # fmt: skip
        for conn in list(self.conns):
            self._close(conn)

    def _accept(self) -> None:
        for _ in range(ACCEPT_PER_TURN):
            try:
                sock, _ = self.listener.accept()
            except BlockingIOError:
                return
            except OSError as exc:
                if exc.errno in OUT_OF_FDS:  # stop watching the listener for the back-off: never spin
                    self.accept_again = time.monotonic() + self.backoff.failed(exc)
                    self.selector.unregister(self.listener)
                else:
                    log.warning("accept failed: %s", exc)
                return
            if self.backoff.backing_off:
                self.backoff.succeeded()
            sock.setblocking(False)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn = _Conn(sock)
            self.conns.add(conn)
            self.selector.register(sock, selectors.EVENT_READ, conn)

    def _readable(self, conn: _Conn) -> None:
        try:
            data = conn.sock.recv(_RECV_SIZE)
        except BlockingIOError:
            return
        except OSError:
            data = b""  # reset: as an end of stream (what was received is still answered, if it can be)
        core = conn.core
        lingering = core.failed
        core.receive_data(data)
        if lingering:
            if not data or core.linger_over:
                self._close(conn)  # the lingering close is over
            return
        if conn.batch is None and not conn.out and not conn.closing:
            self._next(conn)
        else:
            self._interest(conn)

    def _next(self, conn: _Conn) -> None:
        """Start the connection's next batch: into the pool, or (an error, the end) answered here."""
        if conn.batch is not None or conn not in self.conns:
            return  # one batch at a time: its answers first
        if self.stopping:
            self._refuse(conn)
            return
        batch = conn.core.next_batch(self.limit)
        if batch.payloads:
            conn.batch = batch
            self.pool.submit(self._serve, conn, batch.payloads)
            self._interest(conn)
        elif batch.error or batch.close:
            conn.batch = batch
            self._answered(conn, b"")
        else:
            self._interest(conn)  # nothing whole held: wait for data

    def _answered(self, conn: _Conn, answers: bytes) -> None:
        """The batch's answers are in: write them; then close, linger, or start the next batch."""
        batch = conn.batch
        assert batch is not None
        conn.batch = None
        if conn not in self.conns:
            return  # closed meanwhile (the client left, or the grace period ran out)
        conn.out += answers + batch.error
        if batch.close:
            conn.closing = True
            conn.linger = bool(batch.error) and not conn.core.eof
        self._writable(conn)

    def _writable(self, conn: _Conn) -> None:
        """Write what the socket takes (a client that does not read gets the rest when it reads); once
        all is written: close, begin the lingering close, or serve what came meanwhile."""
        if conn.out:
            try:
                sent = conn.sock.send(conn.out)
            except BlockingIOError:
                sent = 0
            except OSError:
                self._close(conn)
                return
            del conn.out[:sent]
            if conn.out:
                self._interest(conn)
                return
        if conn.closing:
            if conn.linger and not conn.core.eof:
                with contextlib.suppress(OSError):
                    conn.sock.shutdown(socket.SHUT_WR)
                conn.closing = conn.linger = False  # lingering: read and discard (core.failed) until done
                conn.linger_until = time.monotonic() + LINGER_S
                self.lingering.add(conn)
                self._interest(conn)
            else:
                self._close(conn)
        else:
            self._next(conn)

    def _interest(self, conn: _Conn) -> None:
        """Watch it for reading while its core wants bytes, for writing while answers wait."""
        if conn not in self.conns:
            return
        events = (selectors.EVENT_READ if conn.core.wants_read else 0) | (
            selectors.EVENT_WRITE if conn.out else 0
        )
        try:
            key = self.selector.get_key(conn.sock)
        except KeyError:
            if events:
                self.selector.register(conn.sock, events, conn)
            return
        if not events:
            self.selector.unregister(conn.sock)  # paused: its batch's answers will take it up again
        elif key.events != events:
            self.selector.modify(conn.sock, events, conn)

    def _take_answers(self) -> None:
        while True:
            try:
                conn, answers = self.answered.get_nowait()
            except queue.Empty:
                return
            self._answered(conn, answers)

    def _housekeeping(self) -> None:
        now = time.monotonic()
        if self.accept_again and now >= self.accept_again and not self.stopping:
            self.accept_again = 0.0
            self.selector.register(self.listener, selectors.EVENT_READ, None)
        for conn in [c for c in self.lingering if now >= c.linger_until]:  # not every connection, every turn
            self._close(conn)

    def _refuse(self, conn: _Conn) -> None:
        """Shutdown: every request received and not started is answered "shutting down"; then close."""
        payloads = conn.core.take_all()
        if payloads:
            conn.out += shutting_down_answers(payloads)
        conn.closing = True
        conn.linger = False
        self._writable(conn)

    def _begin_shutdown(self) -> None:
        with contextlib.suppress(KeyError, ValueError):
            self.selector.unregister(self.listener)
        for conn in list(self.conns):
            if conn.batch is None:
                self._refuse(conn)
            # a batch in the pool: its answers are written when they come, then the rest is refused

    def _close(self, conn: _Conn) -> None:
        if conn not in self.conns:
            return
        self.conns.discard(conn)
        self.lingering.discard(conn)
        with contextlib.suppress(KeyError, ValueError):
            self.selector.unregister(conn.sock)
        conn.sock.close()

    # ---- pool threads

    def _serve(self, conn: _Conn, payloads: list[bytes]) -> None:
        """A pool thread: spend the delay, answer (committed), hand the answers to the selector thread."""
        try:
            if self.work is not None:
                self.work(len(payloads))
            if self.delay_s:
                time.sleep(self.delay_s)
            answers = self.service.answer(payloads)
        except Exception:
            log.exception("serving a request failed")
            answers = b""
        self.answered.put((conn, answers))
        with contextlib.suppress(BlockingIOError, OSError):
            self.wake_w.send(b"\0")


def serve(ctx: ServerContext) -> None:
    """Run the selector thread and the pool until a signal, then shut down gracefully."""
    server = DispatchServer(ctx)
    selector_thread = threading.Thread(target=server.run, name="tpool-dispatch-selector", daemon=True)
    selector_thread.start()
    ctx.announce_ready()
    ctx.wait_for_stop()
    server.stopping = True
    with contextlib.suppress(OSError):
        server.wake_w.send(b"\0")
    selector_thread.join(ctx.shutdown_grace + 1.0)
    server.pool.shutdown(wait=True, cancel_futures=True)
    server.wake_r.close()
    server.wake_w.close()
