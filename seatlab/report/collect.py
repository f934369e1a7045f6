"""Gathers stored results: a run's points.csv, or every job of a multirun (combined into one CSV).

A multirun job is a subfolder with Hydra's ``.hydra/overrides.yaml``; its
label is its overrides without ``clients`` (what was swept). A job without
``points.csv`` or whose ``job.json`` says failed is kept in ``jobs`` as
failed with its reason, so reports can name it. Each row keeps the folder
it came from (``run_dir``), where its point folders and histograms are;
metadata.json's ``swept`` says which column is the x axis and which (if
any) splits the lines.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from seatlab.report.latency import with_latency_views
from seatlab.report.stored import (
    COMBINED_CSV,
    JOB_JSON,
    POINTS_CSV,
    read_json,
    read_metadata,
    read_points,
    swept_keys,
)

_HIDDEN_OVERRIDES = ("clients", "results_dir", "hydra.")


class ResultsNotFound(FileNotFoundError):
    """The folder holds neither a run's points.csv nor a multirun's jobs."""


@dataclass(frozen=True)
class JobResult:
    label: str
    directory: str
    status: str
    reason: str
    points: int


@dataclass
class Results:
    """What a run or sweep folder holds: one row per point (``run_dir``: the folder its point_dir is in)."""

    kind: str  # "run" or "sweep"
    directory: Path
    frame: pd.DataFrame
    metadata: dict[str, Any]
    jobs: list[JobResult] = field(default_factory=list)

    @property
    def ok(self) -> pd.DataFrame:
        return self.frame[self.frame["status"] == "ok"]

    @property
    def swept(self) -> list[str]:
        """The swept keys that are columns here: the first is the x axis, the second (if any) splits lines."""
        return [key for key in swept_keys(self.metadata) if key in self.frame.columns] or ["clients"]

    @property
    def x(self) -> str:
        return self.swept[0]


def load_results(directory: Path) -> Results:
    directory = Path(directory)
    if (directory / POINTS_CSV).is_file():
        frame = read_points(directory / POINTS_CSV)
        frame["run_dir"] = str(directory)
        metadata = read_metadata(directory)
        job = _job_status(directory, label="", points=len(frame))
        return Results("run", directory, _prepared(frame, metadata), metadata, [job])
    job_dirs = sorted((p.parent.parent for p in directory.glob("*/.hydra/overrides.yaml")), key=_job_order)
    if job_dirs:
        return _sweep(directory, job_dirs)
    if (directory / COMBINED_CSV).is_file():
        frame = read_points(directory / COMBINED_CSV)
        jobs = [
            JobResult(str(label), "", "ok", "", int(n)) for label, n in frame.groupby("job").size().items()
        ]
        metadata = read_metadata(directory)
        return Results("sweep", directory, _prepared(frame, metadata), metadata, jobs)
    raise ResultsNotFound(
        f"{directory}: no {POINTS_CSV} (a run) and no job folders or {COMBINED_CSV} (a multirun)"
    )


def _job_order(path: Path) -> tuple[int, str]:
    head = path.name.split("_", 1)[0]
    return (int(head) if head.isdigit() else 1 << 30, path.name)


def _sweep(directory: Path, job_dirs: list[Path]) -> Results:
    frames, jobs = [], []
    metadata: dict[str, Any] = {}
    labels = job_labels(job_dirs)
    for job_dir in job_dirs:
        label = labels[job_dir]
        points = job_dir / POINTS_CSV
        frame = read_points(points) if points.is_file() else None
        if frame is not None:
            frame["job"] = label
            frame["run_dir"] = str(job_dir)
            frames.append(frame)
            metadata = metadata or read_metadata(job_dir)
        jobs.append(_job_status(job_dir, label, 0 if frame is None else len(frame)))
    combined = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["job", "status"])
    if frames:
        combined.drop(columns="run_dir").to_csv(directory / COMBINED_CSV, index=False)
    return Results("sweep", directory, _prepared(combined, metadata), metadata, jobs)


def job_overrides(job_dir: Path) -> list[str]:
    """The job's overrides (``key=value``) without those that never label a line (clients, paths)."""
    overrides = yaml.safe_load((job_dir / ".hydra" / "overrides.yaml").read_text()) or []
    return [str(o).lstrip("+~") for o in overrides if not str(o).lstrip("+~").startswith(_HIDDEN_OVERRIDES)]


