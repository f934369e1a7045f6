"""``-m hydra/launcher=ray``: a two-job sweep on the namespace cluster, its results back on this side."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml
from netns import RayCluster, on_host

pytestmark = pytest.mark.timeout(600)  # the session's cluster is made inside the first test's time


def test_a_two_job_ray_sweep_leaves_the_combined_csv_and_plots_on_the_launching_side(
    cluster: RayCluster, tmp_path: Path
) -> None:
    done = on_host(cluster, 0, [
        sys.executable, "-m", "seatlab", "-m", "hydra/launcher=ray", "backend=coro,event", "clients=[2]",
        "delay=1", "duration=0.5", "warmup=0.2", f"ray.address={cluster.address}", f"results_dir={tmp_path}",
    ], cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    (sweep,) = tmp_path.glob("multirun/*/*")
    combined = pd.read_csv(sweep / "combined.csv")
    assert sorted(combined["backend"]) == ["coro", "event"]
    assert (combined["status"] == "ok").all()
    for plot in ("throughput.png", "latency.png"):
        assert (sweep / plot).stat().st_size > 0
    jobs = sorted(d for d in sweep.iterdir() if (d / "node.json").is_file())
    assert len(jobs) == 2
    runs = []
    for job in jobs:
        assert json.loads((job / "job.json").read_text())["status"] == "ok"
        assert (job / "points.csv").is_file() and list(job.glob("points/*/load/summary.json"))
        node = json.loads((job / "node.json").read_text())
        assert node["ip"] in {"198.18.0.1", "198.18.0.2", "198.18.0.3"}
        runs.append(node)
        # the job wrote into a scratch folder on its node, and that folder is gone: these files came
        # back through Ray, not through a shared file system
        scratch = yaml.safe_load((job / ".hydra" / "hydra.yaml").read_text())["hydra"]["sweep"]["dir"]
        assert scratch.startswith("/tmp/seatlab-jobs/") and not Path(scratch).exists()
    # at most one job per node at a time
    a, b = runs
    if a["node_id"] == b["node_id"]:
        assert a["ended"] <= b["started"] or b["ended"] <= a["started"]
