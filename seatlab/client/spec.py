"""What a load run is asked to do (``LoadSpec``), and the ways it can fail (each with its exit code)."""

from __future__ import annotations

import math
import resource
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from seatlab.modes import Connect, Mode, Schedule, words

if TYPE_CHECKING:
    from seatlab.client.summary import Summary

MODES = words(Mode)
SCHEDULES = words(Schedule)
CONNECTS = words(Connect)


class LoadError(Exception):
    """Bad parameters, or the run could not be made (no server listening, a worker died).

    ``exit_code`` is what the CLI exits with: 2 for bad parameters, 1 otherwise
    (4 for the ``FailedRunError`` subclass).
    """

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class AuditError(Exception):
    """The server broke the booking rules (a seat twice, Stats that disagree); the run is worthless.

    ``summary`` is the run's summary (already written to the out dir) with ``audit.ok`` False.
    """

    def __init__(self, message: str, summary: Summary | None = None) -> None:
        super().__init__(message)
        self.summary = summary


class FailedRunError(LoadError):
    """The run went, but measured nothing or could not be audited: its figures must not be used.

    Raised when no answer came in the window (a server that closes every
    connection, sends garbage or oversized frames) or when the server's Stats
    could not be read at the end (killed or stopped mid-run), so nobody can say
    whether what clients were confirmed is what the server holds. Exit code 4;
    ``summary`` is the run's summary, already written to the out dir.
    """

    EXIT_CODE = 4

    def __init__(self, message: str, summary: Summary | None = None) -> None:
        super().__init__(message, exit_code=self.EXIT_CODE)
        self.summary = summary


@dataclass(frozen=True)
class LoadSpec:
    """One load run. ``rate=None`` is a closed loop; a float is an open loop of that many bookings/s."""

    address: str = "127.0.0.1"
    port: int = 8080
    clients: int = 10
    diversity: int = 1
    mode: Mode | str = Mode.sellout
    duration_s: float = 10.0
    warmup_s: float = 2.0
    rate: float | None = None
    schedule: Schedule | str = Schedule.fixed
    connect: Connect | str = Connect.persistent
    timeout_s: float = 30.0
    max_time_s: float = 600.0
    out_dir: Path = field(default_factory=lambda: Path(".temp/load"))
    progress: bool = False
    answer_wait_s: float = 5.0
    """Duration mode: after the warm-up, wait at most this long for every connection's first answer."""
    drain_s: float = 5.0
    """After the run stops issuing requests, wait at most this long for answers still due (and cancels)."""
    seed: int | None = None
    """Seeds the Poisson schedule; None = random."""
    fixed_answer: bool = False
    """The server is a fixed-answer calibration target (every frame answered with one Seat, nothing
    booked): answers are counted, not checked, and nothing is audited. Declared, never inferred: a
    server that answers Stats with a Seat is otherwise refused."""
    interval_s: float = 1.0
    """The timeline's step: answers, errors and latency per interval of this many seconds (latency.hlog)."""

    def validate(self) -> None:
        """Raise LoadError (exit code 2) naming the first bad parameter."""
        problems = list(_problems(self))
        if problems:
            raise LoadError("bad load parameters: " + "; ".join(problems), exit_code=2)

    def as_params(self) -> dict[str, Any]:
        """The parameters as JSON-ready values."""
        params = asdict(self)
        params["out_dir"] = str(self.out_dir)
        return params


def _problems(spec: LoadSpec) -> list[str]:
    out: list[str] = []

    def positive_number(name: str, value: object, allow_zero: bool = False) -> bool:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            out.append(f"{name} must be a finite number, not {value!r}")
            return False
        if value < 0 or (value == 0 and not allow_zero):
            out.append(f"{name} must be {'>= 0' if allow_zero else '> 0'}, not {value!r}")
            return False
        return True

    if not isinstance(spec.address, str) or not spec.address:
        out.append(f"address must be a host name or IP, not {spec.address!r}")
    if isinstance(spec.port, bool) or not isinstance(spec.port, int) or not 1 <= spec.port <= 65535:
        out.append(f"port must be an integer in 1..65535, not {spec.port!r}")
    if isinstance(spec.clients, bool) or not isinstance(spec.clients, int) or spec.clients < 1:
        out.append(f"clients must be an integer >= 1, not {spec.clients!r}")
    if isinstance(spec.diversity, bool) or not isinstance(spec.diversity, int) or spec.diversity < 1:
        out.append(f"diversity (processes) must be an integer >= 1, not {spec.diversity!r}")
    elif isinstance(spec.clients, int) and spec.clients >= 1 and spec.diversity > spec.clients:
        out.append(
            f"diversity {spec.diversity} exceeds clients {spec.clients}: every process needs at least one client"
        )
    if spec.mode not in MODES:
        out.append(f"mode must be one of {', '.join(MODES)}, not {spec.mode!r}")
    if spec.schedule not in SCHEDULES:
        out.append(f"schedule must be one of {', '.join(SCHEDULES)}, not {spec.schedule!r}")
    if spec.connect not in CONNECTS:
        out.append(f"connect must be one of {', '.join(CONNECTS)}, not {spec.connect!r}")
    if spec.rate is None:
        if spec.schedule != "fixed":
            out.append(f"schedule {spec.schedule!r} is for an open loop: it needs a rate")
    else:
        positive_number("rate (bookings/s)", spec.rate)
    positive_number("duration_s", spec.duration_s)
    positive_number("warmup_s", spec.warmup_s, allow_zero=True)
    positive_number("timeout_s", spec.timeout_s)
    positive_number("max_time_s", spec.max_time_s)
    positive_number("answer_wait_s", spec.answer_wait_s, allow_zero=True)
    positive_number("drain_s", spec.drain_s, allow_zero=True)
    if positive_number("interval_s", spec.interval_s) and spec.interval_s < 0.001:
        out.append(f"interval_s must be at least 0.001 (1 ms), not {spec.interval_s!r}")
    if not out and isinstance(spec.clients, int):
        per_process = -(-spec.clients // spec.diversity)
        _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if hard != resource.RLIM_INFINITY and per_process + 64 > hard:
            out.append(
                f"{per_process} connections per process exceed the open-file limit {hard} (ulimit -n): "
                "raise diversity or the limit"
            )
    return out
