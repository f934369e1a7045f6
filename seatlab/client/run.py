"""``run_load``: one load run, from the first Stats to the audit and the output files.

How this works: the parent reads the server's Stats (capacity, seats booked;
this also proves a server is listening), spawns ``diversity`` load processes
(``worker.worker_main``), waits until each is connected and ready, and sends
them all one start time. Sell-out mode ends when every client has been told
sold out. Duration mode opens the measured window after the warm-up once
every connection has had an answer (or, if some never get one, after the
warm-up plus ``answer_wait_s``: they are the starved clients), and tells
every process the window; they stop at its end. The parent merges the
processes' histograms and counts, reads Stats again, audits, and writes the
outputs. Every process it started is joined, or terminated and killed.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
from multiprocessing.connection import Connection, wait
from pathlib import Path
from time import perf_counter_ns
from typing import Any, TextIO

from seatlab.client import histogram, report
from seatlab.client.answers import SEAT
from seatlab.client.audit import audit_duration, audit_sellout
from seatlab.client.ledger import Confirmations, SeatLedger
from seatlab.client.probe import NotStatsError, read_stats
from seatlab.client.spec import AuditError, FailedRunError, LoadError, LoadSpec
from seatlab.client.worker import ERROR_KINDS, WorkerPlan
from seatlab.machine import machine_info

SATURATED_PCT = 85.0
"""A load process above this share of one core may be the bottleneck, not the server."""

_START_LEAD_NS = 100_000_000
_READY_GRACE_S = 60.0


def refill_mode(spec: LoadSpec, capacity: int | None, booked: int) -> str | None:
    """How duration mode keeps seats free: which refill the clients use.

    ``book-then-cancel-previous`` (each client holds up to two seats) when the
    free seats allow it; it lets the audit see double bookings while they
    happen. Else ``cancel-after-book``, whose seats are held too briefly for that.
    """
    if spec.mode != "duration" or capacity is None:
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
                worker=w, first_client=first, clients=n, host=spec.address, port=spec.port, mode=spec.mode,
                rate=None if spec.rate is None else spec.rate / spec.diversity, schedule=spec.schedule,
                offset_ns=0 if spec.rate is None else int(w * 1e9 / spec.rate), connect=spec.connect,
                timeout_s=spec.timeout_s, drain_s=spec.drain_s, capacity=capacity,
                free_seats=max(capacity - booked, 0),
                seed=None if spec.seed is None else spec.seed * 1000 + w, checked=checked, hold=hold,
            )
        )  # fmt: skip
        first += n
    return plans


def run_load(spec: LoadSpec) -> dict[str, Any]:
    """Run the load described by ``spec``; write the outputs and return the summary.

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
    checked = True
    try:
        capacity, booked_before = read_stats(spec.address, spec.port, min(spec.timeout_s, 10.0))
    except NotStatsError as exc:
        if exc.kind != SEAT:
            raise LoadError(f"cannot read Stats from the server at {where}: {exc}") from exc
        # the calibration target answers every frame with one fixed Seat: count answers, check nothing
        if spec.mode == "sellout":
            raise LoadError(
                f"the server at {where} answers Stats with a Seat (a calibration target that books nothing): "
                "it never sells out; use mode duration",
                exit_code=2,
            ) from exc
        checked = False
        capacity, booked_before = 1, 0
    except ConnectionRefusedError as exc:
        raise LoadError(f"no server listening at {where} (connection refused)") from exc
    except (OSError, ValueError) as exc:
        raise LoadError(f"cannot read Stats from the server at {where}: {exc}") from exc
    plans = make_plans(spec, capacity, booked_before, checked)
    run = _Run(spec, plans)
    try:
        run.execute()
    finally:
        run.cleanup()
    end: tuple[int, int] | None = None
    failures = []
    if checked:
        try:
            end = read_stats(spec.address, spec.port, min(spec.timeout_s, 10.0))
        except (OSError, ValueError) as exc:
            run.warnings.append(f"could not read Stats at the end: {exc}")
            failures.append(
                f"the audit could not be done: no Stats from the server at {where} at the end ({exc})"
            )
    summary, rows, histograms = summarize(spec, run, capacity if checked else None, booked_before, end)
    report.write_outputs(out_dir, summary, rows, histograms)
    if summary["audit"]["ok"] is False:
        raise AuditError(f"audit failed: {summary['audit']['message']}", summary)
    if summary["answers"] == 0:
        scope = "in the run" if spec.mode == "sellout" else "in the measured window"
        failures.insert(0, f"it measured nothing: 0 answers {scope} ({_error_counts(summary)})")
    if failures:
        raise FailedRunError("failed run: " + "; ".join(failures), summary)
    return summary


