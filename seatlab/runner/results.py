"""The runner's result files: ``points.csv`` columns, one row per point, and the combined CSV of a sweep.

Versioned like pyperf's results: ``SCHEMA_VERSION`` is written into
``metadata.json``, ``job.json`` and every summary the runner writes.
History: 1 = first version; 2 = points.csv's percentiles over every request (the load
generator's summary schema 2), their ``*_censored`` flags, ``censored``, the answered-only
``served_*`` columns, ``offered_rps``; metadata.json's ``swept``; 3 = ``server_cpus`` /
``loadgen_cpus`` (``0-7``; empty: unpinned), metadata.json's ``cpus``, external backends' names;
4 = ``load_hosts`` (``name@ip;...`` of the Ray nodes that ran the load; empty: here) and ``rtt_ms``
(their round trip to the server, counted in ``bound_rps``); 5 = ``backlog_requests`` and
``backlog_wait_s`` (the load generator's summary schema 3: the answers awaited after the run).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pandas as pd

from seatlab.files import write_atomic
from seatlab.outputs import (  # noqa: F401 (names the runner's modules take from here)
    COLUMNS,
    COMBINED_CSV,
    JOB_JSON,
    METADATA_JSON,
    PERCENTILES,
    POINTS_CSV,
    REPORT_MD,
)
from seatlab.registry import ceiling_of

SCHEMA_VERSION = 5


def _number(value: Any) -> float:
    return math.nan if value is None else float(value)


def measurements(summary: dict[str, Any]) -> dict[str, Any]:
    """The columns taken from the load generator's summary (schema 2; see the client contract).

    ``latency_ms`` is over every request, answered or not: a percentile that falls on a request
    still waiting when the window closed is a lower bound (``*_censored``). ``served_latency_ms``
    is the answered-only view. A schema-1 summary (answered only, no flags) leaves the flags empty.
    """
    latency = summary.get("latency_ms") or {}
    served = summary.get("served_latency_ms") or {}
    lower_bound = latency.get("lower_bound") or {}
    row: dict[str, Any] = {
        "throughput_rps": _number(summary.get("throughput_rps")),
        "bookings_rps": _number(summary.get("bookings_rps")),
        "offered_rps": _number(summary.get("offered_rps")),
        "sellout_s": _number(summary.get("sellout_s")),
    }
    for name in (p.name for p in PERCENTILES):
        row[f"{name}_ms"] = _number(latency.get(name))
        row[f"{name}_censored"] = lower_bound.get(name)
        row[f"served_{name}_ms"] = _number(served.get(name))
    row.update(
        mean_ms=_number(latency.get("mean")),
        censored=latency.get("censored"),
        served_mean_ms=_number(served.get("mean")),
        answers=summary.get("answers"),
        errors=summary.get("errors"),
        unanswered=summary.get("unanswered"),
        backlog_requests=summary.get("backlog_requests"),  # schema 3: waited for after the run
        backlog_wait_s=_number(summary.get("backlog_wait_s")),
        starved_clients=summary.get("starved_clients"),
        fairness=_number(summary.get("fairness_jain")),
        reconnects=summary.get("reconnects"),
        loadgen_cpu_pct=_number(summary.get("loadgen_cpu_pct")),
        loadgen_saturated=summary.get("loadgen_saturated"),
        elapsed_s=_number(summary.get("elapsed_s")),
    )
    return row


def ceiling_ratios(frame: pd.DataFrame) -> pd.Series:
    """Each point's throughput / the calibration target's at the same load (client count and offered
    rate), in the same run.

    The machine's ceiling measured side by side (median over repetitions); NaN where the
    calibration target did not run at that load.
    """
    load = ["clients", "rate"]
    ok = frame[(frame.get("status") == "ok") & (frame["backend"] == ceiling_of(frame["backend"]))]
    if ok.empty:
        return pd.Series(math.nan, index=frame.index)
    ceiling = ok.groupby(load, dropna=False)["throughput_rps"].median().rename("ceiling").reset_index()
    matched = frame[load].merge(ceiling, on=load, how="left")
    return pd.Series(frame["throughput_rps"].to_numpy() / matched["ceiling"].to_numpy(), index=frame.index)


def write_points(rows: list[dict[str, Any]], path: Path) -> pd.DataFrame:
    frame = pd.DataFrame(rows)
    for column in COLUMNS:
        if column not in frame.columns:
            frame[column] = math.nan
    frame["ceiling_ratio"] = ceiling_ratios(frame)
    extra = [c for c in frame.columns if c not in COLUMNS]
    frame = frame[COLUMNS + extra]
    write_atomic(path, frame.to_csv(index=False))
    return frame


def write_json(data: dict[str, Any], path: Path) -> None:
    write_atomic(path, json.dumps(data, indent=2, default=str) + "\n")


def read_json(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data
