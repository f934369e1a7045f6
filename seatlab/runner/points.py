"""Sweep points: the product of a run's backends and swept keys, and Little's law's bound for each.

A run sweeps ``clients`` (always) and any of ``rate``, ``delay``, ``threads`` and
``capacity`` given as a list: every combination of their values is one point
(``SWEPT_KEYS`` order, innermost last), for every backend, ``repeat`` times.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

from seatlab.modes import Mode
from seatlab.runner.schema import SWEPT_KEYS, BackendChoice, Bound, SeatlabConfig

_NAME_TAGS = {"clients": "c", "rate": "r", "delay_ms": "d", "threads": "t", "capacity": "n"}
"""Folder-name tags of the swept columns: ``03-tpool-c64-t4``."""


@dataclass(frozen=True)
class SweepPoint:
    """One measurement: a backend at one value of every swept key."""

    index: int
    backend: BackendChoice
    clients: int
    rate: float | None  # offered bookings/s; None: closed loop
    delay_ms: float
    threads: int
    capacity: int
    repetition: int
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


def concurrency(bound: Bound, clients: int, threads: int) -> int | None:
    """How many requests can be in service at once (Little's law's L), None without a bound."""
    if bound is Bound.threads:
        return min(clients, threads)
    if bound is Bound.clients:
        return clients
    return None


def bound_rps(bound: Bound, clients: int, threads: int, delay_ms: float, rate: float | None) -> float:
    """Little's law: at most L requests in service, each for `delay`, gives at most L / delay answers/s.

    An open loop (`rate` answers/s offered) is also capped by what it offers, whatever the
    backend. With no delay (or no bound, the calibration target) and a closed loop: NaN.
    """
    limits = [] if rate is None else [rate]
    in_service = concurrency(bound, clients, threads)
    if in_service is not None and delay_ms > 0:
        limits.append(in_service / (delay_ms / 1000.0))
    return min(limits) if limits else math.nan


def point_bound_rps(point: SweepPoint, mode: Mode) -> float:
    """Little's law's bound for one point (its own clients, threads, delay and offered rate)."""
    offered = offered_answers_rps(point.rate, mode)
    return bound_rps(point.backend.bound, point.clients, point.threads, point.delay_ms, offered)
