"""Was the machine quiet? The points measured while other processes were busy, the CPU frequency policy,
and the points whose throughput was still moving across their window (not warmed up).

pyperf's ``system show`` is the model: it names what makes timings move (the load, the governor,
turbo) rather than hiding it. The thresholds, named in the report:

- busy: other processes (all but the runner, the server and its workers, the load processes) used
  more than ``OTHERS_BUSY_PCT`` % of one core over the point (``others_cpu_pct``); on two cores shared by
  server and load generator a tenth of a core taken away is already a few percent of a figure;
- loaded: the 1-minute load average when the point started was above the machine's CPU count (it
  decays over a minute, so it also holds the run's own previous point: a warning, not a verdict);
- the governor not ``performance``, or boost on: the clock speed follows load and temperature.

The trend needs per-interval counts: ``load/latency.hlog``, the load generator's HdrHistogram interval
log (``seatlab/client/interval_log.py``), read with ``hdrh.log.HistogramLogReader``: its
``Tag=served`` lines count the Books answered per interval, from the run's start, warm-up included;
``load/intervals.csv``'s ``window`` column says where the window opens, and only the window's
intervals are fitted. Runs from before the log have none, and the report says the check did not run.
With it, answers per second per interval are regressed on time (``scipy.stats.linregress``): a point
trends when the fitted line moves by more than ``TREND`` of the mean across the window and its slope is
significant (p < 0.05), over ``TREND_INTERVALS`` intervals or more (a 3 s window needs ``interval=0.5``
or shorter: the default 1 s step gives three).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from scipy import stats

from seatlab.report.collect import Results, value_text
from seatlab.report.stored import LOAD_DIR, POINTS_DIR

OTHERS_BUSY_PCT = 10.0
TREND = 0.10
TREND_P = 0.05
TREND_INTERVALS = 4
INTERVAL_LOG = "latency.hlog"  # in a point's load/ folder: per-interval histograms (client schema 5 on)
INTERVALS_CSV = "intervals.csv"  # beside it: one row per interval, ``window`` 1 for the measured window
_NOISE_COLUMNS = ("load_avg_start", "others_cpu_pct")


@dataclass(frozen=True)
class Trend:
    """Answers/s across a point's window: the fitted line's change over it, as a share of the mean."""

    change: float  # e.g. +0.15: the fit ends 15% of the mean above where it starts
    p_value: float
    intervals: int

    @property
    def trending(self) -> bool:
        return self.intervals >= TREND_INTERVALS and abs(self.change) > TREND and self.p_value < TREND_P


def cpu_count(metadata: dict[str, Any]) -> int | None:
    machine = metadata.get("machine") or {}
    count = machine.get("logical_cpus") or machine.get("cores")
    return int(count) if count else None


def busy_points(frame: pd.DataFrame, cpus: int | None) -> pd.DataFrame:
    """The rows measured while the machine was busy, with a ``busy`` column saying why."""
    if not set(_NOISE_COLUMNS) & set(frame.columns):
        return frame.iloc[0:0].assign(busy=pd.Series(dtype=str))
    others = frame.get("others_cpu_pct", pd.Series(math.nan, index=frame.index)).astype(float)
    load = frame.get("load_avg_start", pd.Series(math.nan, index=frame.index)).astype(float)
    reasons = []
    for other, start in zip(others, load, strict=True):
        said = []
        if other > OTHERS_BUSY_PCT:
            said.append(f"other processes {other:.0f}% of a core")
        if cpus and start > cpus:
            said.append(f"load average {start:.1f} at the start, {cpus} CPUs")
        reasons.append("; ".join(said))
    marked = frame.assign(busy=reasons)
    return marked[marked["busy"] != ""]


def frequency_note(frame: pd.DataFrame) -> str:
    """The governor and boost the points ran under, or "" when unrecorded or unreadable."""
    governors = _distinct(frame, "cpu_governor")
    boost = _distinct(frame, "cpu_boost")
    if not governors and not boost:
        return ""
    parts = []
    if governors:
        steady = governors == ["performance"]
        parts.append(f"governor {', '.join(governors)}" + ("" if steady else " (not performance)"))
    if boost:
        parts.append(f"boost {', '.join(boost)}")
    moving = bool(governors and governors != ["performance"]) or "on" in boost
    return "CPU frequency: " + "; ".join(parts) + (": the clock follows load and heat" if moving else "")


def _distinct(frame: pd.DataFrame, column: str) -> list[str]:
    if column not in frame.columns:
        return []
    return list(dict.fromkeys(v for v in frame[column].fillna("").astype(str) if v))


def interval_rates(load_dir: Path) -> list[tuple[float, float]]:
    """(midpoint s, answers/s) of each interval of the point's window in its ``latency.hlog``; [] without
    the file. The ``Tag=served`` lines count the Books answered in each interval (an untagged log: its
    lines); the window starts where ``intervals.csv`` marks it (without that file, every interval
    counts); a last interval shorter than half the others is left out (too few answers to rate)."""
    path = load_dir / INTERVAL_LOG
    if not path.is_file():
        return []
    from hdrh.log import HistogramLogReader

    from seatlab.client.histogram import new_histogram

    reader = HistogramLogReader(str(path), new_histogram())
    found: dict[str | None, list[tuple[float, float, int]]] = {}
    try:
        while (interval := reader.get_next_interval_histogram()) is not None:
            offset = reader.get_start_time_sec()  # s: timestamps are read back as epoch ms
            start = interval.get_start_time_stamp() / 1000.0 - offset
            end = interval.get_end_time_stamp() / 1000.0 - offset
            found.setdefault(interval.get_tag(), []).append((start, end, interval.get_total_count()))
    finally:
        reader.close()
    lines = found.get("served", found.get(None, []))
    opens = _window_start(load_dir / INTERVALS_CSV)
    kept = [(a, b, n) for a, b, n in lines if b > a and (opens is None or a >= opens - 1e-6)]
    if not kept:
        return []
    longest = max(b - a for a, b, _ in kept)
    return [((a + b) / 2, n / (b - a)) for a, b, n in kept if b - a >= longest / 2]


def _window_start(path: Path) -> float | None:
    """The start (s from the run's start) of the first interval intervals.csv marks as in the window."""
    if not path.is_file():
        return None
    try:
        table = pd.read_csv(path, usecols=["start_s", "window"])
    except (ValueError, pd.errors.ParserError, pd.errors.EmptyDataError):
        return None
    inside = table[table["window"] == 1]
    return float(inside["start_s"].min()) if len(inside) else None


def trend(rates: list[tuple[float, float]]) -> Trend | None:
    """The fitted change of answers/s across the intervals; None with fewer than three."""
    if len(rates) < 3:
        return None
    times = [t for t, _ in rates]
    values = [r for _, r in rates]
    mean = sum(values) / len(values)
    if mean <= 0 or max(times) == min(times):
        return None
    fit = stats.linregress(times, values)
    change = float(fit.slope) * (max(times) - min(times)) / mean
    return Trend(change, float(fit.pvalue), len(rates))


def point_trends(results: Results) -> dict[int, Trend] | None:
    """Each ok row's trend (by its index in the frame); None when no point has an interval log."""
    found: dict[int, Trend] = {}
    logged = False
    for index, row in results.ok.iterrows():
        if pd.isna(row.get("point_dir")):
            continue
        path = _load_dir(Path(str(row.get("run_dir", results.directory))), str(row["point_dir"]))
        rates = interval_rates(path)
        logged = logged or bool(rates)
        fitted = trend(rates)
        if fitted is not None:
            found[int(str(index))] = fitted
    return found if logged else None


def _load_dir(run_dir: Path, point_dir: str) -> Path:
    nested = run_dir / POINTS_DIR / point_dir / LOAD_DIR
    return nested if nested.is_dir() else run_dir / point_dir / LOAD_DIR


def _where(row: pd.Series, x: str) -> str:
    repetition = row.get("repetition", 0)
    again = f", run {int(repetition) + 1}" if not pd.isna(repetition) and int(repetition) else ""
    at = f"{value_text(row[x])} clients" if x == "clients" else f"{x} {value_text(row[x])}"
    return f"{row.get('series', row['backend'])} at {at}{again}"


def noise_findings(results: Results) -> list[str]:
    """The findings' warnings: busy points, a moving clock, points still trending."""
    ok, x = results.ok, results.x
    lines = []
    busy = busy_points(ok, cpu_count(results.metadata))
    if len(busy):
        where = "; ".join(f"{_where(row, x)} ({row['busy']})" for _, row in busy.iterrows())
        lines.append(
            f"WARNING: the machine was busy during {len(busy)} of {len(ok)} points (other processes above"
            f" {OTHERS_BUSY_PCT:g}% of a core, or a load average above the CPU count): {where}. Their"
            " figures may be low; repeat them on a quiet machine."
        )
    trends = point_trends(results)
    moving = {i: t for i, t in (trends or {}).items() if t.trending}
    if moving:
        where = "; ".join(
            f"{_where(ok.loc[i], x)} ({t.change:+.0%} across the window, p={t.p_value:.2g})"
            for i, t in moving.items()
        )
        lines.append(f"WARNING: throughput still moving across the window (not warmed up?): {where}.")
    return lines


def noise_section(results: Results) -> list[str]:
    """report.md's account of the machine's noise, with the thresholds the warnings use."""
    ok = results.ok
    out = ["## Machine noise", ""]
    if not set(_NOISE_COLUMNS) & set(ok.columns):
        out += ["Not recorded: this run's points.csv predates the machine's noise columns (schema 8).", ""]
    else:
        cpus = cpu_count(results.metadata)
        others = ok["others_cpu_pct"].dropna() if "others_cpu_pct" in ok else pd.Series(dtype=float)
        loads = ok["load_avg_start"].dropna() if "load_avg_start" in ok else pd.Series(dtype=float)
        if len(others):
            out.append(
                f"- Other processes' CPU during a point: {others.median():.1f}% of a core (median), at most"
                f" {others.max():.1f}%; 1-minute load average at a point's start {loads.min():.2f} to"
                f" {loads.max():.2f} ({cpus or '?'} CPUs)."
            )
        busy = busy_points(ok, cpus)
        out.append(
            f"- Busy points (other processes above {OTHERS_BUSY_PCT:g}% of one core over the point, or a"
            f" load average above {cpus or 'the CPU count'} at its start): {len(busy)} of {len(ok)}."
        )
        note = frequency_note(ok)
        out.append(
            f"- {note}." if note else "- CPU frequency governor and boost: not readable on this machine."
        )
        out.append("")
    if point_trends(results) is None:
        out += [
            f"Warm-up check not run: it needs per-interval counts (load/{INTERVAL_LOG}), which these points"
            " do not have.",
            "",
        ]
    else:
        out += [
            f"Warm-up check: a point trends when its answers/s move by more than {TREND:.0%} of their"
            f" mean across the window (linear fit over load/{INTERVAL_LOG}'s intervals, p < {TREND_P}).",
            "",
        ]
    return out
