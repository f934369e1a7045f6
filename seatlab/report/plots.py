"""The PNG plots of a run or sweep: throughput (with Little's law and the machine ceiling), sell-out, CPU.

One line per series (backend, or job and backend in a multirun, and the
second swept key's value); the x axis is the first swept key. Repeated
points are drawn as dots and joined at their median, with its 95% interval
as an error bar (``seatlab.report.intervals``, named in the title). Points where clients
starved or the load generator ran at a full core are written on the plot.
Latency, the percentile distribution and the load-latency pair have their
own modules; ``draw_all`` draws whichever have data.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from seatlab.report.collect import Results
from seatlab.report.distribution import plot_percentiles
from seatlab.report.figure import (
    AXIS_LABELS,
    bound_name,
    colors,
    draw_intervals,
    interval_note,
    is_ceiling,
    median,
    save,
    series_frames,
    subtitle,
    x_axis,
)
from seatlab.report.latency import flags
from seatlab.report.latency_plot import plot_latency
from seatlab.report.load_latency import plot_load_latency


def mark_points(ax: Axes, frame: pd.DataFrame, x: str, line: pd.Series, color: str) -> None:
    """Write under a series' points how many clients starved there and whether the load generator was full."""
    starved = frame.groupby(x)["starved_clients"].median() if "starved_clients" in frame else pd.Series()
    full = frame[flags(frame, "loadgen_saturated")][x].unique()
    for at in line.index:
        notes = []
        if at in starved.index and starved[at] > 0:
            clients = frame.loc[frame[x] == at, "clients"].median()
            notes.append(f"{int(starved[at])}/{int(clients)} starved")
        if at in full:
            notes.append("loadgen full core")
        if notes:
            ax.annotate(
                "\n".join(notes),
                (at, line[at]),
                textcoords="offset points",
                xytext=(0, -16),
                ha="center",
                va="top",
                fontsize=7,
                color=color,
            )


def plot_throughput(results: Results, path: Path) -> Path:
    return save(throughput_figure(results), path)


def throughput_figure(results: Results) -> Figure:
    """Throughput against the first swept key, each series with its Little's-law bound (any swept key)."""
    ok, x = results.ok, results.x
    fig, ax = plt.subplots(figsize=(9, 6))
    palette = colors()
    bounded = False
    for i, (name, frame) in enumerate(series_frames(ok)):
        if is_ceiling(frame):
            line = median(frame, x, "throughput_rps")
            ax.plot(
                line.index, line.values, ":", color="black", marker="s", label=f"machine ceiling ({name})"
            )
            if len(line) == 1 or ok[x].nunique() > len(line):
                ax.axhline(line.max(), color="black", linestyle=":", linewidth=0.8)
            continue
        color = palette[i % len(palette)]
        ax.scatter(frame[x], frame["throughput_rps"], color=color, s=12, alpha=0.5)
        line = median(frame, x, "throughput_rps")
        ax.plot(line.index, line.values, "-o", color=color, label=f"{name}: measured")
        draw_intervals(ax, frame, x, "throughput_rps", color)
        mark_points(ax, frame, x, line, color)
        bound = median(frame, x, "bound_rps").dropna()
        if len(bound):
            bounded = True
            ax.plot(bound.index, bound.values, "--", marker="_", markersize=14, color=color, alpha=0.8,
                    label=f"{name}: {bound_name(ok)}")  # fmt: skip
    if len(ok) and ok["throughput_rps"].max() / max(1e-9, ok["throughput_rps"].min()) > 30:
        ax.set_yscale("log")
    x_axis(ax, ok, x)
    ax.set_ylabel("throughput (answers/s)")
    what = f"Throughput vs {AXIS_LABELS.get(x, x)}" + (
        " (dashed: Little's law, concurrency / delay)" if bounded else ""
    )
    ax.margins(y=0.12)  # room for the notes under the lowest points
    ax.set_title(f"{what}\n{subtitle(results, ok)}{interval_note(ok, x)}", fontsize=9)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8)
    return fig


