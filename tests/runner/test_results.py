"""points.csv and metadata.json as the runner writes them from the load generator's summaries (schema 2).

The fixture ``fixtures/threads-sweep/`` is a run of ``backend=[tpool,coro] clients=8
'threads=[1,4]'`` with hand-written schema-2 summaries; its points.csv and metadata.json are
what the runner's own code writes from them (``python tests/runner/test_results.py``
rewrites them), and the first test fails if the code and the fixture drift apart.
"""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import OmegaConf

from seatlab.client import AuditError
from seatlab.client.audit import Audit
from seatlab.client.summary import Summary, SummaryError
from seatlab.outputs import PERCENTILES, PointRow
from seatlab.runner.execute import Measured, point_params, point_row
from seatlab.runner.metadata import run_metadata
from seatlab.runner.noise import MachineNoise
from seatlab.runner.points import sweep_points
from seatlab.runner.results import COLUMNS, SCHEMA_VERSION, write_json, write_points
from seatlab.runner.sampler import ServerUsage
from seatlab.runner.schema import SeatlabConfig, load_config

CONF = Path(__file__).resolve().parents[2] / "conf"
FIXTURE = Path(__file__).parent / "fixtures" / "threads-sweep"
OVERRIDES = ["backend=[tpool,coro]", "clients=8", "threads=[1,4]"]
USAGE = ServerUsage(cpu_pct=12.5, peak_rss_mib=24.0, seconds=4.6)
NOISE = MachineNoise(
    load_avg_start=0.35, load_avg_end=0.8, others_cpu_pct=2.5, cpu_governor="performance", cpu_boost="off"
)


def fixture_config() -> SeatlabConfig:
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
            return load_config(compose(config_name="config", overrides=OVERRIDES))
    finally:
        GlobalHydra.instance().clear()


def summary_of(point_dir: str) -> Summary:
    data: dict[str, Any] = json.loads((FIXTURE / "points" / point_dir / "load" / "summary.json").read_text())
    return Summary.from_json(data)


FIXTURE_PYTHON = {"server_python_version": "3.11.7", "server_gil": "on"}
"""The interpreter columns as the fixture has them: the runner writes its own, which varies by Python."""


def fixture_rows(config: SeatlabConfig) -> list[PointRow]:
    rows = []
    for point in sweep_points(config):
        measured = Measured(summary_of(point.name), None, USAGE, 0, NOISE)
        row = point_row(point_params(point, config, point.name), measured)
        assert row.server_python == "" and row.server_python_version and row.server_gil in ("on", "off")
        rows.append(replace(row, **FIXTURE_PYTHON))
    return rows


def write_fixture() -> None:
    config = fixture_config()
    write_points(fixture_rows(config), FIXTURE / "points.csv")
    resolved = OmegaConf.to_container(OmegaConf.structured(config), enum_to_str=True)
    assert isinstance(resolved, dict)
    metadata = run_metadata(
        {str(k): v for k, v in resolved.items()},
        OVERRIDES,
        swept=config.swept,
        cpus=config.pinning.to_json(),
        server_python={"path": "", "version": "3.11.7", "gil": "on"},
    )
    metadata.update(machine={"cpu_model": "fixture", "cores": 2}, versions={}, git=None, command=["seatlab"])
    write_json(metadata, FIXTURE / "metadata.json")


def test_the_fixture_is_what_the_runner_writes_from_its_summaries(tmp_path: Path) -> None:
    written = write_points(fixture_rows(fixture_config()), tmp_path / "points.csv")
    assert (tmp_path / "points.csv").read_text() == (FIXTURE / "points.csv").read_text()
    assert list(written.columns) == COLUMNS


def test_a_threads_sweep_names_its_swept_key_and_bounds_each_point() -> None:
    metadata = json.loads((FIXTURE / "metadata.json").read_text())
    assert metadata["swept"] == ["threads"] and metadata["schema_version"] == SCHEMA_VERSION == 8
    frame = pd.read_csv(FIXTURE / "points.csv")
    assert list(frame["point_dir"]) == ["00-tpool-c8-t1", "01-tpool-c8-t4", "02-coro-c8-t1", "03-coro-c8-t4"]
    assert list(frame["threads"]) == [1, 4, 1, 4]
    # Little's law: min(C, threads) / delay for the pool, C / delay for coroutines, whatever the threads
    assert list(frame["bound_rps"]) == pytest.approx([20.0, 80.0, 160.0, 160.0])
    # schema 8: the machine's noise over each point
    assert list(frame["others_cpu_pct"]) == [2.5] * 4 and list(frame["load_avg_start"]) == [0.35] * 4
    assert set(frame["cpu_governor"]) == {"performance"} and set(frame["cpu_boost"]) == {"off"}


