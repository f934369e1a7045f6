"""Reports and plots redrawn from stored results (fixtures written by hand with realistic numbers)."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from seatlab.report.build import build_report
from seatlab.report.collect import ResultsNotFound, load_results
from seatlab.runner.progress import Progress, format_duration
from seatlab.runner.results import measurements

FIXTURES = Path(__file__).parent / "fixtures"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    return Path(shutil.copytree(FIXTURES / "run", tmp_path / "run"))


def _pngs(directory: Path) -> set[str]:
    return {p.name for p in directory.glob("*.png") if p.read_bytes().startswith(PNG_MAGIC)}


def test_report_cli_redraws_plots_and_report_from_a_run(run_dir: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "seatlab.report", str(run_dir)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert _pngs(run_dir) == {"throughput.png", "latency.png", "cpu.png"}  # duration mode: no sell-out plot
    report = (run_dir / "report.md").read_text()
    assert "Intel(R) Xeon(R) CPU @ 2.20GHz" in report and "share 2 cores" in report
    assert "Flat at about 39.8 req/s from 2 clients on" in report  # tpool at T/d = 40
    assert "**coro**" in report and "64: 0.93" in report  # coro's efficiency at 64 clients
    assert "coro serves 29.8x what tpool serves" in report
    assert "FAILED: coro at 128 clients: ServerStartError" in report  # the failed point is named
    assert "![throughput](throughput.png)" in report


def test_report_of_a_folder_without_results_fails_clearly(tmp_path: Path) -> None:
    with pytest.raises(ResultsNotFound, match=r"points\.csv"):
        load_results(tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", "seatlab.report", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1 and "no points.csv" in done.stderr


def _fake_sweep(tmp_path: Path) -> Path:
    """A multirun folder as Hydra leaves it: job folders with .hydra/overrides.yaml, one job failed."""
    sweep = tmp_path / "sweep"
    points = pd.read_csv(FIXTURES / "run" / "points.csv")
    for num, backend in enumerate(("tpool", "coro")):
        job = sweep / f"{num}_backend={backend}"
        (job / ".hydra").mkdir(parents=True)
        (job / ".hydra" / "overrides.yaml").write_text(f"- backend={backend}\n- clients=[1,2,4]\n")
        points[(points["backend"] == backend) & (points["status"] == "ok")].to_csv(
            job / "points.csv", index=False
        )
        shutil.copy(FIXTURES / "run" / "metadata.json", job / "metadata.json")
        (job / "job.json").write_text(json.dumps({"status": "ok"}))
    broken = sweep / "2_backend=event"
    (broken / ".hydra").mkdir(parents=True)
    (broken / ".hydra" / "overrides.yaml").write_text("- backend=event\n")
    (broken / "job.json").write_text(
        json.dumps({"status": "failed", "reason": "config error: delay: must be >= 0"})
    )
    return sweep


def test_sweep_report_combines_jobs_and_names_the_failed_one(tmp_path: Path) -> None:
    sweep = _fake_sweep(tmp_path)
    results = build_report(sweep)
    combined = pd.read_csv(sweep / "combined.csv")
    assert set(combined["job"]) == {"backend=tpool", "backend=coro"} and len(combined) == 14
    assert [(j.label, j.status) for j in results.jobs] == [
        ("backend=tpool", "ok"),
        ("backend=coro", "ok"),
        ("backend=event", "failed"),
    ]
    report = (sweep / "report.md").read_text()
    assert (
        "`backend=event` (2_backend=event): 0 points, **FAILED**: config error: delay: must be >= 0" in report
    )
    assert "backend=coro serves 29.8x what backend=tpool serves" in report
    assert {"throughput.png", "latency.png", "cpu.png"} <= _pngs(sweep)


def test_sweep_report_redraws_from_combined_csv_alone(tmp_path: Path) -> None:
    sweep = _fake_sweep(tmp_path)
    build_report(sweep)
    alone = tmp_path / "alone"
    alone.mkdir()
    shutil.copy(sweep / "combined.csv", alone / "combined.csv")
    results = build_report(alone)
    assert results.kind == "sweep" and sorted(results.frame["series"].unique()) == [
        "backend=coro",
        "backend=tpool",
    ]


def test_sellout_points_get_the_sellout_plot_and_littles_prediction(tmp_path: Path) -> None:
    run = tmp_path / "seed"
    run.mkdir()
    rows = []
    for backend, bound, sellout in (("tpool", 40.0, 126.4), ("coro", 200.0, 25.9), ("event", 200.0, 25.6)):
        rows.append(
            {
                "job": "",
                "backend": backend,
                "threads": 2,
                "delay_ms": 50.0,
                "capacity": 5000,
                "clients": 10,
                "mode": "sellout",
                "throughput_rps": 5000 / sellout,
                "bound_rps": bound,
                "efficiency": 5000 / sellout / bound,
                "predicted_sellout_s": 5000 / bound,
                "sellout_s": sellout,
                "p50_ms": 50.5,
                "p99_ms": 52.0,
                "p999_ms": 55.0,
                "server_cpu_pct": 5.0,
                "loadgen_cpu_pct": 8.0,
                "status": "ok",
                "reason": "",
            }
        )
    pd.DataFrame(rows).to_csv(run / "points.csv", index=False)
    build_report(run)
    assert "sellout.png" in _pngs(run)
    report = (run / "report.md").read_text()
    assert "Sold out in 126 s with 10 clients; Little's law predicts 125 s." in report
    assert "Sold out in 25.9 s with 10 clients; Little's law predicts 25.0 s." in report


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


def test_delay_zero_run_is_measured_against_the_machine_ceiling(tmp_path: Path) -> None:
    run = tmp_path / "ceiling"
    run.mkdir()
    rows = []
    for backend, rates in (("calibrate", {1: 7000.0, 100: 25000.0}), ("event", {1: 5600.0, 100: 20000.0})):
        for clients, rate in rates.items():
            rows.append(
                {
                    "job": "",
                    "backend": backend,
                    "threads": 2,
                    "delay_ms": 0.0,
                    "capacity": 5000,
                    "clients": clients,
                    "mode": "duration",
                    "throughput_rps": rate,
                    "bound_rps": float("nan"),
                    "p50_ms": 0.1,
                    "p99_ms": 0.5,
                    "p999_ms": 1.0,
                    "server_cpu_pct": 100.0,
                    "loadgen_cpu_pct": 100.0,
                    "status": "ok",
                    "reason": "",
                }
            )
    pd.DataFrame(rows).to_csv(run / "points.csv", index=False)
    build_report(run)
    report = (run / "report.md").read_text()
    assert "**machine ceiling** (calibration target), req/s by clients: 1: 7,000, 100: 25,000." in report
    assert (
        "Share of the machine ceiling (calibration target at the same client count): 1: 0.80, 100: 0.80."
        in report
    )
    assert "throughput.png" in _pngs(run)


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
