"""Running N uvloop event loops in N threads on one shared listener (coro, event, calibrate).

How this works: every loop thread builds its own uvloop loop and serves a
``dup()`` of the lifecycle's listening socket (uvloop closes the fd it is
given, so each loop gets its own fd of the one socket). A new connection
wakes the loops waiting on the listener and one of them accepts it; that
loop owns the connection for its life. The seat service is shared, guarded
by the store's lock.

What the GIL does to this: only one thread runs Python at a time, so N loops
never execute requests in parallel; the CPU work of the whole server is
still one core's worth. What N loops buy is overlapping waits (a loop
blocked in an fsync or a slow callback does not stall the others), and they
cost GIL hand-offs (the switch interval is 5 ms). ``--threads 1`` is the
plain single-loop server.

A backend supplies, for each loop and its ``dup()`` of the listener, its
``LoopListener`` (``seatlab.server.listener``): ``start()`` (on the loop:
begin accepting), ``begin_shutdown()`` (on the loop: stop accepting, close
idle connections, let started requests finish), ``open_connections()`` and
``abort_all()``.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import socket
import threading
import time
from collections.abc import Callable

import uvloop

from seatlab.server.context import ServerContext
from seatlab.server.listener import LoopListener

log = logging.getLogger("seatlab.server.loops")


GC_THRESHOLDS = (50_000, 50, 100)
"""Python's cyclic GC thresholds while the loops serve (the default is (700, 10, 10)).

Every accepted connection allocates container objects (a coroutine backend: a
StreamReader, StreamWriter, protocol, Task, frame and futures), so with the
default thresholds a burst of thousands of connections triggers collection
after collection, each walking every live connection's objects. Measured with
coro at 5000 connections and 50 ms delay (experiments/ceiling/README.md): the
listener's accept queue stayed at 300-600 connections for over five seconds
(those clients starved) and the server made 16-18k req/s; with these
thresholds (and the start-up objects frozen) the queue empties within half a
second and it makes 22k req/s. Reference cycles are still collected, later.
"""


LOOPS_STOP_S = 2.0
"""How long all the loop threads together may take to stop once told to, so that the
signal's poll, the grace period, this and the db flush stay within the 9.5 s watchdog."""


def run_loops(
    ctx: ServerContext, make_server: Callable[[asyncio.AbstractEventLoop, socket.socket], LoopListener]
) -> None:
    """Run ``ctx.config.threads`` loops until a signal, then shut them down gracefully."""
    gc.freeze()  # what start-up built lives as long as the process: never scan it again
    gc.set_threshold(*GC_THRESHOLDS)
    n = ctx.config.threads
    started_loops: list[tuple[asyncio.AbstractEventLoop, LoopListener] | None] = [
        None
    ] * n  # by index: pairs stay paired
    started = threading.Barrier(n + 1)
    failures: list[BaseException] = []

    def loop_main(index: int) -> None:
        loop = uvloop.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            server = make_server(loop, ctx.sock.dup())
            server.start()
        except BaseException as exc:
            failures.append(exc)
            started.abort()
            loop.close()
            return
        started_loops[index] = (loop, server)
        started.wait()
        server.peers = [pair[1] for pair in started_loops if pair is not None]  # all set before the barrier
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    threads = [threading.Thread(target=loop_main, args=(i,), name=f"loop-{i}", daemon=True) for i in range(n)]
    for t in threads:
        t.start()
    try:
        started.wait()
    except threading.BrokenBarrierError:
        raise RuntimeError(f"an event loop failed to start: {failures[0]!r}") from failures[0]
    loops = [pair[0] for pair in started_loops if pair is not None]
    servers = [pair[1] for pair in started_loops if pair is not None]
    ctx.announce_ready()
    ctx.wait_for_stop()

    for loop, server in zip(loops, servers, strict=False):
        loop.call_soon_threadsafe(server.begin_shutdown)
    began = time.monotonic()
    deadline = began + ctx.shutdown_grace
    while time.monotonic() < deadline and _count(loops, servers) > 0:
        time.sleep(0.02)
    left = _count(loops, servers)
    log.info("shutdown: %d connections left after %.2f s", left, time.monotonic() - began)
    if left:
        log.warning(
            "%d connections still busy after %.1f s (clients not reading?): aborting them",
            left,
            ctx.shutdown_grace,
        )
        for loop, server in zip(loops, servers, strict=False):
            loop.call_soon_threadsafe(server.abort_all)
        time.sleep(0.1)
    for loop in loops:
        loop.call_soon_threadsafe(loop.stop)
    joins_end = time.monotonic() + LOOPS_STOP_S  # one budget for all the joins, not one each
    for t in threads:
        t.join(max(joins_end - time.monotonic(), 0.0))
    if any(t.is_alive() for t in threads):
        log.warning("shutdown: a loop thread did not stop within %.1f s; leaving it", LOOPS_STOP_S)
    log.info("shutdown: loops stopped after %.2f s", time.monotonic() - began)


def _count(loops: list[asyncio.AbstractEventLoop], servers: list[LoopListener]) -> int:
    """Open connections over all loops (read from the main thread; an int read is atomic)."""
    return sum(server.open_connections() for server in servers)
