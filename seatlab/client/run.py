"""``run_load``: one load run, from the first Stats to the audit and the output files.

How this works: the parent reads the server's Stats (capacity, seats booked;
this also proves a server is listening), spawns ``diversity`` load processes
(``worker.worker_main``), waits until each is connected and ready, and sends
them all one start time. Sell-out mode ends when every client has been told
sold out. Duration mode opens the measured window after the warm-up once
every connection has had an answer (or, if some never get one, after the
warm-up plus ``answer_wait_s``: they are the starved clients), and tells
every process the window; they stop at its end. Every confirmation the processes report goes
through the parent's live ``SeatLedger``. The parent merges the processes'
results (``WorkerResult.merge``), reads Stats again, audits, and writes the
outputs (``summary.py``, ``report.py``). Every process it started is ended
(``processes.py``). The processes are local ones unless the caller passes
another ``LoadFactory`` (``seatlab.cluster.remote``: the same processes on
other hosts through Ray); the summary then names those hosts (``load_hosts``).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from time import perf_counter_ns
from typing import TextIO

from seatlab.client import interval_log, output
from seatlab.client.answers import SEAT
from seatlab.client.control import AllAnswered, Backlog, Progress, Ready, Start, Stop, Window, WorkerPlan
from seatlab.client.ledger import Confirmations, SeatLedger
from seatlab.client.probe import NotStatsError, read_stats
from seatlab.client.processes import LoadFactory, LoadGroup, LoadProcesses
from seatlab.client.result import BACKLOG_QUIET_S, WorkerResult, merge_all
from seatlab.client.spec import AuditError, FailedRunError, LoadError, LoadSpec
from seatlab.client.summary import RunFacts, Summary, summarize
from seatlab.modes import Connect, Mode, Schedule

_READY_GRACE_S = 60.0


def refill_mode(spec: LoadSpec, capacity: int | None, booked: int) -> str | None:
    """How duration mode keeps seats free: which refill the clients use.

    ``book-then-cancel-previous`` (each client holds up to two seats) when the
    free seats allow it; it lets the audit see double bookings while they
    happen. Else ``cancel-after-book``, whose seats are held too briefly for that.
    """
    if spec.mode != Mode.duration or capacity is None:
        return None
    return "book-then-cancel-previous" if 2 * spec.clients <= capacity - booked else "cancel-after-book"


def make_plans(spec: LoadSpec, capacity: int, booked: int, checked: bool = True) -> list[WorkerPlan]:
    """Split the clients (and the rate) over ``spec.diversity`` processes."""
    hold = refill_mode(spec, capacity, booked) == "book-then-cancel-previous"
    plans = []
    first = 0
    for w in range(spec.diversity):
        n = spec.clients // spec.diversity + (1 if w < spec.clients % spec.diversity else 0)
        plans.append(
            WorkerPlan(
                worker=w, first_client=first, clients=n, host=spec.address, port=spec.port,
                mode=Mode(spec.mode), rate=None if spec.rate is None else spec.rate / spec.diversity,
                schedule=Schedule(spec.schedule), offset_ns=0 if spec.rate is None else int(w * 1e9 / spec.rate),
                connect=Connect(spec.connect),
                timeout_s=spec.timeout_s, drain_s=spec.drain_s, capacity=capacity,
                free_seats=max(capacity - booked, 0),
                seed=None if spec.seed is None else spec.seed * 1000 + w, checked=checked, hold=hold,
                max_time_s=spec.max_time_s, interval_s=spec.interval_s,
            )
        )  # fmt: skip
        first += n
    return plans


def run_load(spec: LoadSpec, load: LoadFactory = LoadProcesses) -> Summary:
    """Run the load described by ``spec`` (its processes made by ``load``); write the outputs and
    return the summary.

    Raises LoadError (bad parameters, no server, a process failed),
    AuditError (the server broke the booking rules) or FailedRunError (the run
    measured nothing, or its audit could not be done: the server died, stopped
    or closed the connection before the last Stats). The last two carry the
    summary, written to the out dir first.
    """
    spec.validate()
    out_dir = Path(spec.out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise LoadError(f"cannot create out dir {out_dir}: {exc}", exit_code=2) from exc
    where = f"{spec.address}:{spec.port}"
    checked = not spec.fixed_answer
    if spec.fixed_answer:  # declared, never inferred: it answers every frame with a Seat and books nothing
        if spec.mode == Mode.sellout:
            raise LoadError(
                f"the server at {where} is a fixed-answer server (--fixed-answer): it books nothing and never "
                "sells out; use mode duration",
                exit_code=2,
            )
        capacity, booked_before = 1, 0
    else:
        try:
            capacity, booked_before = read_stats(spec.address, spec.port, min(spec.timeout_s, 10.0))
        except NotStatsError as exc:
            hint = (
                " (a fixed-answer calibration target, which books nothing? say so: --fixed-answer, or "
                "bound: none in an external server's config)"
                if exc.kind == SEAT
                else ""
            )
            raise LoadError(f"cannot read Stats from the server at {where}: {exc}{hint}") from exc
        except ConnectionRefusedError as exc:
            raise LoadError(f"no server listening at {where} (connection refused)") from exc
        except (OSError, ValueError) as exc:
            raise LoadError(f"cannot read Stats from the server at {where}: {exc}") from exc
    plans = make_plans(spec, capacity, booked_before, checked)
    run = _Run(spec, plans)
    with load(plans, spec.progress) as processes:
        run.execute(processes)
        hosts = processes.describe()
    end: tuple[int, int] | None = None
    failures = []
    if checked:
        try:
            end = read_stats(spec.address, spec.port, min(spec.timeout_s, 10.0))
        except (OSError, ValueError) as exc:
            run.warnings.append(f"could not read Stats at the end: {exc}")
            stalled = run.backlog_stalled()
            failures.append(
                f"the audit could not be done: no Stats from the server at {where} at the end ({exc})"
                + (f"; {stalled}" if stalled else "")
            )
    facts = RunFacts(
        t0=run.t0, window=run.window, capped=run.capped, warnings=run.warnings,
        live_violations=run.ledger.violations, parent_cpu_pct=run.parent_cpu_pct,
        refill=refill_mode(spec, capacity, booked_before) if checked else None,
    )  # fmt: skip
    result = merge_all(list(run.results.values()))
    summary, histograms = summarize(
        spec, facts, result, capacity if checked else None, booked_before, end, hosts
    )
    output.write_outputs(out_dir, summary, result.clients, histograms)
    if result.intervals is not None:
        interval_log.write_timeline(out_dir, result.intervals, run.t0)
    if summary.audit.ok is False:
        raise AuditError(f"audit failed: {summary.audit.message}", summary)
    if summary.answers == 0:
        scope = "in the run" if spec.mode == Mode.sellout else "in the measured window"
        failures.insert(0, f"it measured nothing: 0 answers {scope} ({_error_counts(summary)})")
    if failures:
        raise FailedRunError("failed run: " + "; ".join(failures), summary)
    return summary


def _error_counts(summary: Summary) -> str:
    """What went wrong instead, in a few words: the error counts and the first example."""
    kinds = ", ".join(f"{n} {k}" for k, n in summary.errors_by_kind.items() if n) or "no errors"
    example = summary.error_examples[0] if summary.error_examples else None
    return f"{kinds}; {summary.reconnects} reconnects" + (f"; first: {example}" if example else "")


class _Run:
    """The parent's side of the run: start the processes together, open the window, watch the ledger."""

    def __init__(self, spec: LoadSpec, plans: list[WorkerPlan]) -> None:
        self.spec = spec
        self.plans = plans
        self.progress: dict[int, tuple[int, int]] = {}
        self.results: dict[int, WorkerResult] = {}
        self.all_answered: dict[int, int] = {}
        self.t0 = 0
        self.window: tuple[int, int] | None = None
        self.capped = False
        self.warnings: list[str] = []
        self.out: TextIO = sys.stdout
        self.ledger = SeatLedger(len(plans))
        self.parent_cpu_pct = 0.0
        self.backlog: dict[int, Backlog] = {}
        self.backlog_since = 0
        self.backlog_moved = 0  # when an answer of the backlog last came, in any process (ns)
        self.backlog_stalled_owed = 0  # requests still owed when the parent called a stall (0: none)

    def execute(self, processes: LoadGroup) -> None:
        """Wait until every process is ready, start them at one time, run until every result is in."""
        self._wait_ready(processes)
        self.t0 = perf_counter_ns() + processes.start_lead_ns
        processes.send(Start(self.t0))
        cpu0, wall0 = time.process_time(), perf_counter_ns()
        self._main_loop(processes)
        wall = (perf_counter_ns() - wall0) / 1e9
        self.parent_cpu_pct = 100.0 * (time.process_time() - cpu0) / wall if wall > 0 else 0.0
        self.results = processes.results

    def _wait_ready(self, processes: LoadGroup) -> None:
        pending = set(range(len(self.plans)))
        deadline = perf_counter_ns() + int((_READY_GRACE_S + self.spec.timeout_s) * 1e9)
        while pending:
            if perf_counter_ns() > deadline:
                raise LoadError(f"load processes {sorted(pending)} were not ready in time")
            for message in processes.receive(sorted(pending), 0.5):
                if isinstance(message, Ready):
                    pending.discard(message.worker)

    def _take(self, message: object) -> None:
        if isinstance(message, Confirmations):
            self.ledger.add(message)
        elif isinstance(message, Progress):
            self.progress[message.worker] = (message.answers, message.errors)
        elif isinstance(message, AllAnswered):
            self.all_answered[message.worker] = message.at
        elif isinstance(message, Backlog):
            before = self.backlog.get(message.worker)
            if before is None or message.answered > before.answered:
                self.backlog_moved = perf_counter_ns()
            if not self.backlog:
                self.backlog_since = perf_counter_ns()
                print(
                    f"seatlab load: the run is over; waiting for the answers to {message.owed} requests "
                    f"(load process {message.worker}) that the server still holds, before the end Stats",
                    file=sys.stderr,
                    flush=True,
                )
            self.backlog[message.worker] = message

    @property
    def _quiet_ns(self) -> int:
        return int(min(BACKLOG_QUIET_S, self.spec.timeout_s) * 1e9)

    def backlog_stalled(self) -> str:
        """Why the end Stats may have failed: the server stopped answering its backlog ('' if not)."""
        owed = self.backlog_stalled_owed
        quiet = self._quiet_ns / 1e9
        return (
            f"the server stopped answering with {owed} requests still owed (no answer for {quiet:g} s)"
            if owed
            else ""
        )

    def _main_loop(self, processes: LoadGroup) -> None:
        spec = self.spec
        n = len(self.plans)
        cap_at = self.t0 + int(spec.max_time_s * 1e9)
        give_up_at = cap_at + int((spec.drain_s + 30) * 1e9)
        warm_end = self.t0 + int(spec.warmup_s * 1e9)
        progress = _Progress(self.out, self.t0) if spec.progress else None
        while running := processes.running:
            for message in processes.receive(running, 0.1):
                self._take(message)
            now = perf_counter_ns()
            if spec.mode == Mode.duration and self.window is None and now >= warm_end:
                start = None
                if len(self.all_answered) == n:
                    start = max(warm_end, *self.all_answered.values())
                elif now >= warm_end + int(spec.answer_wait_s * 1e9):
                    start = now
                if start is not None:
                    end = start + int(spec.duration_s * 1e9)
                    if end > cap_at:
                        end = cap_at
                        self.capped = True
                    self.window = (start, end)
                    processes.send(Window(start, end))
            if now >= cap_at and not self.capped and (spec.mode == Mode.sellout or self.window is None):
                self.capped = True
                self.warnings.append(f"the run hit max_time_s={spec.max_time_s:g} and was stopped")
                processes.send(Stop())
            owed = sum(b.owed for b in self.backlog.values())
            if owed and not self.backlog_stalled_owed and now - self.backlog_moved > self._quiet_ns:
                self.backlog_stalled_owed = owed  # no answer to any process's backlog for a while: a stall
                processes.send(Stop(stalled=True))
            if now >= give_up_at:
                raise LoadError(
                    f"load processes did not finish {spec.max_time_s:g} s + drain after the start"
                )
            if progress is not None:
                if self.backlog:
                    progress.backlog(now, self.backlog_since, list(self.backlog.values()))
                else:
                    progress.update(now, self.progress)
        if progress is not None:
            progress.clear()


