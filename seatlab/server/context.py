"""What a backend is handed: the listener, the seat service, the flags, the stop signal.

Its own module so that the backend registry (``backends.py``), the backends
and the lifecycle (``lifecycle.py``, which builds it) import it without
importing each other.
"""

from __future__ import annotations

import logging
import socket
import sys
import threading
import time
from collections.abc import Callable

from seatlab.seats.service import SeatService
from seatlab.seats.work import Work
from seatlab.server.config import ServerConfig

log = logging.getLogger("seatlab.server")

SHUTDOWN_GRACE_S = 6.0
"""How long a backend may spend finishing started requests after a signal."""


class ServerContext:
    """What a backend gets: the listener, the service, the flags, and the stop signal."""

    def __init__(
        self,
        config: ServerConfig,
        sock: socket.socket,
        service: SeatService | None,
        worker: int | None = None,
        on_ready: Callable[[], None] | None = None,
    ) -> None:
        self.config = config
        self.worker = worker
        """This process's number among ``--workers`` (0, 1, ...); None: the server is this one process."""
        self._on_ready = on_ready
        self.sock = sock
        self._service = service
        self.stopping = threading.Event()
        self.shutdown_grace = SHUTDOWN_GRACE_S
        self._ready = False
        self.stop_signal: str | None = None
        """The signal's name, stored by the handler (a plain assignment: no lock, see ``capture_signals``)."""
        self.work: Work | None = None
        """Each request's CPU work (``--work``, calibrated at start), done before its delay; None: none."""

    @property
    def service(self) -> SeatService:
        """The shared seat service (every backend but calibrate)."""
        if self._service is None:
            raise RuntimeError("this backend was started without a seat service")
        return self._service

    def announce_ready(self) -> None:
        """Print ``READY <host> <port>`` once, flushed: the listener accepts connections.

        A worker of ``--workers`` tells its supervisor instead (``on_ready``), which prints READY
        once every worker accepts.
        """
        if self._ready:
            return
        self._ready = True
        host, port = self.sock.getsockname()[:2]
        if self._on_ready is not None:
            self._on_ready()
            log.info("worker %s: %s backend accepting on %s:%d", self.worker, self.config.backend, host, port)
            return
        sys.stdout.write(f"READY {host} {port}\n")
        sys.stdout.flush()
        log.info("%s backend ready on %s:%d (%s)", self.config.backend, host, port, self.config.describe())

    def wait_for_stop(self) -> None:
        """Block the main thread until SIGTERM/SIGINT , then set ``stopping``.

        It polls the flag the signal handler stores rather than waiting on
        ``stopping``: the handler runs in this thread, and ``Event.wait``
        holds the Event's (non-reentrant) lock for a moment every round, so a
        handler calling ``stopping.set()`` at that moment would deadlock
        the main thread on it (seen once: the watchdog ended the process).
        """
        while self.stop_signal is None and not self.stopping.is_set():
            time.sleep(_STOP_POLL_S)
        if self.stop_signal is not None:
            log.info("%s: stop accepting, finish started requests, close connections", self.stop_signal)
        self.stopping.set()


_STOP_POLL_S = 0.05
"""How often the main thread looks whether a signal has asked it to stop."""
