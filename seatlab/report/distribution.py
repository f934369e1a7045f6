"""percentiles.png: latency by percentile on the 1/(1-p) axis, from each point's merged HdrHistograms.

HdrHistogram's classic view: 50%, 90%, 99%, 99.9%, 99.99% equally spaced,
so the tail gets the room it needs. One panel per value of the first swept
key (small multiples when there are several), one line per series.
Repetitions of a point are merged (counts added, never averaged). Where a
percentile falls on a request still unanswered when the window closed
(``censored_latency.hdr`` has counts in its bucket), the value is a lower
bound and is marked with open triangles. Runs from before unanswered
requests were counted have only the answered requests' histogram: drawn
dashed and labelled so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from hdrh.histogram import HdrHistogram
from matplotlib import ticker
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from seatlab.report.collect import Results, value_text
from seatlab.report.figure import AXIS_LABELS, colors, log_ms_axis, save, series_frames, subtitle
from seatlab.report.latency_plot import LOWER_BOUND as TRIANGLES
from seatlab.report.stored import ALL_HDR, CENSORED_HDR, SERVED_HDR, load_folder, read_histogram

LOWER_BOUND = "shaded, " + TRIANGLES
NINES = (50.0, 90.0, 99.0, 99.9, 99.99, 99.999)
MOST_NINES = 5  # 99.999%: beyond that no run of seatlab's size has a sample
CLAMPED = 0.999  # a value this close to a histogram's highest trackable one was clamped there (60 s in
# schema 1's histograms, an hour since): a lower bound; a 130 s wait in an hour-long range is not


@dataclass
class PointHistograms:
    """One point's merged histograms; ``every`` is None for runs that kept the answered ones only."""

    every: HdrHistogram | None
    served: HdrHistogram | None
    censored: HdrHistogram | None


def _merged(parts: list[HdrHistogram | None]) -> HdrHistogram | None:
    present = [h for h in parts if h is not None]
    if not present:
        return None
    # as wide as the widest part: old runs' histograms stop at 60 s, newer ones at an hour
    highest = max(60_000_000, *(part.highest_trackable_value for part in present))
    total = HdrHistogram(1, highest, 3)
    for part in present:
        if part.get_total_count():
            total.add(part)
    return total


def point_histograms(rows: pd.DataFrame) -> PointHistograms | None:
    """The histograms of these rows (repetitions of one point) merged; None when none are stored."""
    every, served, censored = [], [], []
    if "run_dir" not in rows.columns or "point_dir" not in rows.columns:
        return None  # a combined.csv alone: the point folders are elsewhere
    for run_dir, point_dir in zip(rows["run_dir"], rows["point_dir"], strict=True):
        if not isinstance(point_dir, str) or not isinstance(run_dir, str):
            continue
        load = load_folder(Path(run_dir), point_dir)
        if (load / SERVED_HDR).is_file():
            every.append(read_histogram(load / ALL_HDR))
            served.append(read_histogram(load / SERVED_HDR))
            censored.append(read_histogram(load / CENSORED_HDR))
        else:  # schema 1: latency.hdr holds the answered requests only
            served.append(read_histogram(load / ALL_HDR))
    found = PointHistograms(_merged(every), _merged(served), _merged(censored))
    return None if found.every is None and found.served is None else found


def percentile_grid(count: int) -> np.ndarray:
    """Percentiles evenly spaced on log10(1/(1-p)), from 50% to as many nines as `count` samples resolve."""
    nines = min(MOST_NINES, max(math.log10(max(count, 2)), math.log10(2) + 0.5))
    return 100.0 * (1.0 - 10.0 ** -np.linspace(math.log10(2), nines, 80))


