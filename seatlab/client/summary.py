"""The run's summary: a typed object with a versioned ``to_json`` (psf/pyperf ``_bench.py``'s habit).

``summarize`` builds it from the merged ``WorkerResult`` of every load
process and what the parent saw (``RunFacts``): the window, the warnings,
the live ledger's findings, the audit. ``Summary.to_json()`` is exactly
summary.json; its ``schema_version`` and the history below change together.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

from hdrh.histogram import HdrHistogram

from seatlab import outputs
from seatlab.client import histogram, output
from seatlab.client.audit import NOT_AUDITED, Audit, audit_duration, audit_sellout
from seatlab.client.histogram import CensoredLatency, Latency
from seatlab.client.processes import HostReport
from seatlab.client.result import BACKLOG_QUIET_S, WorkerResult
from seatlab.client.spec import LoadSpec
from seatlab.machine import machine_info
from seatlab.modes import Mode

SCHEMA_VERSION = 5
READS = (3, 4, 5)
"""The schema versions ``Summary.from_json`` reads (3: without ``load_hosts``; 3 and 4: without the
timeline's and the .hgrm's file names, read as None)."""
# summary.json history:
#   1: first version (mode, window, answers by kind, errors by kind, unanswered, starved clients,
#      fairness, latency_ms, load-generator CPU, audit, machine, params).
#   2: latency_ms covers every request the window counts, the unanswered ones at their age when it
#      closed (+ censored, lower_bound); the answered-only view moves to served_latency_ms;
#      served_latency.hdr and censored_latency.hdr beside latency.hdr (served_histogram_file,
#      censored_histogram_file); offered_rps (the open loop's rate, null for a closed loop);
#      loadgen_parent_cpu_pct (the parent, which runs the live double-booking check).
#   3: backlog_requests, backlog_answered, backlog_wait_s, backlog_outcome: the requests still
#      outstanding when the run ended, whose answers the load generator then waited for (a thread
#      pool's queued connections), so that the audit's end Stats is not queued behind them. Those
#      answers change no figure: they count at their age when the window closed, as before.
#      unanswered counts only the requests never answered.
#   4: load_hosts always present (null: the load ran here; before, the key was there only for a load
#      run on other hosts). The same content, read back by ``Summary.from_json``.
#   5: percentile_distribution_file (latency.hgrm: latency.hdr as HdrHistogram's percentile
#      distribution text, in ms), interval_log_file (latency.hlog: HdrHistogram's interval log, every
#      interval_s of params) and intervals_file (intervals.csv: the answers and percentiles per
#      interval). None when the files were not written.

SATURATED_PCT = 85.0
"""A load process above this share of one core may be the bottleneck, not the server."""


@dataclass(frozen=True)
class RunFacts:
    """What the parent saw of the run, besides the processes' results."""

    t0: int
    window: tuple[int, int] | None
    capped: bool
    warnings: list[str]
    live_violations: list[str]  # the SeatLedger's, across processes
    parent_cpu_pct: float
    refill: str | None


@dataclass(frozen=True)
class Summary:
    """summary.json, typed: one attribute per top-level key (``schema_version`` aside)."""

    created: str
    mode: str
    clients: int
    diversity: int
    rate: float | None
    offered_rps: float | None
    connect: str
    completed: bool
    elapsed_s: float
    window_start_s: float
    window_s: float
    sellout_s: float | None
    capacity_booked_s: float | None
    capacity: int | None
    booked_before: int
    answers: int
    answers_by_kind: dict[str, int]
    book_answers: int
    throughput_rps: float
    book_answers_rps: float
    bookings_rps: float
    seats: int
    sold_out: int
    errors: int
    errors_by_kind: dict[str, int]
    server_errors_by_code: dict[str, int]
    error_examples: list[str]
    reconnects: int
    connections: int
    unanswered: int
    unanswered_max_wait_ms: float | None
    unanswered_mean_wait_ms: float | None
    unsent_due: int
    backlog_requests: int
    backlog_answered: int
    backlog_wait_s: float
    backlog_outcome: str
    gave_up_clients: int
    starved_clients: int
    fairness_jain: float | None
    min_client_answers: int
    max_client_answers: int
    min_client_seats: int
    latency_ms: CensoredLatency
    served_latency_ms: Latency
    loadgen_cpu_pct: float
    loadgen_cpu_pct_by_process: list[float]
    loadgen_saturated: bool
    loadgen_parent_cpu_pct: float
    loadgen_cpu_kernel_share: float | None
    loadgen_cpu_us_per_answer: float | None
    audit: Audit
    histogram_file: str
    served_histogram_file: str
    censored_histogram_file: str
    clients_file: str
    percentiles_file: str
    warnings: list[str]
    machine: Mapping[str, object]
    params: Mapping[str, object]
    load_hosts: list[HostReport] | None
    """The hosts that ran the load (``seatlab.cluster``); None: this machine."""
    percentile_distribution_file: str | None = None
    interval_log_file: str | None = None
    intervals_file: str | None = None

    def to_json(self) -> dict[str, object]:
        """Exactly summary.json's content, ``schema_version`` first."""
        return {"schema_version": SCHEMA_VERSION, **asdict(self)}

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> Summary:
        """A summary.json's content as a ``Summary`` (schema 3 to 5); ``SummaryError`` names what does not fit."""
        version = data.get("schema_version")
        if version not in READS:
            raise SummaryError(
                f"summary.json schema_version {version!r}: this seatlab reads {' and '.join(map(str, READS))}"
            )
        values: dict[str, Any] = dict(data)  # checked key by key below, then by the dataclasses
        values.pop("schema_version")
        values.setdefault("load_hosts", None)  # schema 3
        if version in (3, 4):
            for name in ("percentile_distribution_file", "interval_log_file", "intervals_file"):
                values.setdefault(name, None)
        names = {f.name for f in fields(cls)}
        if missing := sorted(names - values.keys()):
            raise SummaryError(f"summary.json (schema {version}) lacks {', '.join(missing)}")
        if unknown := sorted(values.keys() - names):
            raise SummaryError(
                f"summary.json (schema {version}) has keys no Summary holds: {', '.join(unknown)}"
            )
        try:
            values["latency_ms"] = CensoredLatency(**_mapping(values["latency_ms"]))
            values["served_latency_ms"] = Latency(**_mapping(values["served_latency_ms"]))
            values["audit"] = Audit(**_mapping(values["audit"]))
            hosts = values["load_hosts"]
            if hosts is not None:
                values["load_hosts"] = [HostReport(**_mapping(h)) for h in _sequence(hosts)]
            return cls(**values)
        except (TypeError, ValueError) as exc:
            raise SummaryError(f"summary.json (schema {version}): {exc}") from exc


