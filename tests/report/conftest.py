"""Run folders for the report's tests, written the way the runner and load generator write them.

``schema 2`` runs (the contract of issue 8): points.csv with percentiles over
every request, their ``*_censored`` flags and the answered-only
``served_*`` view, metadata.json with ``swept``, and per point
``load/summary.json`` with the three merged HdrHistograms, built from
synthetic latencies whose percentiles are known. ``legacy_run`` is a run
as seatlab wrote it before (schema 1: answered requests only, no
histograms).
"""

from __future__ import annotations

import json
import math
import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hdrh.histogram import HdrHistogram

from seatlab.client.histogram import HIGHEST_US

FIXTURES = Path(__file__).parent / "fixtures"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
MACHINE = {
    "cpu_model": "Test CPU @ 2.20GHz",
    "cores": 2,
    "logical_cpus": 2,
    "memory_gib": 7.8,
    "python": "3.11.2",
}
LEGACY_HIGHEST_US = 60_000_000  # schema 1's histograms stopped at 60 s
PERCENTILES = (("p50", 50.0), ("p90", 90.0), ("p99", 99.0), ("p999", 99.9))


def histogram(values_ms: Iterable[float], highest_us: int = HIGHEST_US) -> HdrHistogram:
    """An HdrHistogram in microseconds, as the load generator keeps them (1 us to an hour, 3 digits;
    ``highest_us=LEGACY_HIGHEST_US``: to 60 s, as schema 1 kept them), longer values clamped."""
    h = HdrHistogram(1, highest_us, 3)
    for value in values_ms:
        h.record_value(max(1, min(highest_us, int(value * 1000))))
    return h


@dataclass
class Point:
    """One point: its points.csv columns and the latencies (ms) of its answered and unanswered requests."""

    columns: dict[str, Any]
    answered_ms: list[float] = field(default_factory=list)
    unanswered_ms: list[float] = field(default_factory=list)  # ages when the window closed


def latency_columns(answered_ms: list[float], unanswered_ms: list[float]) -> dict[str, Any]:
    """The latency columns of points.csv from the two sets of requests, as the contract defines them."""
    every, served, censored = (
        histogram(answered_ms + unanswered_ms),
        histogram(answered_ms),
        histogram(unanswered_ms),
    )
    out: dict[str, Any] = {"censored": len(unanswered_ms)}
    for name, pct in (*PERCENTILES, ("max", 100.0)):
        value = every.get_value_at_percentile(pct)
        out[f"{name}_ms"] = value / 1000.0
        out[f"{name}_censored"] = bool(censored.get_count_at_value(value))
        out[f"served_{name}_ms"] = served.get_value_at_percentile(pct) / 1000.0 if answered_ms else math.nan
    out["served_mean_ms"] = served.get_mean_value() / 1000.0 if answered_ms else math.nan
    return out


def write_run(directory: Path, points: list[Point], swept: list[str] | None = None) -> Path:
    """A run folder as the runner leaves it: points.csv, metadata.json, points/<point_dir>/load/ per point."""
    directory.mkdir(parents=True)
    rows = []
    for i, point in enumerate(points):
        row = {"job": "", "point": i, "repetition": 0, "status": "ok", "reason": "", **point.columns}
        row.setdefault("point_dir", f"{i:02d}-{row['backend']}")
        if row["status"] == "ok":
            row.update(latency_columns(point.answered_ms, point.unanswered_ms))
            load = directory / "points" / row["point_dir"] / "load"
            load.mkdir(parents=True)
            every = histogram(point.answered_ms + point.unanswered_ms)
            (load / "latency.hdr").write_bytes(bytes(every.encode()))
            (load / "served_latency.hdr").write_bytes(bytes(histogram(point.answered_ms).encode()))
            (load / "censored_latency.hdr").write_bytes(bytes(histogram(point.unanswered_ms).encode()))
            (load / "summary.json").write_text(
                json.dumps({"schema_version": 2, "answers": len(point.answered_ms)})
            )
        rows.append(row)
    pd.DataFrame(rows).to_csv(directory / "points.csv", index=False)
    metadata: dict[str, Any] = {"schema_version": 2, "command": ["seatlab"], "machine": MACHINE}
    if swept is not None:
        metadata["swept"] = swept
    (directory / "metadata.json").write_text(json.dumps(metadata))
    return directory


