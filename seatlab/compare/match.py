"""Reading the two sides and matching their points.

A point's key is its backend, the swept keys of either side (metadata.json ``swept``) and every
parameter that varies within a side; a parameter that is constant on each side (``delay=10`` against
``delay=50``) is what the comparison is about, so it is not a key. When a multirun's jobs still share a
key (they differ by something points.csv has no column for), the job's label joins it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from seatlab.report.collect import Results, ResultsNotFound, load_results, value_text
from seatlab.report.stored import COMBINED_CSV, POINTS_CSV
from seatlab.runner.results import SCHEMA_VERSION

REQUIRED = ("backend", "status", "repetition", "throughput_rps", "efficiency", "p50_ms", "p99_ms")
PARAMS = (
    "clients", "rate", "threads", "workers", "delay_ms", "work_ms", "work_kind", "offload", "capacity",
    "mode", "connect", "diversity", "duration_s",
)  # fmt: skip


class BadInput(Exception):
    """A side that is not a seatlab run or multirun this version reads (exit 2)."""


@dataclass(frozen=True)
class Side:
    """One side of the comparison: its name (A, B), its folder and what it holds."""

    name: str
    results: Results

    @property
    def directory(self) -> Path:
        return self.results.directory


def load_side(path: Path, name: str) -> Side:
    """Read one side; ``BadInput`` naming the folder and what is wrong with it."""
    if not path.is_dir():
        raise BadInput(f"{name}: {path}: not a directory")
    for table in _tables(path):
        try:
            columns = pd.read_csv(table, nrows=0).columns
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
            raise BadInput(f"{name}: {table}: unreadable: {exc}") from None
        missing = [column for column in REQUIRED if column not in columns]
        if missing:
            raise BadInput(
                f"{name}: {table}: not a seatlab points.csv (schema 1-{SCHEMA_VERSION}): no column"
                f" {', '.join(missing)}"
            )
    try:
        results = load_results(path)
    except ResultsNotFound as exc:
        raise BadInput(f"{name}: {exc}") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError) as exc:
        raise BadInput(f"{name}: {path}: points.csv unreadable: {exc}") from None
    if results.frame.empty:
        failed = "; ".join(f"{job.directory}: {job.reason}" for job in results.jobs if job.status != "ok")
        raise BadInput(f"{name}: {path}: no points" + (f" ({failed})" if failed else ""))
    schema = results.metadata.get("schema_version")
    if isinstance(schema, int) and schema > SCHEMA_VERSION:
        raise BadInput(
            f"{name}: {path}: written by a newer seatlab (schema {schema}; this one reads up to"
            f" {SCHEMA_VERSION})"
        )
    return Side(name, results)


def _tables(path: Path) -> list[Path]:
    """The points tables the report would read from `path`: its points.csv, else its jobs'."""
    if (path / POINTS_CSV).is_file():
        return [path / POINTS_CSV]
    jobs = sorted(job.parent.parent / POINTS_CSV for job in path.glob("*/.hydra/overrides.yaml"))
    found = [table for table in jobs if table.is_file()]
    return found or ([path / COMBINED_CSV] if (path / COMBINED_CSV).is_file() else [])


@dataclass(frozen=True)
class Matched:
    """One point found on both sides: its label and the ok repetitions of each."""

    label: str
    a: pd.DataFrame
    b: pd.DataFrame


@dataclass
class Matching:
    keys: list[str]
    matched: list[Matched] = field(default_factory=list)
    only_a: list[str] = field(default_factory=list)
    only_b: list[str] = field(default_factory=list)
    failed_a: list[str] = field(default_factory=list)  # "label: reason"
    failed_b: list[str] = field(default_factory=list)


def _varies(frame: pd.DataFrame, key: str) -> bool:
    return frame[key].astype(str).nunique() > 1


def match_keys(a: Results, b: Results) -> list[str]:
    """The columns that name a point on both sides: backend first, then the swept keys and the
    parameters that vary within a side; ``job`` when a side's jobs still collide."""
    keys = ["backend"]
    swept = [*a.swept, *b.swept]
    for key in dict.fromkeys([*swept, *PARAMS]):
        if key in keys or key not in a.frame.columns or key not in b.frame.columns:
            continue
        if key in swept or _varies(a.frame, key) or _varies(b.frame, key):
            keys.append(key)
    if any(_collides(side.frame, keys) for side in (a, b)):
        keys.append("job")
    return keys


def _collides(frame: pd.DataFrame, keys: list[str]) -> bool:
    if "job" not in frame.columns or frame["job"].nunique() < 2:
        return False
    return bool((frame.groupby(labels(frame, keys))["job"].nunique() > 1).any())


def labels(frame: pd.DataFrame, keys: list[str]) -> pd.Series:
    """Each row's point label: ``coro clients=4``, ``tpool clients=16 threads=4``."""
    return pd.Series([_label(row, keys) for _, row in frame.iterrows()], index=frame.index, dtype=object)


def _label(row: pd.Series, keys: list[str]) -> str:
    parts = [str(row["backend"])]
    for key in keys[1:]:
        value: Any = row.get(key)
        if value is None or (isinstance(value, float) and math.isnan(value)) or value == "":
            continue
        parts.append(f"{key}={value_text(value)}")
    return " ".join(parts)


def match(a: Side, b: Side) -> Matching:
    """The points of A and B paired by label, in A's order; the unpaired and the failed named."""
    keys = match_keys(a.results, b.results)
    found = Matching(keys)
    frames = {}
    for side, failed in ((a, found.failed_a), (b, found.failed_b)):
        frame = side.results.frame.assign(label=labels(side.results.frame, keys))
        bad = frame[frame["status"] != "ok"]
        failed += [
            f"{label}: {reason or 'failed'}"
            for label, reason in zip(bad["label"], bad["reason"], strict=True)
        ]
        frames[side.name] = frame[frame["status"] == "ok"]
    ok_a, ok_b = frames[a.name], frames[b.name]
    in_b = set(ok_b["label"])
    for label in dict.fromkeys(ok_a["label"]):
        if label in in_b:
            found.matched.append(Matched(label, ok_a[ok_a["label"] == label], ok_b[ok_b["label"] == label]))
        else:
            found.only_a.append(label)
    in_a = set(ok_a["label"])
    found.only_b = [label for label in dict.fromkeys(ok_b["label"]) if label not in in_a]
    return found