class SummaryError(ValueError):
    """A stored summary that this version cannot read: another schema, or keys missing or unknown."""


def _mapping(value: object) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise TypeError(f"expected an object, got {type(value).__name__}")
    return {str(k): v for k, v in value.items()}


def _sequence(value: object) -> list[object]:
    if not isinstance(value, list):
        raise TypeError(f"expected a list, got {type(value).__name__}")
    return value


def summarize(
    spec: LoadSpec,
    facts: RunFacts,
    result: WorkerResult,
    capacity: int | None,
    booked_before: int,
    end: tuple[int, int] | None,
    load_hosts: list[HostReport] | None = None,
) -> tuple[Summary, dict[str, HdrHistogram]]:
    """The summary, and the histograms to save by file name.

    ``capacity`` None: the server is a calibration target (answers Stats with a Seat); nothing is audited.
    """
    served = histogram.decode(result.served_histogram)
    censored = histogram.decode(result.censored_histogram)
    every, latency = histogram.with_censored(served, censored)
    rows = result.clients
    warnings = list(facts.warnings)
    t0 = facts.t0
    elapsed_s = (result.t_finish - t0) / 1e9
    sellout_s = None
    capacity_booked_s = None
    window_start_s = 0.0
    if spec.mode == Mode.sellout:
        completed = result.t_last_first_sold_out is not None and not facts.capped
        if completed and result.t_last_first_sold_out is not None:
            sellout_s = (result.t_last_first_sold_out - t0) / 1e9
        if result.t_last_seat is not None:
            capacity_booked_s = (result.t_last_seat - t0) / 1e9
        window_s = sellout_s if sellout_s is not None else elapsed_s
    else:
        completed = facts.window is not None and not facts.capped
        if facts.window is None:
            window_s = 0.0
            warnings.append("the measured window never opened")
        else:
            ws, we = facts.window
            window_start_s = (ws - t0) / 1e9
            window_s = (min(we, result.t_finish) - ws) / 1e9
    counts = result.window_answers
    unanswered = result.unanswered_ms
    answers_per_client = [row["answers"] for row in rows]
    seats_per_client = [row["seats"] for row in rows]
    if spec.mode == Mode.sellout:
        # a client first served after the last seat went got only SoldOut: it was starved all the same
        starved = sum(1 for n in seats_per_client if n == 0)
        starved_how = "booked no seat before the sell-out"
    else:
        starved = sum(1 for a in answers_per_client if a == 0)
        starved_how = "got no answer in the measured window"
    if starved:
        warnings.append(f"{starved} of {spec.clients} clients {starved_how} (starved)")
    outcome = backlog_outcome(result.backlog_outcomes)
    if outcome in ("stalled", "capped"):
        owed = result.backlog_requests - result.backlog_answered
        why = (
            f"no answer for {min(BACKLOG_QUIET_S, spec.timeout_s):g} s"
            if outcome == "stalled"
            else f"max_time_s={spec.max_time_s:g} came first"
        )
        warnings.append(
            f"the server still owed {owed} of the {result.backlog_requests} requests outstanding when the run "
            f"ended ({why}): {outcome}"
        )
    cpu = result.cpu_pct_by_process
    saturated = any(p > SATURATED_PCT for p in cpu)
    if saturated:
        message = (
            f"a load process used {max(cpu):.0f}% of a core (> {SATURATED_PCT:.0f}%): the load generator, "
            "not the server, may be the limit; raise --diversity"
        )
        warnings.append(message)
        print(f"warning: {message}", file=sys.stderr)
    reported = result.violations + facts.live_violations
    if capacity is None:
        audit = NOT_AUDITED
        warnings.append("calibration target: answers not checked, no refill cancels, no audit")
    elif spec.mode == Mode.sellout:
        audit = audit_sellout(
            result.confirmed, capacity, booked_before, end, len(unanswered), completed, reported
        )
    else:
        audit = audit_duration(result.held, capacity, booked_before, end, len(unanswered), reported)
    if booked_before and spec.mode == Mode.sellout:
        warnings.append(f"{booked_before} of {capacity} seats were already booked when the run started")

    def rate(count: int) -> float:
        return count / window_s if window_s > 0 else 0.0

    cpu_s = sum(result.cpu_s)
    summary = Summary(
        created=output.created_at(),
        mode=str(spec.mode),
        clients=spec.clients,
        diversity=spec.diversity,
        rate=spec.rate,
        offered_rps=spec.rate,
        connect=str(spec.connect),
        completed=completed,
        elapsed_s=elapsed_s,
        window_start_s=window_start_s,
        window_s=window_s,
        sellout_s=sellout_s,
        capacity_booked_s=capacity_booked_s,
        capacity=capacity,
        booked_before=booked_before,
        answers=counts["all"],
        answers_by_kind={k: counts[k] for k in ("seat", "sold_out", "released", "error")},
        book_answers=counts["book"],
        throughput_rps=rate(counts["all"]),
        book_answers_rps=rate(counts["book"]),
        bookings_rps=rate(counts["seat"]),
        seats=counts["seat"],
        sold_out=counts["sold_out"],
        errors=sum(result.errors_by_kind.values()),
        errors_by_kind=result.errors_by_kind,
        server_errors_by_code=result.server_errors_by_code,
        error_examples=result.error_examples[:10],
        reconnects=result.reconnects,
        connections=result.connections,
        unanswered=len(unanswered),
        unanswered_max_wait_ms=max(unanswered) if unanswered else None,
        unanswered_mean_wait_ms=sum(unanswered) / len(unanswered) if unanswered else None,
        unsent_due=result.unsent_due,
        backlog_requests=result.backlog_requests,
        backlog_answered=result.backlog_answered,
        backlog_wait_s=max(result.backlog_wait_s, default=0.0),
        backlog_outcome=backlog_outcome(result.backlog_outcomes),
        gave_up_clients=result.gave_up,
        starved_clients=starved,
        fairness_jain=output.jain_index(seats_per_client),
        min_client_answers=min(answers_per_client),
        max_client_answers=max(answers_per_client),
        min_client_seats=min(seats_per_client),
        latency_ms=latency,
        served_latency_ms=histogram.latency_summary_ms(served),
        loadgen_cpu_pct=sum(cpu),
        loadgen_cpu_pct_by_process=cpu,
        loadgen_saturated=saturated,
        loadgen_parent_cpu_pct=facts.parent_cpu_pct,
        loadgen_cpu_kernel_share=sum(result.cpu_sys_s) / cpu_s if cpu_s > 0 else None,
        loadgen_cpu_us_per_answer=1e6 * cpu_s / result.total_answers if result.total_answers else None,
        audit=audit,
        histogram_file=output.HISTOGRAM_FILE,
        served_histogram_file=output.SERVED_HISTOGRAM_FILE,
        censored_histogram_file=output.CENSORED_HISTOGRAM_FILE,
        clients_file=output.CLIENTS_FILE,
        percentiles_file=output.PERCENTILES_FILE,
        warnings=warnings,
        machine=machine_info(),
        params=_params(spec, facts.refill, capacity is None),
        load_hosts=load_hosts,
        percentile_distribution_file=output.HGRM_FILE,
        interval_log_file=None if result.intervals is None else outputs.LATENCY_HLOG,
        intervals_file=None if result.intervals is None else outputs.INTERVALS_CSV,
    )
    histograms = {
        output.HISTOGRAM_FILE: every,
        output.SERVED_HISTOGRAM_FILE: served,
        output.CENSORED_HISTOGRAM_FILE: censored,
    }
    return summary, histograms


def backlog_outcome(outcomes: tuple[str, ...]) -> str:
    """The run's backlog outcome from each process's: the worst of them (a stall anywhere is a stall)."""
    order = ("stalled", "capped", "answered")
    return next((o for o in order if o in outcomes), "none")


def _params(spec: LoadSpec, refill: str | None, calibration_target: bool) -> dict[str, object]:
    """The run's parameters, and in words what its figures count."""
    return {
        **spec.as_params(),
        "loop": "closed" if spec.rate is None else "open",
        "refill": refill,
        "calibration_target": calibration_target,
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
            if spec.mode == Mode.sellout
            else "duration: opens after warmup_s once every connection has had an answer "
            "(or after warmup_s + answer_wait_s), lasts duration_s"
        ),
        "errors_scope": "errors, reconnects and unanswered cover the whole run, not only the window",
    }
