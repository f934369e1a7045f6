"""The server's command line (the spec's flags, the original C++ ``App``'s) as one typed ``ServerConfig``.

``parse_args`` turns flags into a validated ``ServerConfig`` (a bad one exits 2
naming it); ``ServerConfig.to_argv`` turns one back into flags, so whoever
starts a server (``ServerProcess``, the runner, the tests) states each flag
once, here.
"""

from __future__ import annotations

import argparse
import ipaddress
import math
import socket
from dataclasses import dataclass
from pathlib import Path

from seatlab.modes import Offload, Sync, WorkKind
from seatlab.protocol.limits import MAX_CAPACITY
from seatlab.registry import OFFLOADING
from seatlab.seats.journal import COMPACT_MIN_BYTES
from seatlab.seats.shared import shared_region_problem
from seatlab.server.backends import BACKENDS

MAX_WORKERS = 64
"""More worker processes than this is a typo, not an experiment on any machine seatlab runs on."""


@dataclass(frozen=True)
class ServerConfig:
    """The validated command line."""

    backend: str = "coro"
    address: str = "127.0.0.1"
    port: int = 8080
    max_backlog: int = 128
    db_path: Path | None = None
    capacity: int = 5000
    delay_ms: float = 0.0
    threads: int = 2
    sync: Sync = Sync.os
    compact_min_bytes: int = COMPACT_MIN_BYTES
    """The db file is compacted once past twice its last compacted size and past this (``Journal``)."""
    work_ms: float = 0.0
    """CPU time per request, done before its delay (``seatlab.seats.work``); 0: none."""
    work_kind: WorkKind = WorkKind.python
    offload: Offload = Offload.none
    """coro, event: ``thread`` does the work in the loop's thread pool, not on the loop."""
    workers: int = 1
    """Processes of the backend on one address and port, sharing one seat store (``seatlab.server.workers``)."""

    def __post_init__(self) -> None:
        """Combinations no backend can run: a ``ValueError`` naming the flag (argparse's exit 2)."""
        if self.workers > 1:
            too_big = shared_region_problem(self.capacity)
            if too_big:
                raise ValueError(f"--workers {self.workers}: {too_big}")
        if self.offload is not Offload.none and self.backend not in OFFLOADING:
            raise ValueError(
                f"--offload {self.offload}: only {', '.join(OFFLOADING)} offload their work "
                f"({self.backend} does it where it serves: a pool thread, or nowhere)"
            )

    @property
    def delay_s(self) -> float:
        """The simulated work per request, in seconds."""
        return self.delay_ms / 1000.0

    def describe(self) -> str:
        """The flags in one line for the log (the READY line's companion)."""
        db = str(self.db_path) if self.db_path else "memory only"
        work = f", work {self.work_ms:g} ms {self.work_kind} (offload {self.offload})" if self.work_ms else ""
        workers = f", workers {self.workers}" if self.workers != 1 else ""
        return (
            f"capacity {self.capacity}, delay {self.delay_ms:g} ms, threads {self.threads}{workers}, "
            f"backlog {self.max_backlog}, db {db}, sync {self.sync}{work}"
        )

    def to_argv(self) -> list[str]:
        """The flags that start a server with this config (``parse_args(c.to_argv()) == c``)."""
        argv = [
            "--backend", self.backend, "--address", self.address, "--port", str(self.port),
            "--max-backlog", str(self.max_backlog), "--capacity", str(self.capacity),
            "--delay", f"{self.delay_ms:g}", "--threads", str(self.threads), "--sync", str(self.sync),
        ]  # fmt: skip
        if self.db_path is not None:
            argv += ["--db-path", str(self.db_path)]
        if self.compact_min_bytes != COMPACT_MIN_BYTES:
            argv += ["--compact-min-bytes", str(self.compact_min_bytes)]
        if self.work_ms:
            argv += ["--work", f"{self.work_ms:g}", "--work-kind", str(self.work_kind)]
        if self.offload is not Offload.none:
            argv += ["--offload", str(self.offload)]
        if self.workers != 1:
            argv += ["--workers", str(self.workers)]
        return argv


def _int_in(name: str, low: int, high: int | None = None) -> type[int]:
    """An argparse type: an int within [low, high]; the error names the range."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if value < low or (high is not None and value > high):
            bound = f"between {low} and {high}" if high is not None else f"at least {low}"
            raise argparse.ArgumentTypeError(f"{value} is out of range: must be {bound}")
        return value

    parse.__name__ = name
    return parse  # type: ignore[return-value]


def _delay(text: str) -> float:
    """An argparse type: milliseconds, a finite number >= 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of milliseconds") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be a finite number of milliseconds >= 0")
    return value


