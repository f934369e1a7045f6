"""A job's outcome: ``job.json`` written by the job, and the exit code read back from those files.

How this works: ``python -m seatlab`` cannot take Hydra's job returns (its CLI
entry drops them), so it reads what the jobs wrote. It names a receipt file in
``SEATLAB_JOB_RECEIPT``; every ``write_job`` appends its ``job.json`` path to
it; when Hydra is done, ``exit_code`` reads each listed ``job.json``: 0 every
job ok, 1 a job or point failed, 2 a config error (no job got to run, or a
single run's config was refused). Without the variable (a job run from a test
or another program) nothing is recorded.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from seatlab.runner.results import JOB_JSON, SCHEMA_VERSION, read_json, write_json

RECEIPT_ENV = "SEATLAB_JOB_RECEIPT"

CONFIG_ERROR = 2
FAILED = 1


def write_job(out_dir: Path, status: str, overrides: list[str], **fields: Any) -> None:
    """Write the job's ``job.json`` (``status``: running, ok, partial, failed) and record it."""
    path = out_dir / JOB_JSON
    out_dir.mkdir(parents=True, exist_ok=True)
    write_json({"schema_version": SCHEMA_VERSION, "status": status, "overrides": overrides, **fields}, path)
    receipt = os.environ.get(RECEIPT_ENV)
    if receipt:
        with open(receipt, "a", encoding="utf-8") as sink:
            sink.write(json.dumps(str(path.resolve())) + "\n")


@contextmanager
def job_receipt() -> Iterator[Path]:
    """A fresh receipt file named in the environment for as long as Hydra runs the jobs."""
    fd, name = tempfile.mkstemp(prefix="seatlab-jobs-", suffix=".jsonl")
    os.close(fd)
    previous = os.environ.get(RECEIPT_ENV)
    os.environ[RECEIPT_ENV] = name
    try:
        yield Path(name)
    finally:
        if previous is None:
            os.environ.pop(RECEIPT_ENV, None)
        else:
            os.environ[RECEIPT_ENV] = previous
        Path(name).unlink(missing_ok=True)


def recorded_jobs(receipt: Path) -> dict[Path, dict[str, Any]]:
    """Each recorded job.json (once, last version) and what it says now."""
    paths = dict.fromkeys(Path(json.loads(line)) for line in receipt.read_text().splitlines() if line)
    jobs = {}
    for path in paths:
        try:
            jobs[path] = read_json(path)
        except (OSError, ValueError) as exc:
            jobs[path] = {"status": "failed", "reason": f"unreadable {JOB_JSON}: {exc}"}
    return jobs


def exit_code(jobs: dict[Path, dict[str, Any]], hydra_code: int) -> int:
    """The command's exit code from what the jobs wrote and how Hydra itself ended.

    No job written: Hydra stopped at the config (it printed why), or did nothing to run
    (``--help``, ``--cfg``). A job still "running" crashed. Failures are named on stderr.
    """
    if not jobs:
        return 0 if hydra_code == 0 else CONFIG_ERROR
    failed = {path: job for path, job in jobs.items() if job.get("status") != "ok"}
    for path, job in failed.items():
        reason = job.get("reason") or "the job stopped before it finished (interrupted or crashed)"
        label = job.get("label") or path.parent.name
        print(f"seatlab: job {label} {job.get('status')}: {str(reason)[:300]}", file=sys.stderr)
    if failed and len(jobs) > 1:
        print(f"seatlab: {len(failed)} of {len(jobs)} job(s) failed", file=sys.stderr)
    if hydra_code != 0:
        return hydra_code
    return FAILED if failed else 0
