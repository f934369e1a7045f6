"""One clock across hosts: each host's offset from the runner's, and the control messages moved by it.

How this works: every time in the control messages (``Start``, ``Window``,
``AllAnswered``, ``Confirmations``, a ``WorkerResult``'s times) is a
``perf_counter_ns`` reading, CLOCK_MONOTONIC, which is one clock only within
one kernel. A host that runs the same kernel as the runner (the same
``/proc/sys/kernel/random/boot_id``: another network namespace, a container)
shares it exactly: offset 0, uncertainty 0. Another machine's offset is
estimated the NTP way: the runner reads its clock (``sent``), the host reads
its own (``remote``), the runner reads again (``received``); the offset is
``remote - (sent + received) / 2``, wrong by at most half that round trip.
Of several samples the one with the shortest round trip wins, and half of it
is the uncertainty, recorded beside the figures (``ClockOffset``).

``to_host`` moves a message the runner sends into the host's clock,
``from_host`` moves what the host says back into the runner's, so the
runner's run loop, the live ledger and the summary work in one clock as they
do with local processes. Latencies never cross a clock: each host measures
its own, request by request.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from time import perf_counter_ns
from typing import TypeVar

import numpy as np

from seatlab.client.control import AllAnswered, FromWorker, Start, ToWorker, Window
from seatlab.client.ledger import ALL_TIME, Confirmations
from seatlab.client.result import WorkerResult

BOOT_ID = "/proc/sys/kernel/random/boot_id"


def boot_id() -> str:
    """This kernel's boot id: two hosts that share it share CLOCK_MONOTONIC."""
    with open(BOOT_ID) as f:
        return f.read().strip()


@dataclass(frozen=True)
class ClockOffset:
    """A host's clock minus the runner's (ns), and how far off that may be (ns)."""

    offset_ns: int
    uncertainty_ns: int
    shared: bool  # the same kernel: the same clock, exactly

    def to_json(self) -> dict[str, object]:
        return {
            "offset_ms": self.offset_ns / 1e6,
            "uncertainty_ms": self.uncertainty_ns / 1e6,
            "shared_clock": self.shared,
        }


def estimate_offset(read_remote: Callable[[], int], samples: int = 16) -> ClockOffset:
    """The offset of the clock that ``read_remote`` reads, from the sample with the shortest round trip."""
    if samples < 1:
        raise ValueError(f"samples must be >= 1, got {samples}")
    best: tuple[int, int] | None = None  # (round trip, offset)
    for _ in range(samples):
        sent = perf_counter_ns()
        remote = read_remote()
        received = perf_counter_ns()
        trip = received - sent
        if best is None or trip < best[0]:
            best = (trip, remote - (sent + received) // 2)
    assert best is not None
    return ClockOffset(offset_ns=best[1], uncertainty_ns=(best[0] + 1) // 2, shared=False)


SHARED = ClockOffset(0, 0, shared=True)

M = TypeVar("M", bound=ToWorker)


def to_host(message: M, offset_ns: int) -> M:
    """A runner -> host message in the host's clock."""
    if offset_ns == 0:
        return message
    if isinstance(message, Start):
        return Start(message.t0 + offset_ns)  # type: ignore[return-value]
    if isinstance(message, Window):
        return Window(message.start + offset_ns, message.end + offset_ns)  # type: ignore[return-value]
    return message  # Plan and Stop carry no time


def from_host(message: FromWorker, offset_ns: int) -> FromWorker:
    """A host -> runner message in the runner's clock."""
    if offset_ns == 0:
        return message
    if isinstance(message, AllAnswered):
        return AllAnswered(message.worker, message.at - offset_ns)
    if isinstance(message, Confirmations):
        times = (np.frombuffer(message.times, dtype=np.int64) - offset_ns).tobytes()
        upto = message.upto if message.upto == ALL_TIME else message.upto - offset_ns
        return replace(message, times=times, upto=upto)
    if isinstance(message, WorkerResult):
        return replace(
            message,
            t_last_first_sold_out=_shift(message.t_last_first_sold_out, offset_ns),
            t_last_seat=_shift(message.t_last_seat, offset_ns),
            t_finish=message.t_finish - offset_ns,
        )
    return message  # Ready, Progress and Failure carry no time


def _shift(t: int | None, offset_ns: int) -> int | None:
    return None if t is None else t - offset_ns
