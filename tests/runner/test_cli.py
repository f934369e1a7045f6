"""``python -m seatlab`` end to end: real servers, the real load generator, tiny windows.

Every run writes under the test's tmp dir (``results_dir=...``), never into
the repository's ``results/``.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import pandas as pd
import psutil
import pytest

from seatlab.report.collect import load_results

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
TINY = ["delay=5", "duration=0.3", "warmup=0.1", "ready_timeout=20"]


def seatlab(
    tmp_path: Path, *args: str, timeout: float = 90, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HYDRA_FULL_ERROR": "1", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "seatlab", *args, f"results_dir={tmp_path / 'results'}"],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        cwd=tmp_path,
        env=env,
    )


def processes_mentioning(text: str) -> list[psutil.Process]:
    """Live processes whose command line mentions `text` (a test's tmp path: servers it started)."""
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        try:
            if any(text in part for part in proc.info["cmdline"] or ()):
                found.append(proc)
        except psutil.Error:
            continue
    return found


def latest(tmp_path: Path) -> Path:
    link = tmp_path / "results" / "latest"
    assert link.is_symlink()
    return link.resolve()


def pngs(directory: Path) -> set[str]:
    return {p.name for p in directory.glob("*.png") if p.read_bytes().startswith(PNG_MAGIC)}


def test_range_override_runs_every_client_count_in_one_run(tmp_path: Path) -> None:
    done = seatlab(tmp_path, "backend=coro", "clients=range(1,3)", *TINY)
    assert done.returncode == 0, done.stderr
    run = latest(tmp_path)
    assert run.parent.parent.name == "runs" and "clients" not in run.name
    points = pd.read_csv(run / "points.csv")
    assert list(points["clients"]) == [1, 2] and set(points["backend"]) == {"coro"}
    assert (points["status"] == "ok").all(), points[["status", "reason"]]
    assert (points["throughput_rps"] > 0).all() and (points["bound_rps"] == [200.0, 400.0]).all()
    assert {"throughput.png", "latency.png", "cpu.png"} <= pngs(run)
    report = (run / "report.md").read_text()
    assert "**coro**: efficiency" in report and "| coro | 2 |" in report
    assert (run / "metadata.json").is_file() and (run / "points" / "00-coro-c1" / "server.stderr").is_file()
    assert "point 2/2" in done.stderr and "ETA" in done.stderr  # the progress lines
    assert not list(tmp_path.glob("*.csv")) and not (tmp_path / "outputs").exists()  # nothing in the cwd


def test_multirun_sweeps_backends_and_compares_them_in_the_sweep_folder(tmp_path: Path) -> None:
    done = seatlab(tmp_path, "-m", "backend=tpool,coro", "clients=1,2", *TINY, timeout=120)
    assert done.returncode == 0, done.stderr
    sweep = latest(tmp_path)
    assert sweep.parent.parent.name == "multirun"
    combined = pd.read_csv(sweep / "combined.csv")
    assert sorted(set(combined["job"])) == ["backend=coro", "backend=tpool"]
    assert len(combined) == 4 and sorted(combined["clients"]) == [1, 1, 2, 2]  # each job ran the client list
    assert {"throughput.png", "latency.png", "cpu.png"} <= pngs(sweep)
    results = load_results(sweep)
    assert [job.status for job in results.jobs] == ["ok", "ok"]
    assert "backend=coro" in (sweep / "report.md").read_text()


def test_a_server_that_cannot_start_is_recorded_as_failed_and_left_behind_by_nobody(tmp_path: Path) -> None:
    done = seatlab(tmp_path, "backend=[tpool,coro]", "clients=1", "extra_server_args=[--no-such-flag]", *TINY)
    assert done.returncode == 1  # the run finishes, reports, and says points failed
    run = latest(tmp_path)
    points = pd.read_csv(run / "points.csv")
    assert list(points["backend"]) == ["tpool", "coro"] and (points["status"] == "failed").all()
    assert points["reason"].str.contains("ServerStartError").all()
    assert points["reason"].str.contains("no-such-flag").all()  # the server's own complaint, from its stderr
    assert "FAILED: tpool at 1 clients: ServerStartError" in (run / "report.md").read_text()
    assert processes_mentioning(str(tmp_path)) == []


def test_sellout_point_reports_sellout_time_against_littles_law(tmp_path: Path) -> None:
    done = seatlab(
        tmp_path, "backend=coro", "clients=4", "mode=sellout", "capacity=40", "delay=5", "ready_timeout=20"
    )
    assert done.returncode == 0, done.stderr
    run = latest(tmp_path)
    row = pd.read_csv(run / "points.csv").iloc[0]
    assert row["status"] == "ok" and row["sellout_s"] > 0
    assert row["predicted_sellout_s"] == pytest.approx(40 / (4 / 0.005))
    assert "sellout.png" in pngs(run)


@pytest.mark.parametrize(
    ("override", "key"),
    [
        ("delay=-1", "delay"),
        ("mode=fast", "mode"),
        ("backend=nope", "backend"),
        ("clients=interval(1,2)", "clients"),
        ("delay=inf", "delay"),
        ("capacity=5000000000", "capacity"),
        ("bogus=1", "bogus"),
    ],
)
def test_bad_config_stops_before_any_server_starts_naming_the_key(
    tmp_path: Path, override: str, key: str
) -> None:
    done = seatlab(tmp_path, override)
    assert done.returncode == 2 and key in done.stderr
    # nothing is left behind: no run folder, empty or not (issue 13, 6)
    assert not list((tmp_path / "results" / "runs").rglob("*"))


def test_a_failed_multirun_job_is_named_in_the_sweep_report(tmp_path: Path) -> None:
    done = seatlab(tmp_path, "-m", "backend=coro", "clients=1", "delay=5,-1", "duration=0.3", "warmup=0.1")
    assert done.returncode == 1 and "1 of 2 job(s) failed" in done.stderr
    assert "delay=-1,duration=0.3,warmup=0.1 failed: config error: delay: must be >= 0" in done.stderr
    sweep = latest(tmp_path)
    report = (sweep / "report.md").read_text()
    assert "0 points, **FAILED**: config error: delay: must be >= 0" in report.split("`delay=-1`")[1]
    assert "1 points, ok" in report.split("`delay=5`")[1]


def test_a_threads_sweep_and_a_rate_sweep_make_one_point_per_value(tmp_path: Path) -> None:
    """Issue 8, items 2 and 4: a list of threads, or a range of rates, in one run without -m."""
    done = seatlab(tmp_path, "backend=[tpool,coro]", "clients=4", "threads=[1,4]", *TINY)
    assert done.returncode == 0, done.stderr
    run = latest(tmp_path)
    points = pd.read_csv(run / "points.csv")
    assert list(points["point_dir"]) == ["00-tpool-c4-t1", "01-tpool-c4-t4", "02-coro-c4-t1", "03-coro-c4-t4"]
    assert (points["status"] == "ok").all(), points[["status", "reason"]]
    # Little's law per point: min(C, threads) / delay for the pool, C / delay for coroutines
    assert list(points["bound_rps"]) == [200.0, 800.0, 800.0, 800.0]
    tpool = points[points["backend"] == "tpool"]["throughput_rps"].to_list()
    assert tpool[1] > 2 * tpool[0]  # four pool threads serve four clients, one serves one
    assert json.loads((run / "metadata.json").read_text())["swept"] == ["threads"]

    done = seatlab(tmp_path, "backend=coro", "clients=4", "rate=range(40,121,80)", *TINY)
    assert done.returncode == 0, done.stderr
    run = latest(tmp_path)
    points = pd.read_csv(run / "points.csv")
    assert list(points["point_dir"]) == ["00-coro-c4-r40", "01-coro-c4-r120"]
    assert list(points["rate"]) == [40, 120] and (points["status"] == "ok").all()
    # the open loop's bound is what it offers: rate bookings/s, each followed by its cancel
    assert list(points["bound_rps"]) == [80.0, 240.0]
    assert json.loads((run / "metadata.json").read_text())["swept"] == ["rate"]
    assert (run / "points" / "01-coro-c4-r120" / "load" / "summary.json").is_file()


def test_two_worker_processes_serve_a_run_and_the_rows_say_so(tmp_path: Path) -> None:
    """Issue 19 end to end: workers=2 reaches the server as --workers 2; the row names the workers and
    the Python that ran them; the report says "2 workers"."""
    done = seatlab(tmp_path, "backend=coro", "clients=4", "workers=2", *TINY)
    assert done.returncode == 0, done.stderr
    run = latest(tmp_path)
    row = pd.read_csv(run / "points.csv", dtype={"server_python_version": str}).iloc[0]
    assert row["status"] == "ok" and row["workers"] == 2 and row["point_dir"] == "00-coro-c4"
    assert row["server_python_version"] == platform.python_version() and row["server_gil"] in ("on", "off")
    assert row["bound_rps"] == 800.0 and row["server_cpu_pct"] > 0
    assert "workers 2" in (run / "points" / "00-coro-c4" / "server.stderr").read_text()
    assert "2 workers" in (run / "report.md").read_text()
    assert (
        json.loads((run / "metadata.json").read_text())["server_python"]["version"]
        == row["server_python_version"]
    )
