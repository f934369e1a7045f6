"""A small progress bar over sweep points with an ETA, on stderr (plain lines when stderr is not a terminal).

The ETA is the time spent so far per unit of expected work times the
expected work left: points weigh what they are expected to take (a
sell-out point at 40 bookings/s weighs five times one at 200/s).
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Sequence
from typing import Self, TextIO


def format_duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    minutes, secs = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _own_stderr() -> TextIO:
    """A private copy of stderr, so the bar still shows while fd 2 is sent to a point's log file."""
    try:
        return os.fdopen(os.dup(sys.stderr.fileno()), "w", buffering=1)
    except (OSError, ValueError, AttributeError):  # no real descriptor (e.g. captured output)
        return sys.stderr


class Progress:
    """Counts finished points; ETA = mean time per finished point x points left."""

    def __init__(
        self,
        total: int,
        stream: TextIO | None = None,
        width: int = 24,
        weights: Sequence[float] | None = None,
    ) -> None:
        """`weights`: each point's expected length (any unit); the ETA scales the time per unit of weight."""
        self.total = total
        self.weights = list(weights) if weights is not None else [1.0] * total
        if len(self.weights) != total:
            raise ValueError(f"weights: {len(self.weights)} given for {total} points")
        self.done = 0
        self.failed = 0
        self._own_stream = stream is None
        self.stream = stream if stream is not None else _own_stderr()
        self.width = width
        self.current = ""
        self.started = time.monotonic()
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self._lock = threading.RLock()  # the ticker thread draws too
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None

    def __enter__(self) -> Self:
        if self.tty:
            self._ticker = threading.Thread(target=self._tick, name="progress", daemon=True)
            self._ticker.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join()
            self._draw()
            self.stream.write("\n")
            self.stream.flush()
        if self._own_stream and self.stream is not sys.stderr:
            self.stream.close()

    def start(self, label: str) -> None:
        with self._lock:
            self.current = label
        if not self.tty:
            self._line(f"point {self.done + 1}/{self.total}: {label} ...")

    def finish(self, label: str, outcome: str, ok: bool = True) -> None:
        with self._lock:
            self.done += 1
            self.failed += 0 if ok else 1
            self.current = ""
            if self.tty:
                self._clear()
                self._line(f"  {label}: {outcome}")
                self._draw()
            else:
                self._line(f"point {self.done}/{self.total}: {label}: {outcome} [{self.status()}]")

    def eta(self) -> float | None:
        if self.done == 0:
            return None
        done = sum(self.weights[: self.done])
        left = sum(self.weights[self.done :])
        if done <= 0:
            return None
        return (time.monotonic() - self.started) / done * left

    def status(self) -> str:
        eta = self.eta()
        elapsed = format_duration(time.monotonic() - self.started)
        eta_text = "?" if eta is None else format_duration(eta)
        failed = f", {self.failed} failed" if self.failed else ""
        return f"{self.done}/{self.total} points{failed}, elapsed {elapsed}, ETA {eta_text}"

    def _bar(self) -> str:
        filled = int(self.width * self.done / max(1, self.total))
        return "[" + "#" * filled + "-" * (self.width - filled) + "]"

    def _draw(self) -> None:
        with self._lock:
            current = f" | {self.current}" if self.current else ""
            text = f"\r{self._bar()} {self.status()}{current}"
            self.stream.write(text[:200] + "\x1b[K")
            self.stream.flush()

    def _clear(self) -> None:
        self.stream.write("\r\x1b[K")

    def _line(self, text: str) -> None:
        self.stream.write(text + "\n")
        self.stream.flush()

    def _tick(self) -> None:
        while not self._stop.wait(0.5):
            self._draw()
