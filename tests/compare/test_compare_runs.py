"""One real comparison: two tiny Hydra runs of coro at 4 clients, delay 10 ms against 50 ms, three
repetitions each (about 25 s on two shared cores). Little's law puts them at 400 and 80 req/s."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd

TINY = ["backend=coro", "clients=4", "duration=0.5", "warmup=0.1", "repeat=3", "ready_timeout=20"]


def seatlab_run(tmp_path: Path, name: str, delay: int) -> Path:
    results = tmp_path / name
    done = subprocess.run(
        [sys.executable, "-m", "seatlab", *TINY, f"delay={delay}", f"results_dir={results}"],
        capture_output=True, text=True, timeout=120, check=False, cwd=tmp_path,
        env={**os.environ, "HYDRA_FULL_ERROR": "1"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return (results / "latest").resolve()


def test_real_runs_at_delay_10_and_50_compare_as_significant(tmp_path: Path) -> None:
    fast, slow = seatlab_run(tmp_path, "fast", 10), seatlab_run(tmp_path, "slow", 50)
    points = pd.read_csv(fast / "points.csv")
    assert list(points["repetition"]) == [0, 1, 2] and (points["status"] == "ok").all()
    # the machine's noise is in every row (schema 8)
    assert points["load_avg_start"].notna().all() and (points["others_cpu_pct"] >= 0).all()
    assert "## Over repetitions" in (fast / "report.md").read_text()
    done = subprocess.run(
        [sys.executable, "-m", "seatlab.compare", str(fast), str(slow), "--fail-if-slower", "5"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 1, done.stdout + done.stderr
    (line,) = [row for row in done.stdout.splitlines() if "| throughput req/s" in row]
    assert "coro clients=4" in line and "significant: B" in line and "x slower" in line, done.stdout
    assert "(3)" in line  # three repetitions a side