def _error_counts(summary: dict[str, Any]) -> str:
    """What went wrong instead, in a few words: the error counts and the first example."""
    kinds = ", ".join(f"{n} {k}" for k, n in summary["errors_by_kind"].items() if n) or "no errors"
    example = summary["error_examples"][0] if summary["error_examples"] else None
    return f"{kinds}; {summary['reconnects']} reconnects" + (f"; first: {example}" if example else "")


class _Run:
    """The load processes of one run and the parent's side of their protocol."""

    def __init__(self, spec: LoadSpec, plans: list[WorkerPlan]) -> None:
        self.spec = spec
        self.plans = plans
        self.progress: dict[int, tuple[int, int]] = {}
        self.procs: list[subprocess.Popen[bytes]] = []
        self.pipes: list[Connection] = []
        self.results: dict[int, dict[str, Any]] = {}
        self.all_answered: dict[int, int] = {}
        self.t0 = 0
        self.window: tuple[int, int] | None = None
        self.capped = False
        self.warnings: list[str] = []
        self.out: TextIO = sys.stdout
        self.ledger = SeatLedger(len(plans))
        self.parent_cpu_pct = 0.0

    def execute(self) -> None:
        for plan in self.plans:
            # a fresh interpreter per process (not multiprocessing's spawn, which re-imports the
            # caller's __main__): the plan and every message go over a socketpair
            parent, child = socket.socketpair()
            with child:
                fd = child.fileno()
                proc = subprocess.Popen(
                    [sys.executable, "-m", "seatlab.client.process_entry", str(fd)], pass_fds=(fd,),
                    stdin=subprocess.DEVNULL,
                )  # fmt: skip
            self.procs.append(proc)
            conn = Connection(parent.detach())
            self.pipes.append(conn)
            conn.send(("plan", plan, self.spec.progress))
        self._wait_ready()
        self.t0 = perf_counter_ns() + _START_LEAD_NS
        self._send(("start", self.t0))
        cpu0, wall0 = time.process_time(), perf_counter_ns()
        self._main_loop()
        wall = (perf_counter_ns() - wall0) / 1e9
        self.parent_cpu_pct = 100.0 * (time.process_time() - cpu0) / wall if wall > 0 else 0.0

    def _wait_ready(self) -> None:
        pending = set(range(len(self.pipes)))
        deadline = perf_counter_ns() + int((_READY_GRACE_S + self.spec.timeout_s) * 1e9)
        while pending:
            if perf_counter_ns() > deadline:
                raise LoadError(f"load processes {sorted(pending)} were not ready in time")
            for conn in wait([self.pipes[i] for i in pending], timeout=0.5):
                i = self.pipes.index(conn)  # type: ignore[arg-type]
                message = self._recv(i)
                if message[0] == "ready":
                    pending.discard(i)

    def _recv(self, i: int) -> Any:
        try:
            message = self.pipes[i].recv()
        except (EOFError, OSError) as exc:
            try:
                code: int | None = self.procs[i].wait(timeout=2)
            except subprocess.TimeoutExpired:
                code = None
            raise LoadError(f"load process {i} ended (exit code {code}) before sending its result") from exc
        if isinstance(message, Confirmations):
            self.ledger.add(message)
            return message
        if message[0] == "error":
            raise LoadError(str(message[1]))
        if message[0] == "result":
            self.results[i] = message[1]
        elif message[0] == "progress":
            self.progress[i] = (int(message[1]), int(message[2]))
        elif message[0] == "all_answered":
            self.all_answered[i] = int(message[1])
        return message

    def _send(self, message: tuple[Any, ...]) -> None:
        for i, conn in enumerate(self.pipes):
            if i not in self.results:
                with contextlib.suppress(OSError):
                    conn.send(message)

    def _main_loop(self) -> None:
        spec = self.spec
        n = len(self.pipes)
        cap_at = self.t0 + int(spec.max_time_s * 1e9)
        give_up_at = cap_at + int((spec.drain_s + 30) * 1e9)
        warm_end = self.t0 + int(spec.warmup_s * 1e9)
        progress = _Progress(self.out, self.t0) if spec.progress else None
        while len(self.results) < n:
            waiting = [self.pipes[i] for i in range(n) if i not in self.results]
            for conn in wait(waiting, timeout=0.1):
                self._recv(self.pipes.index(conn))  # type: ignore[arg-type]
            now = perf_counter_ns()
            if spec.mode == "duration" and self.window is None and now >= warm_end:
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
                    self._send(("window", start, end))
            if now >= cap_at and not self.capped and (spec.mode == "sellout" or self.window is None):
                self.capped = True
                self.warnings.append(f"the run hit max_time_s={spec.max_time_s:g} and was stopped")
                self._send(("stop",))
            if now >= give_up_at:
                raise LoadError(
                    f"load processes did not finish {spec.max_time_s:g} s + drain after the start"
                )
            if progress is not None:
                progress.update(now, self.progress)
        if progress is not None:
            progress.clear()

    def cleanup(self) -> None:
        """Join every load process; terminate and kill any that does not end."""
        for conn in self.pipes:
            with contextlib.suppress(OSError):
                conn.close()
        for proc in self.procs:
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.terminate()
                try:
                    proc.wait(timeout=2)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


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

    def clear(self) -> None:
        self.out.write("\r" + " " * 72 + "\r")
        self.out.flush()


