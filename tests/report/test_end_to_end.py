"""The report of a real run: ``python -m seatlab`` with real servers and the real load generator.

Two backends at 50 ms over 1 and 4 clients with a 2-thread pool: tpool
starves two of the four clients for the whole window, coro serves them all.
Whatever the runner's schema, the report must say so; once the runner
counts unanswered requests (points.csv has ``censored``), tpool's p99 at 4
clients must be at least the window and marked a lower bound, coro's not.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from seatlab.report.collect import load_results
from seatlab.report.latency import counts_unanswered

WINDOW_S = 1.0


def _seatlab(cwd: Path, *args: str) -> Path:
    """Run ``python -m seatlab ARGS`` in `cwd`; the folder it reports into (results/latest)."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "seatlab",
            *args,
            "warmup=0.2",
            "ready_timeout=20",
            f"results_dir={cwd / 'results'}",
        ],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
        cwd=cwd,
        env={**os.environ, "HYDRA_FULL_ERROR": "1"},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return (cwd / "results" / "latest").resolve()


SETTINGS = ["delay=50", "threads=2", f"duration={WINDOW_S}"]


@pytest.fixture(scope="module")
def real_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _seatlab(tmp_path_factory.mktemp("run"), "backend=[tpool,coro]", "clients=[1,4]", *SETTINGS)


def test_the_report_of_a_real_run_says_who_starves_whom(
    real_run: Path, pngs: Callable[[Path], set[str]]
) -> None:
    assert {"throughput.png", "latency.png", "percentiles.png", "cpu.png"} <= pngs(real_run)
    report = (real_run / "report.md").read_text()
    assert "Starvation: tpool starves 2 of 4 clients at 4 clients; coro starves no one." in report
    assert "server and load generator share" in report


def test_a_real_runs_tail_latency_counts_the_starved_clients(real_run: Path) -> None:
    results = load_results(real_run)
    if not counts_unanswered(results.frame):
        pytest.skip("this runner writes answered-only percentiles (points.csv without censored)")
    rows = results.ok.set_index(["backend", "clients"])
    assert rows.loc[("tpool", 4), "p99_ms"] >= 1000 * WINDOW_S and rows.loc[("tpool", 4), "p99_censored"]
    assert not rows.loc[("coro", 4), "p99_censored"] and rows.loc[("coro", 4), "p99_ms"] < 1000 * WINDOW_S
    assert "p99 >= " in (real_run / "report.md").read_text()


def test_a_real_multirun_gets_the_percentiles_in_its_sweep_folder(
    tmp_path: Path, pngs: Callable[[Path], set[str]]
) -> None:
    sweep = _seatlab(tmp_path, "-m", "backend=tpool,coro", "clients=[4]", *SETTINGS)
    assert sweep.parent.parent.name == "multirun"
    assert "percentiles.png" in pngs(sweep)
    report = (sweep / "report.md").read_text()
    assert "backend=tpool starves 2 of 4 clients at 4 clients; backend=coro starves no one." in report
