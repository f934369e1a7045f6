"""What seatlab writes and reads back, named once: result file names, points.csv's columns, the percentiles.

A leaf module (nothing of seatlab's imported): the load generator, the runner and the report (which
never imports the runner) all take these names from here.
"""

from __future__ import annotations

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

COLUMNS = [  # points.csv, in this order (runner.results fills them)
    "job",
    "point",
    "repetition",
    "backend",
    "threads",
    "delay_ms",
    "capacity",
    "clients",
    "mode",
    "diversity",
    "rate",
    "connect",
    "duration_s",
    "throughput_rps",
    "bookings_rps",
    "bound_rps",
    "efficiency",
    "ceiling_ratio",
    "predicted_sellout_s",
    "sellout_s",
    "offered_rps",
    "p50_ms",
    "p90_ms",
    "p99_ms",
    "p999_ms",
    "max_ms",
    "mean_ms",
    "p50_censored",
    "p90_censored",
    "p99_censored",
    "p999_censored",
    "max_censored",
    "censored",
    "served_p50_ms",
    "served_p90_ms",
    "served_p99_ms",
    "served_p999_ms",
    "served_max_ms",
    "served_mean_ms",
    "answers",
    "errors",
    "unanswered",
    "backlog_requests",
    "backlog_wait_s",
    "starved_clients",
    "fairness",
    "reconnects",
    "server_cpu_pct",
    "server_rss_mib",
    "loadgen_cpu_pct",
    "server_us_per_req",
    "loadgen_us_per_req",
    "loadgen_saturated",
    "server_exit",
    "server_cpus",
    "loadgen_cpus",
    "load_hosts",
    "rtt_ms",
    "elapsed_s",
    "status",
    "reason",
    "point_dir",
]
