"""Run folders for the comparison's tests, written with the runner's own points.csv writer: one row per
repetition, throughput and latencies given per repetition (synthetic figures, never measured)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import yaml

from seatlab.outputs import PointRow
from seatlab.runner.results import SCHEMA_VERSION, write_json, write_points


def point_rows(
    throughputs: Sequence[float],
    backend: str = "coro",
    clients: int = 4,
    delay_ms: float = 10.0,
    status: str = "ok",
    start: int = 0,
) -> list[PointRow]:
    """One point's repetitions: p50 = clients / throughput (Little's law), p99 1.5 times that."""
    bound = clients / (delay_ms / 1000)
    rows = []
    for repetition, throughput in enumerate(throughputs):
        p50 = 1000 * clients / throughput
        rows.append(
            PointRow(
                point=start + repetition, repetition=repetition, backend=backend, threads=2,
                delay_ms=delay_ms, capacity=5000, clients=clients, mode="duration", diversity=2,
                rate=math.nan, connect="persistent", duration_s=3.0, throughput_rps=throughput,
                bound_rps=bound, efficiency=throughput / bound, predicted_sellout_s=math.nan,
                p50_ms=p50, p99_ms=1.5 * p50, censored=0, server_cpus="", loadgen_cpus="",
                status=status, reason="" if status == "ok" else "server exited 1 after SIGTERM (expected 0)",
                point_dir=f"{start + repetition:02d}-{backend}-c{clients}",
            )
        )  # fmt: skip
    return rows


def write_run(directory: Path, rows: list[PointRow], swept: Sequence[str] = ("clients",)) -> Path:
    """A run folder: points.csv by ``write_points``, metadata.json naming the swept keys."""
    directory.mkdir(parents=True)
    write_points(rows, directory / "points.csv")
    write_json(
        {"schema_version": SCHEMA_VERSION, "swept": list(swept), "machine": {"cores": 2}},
        directory / "metadata.json",
    )
    return directory


def write_multirun(directory: Path, jobs: dict[str, list[PointRow]]) -> Path:
    """A multirun folder: one job folder per override (``delay=10``), with Hydra's overrides.yaml."""
    for i, (override, rows) in enumerate(jobs.items()):
        job = write_run(directory / f"{i}_{override}", rows)
        (job / ".hydra").mkdir()
        (job / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump([override]))
    return directory
