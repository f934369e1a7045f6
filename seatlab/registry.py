"""Every backend seatlab knows, with its properties, stated once: what everything else asks.

A leaf module (nothing of seatlab's imported, nothing heavy): the server takes its import strings
from here (``seatlab.server.backends``, uvicorn's ``LOOP_FACTORIES`` idea), the runner its names,
``seatlab.native`` the C++ servers it builds, the conformance suite which ones are fixed-answer
servers. A backend's Hydra config (``conf/backend/NAME.yaml``) adds what a run may change: its
label and, for a C++ server, its command. Only an external server's config states a bound: a
registered backend's follows from its model, here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Backend:
    """One backend: how it serves, whether it books anything, and where its code is."""

    name: str
    model: str
    """The concurrency model, in words."""
    bound: str
    """What Little's law bounds: ``threads`` (a thread per connection), ``clients``, or ``none`` (a
    fixed-answer server). The runner takes it from here (``seatlab.runner.schema``)."""
    serve: str | None = None
    """A Python backend's ``module:function`` (``python -m seatlab.server --backend NAME``)."""
    native: str | None = None
    """A C++ server's binary name in ``native/`` (``native:NAME`` in a command template)."""

    @property
    def fixed_answer(self) -> bool:
        """Answers every frame with one fixed Seat and books nothing (the machine's ceiling)."""
        return self.bound == "none"


_ALL = (
    Backend("tpool", "thread pool, a thread per connection", "threads", serve="seatlab.server.tpool:serve"),
    Backend(
        "tpool_dispatch",
        "thread pool fed by a selector, a thread per request",
        "threads",
        serve="seatlab.server.tpool_dispatch:serve",
    ),
    Backend("coro", "asyncio coroutines on uvloop", "clients", serve="seatlab.server.coro:serve"),
    Backend("event", "asyncio.Protocol callbacks on uvloop", "clients", serve="seatlab.server.event:serve"),
    Backend(
        "calibrate",
        "fixed answer on uvloop",
        "none",
        serve="seatlab.server.calibrate:serve",
    ),
    Backend("native_tpool", "Boost.Asio thread_pool, a thread per connection", "threads", native="tpool"),
    Backend("native_coro", "Boost.Asio C++20 coroutines", "clients", native="coro"),
    Backend("native_event", "libevent bufferevents", "clients", native="event"),
    Backend("native_calibrate", "fixed answer on libevent", "none", native="calibrate"),
)

BACKENDS: dict[str, Backend] = {b.name: b for b in _ALL}

PYTHON_BACKENDS: tuple[str, ...] = tuple(b.name for b in _ALL if b.serve is not None)
"""seatlab's own Python servers, in the order the README's table gives them."""

NATIVE_SERVERS: tuple[str, ...] = tuple(b.native for b in _ALL if b.native is not None)
"""The C++ servers ``seatlab.native`` builds (binary ``native_NAME``, backend ``native_NAME``)."""

OFFLOADING: tuple[str, ...] = ("coro", "event")
"""The backends whose per-request CPU work may run in a thread, off their loop (``--offload thread``)."""

FIXED_ANSWER: frozenset[str] = frozenset(b.name for b in _ALL if b.fixed_answer)
"""Backends that answer every frame with one fixed Seat and book nothing."""


def ceiling_of(backends: Iterable[str]) -> str | None:
    """The machine's ceiling a run measured, for the ratios: ``calibrate`` (Python on uvloop, the same
    interpreter as the backends) if it ran, else the first other fixed-answer backend, else None."""
    present = [name for name in dict.fromkeys(backends) if name in FIXED_ANSWER]
    return "calibrate" if "calibrate" in present else (present[0] if present else None)
