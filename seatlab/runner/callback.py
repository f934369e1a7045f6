"""Hydra callbacks (``conf/config.yaml``'s ``hydra.callbacks``): the config checked before a single run
makes its folder, and a multirun's jobs combined into one report when the sweep ends."""

from __future__ import annotations

import copy
import sys
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, open_dict, read_write

from seatlab.runner.folders import update_latest
from seatlab.runner.schema import ConfigError, load_config


class ConfigCheck(Callback):
    """A single run whose config is wrong stops here, before Hydra makes its run folder (so none is left
    behind, empty); exit 2 naming the key. A multirun's jobs are checked by the job itself, which
    records the refused job as failed beside the others."""

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        task = copy.deepcopy(config)
        with read_write(task), open_dict(task):
            del task["hydra"]
        try:
            load_config(task)
        except ConfigError as exc:
            print(f"seatlab: config error: {exc}", file=sys.stderr)
            raise SystemExit(2) from None


class SweepReport(Callback):
    """Links ``latest`` to the sweep folder, and draws the jobs side by side when the sweep ends."""

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        sweep_dir.mkdir(parents=True, exist_ok=True)
        update_latest(Path(config.results_dir), sweep_dir)

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        from seatlab.runner.job import draw_report

        sweep_dir = Path(config.hydra.sweep.dir)
        draw_report(sweep_dir)
        print(f"seatlab: sweep combined in {sweep_dir}", file=sys.stderr)
