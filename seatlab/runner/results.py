"""The runner's result files: ``points.csv`` columns, one row per point, and the combined CSV of a sweep.

Versioned like pyperf's results: ``SCHEMA_VERSION`` is written into
``metadata.json``, ``job.json`` and every summary the runner writes.
History: 1 = first version; 2 = points.csv's percentiles over every request (the load
generator's summary schema 2), their ``*_censored`` flags, ``censored``, the answered-only
``served_*`` columns, ``offered_rps``; metadata.json's ``swept``; 3 = ``server_cpus`` /
``loadgen_cpus`` (``0-7``; empty: unpinned), metadata.json's ``cpus``, external backends' names;
4 = ``load_hosts`` (``name@ip;...`` of the Ray nodes that ran the load; empty: here) and ``rtt_ms``
(their round trip to the server, counted in ``bound_rps``); 5 = ``backlog_requests`` and
``backlog_wait_s`` (the load generator's summary schema 3: the answers awaited after the run);
6 = ``work_ms``, ``work_kind``, ``offload`` (CPU work per request) and ``bound_by`` (what sets
``bound_rps``: Little's law, the CPU or the offered rate, in words); 7 = ``workers`` (server
processes; older files are read as 1), ``server_python``, ``server_python_version``, ``server_gil``
(the interpreter of a Python server, probed once) and metadata.json's ``server_python``; the server's
CPU and RSS now sum its worker processes; 8 = the machine's noise per point: ``load_avg_start``,
``load_avg_end`` (1-minute load average), ``others_cpu_pct`` (CPU of every process but the runner's
tree: server, its workers, load processes), ``cpu_governor``, ``cpu_boost`` (empty where unreadable);
older files lack them and read as unmeasured.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict
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
    PointRow,
)
from seatlab.registry import ceiling_of

SCHEMA_VERSION = 8


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


def write_points(rows: list[PointRow], path: Path) -> pd.DataFrame:
    """points.csv from the rows, in ``COLUMNS`` order, with each row's ``ceiling_ratio`` (which compares rows)."""
    frame = pd.DataFrame([asdict(row) for row in rows], columns=COLUMNS)
    frame["ceiling_ratio"] = ceiling_ratios(frame)
    write_atomic(path, frame.to_csv(index=False))
    return frame


def write_json(data: dict[str, Any], path: Path) -> None:
    write_atomic(path, json.dumps(data, indent=2, default=str) + "\n")


def read_json(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data
