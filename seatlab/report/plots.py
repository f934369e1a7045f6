"""The PNG plots of a run or sweep: throughput (with Little's law and the machine ceiling), latency, sell-out, CPU.

One line per series (backend, or job and backend in a multirun); repeated
points are drawn as dots and joined at their median. Titles carry the
parameters common to every line and the machine, so a plot reads alone.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import matplotlib
from matplotlib import ticker

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.axes import Axes

from seatlab.report.collect import Results, constant_params

CEILING_BACKEND = "calibrate"
_PARAM_TEXT = {
    "delay_ms": "delay {:g} ms",
    "threads": "threads {:g}",
    "capacity": "capacity {:g}",
    "mode": "{} mode",
    "duration_s": "{:g} s windows",
    "diversity": "diversity {:g}",
    "connect": "{} connections",
}


def params_text(frame: pd.DataFrame) -> str:
    params = constant_params(frame)
    parts = [
        _PARAM_TEXT[key].format(value)
        for key, value in params.items()
        if key in _PARAM_TEXT and not (isinstance(value, float) and math.isnan(value))
    ]
    rate = params.get("rate")
    parts.append(
        "closed loop"
        if rate is None or (isinstance(rate, float) and math.isnan(rate))
        else f"open loop {rate:g} req/s"
    )
    return ", ".join(parts)


def machine_text(metadata: dict[str, Any]) -> str:
    machine = metadata.get("machine") or {}
    if not machine:
        return "machine unknown"
    return (
        f"{machine.get('cpu_model', '?')} - server and load generator share {machine.get('cores', '?')} cores"
    )


def _title(ax: Axes, what: str, results: Results, frame: pd.DataFrame) -> None:
    failed = int((results.frame["status"] != "ok").sum()) if "status" in results.frame else 0
    note = f" ({failed} failed point{'s' * (failed != 1)}: see report.md)" if failed else ""
    ax.set_title(f"{what}{note}\n{params_text(frame)}\n{machine_text(results.metadata)}", fontsize=9)


def _series_frames(ok: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    order = list(dict.fromkeys(ok["series"]))
    return [(name, ok[ok["series"] == name]) for name in order]


def _median(frame: pd.DataFrame, column: str) -> pd.Series:
    return frame.groupby("clients")[column].median().sort_index()


def _log_x(ax: Axes, frame: pd.DataFrame) -> None:
    clients = frame["clients"].dropna()
    if len(clients) and clients.max() / max(1, clients.min()) >= 8:
        ax.set_xscale("log")
    ticks = sorted(int(c) for c in clients.unique())
    if 0 < len(ticks) <= 12:
        ax.set_xticks(ticks, [str(t) for t in ticks])
        ax.minorticks_off()
    ax.set_xlabel("concurrent clients")
    ax.grid(True, which="both", alpha=0.3)


def plot_throughput(results: Results, path: Path) -> Path:
    ok = results.ok
    fig, ax = plt.subplots(figsize=(9, 6))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    bounded = False
    for i, (name, frame) in enumerate(_series_frames(ok)):
        if (frame["backend"] == CEILING_BACKEND).all():
            line = _median(frame, "throughput_rps")
            ax.plot(
                line.index, line.values, ":", color="black", marker="s", label=f"machine ceiling ({name})"
            )
            if len(line) == 1 or ok["clients"].nunique() > len(line):
                ax.axhline(line.max(), color="black", linestyle=":", linewidth=0.8)
            continue
        color = colors[i % len(colors)]
        ax.scatter(frame["clients"], frame["throughput_rps"], color=color, s=12, alpha=0.5)
        line = _median(frame, "throughput_rps")
        ax.plot(line.index, line.values, "-o", color=color, label=f"{name}: measured")
        if "starved_clients" in frame:
            starved = frame.groupby("clients")["starved_clients"].median()
            for clients, count in starved[starved > 0].items():
                ax.annotate(
                    f"{int(count)}/{int(clients)} starved",
                    (clients, line[clients]),
                    textcoords="offset points",
                    xytext=(0, -14),
                    ha="center",
                    fontsize=7,
                    color=color,
                )
        bound = _median(frame, "bound_rps").dropna()
        if len(bound):
            bounded = True
            ax.plot(
                bound.index,
                bound.values,
                "--",
                marker="_",
                markersize=14,
                color=color,
                alpha=0.8,
                label=f"{name}: Little's law bound",
            )
    if len(ok) and ok["throughput_rps"].max() / max(1e-9, ok["throughput_rps"].min()) > 30:
        ax.set_yscale("log")
    _log_x(ax, ok)
    ax.set_ylabel("throughput (answers/s)")
    what = "Throughput vs clients" + (" (dashed: Little's law, concurrency / delay)" if bounded else "")
    _title(ax, what, results, ok)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8)
    return _save(fig, path)


def _latency_scale(axes: Any, values: list[float]) -> str:
    """Log y when the latencies span a decade or more; linear (readable ticks) when they don't."""
    positive = [v for v in values if v > 0]
    if positive and max(positive) / min(positive) >= 10:
        for ax in axes:
            ax.set_yscale("log")
            ax.yaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:g}"))
        return "ms, log scale"
    return "ms"


