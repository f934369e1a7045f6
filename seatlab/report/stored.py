"""The files a run leaves behind that the report reads: their names, and how each is read.

The runner writes them (points.csv, metadata.json, job.json, a point's
``load/`` folder); the report only reads them, so it never imports the
runner. The names are the contract between the two.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
from hdrh.histogram import HdrHistogram

from seatlab.outputs import (  # noqa: F401 (the report's modules take these names from here)
    ALL_HDR,
    CENSORED_HDR,
    COMBINED_CSV,
    JOB_JSON,
    LOAD_DIR,
    METADATA_JSON,
    POINTS_CSV,
    POINTS_DIR,
    REPORT_MD,
    SERVED_HDR,
)

DEFAULT_SWEPT = ("clients",)
_TEXT_COLUMNS = (
    "job", "reason", "status", "server_python", "server_python_version", "server_gil", "cpu_governor",
    "cpu_boost",
)  # fmt: skip
_VERSION_COLUMNS = {"server_python_version": str}  # 3.10.2 is text: as a number 3.10 would read 3.1


def read_points(path: Path) -> pd.DataFrame:
    """A points.csv (or combined.csv) as a frame; text columns empty rather than NaN.

        Files from before schema 7 have no ``workers`` column: their servers ran one process, so it reads
        as 1 (after ``threads``, where the runner writes it). Their interpreter columns stay absent, and so
    do the machine's noise columns of files before schema 8 (``seatlab.report.noise`` then says so).
    """
    frame = pd.read_csv(path, dtype=_VERSION_COLUMNS)
    for column in _TEXT_COLUMNS:
        if column in frame.columns:
            frame[column] = [("" if pd.isna(v) else str(v)) for v in frame[column]]
    if "workers" not in frame.columns:
        at = frame.columns.get_loc("threads") + 1 if "threads" in frame.columns else len(frame.columns)
        frame.insert(int(at), "workers", 1)
    return frame


def read_json(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def read_metadata(directory: Path) -> dict[str, Any]:
    """The run's metadata.json, or {} for a folder without one (a combined.csv alone)."""
    path = directory / METADATA_JSON
    return read_json(path) if path.is_file() else {}


def swept_keys(metadata: dict[str, Any]) -> list[str]:
    """The points.csv columns the run sweeps, x axis first; runs from before ``swept`` swept clients."""
    swept = metadata.get("swept")
    return [str(key) for key in swept] if swept else list(DEFAULT_SWEPT)


def load_folder(run_dir: Path, point_dir: str) -> Path:
    """A point's load-generator folder: ``points/<point_dir>/load``, or ``<point_dir>/load`` (a point_dir
    written as a path relative to the run)."""
    nested = run_dir / POINTS_DIR / point_dir / LOAD_DIR
    return nested if nested.is_dir() else run_dir / point_dir / LOAD_DIR


def read_histogram(path: Path) -> HdrHistogram | None:
    """A merged latency histogram (microseconds, HdrHistogram's own encoding), None if it is not there."""
    return HdrHistogram.decode(path.read_bytes()) if path.is_file() else None
