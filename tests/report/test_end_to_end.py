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
from seatlab.report.load_latency import knees

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


def test_a_real_rate_sweep_puts_the_knee_where_littles_law_does(
    tmp_path: Path, pngs: Callable[[Path], set[str]]
) -> None:
    """A server of known capacity: coroutines with 2 clients at delay 10 ms answer at most 2 / 10 ms =
    200 answers/s, a booking and its cancel each: 100 bookings/s. Offered 40 (40% of it) it keeps up;
    offered 160 it cannot, and the backlog's waits (counted from when each was due) climb."""
    run = _seatlab(tmp_path, "backend=coro", "clients=2", "delay=10", "rate=[40,160]", "duration=1.5")
    results = load_results(run)
    assert results.x == "rate" and (results.ok["status"] == "ok").all()
    assert knees(results.ok) == {"coro": (40.0, 160.0)}
    rows = results.ok.set_index("rate")
    assert list(rows["offered_rps"]) == [40.0, 160.0]  # bookings/s, as `rate` is given
    assert rows.loc[160.0, "bookings_rps"] <= 105  # at most the bound, whatever is offered
    # the backlog grows by ~60 bookings/s through the window: the median waits hundreds of ms, from
    # when each was due; kept up with, about the delay (a loaded machine's p99 reached 138 ms at 40)
    assert rows.loc[160.0, "p50_ms"] >= 10 * rows.loc[40.0, "p50_ms"]
    assert "load_latency.png" in pngs(run)
    report = (run / "report.md").read_text()
    assert (
        "Load-latency: coro keeps up (achieved >= 0.95 of offered) up to 40.0 bookings/s, falls behind "
        "from 160 bookings/s." in report
    )