def test_a_load_run_on_other_hosts_counts_their_round_trip_in_the_bound() -> None:
    config = fixture_config()
    coro = sweep_points(config)[2]  # 8 clients, 50 ms: 160/s here
    row = point_params(coro, config, coro.name, rtt_ms=10.0)
    assert row.bound_rps == pytest.approx(8 / 0.060) and row.rtt_ms == 10.0


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


def test_a_stored_summary_reads_back_as_the_summary_that_wrote_it() -> None:
    """pyperf's habit: JSON turned back into the object at the door, and back to the same JSON."""
    data = json.loads((FIXTURE / "points" / "00-tpool-c8-t1" / "load" / "summary.json").read_text())
    summary = Summary.from_json(data)
    assert summary.latency_ms.p99 == data["latency_ms"]["p99"] and summary.latency_ms.lower_bound["p99"]
    assert summary.audit.ok is True and summary.load_hosts is None
    assert summary.to_json() == data
    assert [p.name for p in PERCENTILES] == [
        n for n in vars(summary.served_latency_ms) if n not in ("mean", "count")
    ]


def test_a_stored_summary_of_another_schema_or_shape_is_refused_by_name() -> None:
    old = json.loads((Path(__file__).parent / "fixtures" / "summary-schema1.json").read_text())
    with pytest.raises(SummaryError, match="schema_version 1: this seatlab reads 3 and 4"):
        Summary.from_json(old)
    data = json.loads((Path(__file__).parent / "fixtures" / "summary.json").read_text())
    del data["answers"]
    with pytest.raises(SummaryError, match="lacks answers"):
        Summary.from_json(data)
    data = {**json.loads((Path(__file__).parent / "fixtures" / "summary.json").read_text()), "answerz": 1}
    with pytest.raises(SummaryError, match="keys no Summary holds: answerz"):
        Summary.from_json(data)
    data = json.loads((Path(__file__).parent / "fixtures" / "summary.json").read_text())
    data["audit"] = {"ok": True}
    with pytest.raises(SummaryError, match="confirmed"):
        Summary.from_json(data)


def test_an_audit_failure_keeps_the_points_measurements_beside_the_reason() -> None:
    """What ``run_point`` does when ``run_load`` raises AuditError with the run's summary."""
    config = fixture_config()
    point = sweep_points(config)[2]
    audit = Audit(
        ok=False, confirmed=8, server_booked=9, expected_booked=8, message="seat 7 confirmed to two uuids"
    )
    summary = replace(summary_of(point.name), audit=audit)
    error = AuditError("audit failed: seat 7 confirmed to two uuids", summary)
    row = point_row(point_params(point, config, point.name), Measured(summary, error, USAGE, 0))
    assert row.status == "failed" and row.reason.startswith("AuditError: audit failed: seat 7")
    assert row.reason.count("seat 7") == 1  # the summary's verdict is not repeated after the error's
    assert row.throughput_rps == 155.8 and row.p99_ms == 53.1 and row.efficiency > 0.9


if __name__ == "__main__":
    write_fixture()


def test_points_csv_gets_each_points_share_of_the_machine_ceiling_at_the_same_load(tmp_path: Path) -> None:
    config = fixture_config()
    base = point_params(sweep_points(config)[0], config, "p")

    def row(
        backend: str, clients: int, throughput: float, rate: float = math.nan, status: str = "ok"
    ) -> PointRow:
        return replace(
            base, backend=backend, clients=clients, rate=rate, throughput_rps=throughput, status=status
        )

    rows = [
        row("calibrate", 10, 40_000.0),
        row("calibrate", 100, 50_000.0),
        row("calibrate", 100, 1000.0, rate=500.0),
        row("event", 10, 30_000.0),
        row("event", 100, 40_000.0),
        row("event", 100, 900.0, rate=500.0),
        row("coro", 1000, 20_000.0),  # no ceiling there
        row("calibrate", 1000, math.nan, status="failed"),
    ]
    frame = write_points(rows, tmp_path / "points.csv")
    assert list(frame["ceiling_ratio"][3:6]) == pytest.approx([0.75, 0.8, 0.9])
    assert frame["ceiling_ratio"][1] == pytest.approx(1.0) and pd.isna(frame["ceiling_ratio"][6])
    assert pd.isna(write_points(rows[3:7], tmp_path / "p.csv")["ceiling_ratio"]).all()  # no calibrate: NaN
