"""Sweep points: the product of a run's backends and swept keys, and Little's law's bound for each.

A run sweeps ``clients`` (always) and any of ``rate``, ``delay``, ``threads``,
``workers``, ``capacity`` and ``work`` given as a list: every combination of their values is one point
(``SWEPT_KEYS`` order, innermost last), for every backend, ``repeat`` times.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

from seatlab.modes import Mode, Offload, WorkKind
from seatlab.registry import BACKENDS
from seatlab.runner.schema import SWEPT_KEYS, BackendChoice, Bound, SeatlabConfig

NATIVE_BACKENDS = frozenset(name for name, b in BACKENDS.items() if b.native is not None)

_NAME_TAGS = {
    "clients": "c",
    "rate": "r",
    "delay_ms": "d",
    "threads": "t",
    "workers": "p",  # processes (w is work's)
    "capacity": "n",
    "work_ms": "w",
}
"""Folder-name tags of the swept columns: ``03-tpool-c64-t4``."""


@dataclass(frozen=True)
class SweepPoint:
    """One measurement: a backend at one value of every swept key."""

    index: int
    backend: BackendChoice
    clients: int
    rate: float | None  # offered bookings/s; None: closed loop
    delay_ms: float
    work_ms: float
    threads: int
    capacity: int
    repetition: int
    workers: int = 1  # processes of the server (--workers)
    swept: tuple[str, ...] = ("clients",)  # the run's swept columns, which the name spells out

    def column(self, name: str) -> float | int | None:
        """The value of the points.csv column `name` (one of ``SWEPT_KEYS``' columns)."""
        value: float | int | None = getattr(self, name)
        return value

    @property
    def name(self) -> str:
        """The point's folder name: index, backend, clients and every other swept value, e.g.
        ``03-tpool-c64-t4`` (``-r1`` for a repetition)."""
        parts = [f"{self.index:02d}", self.backend.name, f"c{self.clients}"]
        parts += [f"{_NAME_TAGS[c]}{self.column(c):g}" for c in self.swept if c != "clients"]
        if self.repetition:
            parts.append(f"r{self.repetition}")
        return "-".join(parts)

    @property
    def label(self) -> str:
        """How the progress lines name the point."""
        values = [f"{self.clients} clients"] + [
            f"{c}={self.column(c):g}" for c in self.swept if c != "clients"
        ]
        rep = f" (repeat {self.repetition + 1})" if self.repetition else ""
        return f"{self.backend.name}, {', '.join(values)}{rep}"


def sweep_points(config: SeatlabConfig) -> list[SweepPoint]:
    """Backends in the configured order, each over the product of the swept values, each `repeat` times."""
    swept = tuple(config.swept)
    points: list[SweepPoint] = []
    for backend in config.backends:
        for values in itertools.product(*(config.values(key) for key in SWEPT_KEYS)):
            fields = dict(zip(SWEPT_KEYS.values(), values, strict=True))
            for repetition in range(config.repeat):
                points.append(SweepPoint(len(points), backend, repetition=repetition, swept=swept, **fields))
    return points


def offered_answers_rps(rate: float | None, mode: Mode) -> float | None:
    """The open loop's offered load in answers/s, as the load generator counts throughput.

    `rate` is bookings/s; in duration mode every booking is followed by its
    cancel (two requests, two answers), in sell-out mode it is one request.
    """
    if rate is None:
        return None
    return rate * (2 if mode is Mode.duration else 1)


def concurrency(bound: Bound, clients: int, threads: int, workers: int = 1) -> int | None:
    """How many requests can be in service at once (Little's law's L), None without a bound: a pool's
    threads in every worker process, or every client."""
    if bound is Bound.threads:
        return min(clients, workers * threads)
    if bound is Bound.clients:
        return clients
    return None


@dataclass(frozen=True)
class Limit:
    """The bound of a point and what sets it, in words (the findings' and points.csv's ``bound_by``)."""

    rps: float  # answers/s; NaN: no bound (a closed loop without delay or work, the calibration target)
    by: str


@dataclass(frozen=True)
class CpuWork:
    """What a request computes (``work``, ``work_kind``, ``offload``) and the cores the server may use."""

    ms: float = 0.0
    kind: WorkKind = WorkKind.python
    offload: Offload = Offload.none
    cores: int = 1


def limit(
    bound: Bound,
    clients: int,
    threads: int,
    delay_ms: float,
    rate: float | None,
    work: CpuWork = CpuWork(),
    native: bool = False,
    workers: int = 1,
) -> Limit:
    """The smallest of what bounds a point's answers/s (issue 20), and what it is:

    - the offered rate of an open loop (``rate``, answers/s);
    - Little's law: at most L requests in service (a pool's threads in every worker process, or the
      clients), each for delay + work;
    - the CPU: a request's ``work.ms`` of CPU on one core at a time. Work that holds the GIL runs on
      one core per process (``workers`` of them); released work on as many as run it at once (a pool's
      threads, the loops, in every worker, or the loops' offload threads), C++'s on its threads; never
      more than ``work.cores``.
    """
    limits: list[tuple[float, str]] = [] if rate is None else [(rate, f"the offered rate, {rate:g}/s")]
    in_service = concurrency(bound, clients, threads, workers)
    service_ms = delay_ms + work.ms
    if in_service is not None and service_ms > 0:
        who = _in_service(bound, in_service, threads, workers)
        limits.append((in_service / (service_ms / 1000.0), f"Little's law: {who} / {service_ms:g} ms"))
    if in_service is not None and work.ms > 0:
        parallel, why = _cpu(bound, threads, workers, work, native)
        limits.append((min(parallel, work.cores) / (work.ms / 1000.0), f"CPU: {why} / {work.ms:g} ms"))
    if not limits:
        return Limit(math.nan, "")
    rps, by = min(reversed(limits), key=lambda item: item[0])  # on a tie the CPU, the last added, binds
    return Limit(rps, by)


def _in_service(bound: Bound, in_service: int, threads: int, workers: int) -> str:
    """Little's law's L in words: ``2 threads``, ``10 clients``, ``2 workers x 2 threads`` (every pool
    thread busy), ``3 of 2 workers x 2 threads`` (fewer clients than pool threads)."""
    if bound is Bound.threads and workers != 1:
        pools = f"{workers} workers x {threads} thread{'s' * (threads != 1)}"
        return pools if in_service == workers * threads else f"{in_service} of {pools}"
    noun = "thread" if bound is Bound.threads else "client"
    return f"{in_service} {noun}{'s' if in_service != 1 else ''}"


def _cpu(bound: Bound, threads: int, workers: int, work: CpuWork, native: bool) -> tuple[int, str]:
    """How many cores run a point's CPU work at once, and why, in words (``limit``'s CPU bound)."""
    cores = work.cores
    if native:
        parallel = min(threads, cores)
        return parallel, f"{parallel} of {threads} threads on {cores} cores"
    if work.kind is WorkKind.python:  # the GIL: one core per process
        if workers == 1:
            return 1, "one core per process, the GIL"
        parallel = min(workers, cores)
        return parallel, f"{parallel} of {workers} workers on {cores} cores, one core per process (the GIL)"
    if work.offload is Offload.thread:
        return cores, f"{cores} cores (offloaded to threads)"
    # released, in the pool's threads or on the loops' threads, in every worker process
    parallel = min(workers * threads, cores)
    runners = "threads" if bound is Bound.threads else "loops"
    if workers == 1:
        return parallel, f"{parallel} of {threads} {runners} on {cores} cores"
    return parallel, f"{parallel} of {workers} workers x {threads} {runners} on {cores} cores"


def bound_rps(bound: Bound, clients: int, threads: int, delay_ms: float, rate: float | None) -> float:
    """Little's law: at most L requests in service, each for `delay`, gives at most L / delay answers/s.

    An open loop (`rate` answers/s offered) is also capped by what it offers, whatever the
    backend. With no delay (or no bound, the calibration target) and a closed loop: NaN.
    """
    return limit(bound, clients, threads, delay_ms, rate).rps


def point_limit(point: SweepPoint, mode: Mode, work: CpuWork, rtt_ms: float = 0.0) -> Limit:
    """The bound of one point (its own clients, threads, delay, work and offered rate; ``rtt_ms``, the
    load hosts' round trip, adds to each request's time in Little's law)."""
    offered = offered_answers_rps(point.rate, mode)
    cpu = work if point.work_ms == work.ms else CpuWork(point.work_ms, work.kind, work.offload, work.cores)
    return limit(
        point.backend.bound, point.clients, point.threads, point.delay_ms + rtt_ms, offered, cpu,
        native=point.backend.name in NATIVE_BACKENDS, workers=point.workers,
    )  # fmt: skip


def point_bound_rps(point: SweepPoint, mode: Mode) -> float:
    """Little's law's bound for one point, its work on one core (the ETA's estimate)."""
    return point_limit(point, mode, CpuWork(point.work_ms)).rps
