"""One Hydra job: validate the config, run every sweep point, write points.csv, plots and report.md.

Everything goes into Hydra's output dir for the job (never the cwd):
``metadata.json`` (machine, versions, commit, full config, the swept keys),
``points.csv`` (rewritten after every point, so an interrupted run keeps what
it measured), one folder per point (server logs, db file, load generator
files), ``job.json`` (status, read back for the exit code), the PNG plots and
``report.md``.
"""

from __future__ import annotations

import logging
import math
import sys
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from seatlab.modes import Mode
from seatlab.outputs import PointRow
from seatlab.runner.execute import point_params, run_point
from seatlab.runner.folders import update_latest
from seatlab.runner.metadata import run_metadata
from seatlab.runner.outcome import write_job
from seatlab.runner.points import SweepPoint, point_bound_rps, sweep_points
from seatlab.runner.progress import SweepProgress
from seatlab.runner.results import METADATA_JSON, POINTS_CSV, write_json, write_points
from seatlab.runner.schema import ConfigError, SeatlabConfig, load_config

log = logging.getLogger("seatlab.runner")


def run_job(cfg: DictConfig) -> dict[str, Any]:
    """The Hydra task. A config error exits 2 in a single run; in a multirun the job is recorded as failed."""
    hydra_cfg = HydraConfig.get()
    out_dir = Path(hydra_cfg.runtime.output_dir)
    multirun = hydra_cfg.mode == RunMode.MULTIRUN
    overrides = list(hydra_cfg.overrides.task)
    label = str(hydra_cfg.job.override_dirname)
    try:
        config = load_config(cfg)
    except ConfigError as exc:
        # named on stderr by ``python -m seatlab`` from this job.json, beside the other jobs
        write_job(out_dir, "failed", overrides, label=label, reason=f"config error: {exc}")
        if multirun:
            return {"status": "failed"}
        raise SystemExit(2) from None
    cluster = None
    if config.load.hosts:
        from seatlab.cluster.remote import ClusterError, cluster_facts

        assert config.ray.address is not None  # SeatlabConfig checked it
        try:
            cluster = cluster_facts(config.ray.address, config.load.hosts)
        except ClusterError as exc:
            write_job(out_dir, "failed", overrides, label=label, reason=str(exc))
            print(f"seatlab: {exc}", file=sys.stderr)
            if multirun:
                return {"status": "failed"}
            raise SystemExit(1) from None
    if not multirun:
        update_latest(Path(config.results_dir), out_dir)
    resolved = OmegaConf.to_container(cfg, resolve=True, enum_to_str=True)
    assert isinstance(resolved, dict)
    pinning = config.pinning
    if pinning.server is None and pinning.loadgen is None:
        print(f"seatlab: CPUs not pinned: {pinning.description}", file=sys.stderr)
    python_servers = any(backend.command is None for backend in config.backends)
    metadata = run_metadata(
        {str(k): v for k, v in resolved.items()},
        overrides,
        swept=config.swept,
        cpus=pinning.to_json(),
        server_python=config.interpreter.to_json() if python_servers else None,
    )
    if cluster is not None:
        metadata["cluster"] = cluster
    write_json(metadata, out_dir / METADATA_JSON)
    write_job(out_dir, "running", overrides, label=label)
    try:
        rows = run_points(config, out_dir)
    except KeyboardInterrupt:
        # the point's server is already stopped (ServerProcess); keep and report what was measured
        write_job(out_dir, "failed", overrides, label=label, reason="interrupted (Ctrl-C)")
        if (out_dir / POINTS_CSV).is_file():
            draw_report(out_dir)
        print(f"seatlab: interrupted; what was measured is in {out_dir}", file=sys.stderr)
        raise SystemExit(130) from None
    failed = [row for row in rows if row.status != "ok"]
    status = "ok" if not failed else ("failed" if len(failed) == len(rows) else "partial")
    reason = "; ".join(f"{row.point_dir}: {row.reason}" for row in failed)[:2000]
    write_job(
        out_dir, status, overrides, label=label, reason=reason, points=len(rows), failed_points=len(failed)
    )
    draw_report(out_dir)
    print(f"seatlab: {len(rows) - len(failed)}/{len(rows)} points ok; results in {out_dir}", file=sys.stderr)
    return {"status": status, "out_dir": str(out_dir)}


def draw_report(directory: Path) -> None:
    """The runner's one call into the report: plots and report.md from what `directory` stores.

    Imported here, never at module level, so the runner and the report do not import each other.
    A plotting bug must not lose a run: the measurements are saved, and the message says how to redraw.
    """
    from seatlab.report.build import build_report

    try:
        build_report(directory)
    except Exception as exc:
        log.exception("report failed")
        print(
            f"seatlab: drawing the report failed ({exc}); the results are in {directory}; "
            f"retry with: python -m seatlab.report {directory}",
            file=sys.stderr,
        )


def run_points(config: SeatlabConfig, out_dir: Path) -> list[PointRow]:
    """Every point in order; points.csv rewritten after each, so an interrupted run keeps what it measured."""
    points = sweep_points(config)
    rows: list[PointRow] = []
    with SweepProgress([expected_seconds(point, config) for point in points]) as progress:
        for point in points:
            progress.start(point.label)
            row = run_point(point, config, out_dir / "points" / point.name)
            rows.append(row)
            write_points(rows, out_dir / POINTS_CSV)
            ok = row.status == "ok"
            outcome = f"{row.throughput_rps:.1f} req/s" if ok else f"FAILED ({row.reason[:120]})"
            if row.backlog_wait_s >= 1.0:  # a thread pool's queued clients, served after the run (NaN: none)
                outcome += f"; waited {row.backlog_wait_s:.0f} s after the window for {row.backlog_requests} answers owed"
            progress.finish(point.label, outcome, ok=ok)
    return rows


def expected_seconds(point: SweepPoint, config: SeatlabConfig) -> float:
    """A point's expected length, for the ETA: its window (sell-out: Little's law's prediction) plus start-up."""
    overhead = 2.0  # server start, load generator processes, stop (measured on a 2-core VM)
    if config.mode is Mode.duration:
        # plus the backlog after the window: every client's last request, served at the bound's rate
        # (a thread pool's queued clients: clients / (threads / delay)); Little's law, not a measurement
        bound = point_bound_rps(point, config.mode)
        backlog = point.clients / bound if bound > 0 and math.isfinite(bound) else 0.0
        return overhead + config.warmup + config.duration + min(backlog, config.max_time)
    predicted = point_params(point, config, point.name).predicted_sellout_s
    return overhead + (predicted if not math.isnan(predicted) else config.max_time / 10)