def closed_loop_point(backend: str, clients: int, threads: int = 2, delay_ms: float = 50.0) -> Point:
    """A 3 s closed-loop window at `delay_ms`: tpool serves `threads` clients and starves the rest (each
    waiting 3.5 s, since before the window opened); coro serves every client, with one request each still
    in flight (younger than the delay) when the window closes."""
    window_ms, served = 3000.0, clients if backend != "tpool" else min(clients, threads)
    per_client = int(window_ms / delay_ms)
    answered = [delay_ms + 0.5 + (k % 10) * 0.1 for k in range(served * per_client)]
    if backend == "tpool":
        unanswered = [3500.0] * (clients - served)
    else:
        unanswered = [delay_ms * (k + 1) / (clients + 1) for k in range(clients)]
    throughput = len(answered) / (window_ms / 1000.0)
    bound = min(clients, threads) / (delay_ms / 1000) if backend == "tpool" else clients / (delay_ms / 1000)
    columns = {
        "backend": backend, "threads": threads, "delay_ms": delay_ms, "capacity": 5000, "clients": clients,
        "mode": "duration", "diversity": 2, "connect": "persistent", "duration_s": 3.0,
        "throughput_rps": throughput, "bookings_rps": throughput / 2, "bound_rps": bound,
        "efficiency": throughput / bound, "answers": len(answered), "errors": 0,
        "unanswered": len(unanswered), "starved_clients": clients - served,
        "fairness": served / clients, "server_cpu_pct": 5.0, "loadgen_cpu_pct": 8.0,
        "loadgen_saturated": False, "offered_rps": math.nan,
        # tpool's starved clients' Books, served one delay each after the window (the backlog)
        "backlog_requests": clients - served if backend == "tpool" else 0,
        "backlog_wait_s": (clients - served) * delay_ms / 1000 / threads if backend == "tpool" else 0.0,
    }  # fmt: skip
    return Point(columns, answered, unanswered)


def open_loop_point(
    backend: str, rate: float, knee: float, clients: int = 200, delay_ms: float = 50.0
) -> Point:
    """A 3 s open-loop window offering `rate` bookings/s to a server that serves at most `knee` bookings/s:
    below the knee every booking is answered at about the delay; above it the backlog grows, so the
    requests due late in the window are still waiting when it closes (their ages: lower bounds)."""
    window_s = 3.0
    served = min(rate, knee)
    answered = [delay_ms + 0.5 + (k % 10) * 0.2 for k in range(int(served * window_s))]
    backlog = int((rate - served) * window_s)
    unanswered = [1000.0 * window_s * (k + 1) / (backlog + 1) for k in range(backlog)]
    if rate > knee:  # queued before being served: the answered ones waited too
        answered = [
            v + 1000.0 * window_s * (1 - knee / rate) * k / len(answered) for k, v in enumerate(answered)
        ]
    columns = {
        "backend": backend, "threads": 2, "delay_ms": delay_ms, "capacity": 5000, "clients": clients,
        "mode": "duration", "diversity": 2, "connect": "persistent", "duration_s": window_s, "rate": rate,
        "offered_rps": rate, "throughput_rps": 2 * served, "bookings_rps": served,
        "bound_rps": 2 * min(knee, rate), "efficiency": served / min(knee, rate), "answers": 2 * len(answered), "errors": 0,
        "unanswered": backlog, "starved_clients": 0, "fairness": 1.0, "server_cpu_pct": 20.0,
        "loadgen_cpu_pct": 30.0, "loadgen_saturated": False,
    }  # fmt: skip
    return Point(columns, answered, unanswered)


class RunFolders:
    """What a test needs to write its own run folders under tmp_path (the fixture ``runs``)."""

    Point = Point
    closed_loop_point = staticmethod(closed_loop_point)
    open_loop_point = staticmethod(open_loop_point)
    latency_columns = staticmethod(latency_columns)
    histogram = staticmethod(histogram)
    LEGACY_HIGHEST_US = LEGACY_HIGHEST_US

    def __init__(self, root: Path) -> None:
        self.root = root

    def write(self, name: str, points: list[Point], swept: list[str] | None = None) -> Path:
        return write_run(self.root / name, points, swept)


@pytest.fixture
def runs(tmp_path: Path) -> RunFolders:
    return RunFolders(tmp_path)


@pytest.fixture
def default_run(runs: RunFolders) -> Path:
    """The default experiment's shape: tpool and coro at 50 ms over 1, 4, 16 and 64 clients."""
    points = [closed_loop_point(b, c) for b in ("tpool", "coro") for c in (1, 4, 16, 64)]
    return runs.write("run", points, swept=["clients"])


@pytest.fixture
def legacy_run(tmp_path: Path) -> Path:
    """A run written before unanswered requests were counted (schema 1), one point failed."""
    return Path(shutil.copytree(FIXTURES / "legacy_run", tmp_path / "legacy"))


@pytest.fixture
def pngs() -> Callable[[Path], set[str]]:
    def found(directory: Path) -> set[str]:
        return {p.name for p in directory.glob("*.png") if p.read_bytes().startswith(PNG_MAGIC)}

    return found
