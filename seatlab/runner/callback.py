"""Hydra callback for multiruns: when the sweep ends, combine every job's points into one CSV and report.

Configured in ``conf/config.yaml`` under ``hydra.callbacks``. Jobs that
failed (or left no points) are named on stderr, in the sweep's report.md
and in ``FAILED_JOBS``, which ``python -m seatlab`` turns into exit code 1.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

FAILED_JOBS: list[str] = []


class SweepReport(Callback):
    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        from seatlab.runner.job import update_latest

        sweep_dir = Path(config.hydra.sweep.dir)
        sweep_dir.mkdir(parents=True, exist_ok=True)
        update_latest(Path(config.results_dir), sweep_dir)

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        from seatlab.report.build import build_report

        sweep_dir = Path(config.hydra.sweep.dir)
        results = build_report(sweep_dir)
        FAILED_JOBS[:] = [f"{job.label} ({job.reason})" for job in results.jobs if job.status == "failed"]
        print(f"seatlab: sweep of {len(results.jobs)} jobs combined in {sweep_dir}", file=sys.stderr)