class _Progress:
    """The live progress line on a terminal (elapsed, answers, rate, errors), about twice a second."""

    def __init__(self, out: TextIO, t0: int) -> None:
        self.out = out
        self.t0 = t0
        self.next = 0
        self.last = (t0, 0)

    def update(self, now: int, counts: dict[int, tuple[int, int]]) -> None:
        if now < self.next:
            return
        self.next = now + 500_000_000
        answers = sum(a for a, _ in counts.values())
        errors = sum(e for _, e in counts.values())
        t_last, a_last = self.last
        rate = (answers - a_last) / max((now - t_last) / 1e9, 1e-9)
        self.last = (now, answers)
        elapsed = max(now - self.t0, 0) / 1e9
        self.out.write(
            f"\r{elapsed:7.1f} s  answers {answers:>10}  rate {rate:>9.0f}/s  errors {errors:>6}  "
        )
        self.out.flush()

    def backlog(self, now: int, since: int, backlog: list[Backlog]) -> None:
        """After the run: how many answers the server still owes, how fast they come, about how long left."""
        if now < self.next:
            return
        self.next = now + 500_000_000
        owed = sum(b.owed for b in backlog)
        answered = sum(b.answered for b in backlog)
        waited = max(now - since, 1) / 1e9
        rate = answered / waited
        left = f"~{owed / rate:.0f} s left" if rate > 0 and owed else "waiting"
        self.out.write(
            f"\r{waited:7.1f} s  backlog: the server still owes {owed:>7} answers, {answered} came "
            f"({rate:.0f}/s), {left}  "
        )
        self.out.flush()

    def clear(self) -> None:
        self.out.write("\r" + " " * 72 + "\r")
        self.out.flush()