def plot_sellout(results: Results, path: Path) -> Path | None:
    ok, x = results.ok, results.x
    ok = ok[ok["mode"] == "sellout"] if "mode" in ok else ok.iloc[0:0]
    if ok.empty or ok["sellout_s"].dropna().empty:
        return None
    fig, ax = plt.subplots(figsize=(9, 6))
    series = series_frames(ok)
    if ok[x].nunique() == 1:
        names = [name for name, _ in series]
        measured = [frame["sellout_s"].median() for _, frame in series]
        predicted = [frame["predicted_sellout_s"].median() for _, frame in series]
        xs = range(len(names))
        ax.bar([i - 0.2 for i in xs], measured, width=0.4, label="measured")
        ax.bar([i + 0.2 for i in xs], predicted, width=0.4, label="Little's law: capacity / bound", alpha=0.6)
        for i, value in zip(xs, measured, strict=True):
            ax.annotate(f"{value:.1f} s", (i - 0.2, value), ha="center", va="bottom", fontsize=8)
        ax.set_xticks(list(xs), names)
        ax.set_xlabel(f"backend ({x} {ok[x].iloc[0]:g})")
    else:
        for name, frame in series:
            line = median(frame, x, "sellout_s")
            (drawn,) = ax.plot(line.index, line.values, "-o", label=f"{name}: measured")
            predicted = median(frame, x, "predicted_sellout_s").dropna()
            ax.plot(
                predicted.index,
                predicted.values,
                "--",
                color=drawn.get_color(),
                label=f"{name}: Little's law",
            )
        ax.set_yscale("log")
        x_axis(ax, ok, x)
    ax.set_ylabel("time to sell every seat (s)")
    ax.set_title(f"Sell-out time\n{subtitle(results, ok)}", fontsize=9)
    ax.legend(fontsize=8)
    return save(fig, path)


def plot_cpu(results: Results, path: Path) -> Path:
    ok, x = results.ok, results.x
    fig, axes = plt.subplots(1, 2, figsize=(14, 5), sharey=True)
    cores = (results.metadata.get("machine") or {}).get("cores")
    for ax, (column, name) in zip(
        axes, [("server_cpu_pct", "server"), ("loadgen_cpu_pct", "load generator")], strict=True
    ):
        for series, frame in series_frames(ok):
            line = median(frame, x, column).dropna()
            ax.plot(line.index, line.values, "-o", label=series)
            full = frame[flags(frame, "loadgen_saturated")]
            if column == "loadgen_cpu_pct" and len(full):
                ax.plot(full[x], full[column], "x", color="red", markersize=10, markeredgewidth=2,
                        label=f"{series}: a load process at a full core")  # fmt: skip
        if cores and ok[column].max() > 30 * cores:  # only where it does not flatten the lines
            ax.axhline(100 * cores, color="gray", linestyle="--", linewidth=0.8, label=f"all {cores} cores")
        x_axis(ax, ok, x)
        ax.set_title(f"{name} CPU", fontsize=9)
    axes[0].set_ylabel("CPU (% of one core)")
    axes[0].legend(fontsize=8)
    axes[1].legend(fontsize=8)
    fig.suptitle(f"CPU vs {AXIS_LABELS.get(x, x)}\n{subtitle(results, ok)}", fontsize=9)
    return save(fig, path)


def draw_all(results: Results, directory: Path) -> list[Path]:
    """Every plot that has data; returns the files written."""
    if results.ok.empty:
        return []
    drawn = [
        plot_throughput(results, directory / "throughput.png"),
        plot_latency(results, directory / "latency.png"),
        plot_percentiles(results, directory / "percentiles.png"),
        plot_load_latency(results, directory / "load_latency.png"),
        plot_sellout(results, directory / "sellout.png"),
        plot_cpu(results, directory / "cpu.png"),
    ]
    return [path for path in drawn if path is not None]