def curve(h: HdrHistogram, censored: HdrHistogram | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(1/(1-p), latency ms, lower bound?) along the percentile grid."""
    grid = percentile_grid(h.get_total_count())
    values = np.array([h.get_value_at_percentile(p) for p in grid], dtype=float)
    low = falls_on_censored(h, censored, grid)
    low |= values >= CLAMPED * h.highest_trackable_value  # clamped at this histogram's ceiling: at least that
    return 1.0 / (1.0 - grid / 100.0), values / 1000.0, low


def falls_on_censored(h: HdrHistogram, censored: HdrHistogram | None, grid: np.ndarray) -> np.ndarray:
    """Per percentile of `grid`: whether its rank in `h` is a censored value's, as the load generator
    decides ``*_censored`` (seatlab.client.histogram.falls_on_censored): within a bucket the answered
    values rank first, so a bucket that also holds a censored one is a lower bound only above them."""
    if censored is None or not censored.get_total_count():
        return np.zeros(len(grid), dtype=bool)
    counts = np.frombuffer(h.counts, dtype=np.uint64, count=h.counts_len).astype(np.int64)
    running = np.cumsum(counts)
    targets = np.array([h.get_target_count_at_percentile(p) for p in grid])
    index = np.minimum(np.searchsorted(running, targets), h.counts_len - 1)  # each rank's bucket
    here = np.array([censored.get_count_at_value(h.get_value_from_index(int(i))) for i in index])
    return np.asarray(running[index] - here < targets)


def _panels(results: Results) -> list[tuple[object, pd.DataFrame]]:
    x = results.x
    ok = results.ok
    return [(value, ok[ok[x] == value]) for value in sorted(ok[x].dropna().unique())] or [(None, ok)]


def plot_percentiles(results: Results, path: Path) -> Path | None:
    """Draw percentiles.png; None (nothing written) when no point has a stored histogram."""
    fig = percentiles_figure(results)
    return None if fig is None else save(fig, path)


def percentiles_figure(results: Results) -> Figure | None:
    """The small multiples, or None when no point has a stored histogram."""
    panels = _panels(results)
    columns = math.ceil(math.sqrt(len(panels)))
    rows = math.ceil(len(panels) / columns)
    fig, axes = plt.subplots(
        rows, columns, figsize=(max(5 * columns, 8), 3.6 * rows + 1.4), sharey=True, squeeze=False
    )
    palette = colors()
    order = [name for name, _ in series_frames(results.ok)]
    drew, marked, legacy, reach = False, False, False, 10.0
    for ax, (value, frame) in zip(axes.flat, panels, strict=False):
        for name, part in series_frames(frame):
            found = point_histograms(part)
            if found is None:
                continue
            color = palette[order.index(name) % len(palette)]
            if found.every is not None and found.every.get_total_count():
                xs, ys, low = curve(found.every, found.censored)
                ax.plot(xs, ys, "-", color=color, label=name)
                mark_lower_bounds(ax, xs, ys, low, color)
                marked |= bool(low.any())
                reach = max(reach, float(xs[-1]))
                drew = True
            if found.served is not None and found.served.get_total_count():
                xs, ys, _ = curve(found.served, None)
                legacy |= found.every is None
                label = f"{name} (answered only)" if found.every is None else None
                ax.plot(xs, ys, "--", color=color, alpha=0.6, label=label)
                reach = max(reach, float(xs[-1]))
                drew = True
        title = "" if value is None else f"{AXIS_LABELS.get(results.x, results.x)}: {value_text(value)}"
        ax.set_title(title, fontsize=9)
    for ax in axes.flat[: len(panels)]:
        nines_axis(ax, reach)
    for ax in axes.flat[len(panels) :]:
        ax.set_visible(False)
    if not drew:
        plt.close(fig)
        return None
    for ax in axes[:, 0]:
        ax.set_ylabel("latency (ms, log scale)")
    handles, _ = axes.flat[0].get_legend_handles_labels()
    keys = (
        []
        if legacy and not marked
        else [Line2D([], [], linestyle="--", color="gray", label="dashed: answered requests only")]
    )
    if marked:
        keys.append(
            Line2D([], [], linestyle="", marker="^", color="gray", markerfacecolor="white", label=LOWER_BOUND)
        )
    # beside the panels, not over the first one's curves; one panel is 8 in wide, as the subtitle is, so
    # the legend does not cover it
    fig.legend(handles=handles + keys, fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 0.9))
    what = "answered requests only" if legacy and not marked else "every request counted"
    fig.suptitle(f"Latency by percentile ({what})\n{subtitle(results, results.ok)}", fontsize=9)
    return fig


def mark_lower_bounds(ax: plt.Axes, xs: np.ndarray, ys: np.ndarray, low: np.ndarray, color: str) -> None:
    """Shade the stretch of a curve that is only a lower bound, with a few open triangles on it."""
    if not low.any():
        return
    shaded = np.where(low, ys, np.nan)
    ax.plot(xs, shaded, "-", color=color, linewidth=6, alpha=0.25, solid_capstyle="butt")
    picks, last = [], -math.inf
    for i in np.flatnonzero(low):  # a triangle every 0.2 decade of 1/(1-p)
        if math.log10(xs[i]) - last >= 0.2:
            picks.append(i)
            last = math.log10(xs[i])
    ax.plot(xs[picks], ys[picks], "^", color=color, markerfacecolor="white", markersize=6)


def nines_axis(ax: plt.Axes, reach: float) -> None:
    """The 1/(1-p) axis, labelled in percent, up to the furthest percentile any curve here resolves."""
    ax.set_xscale("log")
    log_ms_axis(ax)
    ticks = [1.0 / (1.0 - p / 100.0) for p in NINES if 1.0 / (1.0 - p / 100.0) <= reach * 1.5]
    ax.set_xticks(ticks, [f"{p:g}%" for p in NINES[: len(ticks)]])
    ax.xaxis.set_minor_locator(ticker.NullLocator())
    ax.set_xlim(1.8, max(reach, ticks[-1]) * 1.15)
    ax.set_xlabel("percentile")
    ax.grid(True, which="both", alpha=0.3)
