"""What a load process hands back, and how results of several processes add up (locust's ``StatsEntry.extend``).

``WorkerResult.merge`` is the one place that says how each figure combines:
counts add, lists concatenate, histograms add bucket by bucket (never an
average of percentiles), times take the latest, and a sell-out is complete
only when it is complete in every process. The parent folds every
process's result into one with it and builds the summary from that.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace
from typing import Any

from seatlab.client import histogram
from seatlab.client.timeline import Intervals

ERROR_KINDS = ("refused", "reset", "timeout", "protocol", "server_error")
BACKLOG_OUTCOMES = ("none", "answered", "stalled", "capped")
"""How a process's wait for the server's backlog ended: nothing was owed, every answer came, the
server stopped answering (no answer for ``BACKLOG_QUIET_S``), or the run's ``max_time_s`` came first."""

BACKLOG_QUIET_S = 10.0
"""While waiting for the server's backlog: this long without any answer is a stall, not a slow drain
(also capped by ``timeout_s``: a request unanswered that long is unanswered)."""


_ADDED = (
    "workers", "clients", "total_answers", "error_examples", "connections", "reconnects", "gave_up",
    "unanswered_ms", "unsent_due", "confirmed", "held", "violations", "cpu_s", "cpu_sys_s", "wall_s",
    "backlog_requests", "backlog_answered", "backlog_wait_s", "backlog_outcomes",
)  # fmt: skip
"""Fields that merge by ``+``: numbers add, lists and per-process tuples concatenate."""
_COUNTED = ("window_answers", "errors_by_kind", "server_errors_by_code")
_HISTOGRAMS = ("served_histogram", "censored_histogram")


@dataclass(frozen=True)
class WorkerResult:
    """One load process's run (or, merged, several): counts, histograms, per-client rows, what it holds."""

    workers: tuple[int, ...]
    clients: list[dict[str, Any]]  # one clients.csv row per client
    served_histogram: bytes  # encoded: answered Books in the window
    censored_histogram: bytes  # encoded: ages of the Books unanswered when the window closed
    window_answers: dict[str, int]  # ANSWER_COUNTS
    total_answers: int
    errors_by_kind: dict[str, int]  # ERROR_KINDS
    server_errors_by_code: dict[str, int]
    error_examples: list[str]
    connections: int
    reconnects: int
    gave_up: int
    unanswered_ms: list[float]
    unsent_due: int
    confirmed: list[tuple[int, str, int]]  # sell-out: (seat, uuid, client) of every Seat answer
    held: list[tuple[int, str]]  # duration: (seat, uuid) still held at the end
    violations: list[str]
    cpu_s: tuple[float, ...]  # per process
    cpu_sys_s: tuple[float, ...]
    wall_s: tuple[float, ...]
    t_last_first_sold_out: int | None  # None unless every client was told sold out
    t_last_seat: int | None
    t_finish: int
    capped: bool
    backlog_requests: int = 0  # requests outstanding when the run ended, whose answers it waited for
    backlog_answered: int = 0  # of those, answered while it waited (censored all the same: see tally)
    backlog_wait_s: tuple[float, ...] = ()  # per process: how long it waited
    backlog_outcomes: tuple[str, ...] = ()  # per process: BACKLOG_OUTCOMES
    intervals: Intervals | None = None  # the window's figures per interval (``timeline``)

    def merge(self, other: WorkerResult) -> WorkerResult:
        """The result of both processes' runs together."""
        a, b = self.t_last_first_sold_out, other.t_last_first_sold_out
        seats = [t for t in (self.t_last_seat, other.t_last_seat) if t is not None]
        changes: dict[str, Any] = {name: getattr(self, name) + getattr(other, name) for name in _ADDED}
        changes |= {name: _sum(getattr(self, name), getattr(other, name)) for name in _COUNTED}
        changes |= {name: _add(getattr(self, name), getattr(other, name)) for name in _HISTOGRAMS}
        return replace(
            self,
            **changes,
            t_last_first_sold_out=None if a is None or b is None else max(a, b),
            t_last_seat=max(seats) if seats else None,
            t_finish=max(self.t_finish, other.t_finish),
            capped=self.capped or other.capped,
            intervals=_intervals(self.intervals, other.intervals),
        )

    @property
    def cpu_pct_by_process(self) -> list[float]:
        """Each process's CPU over its run, percent of one core."""
        return [100.0 * c / w if w > 0 else 0.0 for c, w in zip(self.cpu_s, self.wall_s, strict=True)]


def merge_all(results: list[WorkerResult]) -> WorkerResult:
    """Every process's result folded into one, processes in order."""
    ordered = sorted(results, key=lambda r: r.workers)
    total = ordered[0]
    for r in ordered[1:]:
        total = total.merge(r)
    return replace(total, clients=sorted(total.clients, key=lambda row: row["client"]))


def _intervals(a: Intervals | None, b: Intervals | None) -> Intervals | None:
    """Both processes' timelines added up; None (no timeline) if one has none, or if they are on
    different grids (one process ended before the window opened, so its figures are the whole run's)."""
    if a is None or b is None or not a.shares_grid(b):
        return None
    return a.merge(b)


def _add(a: bytes, b: bytes) -> bytes:
    return histogram.encode(histogram.merge([a, b]))


def _sum(a: dict[str, int], b: dict[str, int]) -> dict[str, int]:
    total = Counter(a)
    total.update(b)
    return {k: total[k] for k in (*a, *(k for k in b if k not in a))}
