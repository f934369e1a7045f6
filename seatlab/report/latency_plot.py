"""latency.png: p50, p99 and p99.9 against the first swept key, over every request and answered only.

The top row counts every request; a point that is only a lower bound (the
percentile falls on a request still unanswered when the window closed) is
an open up-triangle. The bottom row (dashed) is the answered-only view,
what a closed loop shows when it drops the clients it starves; side by
side the two show what starvation hides. Repeated points get error bars on
p50 and p99 over every request: the 95% interval of their median.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from seatlab.report.collect import Results, value_text
from seatlab.report.figure import (
    AXIS_LABELS,
    colors,
    draw_intervals,
    interval_note,
    is_ceiling,
    log_ms_axis,
    median,
    save,
    series_frames,
    subtitle,
    x_axis,
)
from seatlab.report.latency import counts_unanswered

PANELS = (("p50", "median (p50)"), ("p99", "p99"), ("p999", "p99.9"))
INTERVALS = ("p50", "p99")  # the percentiles drawn with their 95% interval over repetitions
LOWER_BOUND = "open triangle: lower bound (falls on an unanswered request)"
EVERY = "every request"
SERVED = "answered requests only"


def draw_percentile(ax: Axes, frame: pd.DataFrame, x: str, name: str, color: str, label: str) -> list[float]:
    """One series' percentile `name` over every request against x, open triangles where it is a lower
    bound. Returns the values drawn (for the axis scale)."""
    grouped = frame.groupby(x)
    line = grouped[f"{name}_ms"].median().sort_index().dropna()
    if line.empty:
        return []
    low = grouped[f"{name}_censored"].any().reindex(line.index).fillna(False).astype(bool)
    ax.plot(line.index, line.values, ":" if is_ceiling(frame) else "-", color=color, label=label)
    ax.plot(line[~low].index, line[~low].values, "o", color=color, markersize=5)
    ax.plot(line[low].index, line[low].values, "^", color=color, markerfacecolor="white", markersize=8)
    if name in INTERVALS:
        draw_intervals(ax, frame, x, f"{name}_ms", color)
    return [float(v) for v in line]


def draw_served(ax: Axes, frame: pd.DataFrame, x: str, name: str, color: str, label: str) -> list[float]:
    """One series' answered-only percentile `name` against x (dashed); returns the values drawn."""
    line = median(frame, x, f"served_{name}_ms").dropna()
    if len(line):
        ax.plot(line.index, line.values, "--", marker="o", markersize=4, color=color, label=label)
    return [float(v) for v in line]


def log_latency(axes: list[Axes], values: list[float], force: bool = False) -> str:
    """Log y when the latencies span a decade or more (or `force`); plain ms ticks either way."""
    positive = [v for v in values if v > 0]
    if positive and (force or max(positive) / min(positive) >= 10):
        for ax in axes:
            log_ms_axis(ax)
        return "ms, log scale"
    return "ms"


def legend_keys(frame: pd.DataFrame) -> list[Line2D]:
    """The legend entry that explains the open triangles, when this frame has any lower bound."""
    if not any(frame[f"{name}_censored"].any() for name, _ in PANELS):
        return []
    return [
        Line2D([], [], linestyle="", marker="^", color="gray", markerfacecolor="white", label=LOWER_BOUND)
    ]


def plot_latency(results: Results, path: Path) -> Path:
    return save(latency_figure(results), path)


def latency_figure(results: Results) -> Figure:
    """Top row every request (lower bounds marked), bottom row the answered requests only; a run from
    before unanswered requests were counted has the bottom row alone."""
    ok, x = results.ok, results.x
    names = list(dict.fromkeys(ok["series"]))
    single = ok[x].nunique() == 1 and len(names) > 1  # one swept value: the series side by side instead
    if single:
        at = f"{AXIS_LABELS.get(x, x)}: {value_text(ok[x].iloc[0])}"
        ok, x = ok.assign(series_position=ok["series"].map(names.index)), "series_position"
    views = [(draw_percentile, EVERY)] if counts_unanswered(ok) else []
    views.append((draw_served, SERVED))
    fig, grid = plt.subplots(
        len(views), len(PANELS), figsize=(15, 4.2 * len(views) + 1.3), sharey=True, squeeze=False
    )
    palette = colors()
    values: list[float] = []
    for axes, (draw, view) in zip(grid, views, strict=True):
        for ax, (name, title) in zip(axes, PANELS, strict=True):
            for i, (series, frame) in enumerate(series_frames(ok)):
                values += draw(ax, frame, x, name, palette[i % len(palette)], series)
            delays = ok["delay_ms"].dropna().unique() if "delay_ms" in ok and x != "delay_ms" else []
            if len(delays) == 1 and delays[0] > 0:
                ax.axhline(delays[0], color="gray", linestyle=":", linewidth=0.8, label="the delay")
            if single:  # six names such as native_tpool side by side would run into each other: upright
                upright = {"rotation": 90} if sum(map(len, names)) > 40 else {}
                ax.set_xticks(range(len(names)), names, **upright)
                ax.set_xlim(-0.5, len(names) - 0.5)
                ax.set_xlabel(at)
                ax.grid(True, axis="y", which="both", alpha=0.3)
            else:
                x_axis(ax, ok, x)
            ax.set_title(f"{title}, {view}", fontsize=9)
    unit = log_latency(list(grid.flat), values, force=x == "rate")
    for axes in grid:
        axes[0].set_ylabel(f"latency ({unit})")
    handles, _ = grid[0][0].get_legend_handles_labels()
    grid[0][0].legend(handles=handles + legend_keys(ok), fontsize=8)
    what = f"Latency by series ({at})" if single else f"Latency vs {AXIS_LABELS.get(x, x)}"
    fig.suptitle(f"{what}\n{subtitle(results, ok)}{interval_note(ok, x)}", fontsize=9)
    return fig
