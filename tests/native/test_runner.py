"""The native servers through the runner: real Hydra runs of ``python -m seatlab backend=native_*``."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
import pytest
from runner.test_cli import latest, processes_mentioning, seatlab

TINY = ["duration=0.3", "warmup=0.1", "ready_timeout=20", "clients=[2]"]


def cache_env() -> dict[str, str]:
    """The child run builds into (and finds) the same cache as this session's fixture."""
    return {k: v for k, v in os.environ.items() if k == "SEATLAB_NATIVE_CACHE"}


def test_native_event_and_python_event_side_by_side(tmp_path: Path, native_build: Path) -> None:
    done = seatlab(tmp_path, "backend=[event,native_event]", "delay=5", *TINY, env=cache_env(), timeout=120)
    assert done.returncode == 0, done.stderr
    run = latest(tmp_path)
    points = pd.read_csv(run / "points.csv")
    assert list(points["backend"]) == ["event", "native_event"], points
    assert (points["status"] == "ok").all(), points[["backend", "status", "reason"]]
    assert (points["throughput_rps"] > 0).all() and (points["server_exit"] == 0).all()  # SIGTERM: exit 0
    native_dir = run / "points" / points["point_dir"][1]
    summary = json.loads((native_dir / "load" / "summary.json").read_text())
    assert summary["audit"]["ok"] is True, summary["audit"]  # the C++ store, audited by the client
    assert (native_dir / "server.stdout").read_text().startswith("READY 127.0.0.1 ")
    seats = (native_dir / "seats.csv").read_text().splitlines()  # the template filled in {db_path}
    assert seats[0] == "number,uuid" and len(seats) > 1
    labels = json.loads((run / "metadata.json").read_text())["config"]["backend"]
    assert labels["native_event"]["label"] == "C++ event loop (libevent)"
    assert not processes_mentioning(str(tmp_path))  # every server reaped


def test_native_calibrate_is_a_calibration_target(tmp_path: Path, native_build: Path) -> None:
    done = seatlab(tmp_path, "backend=native_calibrate", "delay=0", *TINY, env=cache_env(), timeout=120)
    assert done.returncode == 0, done.stderr
    points = pd.read_csv(latest(tmp_path) / "points.csv")
    assert points["status"].tolist() == ["ok"] and points["throughput_rps"][0] > 0


@pytest.mark.parametrize("name", ["native_tpool", "native_coro"])
def test_native_pool_and_coroutines_run(tmp_path: Path, native_build: Path, name: str) -> None:
    done = seatlab(tmp_path, f"backend={name}", "delay=5", *TINY, env=cache_env(), timeout=120)
    assert done.returncode == 0, done.stderr
    points = pd.read_csv(latest(tmp_path) / "points.csv")
    assert points["status"].tolist() == ["ok"] and points["throughput_rps"][0] > 0
