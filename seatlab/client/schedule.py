"""Open-loop schedules: when each request is due, in perf_counter nanoseconds."""

from __future__ import annotations

import random


class Schedule:
    """Due times at ``rate`` per second from ``start_ns``: evenly spaced, or a Poisson process."""

    def __init__(self, kind: str, rate: float, start_ns: int, seed: int | None = None) -> None:
        if rate <= 0:
            raise ValueError(f"rate must be > 0, not {rate}")
        if kind not in ("fixed", "poisson"):
            raise ValueError(f"schedule must be fixed or poisson, not {kind!r}")
        self.kind = kind
        self.rate = rate
        self.interval_ns = 1e9 / rate
        self.start_ns = start_ns
        self.n = 0
        self._t = float(start_ns)
        self._random = random.Random(seed)

    def next(self) -> int:
        """The next due time (ns)."""
        if self.kind == "fixed":
            due = self.start_ns + int(self.n * self.interval_ns)
        else:
            self._t += self._random.expovariate(self.rate) * 1e9
            due = int(self._t)
        self.n += 1
        return due
