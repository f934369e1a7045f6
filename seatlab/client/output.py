"""The run's outputs: summary.json (versioned in ``summary.py``), clients.csv, the .hdr histograms,
latency_percentiles.csv, latency.hgrm (``interval_log.py`` writes the timeline's); and the few lines a
person reads at a terminal."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hdrh.histogram import HdrHistogram

from seatlab import outputs
from seatlab.client import histogram
from seatlab.files import write_atomic

if TYPE_CHECKING:
    from seatlab.client.summary import Summary

HISTOGRAM_FILE = outputs.ALL_HDR
SERVED_HISTOGRAM_FILE = outputs.SERVED_HDR
CENSORED_HISTOGRAM_FILE = outputs.CENSORED_HDR
CLIENTS_FILE = outputs.CLIENTS_CSV
PERCENTILES_FILE = outputs.PERCENTILES_CSV
HGRM_FILE = outputs.LATENCY_HGRM
HGRM_UNIT_RATIO = 1000.0
"""latency.hgrm's values are in milliseconds: the histograms' microseconds divided by this."""
SUMMARY_FILE = outputs.SUMMARY_JSON
CLIENT_COLUMNS = (
    "client", "process", "answers", "seats", "sold_out", "released", "errors",
    "first_answer_s", "last_answer_s", "first_sold_out_s",
)  # fmt: skip


def jain_index(values: list[int]) -> float | None:
    """Jain's fairness index: 1 when every client got the same, 1/n when one got everything."""
    total = sum(values)
    if not values or total == 0:
        return None
    return total * total / (len(values) * sum(v * v for v in values))


def write_outputs(
    out_dir: Path,
    summary: Summary,
    rows: list[dict[str, Any]],
    histograms: dict[str, HdrHistogram],
) -> None:
    """Write every output file of the run into ``out_dir``; ``histograms`` maps file names to histograms.

    latency_percentiles.csv and latency.hgrm are the distribution of every request (``HISTOGRAM_FILE``).
    """
    for name, h in histograms.items():
        (out_dir / name).write_bytes(histogram.encode(h))
    with open(out_dir / HGRM_FILE, "wb") as hgrm:  # HdrHistogram's own text form, as wrk2 prints it
        histograms[HISTOGRAM_FILE].output_percentile_distribution(hgrm, HGRM_UNIT_RATIO)
    with open(out_dir / PERCENTILES_FILE, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(("percentile", "latency_ms"))
        writer.writerows(histogram.percentile_rows(histograms[HISTOGRAM_FILE]))
    with open(out_dir / CLIENTS_FILE, "w", newline="", encoding="utf-8") as f:
        dict_writer = csv.DictWriter(f, fieldnames=CLIENT_COLUMNS)
        dict_writer.writeheader()
        for row in rows:
            dict_writer.writerow({k: ("" if row[k] is None else row[k]) for k in CLIENT_COLUMNS})
    write_atomic(out_dir / SUMMARY_FILE, json.dumps(summary.to_json(), indent=2, sort_keys=False) + "\n")


def created_at() -> str:
    """Now, UTC, to the second (ISO 8601)."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def human_summary(s: Summary) -> str:
    """A few lines for a person at a terminal."""
    loop = "closed loop" if s.rate is None else f"open loop {s.rate:g}/s ({s.params['schedule']})"
    lat = s.latency_ms

    def ms(v: float | None) -> str:
        return "-" if v is None else f"{v:.2f}"

    lines = [
        (
            f"seatlab load: {s.mode}, {s.clients} clients in {s.diversity} processes, {loop}, "
            f"{s.connect} connections"
        ),
    ]
    if s.mode == "sellout":
        sold = "not reached" if s.sellout_s is None else f"{s.sellout_s:.3f} s"
        lines.append(f"sold out: {sold} (capacity {s.capacity}, {s.seats} seats confirmed)")
    lines.append(
        f"window {s.window_s:.2f} s: {s.answers} answers ({s.throughput_rps:.1f}/s), "
        f"bookings {s.bookings_rps:.1f}/s; errors {s.errors}; reconnects {s.reconnects}; "
        f"unanswered {s.unanswered} (max wait {ms(s.unanswered_max_wait_ms)} ms); "
        f"starved clients {s.starved_clients}"
    )

    def at_least(name: str) -> str:
        return (">=" if lat.lower_bound[name] else "") + ms(lat.at(name))

    served = s.served_latency_ms
    lines.append(
        f"latency ms (every Book the window counts, {lat.count}; {lat.censored} still waiting when it "
        f"closed, at their age then; >= marks a lower bound): p50 {at_least('p50')}  p90 {at_least('p90')}  p99 {at_least('p99')}  "
        f"p99.9 {at_least('p999')}  max {at_least('max')}"
    )
    lines.append(
        f"served latency ms (answered only, {served.count}): p50 {ms(served.p50)}  "
        f"p99 {ms(served.p99)}  max {ms(served.max)}"
    )
    jain = "-" if s.fairness_jain is None else f"{s.fairness_jain:.3f}"
    lines.append(
        f"fairness: Jain {jain}, least-served client {s.min_client_answers} answers; "
        f"load generator CPU {s.loadgen_cpu_pct:.0f}% of a core"
        + (" -- SATURATED: the load generator may be the limit" if s.loadgen_saturated else "")
    )
    if s.backlog_requests:
        lines.append(
            f"backlog: {s.backlog_requests} requests still outstanding when the run ended; "
            f"{s.backlog_answered} answered in the {s.backlog_wait_s:.1f} s waited after it "
            f"({s.backlog_outcome}; counted at their age when the window closed)"
        )
    audit = s.audit
    verdict = {True: "ok", False: "FAILED", None: "not checked"}[audit.ok]
    lines.append(f"audit: {verdict}: {audit.message}")
    for warning in s.warnings:
        lines.append(f"warning: {warning}")
    return "\n".join(lines)
