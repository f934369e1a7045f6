"""The runner's result files: ``points.csv`` columns, one row per point, and the combined CSV of a sweep.

Versioned like pyperf's results: ``SCHEMA_VERSION`` is written into
``metadata.json``, ``job.json`` and every summary the runner writes.
History: 1 = first version.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pandas as pd

from seatlab.files import write_atomic

SCHEMA_VERSION = 1

POINTS_CSV = "points.csv"
COMBINED_CSV = "combined.csv"
METADATA_JSON = "metadata.json"
JOB_JSON = "job.json"
REPORT_MD = "report.md"

COLUMNS = [
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
    "p50_ms",
    "p90_ms",
    "p99_ms",
    "p999_ms",
    "max_ms",
    "mean_ms",
    "answers",
    "errors",
    "unanswered",
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
    "elapsed_s",
    "status",
    "reason",
    "point_dir",
]


def _number(value: Any) -> float:
    return math.nan if value is None else float(value)


def measurements(summary: dict[str, Any]) -> dict[str, Any]:
    """The columns taken from the load generator's summary (see the client contract)."""
    latency = summary.get("latency_ms") or {}
    return {
        "throughput_rps": _number(summary.get("throughput_rps")),
        "bookings_rps": _number(summary.get("bookings_rps")),
        "sellout_s": _number(summary.get("sellout_s")),
        "p50_ms": _number(latency.get("p50")),
        "p90_ms": _number(latency.get("p90")),
        "p99_ms": _number(latency.get("p99")),
        "p999_ms": _number(latency.get("p999")),
        "max_ms": _number(latency.get("max")),
        "mean_ms": _number(latency.get("mean")),
        "answers": summary.get("answers"),
        "errors": summary.get("errors"),
        "unanswered": summary.get("unanswered"),
        "starved_clients": summary.get("starved_clients"),
        "fairness": _number(summary.get("fairness_jain")),
        "reconnects": summary.get("reconnects"),
        "loadgen_cpu_pct": _number(summary.get("loadgen_cpu_pct")),
        "loadgen_saturated": summary.get("loadgen_saturated"),
        "elapsed_s": _number(summary.get("elapsed_s")),
    }


CEILING_BACKEND = "calibrate"


def ceiling_ratios(frame: pd.DataFrame) -> pd.Series:
    """Each point's throughput / the calibration target's at the same client count, in the same run.

    The machine's ceiling measured side by side (median over repetitions); NaN where the
    calibration target did not run at that client count.
    """
    ok = frame[(frame.get("status") == "ok") & (frame["backend"] == CEILING_BACKEND)]
    if ok.empty:
        return pd.Series(math.nan, index=frame.index)
    ceiling = ok.groupby("clients")["throughput_rps"].median()
    return frame["throughput_rps"] / frame["clients"].map(ceiling)


def write_points(rows: list[dict[str, Any]], path: Path) -> pd.DataFrame:
    frame = pd.DataFrame(rows)
    for column in COLUMNS:
        if column not in frame.columns:
            frame[column] = math.nan
    frame["ceiling_ratio"] = ceiling_ratios(frame)
    extra = [c for c in frame.columns if c not in COLUMNS]
    frame = frame[COLUMNS + extra]
    tmp = path.with_suffix(".tmp")
    frame.to_csv(tmp, index=False)
    tmp.replace(path)
    return frame


def read_points(path: Path) -> pd.DataFrame:
    frame = pd.read_csv(path, keep_default_na=True)
    for column in ("job", "reason", "status"):
        if column in frame.columns:
            frame[column] = frame[column].astype(object).where(frame[column].notna(), "").astype(str)
    return frame


def write_json(data: dict[str, Any], path: Path) -> None:
    write_atomic(path, json.dumps(data, indent=2, default=str) + "\n")


def read_json(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data
