"""timeline.png: inside each point, over time: throughput and p99 per interval, the warm-up shaded.

Each point's load generator writes ``load/intervals.csv`` (``seatlab.client.interval_log``): per
interval its answers and the percentiles of every Book it counts (the answered ones at their
latency, the ones still waiting at its close at their age then, so a server that stops shows while
it stops). Up to ``OVERLAID`` points are drawn one line each on two panels, throughput above and p99
below; more are drawn as small multiples, one panel a point with p99 on a second axis. A p99 that
falls on a waiting request is a lower bound: an open triangle. Points of runs from before the
timeline (no intervals.csv) are left out; with none, there is no plot.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from seatlab.outputs import INTERVALS_CSV
from seatlab.report.collect import Results, value_text
from seatlab.report.figure import colors, log_ms_axis, save, subtitle
from seatlab.report.stored import load_folder

TIMELINE_PNG = "timeline.png"
OVERLAID = 8
"""Up to this many points share one pair of panels; more get a panel each."""
_COLUMNS = 4


@dataclass(frozen=True)
class PointTimeline:
    """One point's intervals.csv and how its line is labelled."""

    label: str
    intervals: pd.DataFrame

    @property
    def mid_s(self) -> pd.Series:
        """Each interval's middle, s from the run's start (where its value is drawn)."""
        return (self.intervals["start_s"] + self.intervals["end_s"]) / 2

    @property
    def window_start_s(self) -> float:
        """When the measured window opened: the end of the warm-up (0: no warm-up, as in a sell-out)."""
        window = self.intervals[self.intervals["window"] == 1]
        return float(window["start_s"].min()) if len(window) else 0.0


def draw_timeline(results: Results, directory: Path) -> list[Path]:
    """Draw timeline.png into ``directory`` when any point has intervals; returns the files written."""
    figure = timeline_figure(results)
    return [] if figure is None else [save(figure, directory / TIMELINE_PNG)]


def timeline_figure(results: Results) -> Figure | None:
    """The timeline of every point that has one (None: none has)."""
    points = point_timelines(results)
    if not points:
        return None
    figure = overlaid(points) if len(points) <= OVERLAID else small_multiples(points)
    figure.suptitle(f"Inside each point, over time\n{subtitle(results, results.ok)}", fontsize=9)
    return figure


def point_timelines(results: Results) -> list[PointTimeline]:
    """The ok points that have an intervals.csv, in the table's order."""
    out: list[PointTimeline] = []
    x, ok = results.x, results.ok
    if "run_dir" not in ok.columns or "point_dir" not in ok.columns:  # a combined.csv alone: no folders
        return out
    for _, row in ok.iterrows():
        if pd.isna(row["run_dir"]) or pd.isna(row["point_dir"]):
            continue
        path = load_folder(Path(str(row["run_dir"])), str(row["point_dir"])) / INTERVALS_CSV
        if not path.is_file():
            continue
        frame = pd.read_csv(path)
        if frame.empty:
            continue
        label = f"{row['series']}, {x} {value_text(row[x])}"
        if "repetition" in row and int(row["repetition"] or 0) > 0:
            label += f" (repeat {int(row['repetition']) + 1})"
        out.append(PointTimeline(label, frame))
    return out


def overlaid(points: list[PointTimeline]) -> Figure:
    """Throughput above, p99 below, one line per point."""
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(10, 7), sharex=True)
    palette = colors()
    for i, point in enumerate(points):
        color = palette[i % len(palette)]
        top.plot(point.mid_s, point.intervals["answers_rps"], "-", color=color, label=point.label)
        _p99(bottom, point, color)
    _warmup(top, points, legend=True)
    _warmup(bottom, points)
    top.set_ylabel("throughput (answers/s)")
    bottom.set_ylabel("p99 latency (ms), every request")
    bottom.set_xlabel("time since the load started (s)")
    top.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    for ax in (top, bottom):
        ax.grid(True, which="both", alpha=0.3)
    return fig


def small_multiples(points: list[PointTimeline]) -> Figure:
    """One panel per point: throughput (left axis, blue) and p99 (right axis, orange, log)."""
    rows = math.ceil(len(points) / _COLUMNS)
    fig, axes = plt.subplots(rows, _COLUMNS, figsize=(4 * _COLUMNS, 2.8 * rows), squeeze=False, sharex=True)
    throughput, latency = colors()[0], colors()[1]
    for ax, point in zip(axes.flat, points, strict=False):
        ax.plot(point.mid_s, point.intervals["answers_rps"], "-", color=throughput)
        ax.set_ylim(bottom=0)
        ax.tick_params(axis="y", labelcolor=throughput, labelsize=7)
        _p99(ax.twinx(), point, latency)
        _warmup(ax, [point])
        ax.set_title(point.label, fontsize=8)
        ax.grid(True, alpha=0.3)
    for ax in list(axes.flat)[len(points) :]:
        ax.set_visible(False)
    for ax in axes[-1]:
        ax.set_xlabel("time (s)")
    fig.text(0.005, 0.5, "throughput (answers/s)", rotation=90, va="center", color=throughput)
    fig.text(0.995, 0.5, "p99 (ms), every request", rotation=90, va="center", color=latency)
    return fig


def _p99(ax: Axes, point: PointTimeline, color: str) -> None:
    """The p99 line; open triangles where it is a lower bound (it falls on a request still waiting)."""
    frame = point.intervals
    ax.plot(point.mid_s, frame["p99_ms"], "-", color=color, marker=".", markersize=3)
    low = frame["p99_censored"] == 1
    if low.any():
        ax.scatter(
            point.mid_s[low], frame.loc[low, "p99_ms"], marker="^", facecolors="none", edgecolors=color
        )
    if frame["p99_ms"].notna().any():
        log_ms_axis(ax)


def _warmup(ax: Axes, points: list[PointTimeline], legend: bool = False) -> None:
    """Shade the warm-up: up to the latest window start of these points (each opens once warmed up)."""
    end = max(point.window_start_s for point in points)
    if end > 0:
        label = "warm-up (before the measured window)" if legend else "_warm-up"
        ax.axvspan(0, end, color="gray", alpha=0.15, label=label, linewidth=0)
        ax.text(end, 1.0, " window opens", transform=ax.get_xaxis_transform(), fontsize=7, va="top")