def job_labels(job_dirs: list[Path]) -> dict[Path, str]:
    """Label each job by what was swept: the overrides that differ between jobs (all of them for one job)."""
    overrides = {job_dir: job_overrides(job_dir) for job_dir in job_dirs}
    shared = set.intersection(*(set(o) for o in overrides.values())) if len(job_dirs) > 1 else set()
    return {
        job_dir: " ".join(o for o in items if o not in shared) or job_dir.name
        for job_dir, items in overrides.items()
    }


def _job_status(job_dir: Path, label: str, points: int) -> JobResult:
    status, reason = ("ok", "") if points else ("failed", f"no {POINTS_CSV}: the job did not run or crashed")
    if (job_dir / JOB_JSON).is_file():
        info = read_json(job_dir / JOB_JSON)
        status = str(info.get("status", status))
        reason = str(info.get("reason", "")) or reason if status != "ok" else ""
        if status == "running":
            status, reason = "failed", "the job stopped before it finished (interrupted or crashed)"
    return JobResult(label, job_dir.name, status, reason, points)


def _prepared(frame: pd.DataFrame, metadata: dict[str, Any]) -> pd.DataFrame:
    """The rows as the report draws them: labelled by series, both latency views filled in."""
    return with_latency_views(add_series(frame, swept_keys(metadata)))


def add_series(frame: pd.DataFrame, swept: list[str] | tuple[str, ...] = ("clients",)) -> pd.DataFrame:
    """Label each row with the line it belongs to: what differs between jobs and backends, and the
    value of the second swept key (the first is the x axis) when the run sweeps two."""
    frame = frame.copy()
    if frame.empty:
        frame["series"] = pd.Series(dtype=str)
        return frame
    frame["job"] = frame["job"].fillna("").astype(str) if "job" in frame.columns else ""
    multi_job = frame["job"].nunique() > 1
    multi_backend = frame["backend"].nunique() > 1

    def label(row: pd.Series) -> str:
        parts = [row["job"]] if multi_job and row["job"] else []
        if not parts or (multi_backend and "backend=" not in row["job"]):
            parts.append(str(row["backend"]))
        return " ".join(parts)

    frame["series"] = frame.apply(label, axis=1)
    if len(swept) > 1 and swept[1] in frame.columns:
        key = swept[1]
        frame["series"] = [
            f"{s} {series_value(key, v)}" for s, v in zip(frame["series"], frame[key], strict=True)
        ]
    if _unnamed_workers(frame, swept):  # workers differ but neither the axis nor the lines say so
        frame["series"] = [
            s if "workers=" in job else f"{s} {workers_text(n)}"
            for s, job, n in zip(frame["series"], frame["job"], frame["workers"], strict=True)
        ]
    return frame


def _unnamed_workers(frame: pd.DataFrame, swept: list[str] | tuple[str, ...]) -> bool:
    return (
        "workers" in frame.columns and frame["workers"].fillna(1).nunique() > 1 and "workers" not in swept[:2]
    )


def workers_text(count: Any) -> str:
    """``2 workers``, ``1 worker``: how lines and titles name a server's processes."""
    text = value_text(count)
    return f"{text} worker{'s' * (text != '1')}"


def series_value(key: str, value: Any) -> str:
    """The second swept key's value in a line's name: ``threads=4``, and ``2 workers``."""
    return workers_text(value) if key == "workers" else f"{key}={value_text(value)}"


def value_text(value: Any) -> str:
    """A swept value as people write it: 4, not 4.0."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def constant_params(frame: pd.DataFrame) -> dict[str, Any]:
    """Parameters with one value over the whole frame (they go into titles; the others label lines)."""
    out: dict[str, Any] = {}
    for column in (
        "delay_ms", "threads", "workers", "capacity", "mode", "duration_s", "diversity", "rate", "connect",
    ):  # fmt: skip
        if column in frame.columns:
            values = frame[column].dropna().unique()
            if len(values) == 1:
                value = values[0]
                out[column] = value.item() if hasattr(value, "item") else value
    return out
