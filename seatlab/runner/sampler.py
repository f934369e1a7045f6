"""Samples the server's CPU and memory while the load runs (a background thread using psutil)."""

from __future__ import annotations

import contextlib
import math
import threading
import time
from dataclasses import dataclass

import psutil


@dataclass(frozen=True)
class ServerUsage:
    cpu_pct: float  # mean over the sampled span, % of one core (200 = two cores busy)
    peak_rss_mib: float
    seconds: float


class ServerSampler:
    """Mean CPU from the process's CPU times at start and stop; peak RSS sampled every `interval` s."""

    def __init__(self, pid: int, interval: float = 0.2) -> None:
        self.process = psutil.Process(pid)
        self.interval = interval
        self.peak_rss = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"sample-{pid}", daemon=True)
        self._cpu0 = 0.0
        self._t0 = 0.0

    def start(self) -> ServerSampler:
        self._t0 = time.monotonic()
        self._cpu0 = self._cpu_seconds()
        self._sample_rss()
        self._thread.start()
        return self

    def stop(self) -> ServerUsage:
        """Stop sampling; NaN figures when the process vanished before a reading."""
        self._stop.set()
        self._thread.join()
        seconds = time.monotonic() - self._t0
        cpu1 = self._cpu_seconds()
        cpu_pct = (
            100.0 * (cpu1 - self._cpu0) / seconds if seconds > 0 and not math.isnan(cpu1) else float("nan")
        )
        rss = self.peak_rss / 2**20 if self.peak_rss else float("nan")
        return ServerUsage(cpu_pct=cpu_pct, peak_rss_mib=rss, seconds=seconds)

    def _cpu_seconds(self) -> float:
        try:
            times = self.process.cpu_times()
        except psutil.Error:
            return float("nan")
        return times.user + times.system

    def _sample_rss(self) -> None:
        with contextlib.suppress(psutil.Error):
            self.peak_rss = max(self.peak_rss, self.process.memory_info().rss)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample_rss()
