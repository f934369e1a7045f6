"""Open-loop schedules: when each request is due, in perf_counter nanoseconds (``dispatch`` hands them out)."""

from __future__ import annotations

import random

from seatlab.modes import Schedule, words


class DueTimes:
    """Due times at ``rate`` per second from ``start_ns``: evenly spaced, or a Poisson process."""

    def __init__(self, kind: Schedule | str, rate: float, start_ns: int, seed: int | None = None) -> None:
        if rate <= 0:
            raise ValueError(f"rate must be > 0, not {rate}")
        if kind not in words(Schedule):
            raise ValueError(f"schedule must be one of {', '.join(words(Schedule))}, not {kind!r}")
        self.kind = Schedule(kind)
        self.rate = rate
        self.interval_ns = 1e9 / rate
        self.start_ns = start_ns
        self.n = 0
        self._t = float(start_ns)
        self._random = random.Random(seed)

    def next(self) -> int:
        """The next due time (ns)."""
        if self.kind == Schedule.fixed:
            due = self.start_ns + int(self.n * self.interval_ns)
        else:
            self._t += self._random.expovariate(self.rate) * 1e9
            due = int(self._t)
        self.n += 1
        return due
