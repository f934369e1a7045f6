"""The messages between the parent and its load processes (pyperf's worker protocol, typed).

How this works: the parent sends each load process its ``Plan``; the process
connects and answers ``Ready``; the parent sends every process one ``Start``
time, later the measured ``Window`` (duration mode) or a ``Stop`` (the run's
time cap). A process reports ``Progress`` now and then, ``Backlog`` while it
waits after its run for the answers the server still owes, ``AllAnswered`` once
each of its clients has had an answer, ``Confirmations`` every tenth of a
second (``ledger``), and ends with its ``WorkerResult`` or a ``Failure``.
Each is a frozen dataclass pickled over the control socket: a field renamed
on one side is an error at the other, not a silent ``KeyError``.
"""

from __future__ import annotations

from dataclasses import dataclass

from seatlab.client.ledger import Confirmations
from seatlab.client.result import WorkerResult
from seatlab.modes import Connect, Mode, Schedule


@dataclass(frozen=True)
class WorkerPlan:
    """What one load process does."""

    worker: int
    first_client: int
    clients: int
    host: str
    port: int
    mode: Mode
    rate: float | None  # this process's share, bookings/s; None = closed loop
    schedule: Schedule
    offset_ns: int  # fixed schedule: this process's phase, so processes interleave
    connect: Connect
    timeout_s: float
    drain_s: float
    capacity: int
    free_seats: int
    seed: int | None
    checked: bool = True  # False against a calibration target: answers are counted, not checked
    hold: bool = False  # duration mode: keep each seat until the next is confirmed (see refill_mode)
    max_time_s: float = 600.0  # the run's cap from the start, the backlog's wait included
    interval_s: float = 1.0  # the timeline's step (``timeline.Grid``)


@dataclass(frozen=True)
class Plan:
    """Parent -> process, first: what to do, and whether to report progress."""

    plan: WorkerPlan
    progress: bool


@dataclass(frozen=True)
class Start:
    """Parent -> every process: start at ``t0`` (perf_counter_ns, CLOCK_MONOTONIC: one clock for all)."""

    t0: int


@dataclass(frozen=True)
class Window:
    """Parent -> every process: the measured window (ns); stop issuing requests at its end."""

    start: int
    end: int


@dataclass(frozen=True)
class Stop:
    """Parent -> every process: the run hit its time cap, stop now; or, while processes wait for the
    server's backlog, the server stopped answering it (``stalled``): stop waiting."""

    stalled: bool = False


@dataclass(frozen=True)
class Ready:
    """Process -> parent: connected (``connected`` connections) and waiting for ``Start``."""

    worker: int
    connected: int


@dataclass(frozen=True)
class Progress:
    """Process -> parent: answers and errors so far, for the live progress line."""

    worker: int
    answers: int
    errors: int


@dataclass(frozen=True)
class Backlog:
    """Process -> parent, after its run: ``owed`` of the requests the server still held when the run
    ended are not answered yet; ``answered`` of them are (the live line while the backlog drains)."""

    worker: int
    owed: int
    answered: int


@dataclass(frozen=True)
class AllAnswered:
    """Process -> parent: every one of its clients has had an answer, the last at ``at`` (ns)."""

    worker: int
    at: int


@dataclass(frozen=True)
class Failure:
    """Process -> parent: the process failed; ``message`` says how (with the traceback)."""

    worker: int
    message: str


ToWorker = Plan | Start | Window | Stop
FromWorker = Ready | Progress | Backlog | AllAnswered | Confirmations | WorkerResult | Failure