def summarize(
    spec: LoadSpec, run: _Run, capacity: int | None, booked_before: int, end: tuple[int, int] | None
) -> tuple[dict[str, Any], list[dict[str, Any]], dict[str, Any]]:
    """Merge the processes' results into the summary, the per-client rows and the histograms by file.

    ``capacity`` None: the server is a calibration target (answers Stats with a Seat); nothing is audited.
    """
    results = [run.results[i] for i in sorted(run.results)]
    t0 = run.t0
    served = histogram.merge(r["served_histogram"] for r in results)
    censored = histogram.merge(r["censored_histogram"] for r in results)
    every, latency = histogram.with_censored(served, censored)
    rows = sorted((row for r in results for row in r["clients"]), key=lambda row: row["client"])
    warnings = list(run.warnings)
    t_finish = max(r["t_finish"] for r in results)
    elapsed_s = (t_finish - t0) / 1e9
    sellout_s = None
    capacity_booked_s = None
    window_start_s = 0.0
    if spec.mode == "sellout":
        last_sold = [r["t_last_first_sold_out"] for r in results]
        completed = all(t is not None for t in last_sold) and not run.capped
        if completed:
            sellout_s = (max(last_sold) - t0) / 1e9
        seat_times = [r["t_last_seat"] for r in results if r["t_last_seat"]]
        capacity_booked_s = (max(seat_times) - t0) / 1e9 if seat_times else None
        window_s = sellout_s if sellout_s is not None else elapsed_s
    else:
        completed = run.window is not None and not run.capped
        if run.window is None:
            window_s = 0.0
            warnings.append("the measured window never opened")
        else:
            ws, we = run.window
            window_start_s = (ws - t0) / 1e9
            window_s = (min(we, t_finish) - ws) / 1e9
    counts = {k: sum(r["window_answers"][k] for r in results) for k in results[0]["window_answers"]}
    errors_by_kind = {k: sum(r["errors_by_kind"][k] for r in results) for k in ERROR_KINDS}
    server_errors: dict[str, int] = {}
    for r in results:
        for code, count in r["server_errors_by_code"].items():
            server_errors[code] = server_errors.get(code, 0) + count
    unanswered = [w for r in results for w in r["unanswered_ms"]]
    answers_per_client = [row["answers"] for row in rows]
    seats_per_client = [row["seats"] for row in rows]
    if spec.mode == "sellout":
        # a client first served after the last seat went got only SoldOut: it was starved all the same
        starved = sum(1 for n in seats_per_client if n == 0)
        starved_how = "booked no seat before the sell-out"
    else:
        starved = sum(1 for a in answers_per_client if a == 0)
        starved_how = "got no answer in the measured window"
    if starved:
        warnings.append(f"{starved} of {spec.clients} clients {starved_how} (starved)")
    cpu = [100.0 * r["cpu_s"] / r["wall_s"] if r["wall_s"] > 0 else 0.0 for r in results]
    saturated = any(p > SATURATED_PCT for p in cpu)
    if saturated:
        message = (
            f"a load process used {max(cpu):.0f}% of a core (> {SATURATED_PCT:.0f}%): the load generator, "
            "not the server, may be the limit; raise --diversity"
        )
        warnings.append(message)
        print(f"warning: {message}", file=sys.stderr)
    reported = [v for r in results for v in r["violations"]] + run.ledger.violations
    if capacity is None:
        audit = {
            "ok": None, "confirmed": 0, "server_booked": None, "expected_booked": None,
            "message": "the server answers Stats with a Seat (a calibration target that keeps no seats): "
            "answers were counted, not checked, and nothing was audited",
        }  # fmt: skip
        warnings.append("calibration target: answers not checked, no refill cancels, no audit")
    elif spec.mode == "sellout":
        audit = audit_sellout(
            (c for r in results for c in r["confirmed"]), capacity, booked_before, end, len(unanswered),
            completed, reported,
        )  # fmt: skip
    else:
        audit = audit_duration(
            (h for r in results for h in r["held"]), capacity, booked_before, end, len(unanswered), reported
        )
    if booked_before and spec.mode == "sellout":
        warnings.append(f"{booked_before} of {capacity} seats were already booked when the run started")

    def rate(count: int) -> float:
        return count / window_s if window_s > 0 else 0.0

    summary: dict[str, Any] = {
        "schema_version": report.SCHEMA_VERSION,
        "created": report.created_at(),
        "mode": spec.mode,
        "clients": spec.clients,
        "diversity": spec.diversity,
        "rate": spec.rate,
        "offered_rps": spec.rate,
        "connect": spec.connect,
        "completed": completed,
        "elapsed_s": elapsed_s,
        "window_start_s": window_start_s,
        "window_s": window_s,
        "sellout_s": sellout_s,
        "capacity_booked_s": capacity_booked_s,
        "capacity": capacity,
        "booked_before": booked_before,
        "answers": counts["all"],
        "answers_by_kind": {k: counts[k] for k in ("seat", "sold_out", "released", "error")},
        "book_answers": counts["book"],
        "throughput_rps": rate(counts["all"]),
        "book_answers_rps": rate(counts["book"]),
        "bookings_rps": rate(counts["seat"]),
        "seats": counts["seat"],
        "sold_out": counts["sold_out"],
        "errors": sum(errors_by_kind.values()),
        "errors_by_kind": errors_by_kind,
        "server_errors_by_code": server_errors,
        "error_examples": [e for r in results for e in r["error_examples"]][:10],
        "reconnects": sum(r["reconnects"] for r in results),
        "connections": sum(r["connections"] for r in results),
        "unanswered": len(unanswered),
        "unanswered_max_wait_ms": max(unanswered) if unanswered else None,
        "unanswered_mean_wait_ms": sum(unanswered) / len(unanswered) if unanswered else None,
        "unsent_due": sum(r["unsent_due"] for r in results),
        "gave_up_clients": sum(r["gave_up"] for r in results),
        "starved_clients": starved,
        "fairness_jain": report.jain_index(seats_per_client),
        "min_client_answers": min(answers_per_client),
        "max_client_answers": max(answers_per_client),
        "min_client_seats": min(seats_per_client),
        "latency_ms": latency,
        "served_latency_ms": histogram.latency_summary_ms(served),
        "loadgen_cpu_pct": sum(cpu),
        "loadgen_cpu_pct_by_process": cpu,
        "loadgen_saturated": saturated,
        "loadgen_parent_cpu_pct": run.parent_cpu_pct,
        "loadgen_cpu_kernel_share": (
            sum(r["cpu_sys_s"] for r in results) / sum(r["cpu_s"] for r in results)
            if sum(r["cpu_s"] for r in results) > 0
            else None
        ),
        "loadgen_cpu_us_per_answer": (
            1e6 * sum(r["cpu_s"] for r in results) / sum(r["total_answers"] for r in results)
            if sum(r["total_answers"] for r in results)
            else None
        ),
        "audit": audit,
        "histogram_file": report.HISTOGRAM_FILE,
        "served_histogram_file": report.SERVED_HISTOGRAM_FILE,
        "censored_histogram_file": report.CENSORED_HISTOGRAM_FILE,
        "clients_file": report.CLIENTS_FILE,
        "percentiles_file": report.PERCENTILES_FILE,
        "warnings": warnings,
        "machine": machine_info(),
        "params": {
            **spec.as_params(),
            "loop": "closed" if spec.rate is None else "open",
            "refill": refill_mode(spec, capacity, booked_before),
            "calibration_target": capacity is None,
            "latency_origin": "send time (closed loop)" if spec.rate is None else "due time (open loop)",
            "latency_scope": (
                "latency_ms: every Book the window counts: answered in the window at its latency, and "
                "due by the window's end but unanswered then at its age then (censored, a lower bound; "
                "lower_bound marks the percentiles that fall on one); served_latency_ms: answered only"
            ),
            "counted": (
                "answers/throughput_rps count every answer in the window (Seat, SoldOut, Released, Error); "
                "book_answers and latency_ms count answers to Book only; bookings_rps counts Seat answers"
            ),
            "window_rule": (
                "sellout: from the start until the last client got its first SoldOut"
                if spec.mode == "sellout"
                else "duration: opens after warmup_s once every connection has had an answer "
                "(or after warmup_s + answer_wait_s), lasts duration_s"
            ),
            "errors_scope": "errors, reconnects and unanswered cover the whole run, not only the window",
        },
    }
    histograms = {
        report.HISTOGRAM_FILE: every,
        report.SERVED_HISTOGRAM_FILE: served,
        report.CENSORED_HISTOGRAM_FILE: censored,
    }
    return summary, rows, histograms
