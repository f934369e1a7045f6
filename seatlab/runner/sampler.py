"""Samples the server's CPU and memory while the load runs (a background thread using psutil).

How this works: the server is a process tree (with ``--workers N`` a supervisor and N forked
workers; a worker may start after the load does and end before it stops), so every tick lists
the tree again (``children(recursive=True)``) and keeps each process's last CPU seconds seen.
The CPU figure is the sum over every process seen of its CPU from when it was first seen (a
process there at ``start``: from then; one born later: from its birth, as a child's CPU times
start at 0) to when it was last seen (``stop`` reads the living once more). A worker that exited
keeps its last reading, not its parent's ``children_user`` (that would count it twice, and only
once reaped). A process that lived less than one ``interval`` between two ticks is missed.
Peak RSS is the largest sum of the tree's RSS at one tick: pages a forked worker shares with its
parent count in each, so with workers it overstates the memory in use.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass

import psutil


@dataclass(frozen=True)
class ServerUsage:
    cpu_pct: float  # mean over the sampled span, % of one core (200 = two cores busy), the whole tree's
    peak_rss_mib: float  # the tree's RSS summed, at its largest
    seconds: float


class ServerSampler:
    """Mean CPU of a process and its descendants over the span, and their peak RSS summed, sampled
    every `interval` s."""

    def __init__(self, pid: int, interval: float = 0.2) -> None:
        self.process = psutil.Process(pid)
        self.interval = interval
        self.peak_rss = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"sample-{pid}", daemon=True)
        self._first: dict[psutil.Process, float] = {}  # CPU seconds when first seen (0: born since start)
        self._last: dict[psutil.Process, float] = {}  # CPU seconds when last seen
        self._root_seen = False
        self._t0 = 0.0

    def start(self) -> ServerSampler:
        self._t0 = time.monotonic()
        self._sample(starting=True)
        self._thread.start()
        return self

    def stop(self) -> ServerUsage:
        """Stop sampling; NaN figures when the process vanished before a reading."""
        self._stop.set()
        self._thread.join()
        self._sample()
        seconds = time.monotonic() - self._t0
        cpu = sum(self._last[p] - self._first[p] for p in self._last)
        cpu_pct = 100.0 * cpu / seconds if seconds > 0 and self._root_seen else math.nan
        rss = self.peak_rss / 2**20 if self.peak_rss else math.nan
        return ServerUsage(cpu_pct=cpu_pct, peak_rss_mib=rss, seconds=seconds)

    def tree(self) -> list[psutil.Process]:
        """The process and its living descendants now (empty when the process itself is gone)."""
        try:
            return [self.process, *self.process.children(recursive=True)]
        except psutil.Error:
            return []

    def _sample(self, starting: bool = False) -> None:
        rss = 0
        for proc in self.tree():
            try:
                with proc.oneshot():
                    times = proc.cpu_times()
                    memory = proc.memory_info().rss
            except psutil.Error:  # ended between the listing and the reading: its last reading stands
                continue
            cpu = times.user + times.system
            if proc not in self._first:
                # there at start: count from now; born since: from its birth (its CPU times started at 0)
                self._first[proc] = cpu if starting or proc == self.process else 0.0
            self._last[proc] = cpu
            self._root_seen = self._root_seen or proc == self.process
            rss += memory
        self.peak_rss = max(self.peak_rss, rss)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()