def _address(text: str) -> str:
    """An argparse type: an IP address, or a host name that resolves."""
    try:
        ipaddress.ip_address(text)
        return text
    except ValueError:
        pass
    try:
        socket.getaddrinfo(text, None, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an IP address or a host name that resolves"
        ) from None
    return text


def build_parser() -> argparse.ArgumentParser:
    """The command line of ``python -m seatlab.server`` (the spec's flags); defaults from ``ServerConfig``."""
    d = ServerConfig()
    p = argparse.ArgumentParser(
        prog="python -m seatlab.server",
        description="Serve the seatlab wire protocol with one concurrency backend.",
    )
    p.add_argument(
        "--backend", choices=list(BACKENDS), default=d.backend, help="concurrency model (default %(default)s)"
    )
    p.add_argument(
        "--address", type=_address, default=d.address, help="address to listen on (default %(default)s)"
    )
    p.add_argument(
        "--port",
        type=_int_in("port", 0, 65535),
        default=d.port,
        help="0 binds a free port (default %(default)s)",
    )
    p.add_argument(
        "--max-backlog",
        type=_int_in("backlog", 1),
        default=d.max_backlog,
        help="listen backlog (default %(default)s)",
    )
    p.add_argument(
        "--db-path", type=Path, default=d.db_path, help="CSV journal of the seats (default: memory only)"
    )
    p.add_argument(
        "--capacity",
        type=_int_in("capacity", 1, MAX_CAPACITY),
        default=d.capacity,
        help="number of seats (default %(default)s)",
    )
    p.add_argument(
        "--delay",
        type=_delay,
        default=d.delay_ms,
        help="ms of simulated work per request (default %(default)g)",
    )
    p.add_argument(
        "--threads",
        type=_int_in("threads", 1),
        default=d.threads,
        help="tpool, tpool_dispatch: pool size; coro/event/calibrate: event loops, one per thread (default %(default)s)",
    )
    p.add_argument(
        "--sync",
        type=Sync,
        choices=list(Sync),
        default=d.sync,
        help="os: write(2) before answering; fsync: also fsync (default %(default)s)",
    )
    p.add_argument(
        "--compact-min-bytes",
        type=_int_in("compact-min-bytes", 0),
        default=d.compact_min_bytes,
        help="rewrite the db file as the seats held once it is past twice its last compacted size "
        "and past this many bytes (default %(default)s: 4 MiB)",
    )
    p.add_argument(
        "--work",
        type=_delay,
        default=d.work_ms,
        help="ms of CPU work per request, before its delay (default %(default)g: none)",
    )
    p.add_argument(
        "--work-kind",
        type=WorkKind,
        choices=list(WorkKind),
        default=d.work_kind,
        help="python: pure Python, holds the GIL; released: hashlib.pbkdf2_hmac, releases it (default %(default)s)",
    )
    p.add_argument(
        "--offload",
        type=Offload,
        choices=list(Offload),
        default=d.offload,
        help="coro, event: thread runs the work in a thread, off the loop (default %(default)s)",
    )
    p.add_argument(
        "--workers",
        type=_int_in("workers", 1, MAX_WORKERS),
        default=d.workers,
        help="processes of the backend on one address and port (SO_REUSEPORT), sharing one seat store "
        "(default %(default)s)",
    )
    return p


def parse_args(argv: list[str] | None = None) -> ServerConfig:
    """Parse and validate the flags; exits 2 with a message naming a bad one."""
    parser = build_parser()
    ns = parser.parse_args(argv)
    try:
        return _config(ns)
    except ValueError as exc:
        parser.error(str(exc))


def _config(ns: argparse.Namespace) -> ServerConfig:
    return ServerConfig(
        backend=ns.backend,
        address=ns.address,
        port=ns.port,
        max_backlog=ns.max_backlog,
        db_path=ns.db_path,
        capacity=ns.capacity,
        delay_ms=ns.delay,
        threads=ns.threads,
        sync=ns.sync,
        compact_min_bytes=ns.compact_min_bytes,
        work_ms=ns.work,
        work_kind=ns.work_kind,
        offload=ns.offload,
        workers=ns.workers,
    )
