"""The runner's side of the results: measurements from the client summary, points.csv, progress.

The report's tests moved to tests/report/ (issue 11: tests mirror the package)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pandas as pd
import pytest

from seatlab.runner.progress import Progress, format_duration
from seatlab.runner.results import measurements

FIXTURES = Path(__file__).parent / "fixtures"


def test_measurements_follow_the_client_summary_contract() -> None:
    summary = json.loads((FIXTURES / "summary.json").read_text())
    row = measurements(summary)
    assert row["throughput_rps"] == 156.0 and row["p99_ms"] == 53.1 and row["p999_ms"] == 55.0
    assert row["fairness"] == 0.9994 and row["loadgen_cpu_pct"] == 9.7 and row["errors"] == 0
    assert row["sellout_s"] != row["sellout_s"]  # null in duration mode -> NaN


def test_progress_without_a_terminal_prints_one_line_per_point_with_eta() -> None:
    out = io.StringIO()
    with Progress(3, stream=out) as progress:
        for i in range(3):
            progress.start(f"tpool, {i} clients")
            progress.finish(f"tpool, {i} clients", "40.0 req/s", ok=i != 1)
    lines = out.getvalue().splitlines()
    assert len(lines) == 6 and "\r" not in out.getvalue()
    assert lines[1].startswith("point 1/3: tpool, 0 clients: 40.0 req/s [1/3 points") and "ETA" in lines[1]
    assert "2/3 points, 1 failed" in lines[3] and lines[5].endswith("ETA 0:00]")


def test_format_duration() -> None:
    assert (
        format_duration(0) == "0:00"
        and format_duration(75.4) == "1:15"
        and format_duration(3725) == "1:02:05"
    )


def test_progress_eta_weighs_points_by_their_expected_length(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = iter([0.0, 10.0])
    monkeypatch.setattr("seatlab.runner.progress.time.monotonic", lambda: next(clock))
    progress = Progress(2, stream=io.StringIO(), weights=[1.0, 5.0])  # started at t=0
    progress.done = 1
    assert progress.eta() == pytest.approx(50.0)  # 10 s for 1 unit of weight, 5 units left


def test_points_csv_gets_each_points_share_of_the_machine_ceiling(tmp_path: Path) -> None:
    from seatlab.runner.results import write_points

    rows = [
        {"backend": "calibrate", "clients": 10, "throughput_rps": 40_000.0, "status": "ok"},
        {"backend": "calibrate", "clients": 100, "throughput_rps": 50_000.0, "status": "ok"},
        {"backend": "event", "clients": 10, "throughput_rps": 30_000.0, "status": "ok"},
        {"backend": "event", "clients": 100, "throughput_rps": 40_000.0, "status": "ok"},
        {"backend": "coro", "clients": 1000, "throughput_rps": 20_000.0, "status": "ok"},  # no ceiling there
        {"backend": "calibrate", "clients": 1000, "throughput_rps": float("nan"), "status": "failed"},
    ]
    frame = write_points(rows, tmp_path / "points.csv")
    ratios = dict(
        zip(zip(frame["backend"], frame["clients"], strict=False), frame["ceiling_ratio"], strict=False)
    )
    assert ratios[("event", 10)] == pytest.approx(0.75) and ratios[("event", 100)] == pytest.approx(0.8)
    assert ratios[("calibrate", 100)] == pytest.approx(1.0)
    assert pd.isna(ratios[("coro", 1000)])  # the failed calibration point is no ceiling
    assert "ceiling_ratio" in pd.read_csv(tmp_path / "points.csv").columns
    assert pd.isna(write_points(rows[2:5], tmp_path / "p.csv")["ceiling_ratio"]).all()  # no calibrate: NaN
