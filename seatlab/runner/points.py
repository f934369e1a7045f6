"""Sweep points: one (backend, client count, repetition) of a run, and Little's law's bound for it."""

from __future__ import annotations

import math
from dataclasses import dataclass

from seatlab.runner.schema import BackendChoice, Bound, RunSettings


@dataclass(frozen=True)
class SweepPoint:
    index: int
    backend: BackendChoice
    clients: int
    repetition: int

    @property
    def name(self) -> str:
        """The point's folder name, e.g. ``03-tpool-c8`` (``-r1`` for a repetition)."""
        rep = f"-r{self.repetition}" if self.repetition else ""
        return f"{self.index:02d}-{self.backend.name}-c{self.clients}{rep}"

    @property
    def label(self) -> str:
        rep = f" (repeat {self.repetition + 1})" if self.repetition else ""
        return f"{self.backend.name}, {self.clients} clients{rep}"


def sweep_points(settings: RunSettings) -> list[SweepPoint]:
    """Backends in the configured order, each over every client count, each `repeat` times."""
    points: list[SweepPoint] = []
    for backend in settings.backends:
        for clients in settings.clients:
            for repetition in range(settings.repeat):
                points.append(SweepPoint(len(points), backend, clients, repetition))
    return points


def concurrency(bound: Bound, clients: int, threads: int) -> int | None:
    """How many requests can be in service at once (Little's law's L), None without a bound."""
    if bound is Bound.threads:
        return min(clients, threads)
    if bound is Bound.clients:
        return clients
    return None


def bound_rps(bound: Bound, clients: int, threads: int, delay_ms: float, rate: float | None) -> float:
    """Little's law: at most L requests in service, each for `delay`, gives at most L / delay answers/s.

    Open loop (`rate` answers/s offered) is also capped by the rate. With no delay
    (or no bound, the calibration target) there is no bound: NaN.
    """
    in_service = concurrency(bound, clients, threads)
    if in_service is None or delay_ms <= 0:
        return math.nan
    limit = in_service / (delay_ms / 1000.0)
    return min(limit, rate) if rate is not None else limit
