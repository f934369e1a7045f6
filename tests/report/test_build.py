"""report.md and the plots, redrawn from stored results: a run, a multirun's jobs, a combined.csv alone."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from seatlab.report.build import build_report
from seatlab.report.collect import ResultsNotFound, load_results


def _report_cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """``python -m seatlab.report ARGS`` in a fresh interpreter, as a user runs it."""
    command = [sys.executable, "-m", "seatlab.report", *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)


def test_report_cli_redraws_plots_and_report_from_an_old_run(
    legacy_run: Path, pngs: Callable[[Path], set[str]]
) -> None:
    done = _report_cli(legacy_run)
    assert done.returncode == 0, done.stderr
    assert pngs(legacy_run) == {"throughput.png", "latency.png", "cpu.png"}  # no histograms, no sell-out
    report = (legacy_run / "report.md").read_text()
    assert "Intel(R) Xeon(R) CPU @ 2.20GHz" in report and "share 2 cores" in report
    assert "Flat at about 39.8 req/s from 2 clients on" in report  # tpool at T/d = 40
    assert "**coro**:" in report and "64: 0.93" in report  # coro's efficiency at 64 clients
    assert "coro serves 29.8x what tpool serves" in report
    assert "FAILED: coro at 128 clients: ServerStartError" in report  # the failed point is named
    assert "p99 of answered requests 3,162 ms" in report and "predates counting unanswered" in report
    assert "![throughput](throughput.png)" in report


def test_report_of_a_folder_without_results_fails_clearly(tmp_path: Path) -> None:
    with pytest.raises(ResultsNotFound, match=r"points\.csv"):
        load_results(tmp_path)
    done = _report_cli(tmp_path)
    assert done.returncode == 1 and "no points.csv" in done.stderr


def test_the_report_does_not_import_the_runner() -> None:
    code = (
        "import sys, seatlab.report.build, seatlab.report.__main__; "
        "print([m for m in sys.modules if m.startswith('seatlab.runner')])"
    )
    imported = subprocess.check_output([sys.executable, "-c", code], text=True, timeout=60)
    assert imported.strip() == "[]"


def test_table_is_markdown_with_lower_bounds_marked(default_run: Path) -> None:
    build_report(default_run)
    report = (default_run / "report.md").read_text()
    lines = [line for line in report.splitlines() if line.startswith("|")]
    header = [cell.strip() for cell in lines[0].strip("|").split("|")]
    assert header[:2] == ["series", "clients"] and "p99 ms" in header and "answered p99 ms" in header
    assert lines[1].startswith("| :--- | ---: |")  # numbers right-aligned, no padding
    assert "| tpool | 64 | 40.0 |" in report
    rows = {
        (cells[0], cells[1]): dict(zip(header, cells, strict=True))
        for cells in ([c.strip() for c in line.strip("|").split("|")] for line in lines[2:])
    }
    assert rows[("tpool", "64")]["p99 ms"] == ">= 3,500" and rows[("tpool", "64")]["starved"] == "62"
    assert rows[("coro", "64")]["p99 ms"] == "51.4" and rows[("tpool", "64")]["answered p99 ms"] == "51.4"


def _fake_sweep(tmp_path: Path, run: Path) -> Path:
    """A multirun folder as Hydra leaves it: job folders with .hydra/overrides.yaml, one job failed."""
    sweep = tmp_path / "sweep"
    points = pd.read_csv(run / "points.csv")
    for num, backend in enumerate(("tpool", "coro")):
        job = sweep / f"{num}_backend={backend}"
        (job / ".hydra").mkdir(parents=True)
        (job / ".hydra" / "overrides.yaml").write_text(f"- backend={backend}\n- clients=[1,2,4]\n")
        mine = points[(points["backend"] == backend) & (points["status"] == "ok")]
        mine.to_csv(job / "points.csv", index=False)
        for point_dir in mine["point_dir"]:
            if (run / "points" / point_dir).is_dir():
                shutil.copytree(run / "points" / point_dir, job / "points" / point_dir)
        shutil.copy(run / "metadata.json", job / "metadata.json")
        (job / "job.json").write_text(json.dumps({"status": "ok"}))
    broken = sweep / "2_backend=event"
    (broken / ".hydra").mkdir(parents=True)
    (broken / ".hydra" / "overrides.yaml").write_text("- backend=event\n")
    (broken / "job.json").write_text(
        json.dumps({"status": "failed", "reason": "config error: delay: must be >= 0"})
    )
    return sweep


def test_sweep_report_combines_jobs_and_names_the_failed_one(
    tmp_path: Path, legacy_run: Path, pngs: Callable[[Path], set[str]]
) -> None:
    sweep = _fake_sweep(tmp_path, legacy_run)
    results = build_report(sweep)
    combined = pd.read_csv(sweep / "combined.csv")
    assert set(combined["job"]) == {"backend=tpool", "backend=coro"} and len(combined) == 14
    assert "run_dir" not in combined.columns  # where this machine keeps the jobs is not a result
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
    assert {"throughput.png", "latency.png", "cpu.png"} <= pngs(sweep)


def test_sweep_draws_the_percentiles_from_every_jobs_histograms(
    tmp_path: Path, default_run: Path, pngs: Callable[[Path], set[str]]
) -> None:
    sweep = _fake_sweep(tmp_path, default_run)
    build_report(sweep)
    assert "percentiles.png" in pngs(sweep)
    report = (sweep / "report.md").read_text()
    assert "backend=tpool starves 62 of 64 clients at 64 clients" in report


def test_sweep_report_redraws_from_combined_csv_alone(tmp_path: Path, legacy_run: Path) -> None:
    sweep = _fake_sweep(tmp_path, legacy_run)
    build_report(sweep)
    alone = tmp_path / "alone"
    alone.mkdir()
    shutil.copy(sweep / "combined.csv", alone / "combined.csv")
    results = build_report(alone)
    assert results.kind == "sweep" and sorted(results.frame["series"].unique()) == [
        "backend=coro",
        "backend=tpool",
    ]
