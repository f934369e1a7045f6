"""What seatlab writes and reads back, named once: result file names, points.csv's columns, the percentiles.

A leaf module (nothing of seatlab's imported): the load generator, the runner and the report (which
never imports the runner) all take these names from here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import NamedTuple

# a run's folder (the runner writes, the report reads)
POINTS_CSV = "points.csv"
COMBINED_CSV = "combined.csv"  # a multirun's jobs, side by side
METADATA_JSON = "metadata.json"
JOB_JSON = "job.json"
REPORT_MD = "report.md"
POINTS_DIR = "points"  # the point folders; points.csv's point_dir names one of them
LOAD_DIR = "load"  # in a point folder: the load generator's outputs

# the load generator's outputs (in its --out-dir)
SUMMARY_JSON = "summary.json"
ALL_HDR = "latency.hdr"  # schema 2 on: every request; schema 1: the answered ones only
SERVED_HDR = "served_latency.hdr"  # schema 2 on: the answered requests
CENSORED_HDR = "censored_latency.hdr"  # schema 2 on: the unanswered requests' ages when the window closed
CLIENTS_CSV = "clients.csv"
PERCENTILES_CSV = "latency_percentiles.csv"
LATENCY_HGRM = "latency.hgrm"  # schema 5 on: latency.hdr as HdrHistogram's percentile text, in ms
LATENCY_HLOG = "latency.hlog"  # schema 5 on: HdrHistogram's interval log (seatlab/client/timeline.py)
INTERVALS_CSV = "intervals.csv"  # schema 5 on: per interval, the answer counts and percentiles


class Percentile(NamedTuple):
    """One reported percentile: its key in summary.json (``p999``), its quantile, how a person reads it."""

    name: str
    quantile: float
    label: str


PERCENTILES = (
    Percentile("p50", 50.0, "p50"),
    Percentile("p90", 90.0, "p90"),
    Percentile("p99", 99.0, "p99"),
    Percentile("p999", 99.9, "p99.9"),
    Percentile("max", 100.0, "max"),
)
"""The percentiles every summary, points.csv row and report gives, in this order."""

NAN = math.nan


@dataclass(frozen=True, kw_only=True)
class PointRow:
    """One row of points.csv: its fields are the columns, in order (``COLUMNS``).

    The runner builds it from the point's parameters, then from the load generator's summary and the
    server's usage (``seatlab.runner.execute``), and serialises it only when it writes the file. A point
    that failed before it measured anything keeps the defaults: NaN, or None (empty) for counts and flags.
    The report reads the file back into a frame, never this type: it does not import the runner.
    """

    job: str = ""  # a multirun's job (combined.csv); empty in a job's own points.csv
    point: int
    repetition: int
    backend: str
    threads: int
    workers: int = 1  # processes of the server (--workers); files before schema 7 had none: 1
    delay_ms: float
    work_ms: float = 0.0  # CPU work per request (0: none)
    work_kind: str = "python"  # python (holds the GIL) or released
    offload: str = "none"  # none, or thread (coro, event: the work off the loop)
    capacity: int
    clients: int
    mode: str
    diversity: int  # load-generator processes
    rate: float  # offered bookings/s; NaN: a closed loop
    connect: str
    duration_s: float  # NaN in sell-out mode
    throughput_rps: float = NAN  # answers/s in the window
    bookings_rps: float = NAN
    bound_rps: float  # the smallest bound: Little's law (with the load hosts' round trip), the CPU, the rate
    bound_by: str = ""  # what sets bound_rps, in words ("Little's law: 2 threads / 55 ms", "CPU: ...")
    efficiency: float = NAN
    ceiling_ratio: float = NAN  # filled when the file is written: it compares rows
    predicted_sellout_s: float
    sellout_s: float = NAN
    offered_rps: float = NAN  # bookings/s
    p50_ms: float = NAN
    p90_ms: float = NAN
    p99_ms: float = NAN
    p999_ms: float = NAN
    max_ms: float = NAN
    mean_ms: float = NAN
    p50_censored: bool | None = None  # the percentile falls on an unanswered request's age: a lower bound
    p90_censored: bool | None = None
    p99_censored: bool | None = None
    p999_censored: bool | None = None
    max_censored: bool | None = None
    censored: int | None = None
    served_p50_ms: float = NAN  # the answered requests only
    served_p90_ms: float = NAN
    served_p99_ms: float = NAN
    served_p999_ms: float = NAN
    served_max_ms: float = NAN
    served_mean_ms: float = NAN
    answers: int | None = None
    errors: int | None = None
    unanswered: int | None = None
    backlog_requests: int | None = None
    backlog_wait_s: float = NAN
    starved_clients: int | None = None
    fairness: float = NAN  # Jain's index over the clients' seats
    reconnects: int | None = None
    server_cpu_pct: float = NAN
    server_rss_mib: float = NAN
    loadgen_cpu_pct: float = NAN
    server_us_per_req: float = NAN
    loadgen_us_per_req: float = NAN
    loadgen_saturated: bool | None = None
    server_exit: int | None = None
    server_cpus: str  # ``0-7``; empty: unpinned
    server_cores: int | None = None  # how many CPUs the server may use (the CPU bound's cores)
    loadgen_cpus: str
    server_python: str = ""  # the Python that ran a Python server (server_python); empty: the runner's own
    server_python_version: str = ""  # its version, 3.12.1; empty: not a Python server (native, external)
    server_gil: str = ""  # on, off (a free-threaded build); empty: unknown, or not a Python server
    load_hosts: str = ""  # ``name@ip;...`` of the hosts that ran the load; empty: here
    rtt_ms: float = NAN
    load_avg_start: float = NAN  # the machine's 1-minute load average when the load started (schema 8)
    load_avg_end: float = NAN  # ... and when it ended
    others_cpu_pct: float = NAN  # % of one core used by processes other than server and load generator
    cpu_governor: str = ""  # the CPUs' frequency governors (distinct, joined by ","); empty: unreadable
    cpu_boost: str = ""  # on, off; empty: unreadable
    elapsed_s: float = NAN
    status: str = "failed"
    reason: str = ""
    point_dir: str


COLUMNS = [f.name for f in fields(PointRow)]
"""points.csv's columns, in order."""