def plot_latency(results: Results, path: Path) -> Path:
    ok = results.ok
    percentiles = [("p50_ms", "median (p50)"), ("p99_ms", "p99"), ("p999_ms", "p99.9")]
    fig, axes = plt.subplots(1, 3, figsize=(14, 5), sharey=True)
    delays = ok["delay_ms"].dropna().unique() if "delay_ms" in ok else []
    values: list[float] = []
    for ax, (column, name) in zip(axes, percentiles, strict=False):
        for series, frame in _series_frames(ok):
            line = _median(frame, column).dropna()
            values.extend(float(v) for v in line.values)
            style = ":s" if (frame["backend"] == CEILING_BACKEND).all() else "-o"
            ax.plot(line.index, line.values, style, label=series)
        if len(delays) == 1 and delays[0] > 0:
            ax.axhline(delays[0], color="gray", linestyle="--", linewidth=0.8, label="the delay")
        _log_x(ax, ok)
        ax.set_title(name, fontsize=9)
    axes[0].set_ylabel(f"latency ({_latency_scale(axes, values)})")
    if "starved_clients" in ok and (ok["starved_clients"].fillna(0) > 0).any():
        starving = sorted({str(b) for b in ok.loc[ok["starved_clients"].fillna(0) > 0, "backend"]})
        fig.text(
            0.5,
            0.005,
            f"{', '.join(starving)}: percentiles of the clients served; starved clients "
            "(never answered in the window) are not in them: see the throughput plot and unanswered",
            ha="center",
            fontsize=8,
            color="dimgray",
        )
    axes[0].legend(fontsize=8)
    fig.suptitle(f"Latency vs clients\n{params_text(ok)}\n{machine_text(results.metadata)}", fontsize=9)
    return _save(fig, path)


def plot_sellout(results: Results, path: Path) -> Path | None:
    ok = results.ok
    ok = ok[ok["mode"] == "sellout"] if "mode" in ok else ok.iloc[0:0]
    if ok.empty or ok["sellout_s"].dropna().empty:
        return None
    fig, ax = plt.subplots(figsize=(9, 6))
    series = _series_frames(ok)
    if ok["clients"].nunique() == 1:
        names = [name for name, _ in series]
        measured = [frame["sellout_s"].median() for _, frame in series]
        predicted = [frame["predicted_sellout_s"].median() for _, frame in series]
        xs = range(len(names))
        ax.bar([x - 0.2 for x in xs], measured, width=0.4, label="measured")
        ax.bar([x + 0.2 for x in xs], predicted, width=0.4, label="Little's law: capacity / bound", alpha=0.6)
        for x, value in zip(xs, measured, strict=False):
            ax.annotate(f"{value:.1f} s", (x - 0.2, value), ha="center", va="bottom", fontsize=8)
        ax.set_xticks(list(xs), names)
        ax.set_xlabel(f"backend ({int(ok['clients'].iloc[0])} clients)")
    else:
        for name, frame in series:
            line = _median(frame, "sellout_s")
            (drawn,) = ax.plot(line.index, line.values, "-o", label=f"{name}: measured")
            predicted = _median(frame, "predicted_sellout_s").dropna()
            ax.plot(
                predicted.index,
                predicted.values,
                "--",
                color=drawn.get_color(),
                label=f"{name}: Little's law",
            )
        ax.set_yscale("log")
        _log_x(ax, ok)
    ax.set_ylabel("time to sell every seat (s)")
    _title(ax, "Sell-out time", results, ok)
    ax.legend(fontsize=8)
    return _save(fig, path)


def plot_cpu(results: Results, path: Path) -> Path:
    ok = results.ok
    fig, axes = plt.subplots(1, 2, figsize=(14, 5), sharey=True)
    cores = (results.metadata.get("machine") or {}).get("cores")
    for ax, (column, name) in zip(
        axes, [("server_cpu_pct", "server"), ("loadgen_cpu_pct", "load generator")], strict=False
    ):
        for series, frame in _series_frames(ok):
            line = _median(frame, column).dropna()
            ax.plot(line.index, line.values, "-o", label=series)
        if cores and ok[column].max() > 30 * cores:  # only where it does not flatten the lines
            ax.axhline(100 * cores, color="gray", linestyle="--", linewidth=0.8, label=f"all {cores} cores")
        _log_x(ax, ok)
        ax.set_title(f"{name} CPU", fontsize=9)
    axes[0].set_ylabel("CPU (% of one core)")
    axes[0].legend(fontsize=8)
    fig.suptitle(f"CPU vs clients\n{params_text(ok)}\n{machine_text(results.metadata)}", fontsize=9)
    return _save(fig, path)


def draw_all(results: Results, directory: Path) -> list[Path]:
    """Every plot that has data; returns the files written."""
    if results.ok.empty:
        return []
    drawn = [
        plot_throughput(results, directory / "throughput.png"),
        plot_latency(results, directory / "latency.png"),
        plot_sellout(results, directory / "sellout.png"),
        plot_cpu(results, directory / "cpu.png"),
    ]
    return [path for path in drawn if path is not None]


def _save(fig: plt.Figure, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
