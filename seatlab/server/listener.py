"""Accepting connections, written once: fair turns, a back-off at the fd limit, one registry per loop.

How this works: ``AcceptBackoff`` is Go ``net/http``'s answer to EMFILE and
ENFILE ("Accept error ... retrying in 5ms", doubling to 1 s): out of file
descriptors, a server that retries at once spins a core and logs a line per
attempt; this one stops accepting for the back-off and says so in one line
when the episode begins and one, with its counts, when it ends. An episode
ends only once accepting has worked for ``EPISODE_QUIET_S`` with no failure:
at the limit with clients coming and going, every closed connection frees
one descriptor, one accept works and the next fails, and ending the episode
at each of those would be a pair of lines per attempt again. The
connections that arrive meanwhile wait in the listen backlog, and are
accepted once descriptors are free. ``tpool``'s acceptor thread and every
loop use it.

``LoopListener`` is one event loop's accept and its registry of open
connections (``coro``, ``event``, ``calibrate``): the loop watches its own
``dup()`` of the listening socket and, when it is readable, accepts at most
``ACCEPT_PER_TURN`` connections before it serves the others again, so a
burst of clients neither waits behind busy connections nor starves them.
Every loop watches the listener, so one stalled in an fsync does not stop
the accept, but whichever loop accepts hands the connection to the loop
serving the fewest (``peers``), through ``call_soon_threadsafe`` when that
is another: under the GIL the loop that woke first would otherwise take a
whole burst, and the other loops would have nothing to overlap with it.
At shutdown it stops accepting and tells every connection that is not in
the middle of a request to close.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import socket
from collections.abc import Callable
from time import monotonic
from typing import Protocol

log = logging.getLogger("seatlab.server.listener")

OUT_OF_FDS = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})
"""Accept errors that mean "no resources now", not "this connection is bad": back off."""

BACKOFF_FIRST_S = 0.005
BACKOFF_MAX_S = 1.0
EPISODE_QUIET_S = 1.0
"""An EMFILE episode ends at the first accept this long after its last failure."""

ACCEPT_PER_TURN = 128
"""Connections one loop accepts before it serves its open connections again."""


class AcceptBackoff:
    """How long to stop accepting after an accept error; one log line per episode at each end."""

    __slots__ = ("accepted", "began", "delay_s", "failures", "in_episode", "last_failure", "what")

    def __init__(self) -> None:
        self.in_episode = False  # read by the accept paths before calling ``succeeded``
        self.delay_s = 0.0  # the next back-off doubles this; 0 after an accept worked
        self.failures = 0
        self.accepted = 0  # accepts that worked inside the episode
        self.began = 0.0
        self.last_failure = 0.0
        self.what = ""

    @property
    def backing_off(self) -> bool:
        """In an episode: ``succeeded`` must hear of every accept that works, to end it."""
        return self.in_episode

    def failed(self, exc: OSError) -> float:
        """``accept`` raised ``exc`` (one of ``OUT_OF_FDS``): seconds to wait before the next one."""
        now = monotonic()
        if not self.in_episode:
            self.in_episode = True
            self.began = now
            self.failures = self.accepted = 0
            self.what = errno.errorcode.get(exc.errno or 0, str(exc.errno))
            log.warning(
                "accept: %s (%s): not accepting for %.0f ms, doubling up to %.0f s until it works",
                self.what,
                exc.strerror,
                BACKOFF_FIRST_S * 1000,
                BACKOFF_MAX_S,
            )
        self.delay_s = min(self.delay_s * 2, BACKOFF_MAX_S) if self.delay_s else BACKOFF_FIRST_S
        self.failures += 1
        self.last_failure = now
        return self.delay_s

    def succeeded(self) -> None:
        """``accept`` worked: the back-off starts over; the episode ends after ``EPISODE_QUIET_S``
        without a failure (its line then says how long it lasted and how often accept failed)."""
        if not self.in_episode:
            return
        self.delay_s = 0.0
        self.accepted += 1
        if monotonic() - self.last_failure >= EPISODE_QUIET_S:
            log.warning(
                "accept: accepting again after %.1f s of %s (%d failed attempts, %d accepted meanwhile)",
                self.last_failure - self.began,
                self.what,
                self.failures,
                self.accepted - 1,
            )
            self.in_episode = False


class Served(Protocol):
    """What the registry needs of a backend's connection."""

    @property
    def busy(self) -> bool:
        """In the middle of a request (its delay, its commit): shutdown lets it finish."""
        ...

    def shutdown(self) -> None:
        """Answer what was received but not started ``INTERNAL`` "shutting down", then close."""
        ...

    def abort(self) -> None:
        """Close at once (after the grace period)."""
        ...


class LoopListener:
    """One loop's accept (fair turns, back-off) and its registry of open connections."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        sock: socket.socket,
        on_accept: Callable[[socket.socket], None],
    ) -> None:
        self.loop = loop
        self.sock = sock
        self.on_accept = on_accept
        self.connections: set[Served] = set()
        self.starting = 0  # handed to this loop, not yet registered
        self.peers: list[LoopListener] = [self]
        """Every loop's listener (``run_loops`` sets it): accepted connections go to the least loaded."""
        self.stopping = False
        self.backoff = AcceptBackoff()
        self._watching = False

    def start(self) -> None:
        """Watch the listening socket (on the loop's thread)."""
        self.sock.setblocking(False)
        self._watch()

    def _watch(self) -> None:
        if not self._watching and not self.stopping:
            self.loop.add_reader(self.sock.fileno(), self._accept)
            self._watching = True

    def _unwatch(self) -> None:
        if self._watching:
            self.loop.remove_reader(self.sock.fileno())
            self._watching = False

    def _accept(self) -> None:
        accept = self.sock.accept
        for _ in range(ACCEPT_PER_TURN):
            if self.stopping:
                return
            try:
                conn, _ = accept()
            except (BlockingIOError, InterruptedError):
                return  # another loop took it, or the backlog is empty
            except ConnectionAbortedError:
                continue  # the client gave up while queued
            except OSError as exc:
                if exc.errno not in OUT_OF_FDS:
                    log.warning("accept failed: %s", exc)
                    return
                self._unwatch()
                self.loop.call_later(self.backoff.failed(exc), self._resume)
                return
            if self.backoff.backing_off:
                self.backoff.succeeded()
            conn.setblocking(False)
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            target = min(self.peers, key=LoopListener.load) if len(self.peers) > 1 else self
            target.starting += 1
            if target is self:
                self.on_accept(conn)
            else:
                try:
                    target.loop.call_soon_threadsafe(target.on_accept, conn)
                except RuntimeError:  # that loop has stopped (shutdown)
                    target.starting -= 1
                    conn.close()

    def load(self) -> int:
        """Connections this loop serves or is about to (read from other loops' threads: an int)."""
        return len(self.connections) + self.starting

    def _resume(self) -> None:
        self._watch()
        if self._watching:
            self._accept()

    def add(self, conn: Served) -> None:
        self.starting = max(self.starting - 1, 0)
        self.connections.add(conn)

    def discard(self, conn: Served) -> None:
        self.connections.discard(conn)

    def begin_shutdown(self) -> None:
        """Stop accepting; close every connection not in the middle of a request (they finish first)."""
        self.stopping = True
        self._unwatch()
        self.sock.close()
        for conn in list(self.connections):
            if not conn.busy:
                conn.shutdown()

    def open_connections(self) -> int:
        return len(self.connections)

    def abort_all(self) -> None:
        for conn in list(self.connections):
            conn.abort()
