"""points.csv and metadata.json as the runner writes them from the load generator's summaries (schema 2).

The fixture ``fixtures/threads-sweep/`` is a run of ``backend=[tpool,coro] clients=8
'threads=[1,4]'`` with hand-written schema-2 summaries; its points.csv and metadata.json are
what the runner's own code writes from them (``python tests/runner/test_results.py``
rewrites them), and the first test fails if the code and the fixture drift apart.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import OmegaConf

from seatlab.client import AuditError
from seatlab.runner.execute import point_params, point_row
from seatlab.runner.metadata import run_metadata
from seatlab.runner.points import sweep_points
from seatlab.runner.results import COLUMNS, measurements, write_json, write_points
from seatlab.runner.sampler import ServerUsage
from seatlab.runner.schema import SeatlabConfig, load_config

CONF = Path(__file__).resolve().parents[2] / "conf"
FIXTURE = Path(__file__).parent / "fixtures" / "threads-sweep"
OVERRIDES = ["backend=[tpool,coro]", "clients=8", "threads=[1,4]"]
USAGE = ServerUsage(cpu_pct=12.5, peak_rss_mib=24.0, seconds=4.6)


def fixture_config() -> SeatlabConfig:
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
            return load_config(compose(config_name="config", overrides=OVERRIDES))
    finally:
        GlobalHydra.instance().clear()


def summary_of(point_dir: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURE / "points" / point_dir / "load" / "summary.json").read_text())
    return data


def fixture_rows(config: SeatlabConfig) -> list[dict[str, Any]]:
    rows = []
    for point in sweep_points(config):
        params = {**point_params(point, config), "point_dir": point.name}
        rows.append(point_row(params, summary_of(point.name), None, USAGE, 0))
    return rows


def write_fixture() -> None:
    config = fixture_config()
    write_points(fixture_rows(config), FIXTURE / "points.csv")
    resolved = OmegaConf.to_container(OmegaConf.structured(config), enum_to_str=True)
    assert isinstance(resolved, dict)
    metadata = run_metadata(
        {str(k): v for k, v in resolved.items()}, OVERRIDES, swept=config.swept, cpus=config.pinning.to_json()
    )
    metadata.update(machine={"cpu_model": "fixture", "cores": 2}, versions={}, git=None, command=["seatlab"])
    write_json(metadata, FIXTURE / "metadata.json")


def test_the_fixture_is_what_the_runner_writes_from_its_summaries(tmp_path: Path) -> None:
    written = write_points(fixture_rows(fixture_config()), tmp_path / "points.csv")
    assert (tmp_path / "points.csv").read_text() == (FIXTURE / "points.csv").read_text()
    assert list(written.columns) == COLUMNS


def test_a_threads_sweep_names_its_swept_key_and_bounds_each_point() -> None:
    metadata = json.loads((FIXTURE / "metadata.json").read_text())
    assert metadata["swept"] == ["threads"] and metadata["schema_version"] == 5
    frame = pd.read_csv(FIXTURE / "points.csv")
    assert list(frame["point_dir"]) == ["00-tpool-c8-t1", "01-tpool-c8-t4", "02-coro-c8-t1", "03-coro-c8-t4"]
    assert list(frame["threads"]) == [1, 4, 1, 4]
    # Little's law: min(C, threads) / delay for the pool, C / delay for coroutines, whatever the threads
    assert list(frame["bound_rps"]) == pytest.approx([20.0, 80.0, 160.0, 160.0])


def test_percentiles_over_every_request_with_their_lower_bound_flags_and_the_served_view() -> None:
    frame = pd.read_csv(FIXTURE / "points.csv").set_index("point_dir")
    tpool = frame.loc["00-tpool-c8-t1"]
    assert tpool["p99_ms"] >= 3000 and bool(tpool["p99_censored"]) and not bool(tpool["p50_censored"])
    assert tpool["served_p99_ms"] < 100 and tpool["censored"] == 7
    coro = frame.loc["02-coro-c8-t1"]
    assert (
        coro["p99_ms"] == coro["served_p99_ms"] and not bool(coro["p99_censored"]) and coro["censored"] == 0
    )
    assert frame["offered_rps"].isna().all()  # closed loop


def test_a_schema_1_summary_leaves_the_new_columns_empty() -> None:
    old = json.loads((Path(__file__).parent / "fixtures" / "summary.json").read_text())
    row = measurements(old)
    assert row["p99_ms"] == 53.1 and row["p99_censored"] is None and math.isnan(row["served_p99_ms"])


def test_an_audit_failure_keeps_the_points_measurements_beside_the_reason() -> None:
    """What ``run_point`` does when ``run_load`` raises AuditError with the run's summary."""
    config = fixture_config()
    point = sweep_points(config)[2]
    summary = {**summary_of(point.name), "audit": {"ok": False, "message": "seat 7 confirmed to two uuids"}}
    error = AuditError("audit failed: seat 7 confirmed to two uuids", summary)
    row = point_row(point_params(point, config), summary, error, USAGE, 0)
    assert row["status"] == "failed" and row["reason"].startswith("AuditError: audit failed: seat 7")
    assert row["reason"].count("seat 7") == 1  # the summary's verdict is not repeated after the error's
    assert row["throughput_rps"] == 155.8 and row["p99_ms"] == 53.1 and row["efficiency"] > 0.9


if __name__ == "__main__":
    write_fixture()


def test_points_csv_gets_each_points_share_of_the_machine_ceiling_at_the_same_load(tmp_path: Path) -> None:
    rows = [
        {"backend": "calibrate", "clients": 10, "throughput_rps": 40_000.0, "status": "ok"},
        {"backend": "calibrate", "clients": 100, "throughput_rps": 50_000.0, "status": "ok"},
        {"backend": "calibrate", "clients": 100, "rate": 500.0, "throughput_rps": 1000.0, "status": "ok"},
        {"backend": "event", "clients": 10, "throughput_rps": 30_000.0, "status": "ok"},
        {"backend": "event", "clients": 100, "throughput_rps": 40_000.0, "status": "ok"},
        {"backend": "event", "clients": 100, "rate": 500.0, "throughput_rps": 900.0, "status": "ok"},
        {"backend": "coro", "clients": 1000, "throughput_rps": 20_000.0, "status": "ok"},  # no ceiling there
        {"backend": "calibrate", "clients": 1000, "throughput_rps": float("nan"), "status": "failed"},
    ]
    frame = write_points(rows, tmp_path / "points.csv")
    assert list(frame["ceiling_ratio"][3:6]) == pytest.approx([0.75, 0.8, 0.9])
    assert frame["ceiling_ratio"][1] == pytest.approx(1.0) and pd.isna(frame["ceiling_ratio"][6])
    assert pd.isna(write_points(rows[3:7], tmp_path / "p.csv")["ceiling_ratio"]).all()  # no calibrate: NaN
