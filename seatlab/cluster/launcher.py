"""``hydra/launcher=ray``: hydra-ray-launcher's launcher, with each job's results brought back here.

How this works: hydra-ray-launcher runs every job as a Ray task
(``launch_job_on_ray``) that writes into the job's output dir on whichever
node ran it. Nodes share no file system, so ``SeatlabRayLauncher`` points each
job's sweep dir at a scratch folder on its node (``/tmp/seatlab-jobs/ID``) and
wraps the task (``ReturnedJob``): once the job is done, its folder is packed
(tar, gzip), deleted from the node, and returned with the task's value. Here
the launcher unpacks it where the job would have written on one machine (the
sweep dir's ``N_overrides`` folder), adds ``node.json`` (which node ran it,
when), and records the job's ``job.json`` for the exit code, so the
``SweepReport`` callback combines the jobs as it does for local ones. The
remote config asks for one ``seatlab_node`` resource per job, and every node
offers one: at most one job per node at a time, so jobs never share a machine.
"""

from __future__ import annotations

import io
import json
import logging
import os
import shutil
import socket
import tarfile
import time
import traceback
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.core.singleton import Singleton
from hydra.core.utils import JobReturn, JobStatus, configure_log, filter_overrides, setup_globals
from hydra.types import TaskFunction
from hydra_plugins.hydra_ray_launcher.ray_launcher import RayLauncher
from omegaconf import DictConfig, open_dict

from seatlab.runner.outcome import RECEIPT_ENV
from seatlab.runner.results import JOB_JSON

log = logging.getLogger(__name__)

NODE_RESOURCE = "seatlab_node"
SCRATCH = Path("/tmp/seatlab-jobs")
NODE_JSON = "node.json"


@dataclass(frozen=True)
class JobFiles:
    """What a job hands back: the task's value, its folder packed, where and when it ran."""

    value: Any
    subdir: str
    archive: bytes  # tar.gz of the job's output folder
    node: dict[str, Any]
    error: str | None = None


@dataclass(frozen=True)
class ReturnedJob:
    """The task, run on a node, its output folder then packed and returned (and removed there)."""

    task: TaskFunction
    scratch: str

    def __call__(self, cfg: DictConfig) -> JobFiles:
        import ray

        os.environ.pop(RECEIPT_ENV, None)  # the launching side records the job once its files are there
        out_dir = Path(HydraConfig.get().runtime.output_dir)
        started = time.time()
        value, error = None, None
        try:
            value = self.task(cfg)
        except Exception:
            error = traceback.format_exc()
        node = {
            "hostname": socket.gethostname(),
            "ip": ray.util.get_node_ip_address(),
            "node_id": ray.get_runtime_context().get_node_id(),
            "started": started,
            "ended": time.time(),
        }
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
            tar.add(out_dir, arcname=".")
        shutil.rmtree(self.scratch, ignore_errors=True)
        subdir = str(out_dir.relative_to(self.scratch))
        return JobFiles(value, subdir, buffer.getvalue(), node, error)


class SeatlabRayLauncher(RayLauncher):
    """hydra-ray-launcher's ``RayLauncher``, its jobs' folders returned to this machine's sweep dir."""

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
        import ray
        from hydra_plugins.hydra_ray_launcher._launcher_util import launch_job_on_ray, start_ray

        setup_globals()
        assert self.config is not None and self.hydra_context is not None and self.task_function is not None
        configure_log(self.config.hydra.hydra_logging, self.config.hydra.verbose)
        sweep_dir = Path(str(self.config.hydra.sweep.dir))
        sweep_dir.mkdir(parents=True, exist_ok=True)
        init = self.ray_cfg.init
        with open_dict(init):
            if init.get("address") is None:  # a Ray of our own, here: one node, offering the one resource
                init.setdefault("object_store_memory", 78643200)
                init.setdefault("resources", {NODE_RESOURCE: 1})
        start_ray(init)
        nodes = ray.cluster_resources().get(NODE_RESOURCE, 0)
        if nodes < 1:
            raise RuntimeError(
                f"no node of the Ray cluster offers the {NODE_RESOURCE!r} resource that every sweep job asks "
                f"for (one job per node): start each node with ray start --resources='{{\"{NODE_RESOURCE}\": 1}}'"
            )
        log.info(f"seatlab: {len(job_overrides)} jobs on {nodes:g} Ray node(s), results into {sweep_dir}")
        runs = []
        for idx, overrides in enumerate(job_overrides, start=initial_job_idx):
            log.info(f"\t#{idx} : {' '.join(filter_overrides(overrides))}")
            scratch = str(SCRATCH / uuid.uuid4().hex)
            sweep_config = self.hydra_context.config_loader.load_sweep_config(self.config, list(overrides))
            with open_dict(sweep_config):
                sweep_config.hydra.job.id = f"job_id_for_{idx}"
                sweep_config.hydra.job.num = idx
                sweep_config.hydra.sweep.dir = scratch
                task = ReturnedJob(self.task_function, scratch)
                runs.append(
                    launch_job_on_ray(
                        self.hydra_context, self.ray_cfg.remote, sweep_config, task, Singleton.get_state()
                    )
                )
        return [self._bring_back(ray.get(run), sweep_dir) for run in runs]

    def _bring_back(self, ret: JobReturn, sweep_dir: Path) -> JobReturn:
        """Unpack a finished job's folder into the sweep dir; its return value becomes the task's own."""
        if ret.status is not JobStatus.COMPLETED or not isinstance(ret.return_value, JobFiles):
            return ret
        files: JobFiles = ret.return_value
        target = sweep_dir / files.subdir
        target.mkdir(parents=True, exist_ok=True)
        with tarfile.open(fileobj=io.BytesIO(files.archive), mode="r:gz") as tar:
            tar.extractall(target, filter="data")
        (target / NODE_JSON).write_text(json.dumps(files.node, indent=2) + "\n")
        receipt = os.environ.get(RECEIPT_ENV)
        if receipt and (target / JOB_JSON).is_file():
            with open(receipt, "a", encoding="utf-8") as sink:
                sink.write(json.dumps(str((target / JOB_JSON).resolve())) + "\n")
        if files.error is not None:
            log.error(f"job {files.subdir} on {files.node['ip']} failed:\n{files.error}")
        value = files.value
        if isinstance(value, dict) and "out_dir" in value:
            value = {**value, "out_dir": str(target)}
        ret.return_value = value
        ret.working_dir = str(target)
        return ret
