"""One Hydra job: validate the config, run every sweep point, write points.csv, plots and report.md.

Everything goes into Hydra's output dir for the job (never the cwd):
``metadata.json`` (machine, versions, commit, full config), ``points.csv``
(rewritten after every point, so an interrupted run keeps what it measured),
one folder per point (server logs, db file, load generator files),
``job.json`` (status), the PNG plots and ``report.md``.
"""

from __future__ import annotations

import logging
import math
import os
import sys
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from seatlab.runner.execute import point_params, run_point
from seatlab.runner.machine import run_metadata
from seatlab.runner.points import SweepPoint, sweep_points
from seatlab.runner.progress import Progress
from seatlab.runner.results import (
    JOB_JSON,
    METADATA_JSON,
    POINTS_CSV,
    SCHEMA_VERSION,
    write_json,
    write_points,
)
from seatlab.runner.schema import ConfigError, Mode, RunSettings

log = logging.getLogger("seatlab.runner")

FAILED_POINTS: list[str] = []  # "run dir/point" of every failed point in this process; exit code 1 if any


def run_job(cfg: DictConfig) -> dict[str, Any]:
    """The Hydra task. A config error exits 2 in a single run; in a multirun the job is recorded as failed."""
    hydra_cfg = HydraConfig.get()
    out_dir = Path(hydra_cfg.runtime.output_dir)
    multirun = hydra_cfg.mode == RunMode.MULTIRUN
    overrides = list(hydra_cfg.overrides.task)
    try:
        settings = RunSettings.from_config(cfg)
    except ConfigError as exc:
        write_json(
            {
                "schema_version": SCHEMA_VERSION,
                "status": "failed",
                "reason": f"config error: {exc}",
                "overrides": overrides,
            },
            out_dir / JOB_JSON,
        )
        if multirun:
            print(f"seatlab: job {hydra_cfg.job.num} not run: config error: {exc}", file=sys.stderr)
            return {"status": "failed"}
        print(f"seatlab: config error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    if not multirun:
        update_latest(Path(settings.results_dir), out_dir)
    config = OmegaConf.to_container(cfg, resolve=True, enum_to_str=True)
    assert isinstance(config, dict)
    write_json(run_metadata({str(k): v for k, v in config.items()}, overrides), out_dir / METADATA_JSON)
    write_json(
        {"schema_version": SCHEMA_VERSION, "status": "running", "overrides": overrides}, out_dir / JOB_JSON
    )
    try:
        rows = run_points(settings, out_dir)
    except KeyboardInterrupt:
        # the point's server is already stopped (ServerProcess); keep and report what was measured
        write_json(
            {
                "schema_version": SCHEMA_VERSION,
                "status": "failed",
                "reason": "interrupted (Ctrl-C)",
                "overrides": overrides,
            },
            out_dir / JOB_JSON,
        )
        if (out_dir / POINTS_CSV).is_file():
            from seatlab.report.build import build_report

            build_report(out_dir)
        print(f"seatlab: interrupted; what was measured is in {out_dir}", file=sys.stderr)
        raise SystemExit(130) from None
    failed = [row for row in rows if row["status"] != "ok"]
    FAILED_POINTS.extend(f"{out_dir.name}/{row['point_dir']}" for row in failed)
    status = "ok" if not failed else ("failed" if len(failed) == len(rows) else "partial")
    reason = "; ".join(f"{row['point_dir']}: {row['reason']}" for row in failed)[:2000]
    write_json(
        {
            "schema_version": SCHEMA_VERSION,
            "status": status,
            "reason": reason,
            "overrides": overrides,
            "points": len(rows),
            "failed_points": len(failed),
        },
        out_dir / JOB_JSON,
    )
    from seatlab.report.build import build_report

    try:
        build_report(out_dir)
    except Exception as exc:  # the measurements are saved; a plotting bug must not lose them
        log.exception("report failed")
        print(
            f"seatlab: drawing the report failed ({exc}); the points are in {out_dir / POINTS_CSV}; "
            f"retry with: python -m seatlab.report {out_dir}",
            file=sys.stderr,
        )
    print(f"seatlab: {len(rows) - len(failed)}/{len(rows)} points ok; results in {out_dir}", file=sys.stderr)
    return {"status": status, "out_dir": str(out_dir)}


def run_points(settings: RunSettings, out_dir: Path) -> list[dict[str, Any]]:
    points = sweep_points(settings)
    rows: list[dict[str, Any]] = []
    with Progress(len(points), weights=[expected_seconds(point, settings) for point in points]) as progress:
        for point in points:
            progress.start(point.label)
            row = run_point(point, settings, out_dir / "points" / point.name)
            rows.append(row)
            write_points(rows, out_dir / POINTS_CSV)
            ok = row["status"] == "ok"
            outcome = f"{row['throughput_rps']:.1f} req/s" if ok else f"FAILED ({row['reason'][:120]})"
            progress.finish(point.label, outcome, ok=ok)
    return rows


def expected_seconds(point: SweepPoint, settings: RunSettings) -> float:
    """A point's expected length, for the ETA: its window (sell-out: Little's law's prediction) plus start-up."""
    overhead = 2.0  # server start, load generator processes, stop (measured on a 2-core VM)
    if settings.mode is Mode.duration:
        return overhead + settings.warmup_s + settings.duration_s
    predicted = point_params(point, settings)["predicted_sellout_s"]
    return overhead + (predicted if not math.isnan(predicted) else settings.max_time_s / 10)


def update_latest(results_dir: Path, target: Path) -> None:
    """Point ``results_dir/latest`` at `target` (relative link, replaced atomically)."""
    results_dir.mkdir(parents=True, exist_ok=True)
    link = results_dir / "latest"
    relative = os.path.relpath(target.resolve(), results_dir.resolve())
    tmp = results_dir / f".latest.{os.getpid()}"
    tmp.unlink(missing_ok=True)
    os.symlink(relative, tmp)
    os.replace(tmp, link)
