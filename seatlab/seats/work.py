"""CPU work per request, calibrated at start to take the time asked (issue 20).

How this works: a unit of work is a fixed number of iterations of one of two kernels, counted so
that it takes ``ms`` of CPU time on this machine, measured when the server starts:

- ``python``: pure-Python integer arithmetic in a loop (an LCG step per iteration). It holds the
  GIL throughout, so threads of one process take turns at it;
- ``released``: ``hashlib.pbkdf2_hmac("sha256", ...)`` with that many iterations: OpenSSL's PBKDF2,
  which CPython runs with the GIL released (``Py_BEGIN_ALLOW_THREADS`` around it in
  ``_hashopenssl.c``), so threads run it in parallel, one per core.

The calibration times the kernel on the calling thread's CPU clock (``time.thread_time``, so other
processes on a shared machine do not stretch it), takes the fastest of a few rounds, and scales the
iterations to the time asked; ``Work.calibration`` says what it found, for the log and the results.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass

from seatlab.modes import WorkKind

_ROUNDS = 5
_ROUND_S = 0.02  # CPU time per calibration round


def python_kernel(iterations: int) -> int:
    """Pure-Python work: ``iterations`` LCG steps (holds the GIL)."""
    x = 1
    for _ in range(iterations):
        x = (x * 1103515245 + 12345) & 0x7FFFFFFF
    return x


def released_kernel(iterations: int) -> bytes:
    """C work with the GIL released: PBKDF2-HMAC-SHA256 of ``iterations`` rounds."""
    return hashlib.pbkdf2_hmac("sha256", b"seatlab", b"seatlab-salt", max(iterations, 1))


KERNELS = {WorkKind.python: python_kernel, WorkKind.released: released_kernel}


@dataclass(frozen=True)
class Calibration:
    """What the start-up calibration found: iterations of the kernel per millisecond of CPU time."""

    kind: WorkKind
    ms: float
    iterations_per_ms: float
    iterations: int

    def describe(self) -> str:
        return (
            f"work {self.ms:g} ms of {self.kind} CPU per request = {self.iterations:,} iterations "
            f"({self.iterations_per_ms:,.0f}/ms, calibrated at start)"
        )


class Work:
    """One request's CPU work: ``work(n)`` does ``n`` units (a batch of ``n`` requests)."""

    def __init__(self, ms: float, kind: WorkKind | str) -> None:
        if not ms > 0:
            raise ValueError(f"work must be > 0 ms, not {ms!r}")
        kind = WorkKind(kind)
        kernel = KERNELS[kind]
        per_ms = calibrate(kernel)
        self.kernel = kernel
        self.iterations = max(1, round(per_ms * ms))
        self.calibration = Calibration(kind, ms, per_ms, self.iterations)

    def __call__(self, n: int = 1) -> None:
        kernel, iterations = self.kernel, self.iterations
        for _ in range(n):
            kernel(iterations)


def calibrate(kernel: object) -> float:
    """Iterations of ``kernel`` per millisecond of this thread's CPU time: the fastest of a few rounds."""
    assert callable(kernel)
    iterations = 1000
    while True:  # grow until one call takes a measurable time
        started = time.thread_time()
        kernel(iterations)
        took = time.thread_time() - started
        if took >= _ROUND_S / 4:
            break
        iterations *= 4
    best = took / iterations
    for _ in range(_ROUNDS):
        started = time.thread_time()
        kernel(iterations)
        best = min(best, (time.thread_time() - started) / iterations)
    return 1 / (best * 1000)
