"""load_latency.png, for a rate sweep: achieved against offered rate, and latency against offered rate.

The picture wrk2 and HdrHistogram users look for: while a backend keeps
up, achieved equals offered (the y = x line) and latency stays near the
delay; past its knee achieved flattens at its Little's-law bound and
latency climbs by orders of magnitude (log axis). Rates are bookings/s,
as ``rate`` is given: achieved is ``bookings_rps``, and the bound
(``bound_rps``, in answers/s) is divided by the answers each booking
takes (two in duration mode, the booking and its cancel; one in sell-out
mode).
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure

from seatlab.report.collect import Results
from seatlab.report.figure import colors, is_ceiling, median, save, series_frames, subtitle, x_axis
from seatlab.report.latency_plot import draw_percentile, legend_keys, log_latency

RATE = "rate"
KEEPS_UP = 0.95  # achieved / offered at or above this: the backend keeps up


def answers_per_booking(frame: pd.DataFrame) -> pd.Series:
    """Answers one booking takes: its Book and, in duration mode, the Cancel that frees the seat again."""
    mode = frame["mode"] if "mode" in frame.columns else pd.Series("duration", index=frame.index)
    return mode.map(lambda m: 1.0 if m == "sellout" else 2.0)


def with_booking_rates(frame: pd.DataFrame) -> pd.DataFrame:
    """Adds ``achieved_bps`` (bookings answered /s) and ``bound_bps`` (the bound in bookings/s)."""
    frame = frame.copy()
    per_booking = answers_per_booking(frame)
    achieved = (
        frame["bookings_rps"] if "bookings_rps" in frame.columns else frame["throughput_rps"] / per_booking
    )
    frame["achieved_bps"] = achieved.fillna(frame["throughput_rps"] / per_booking)
    frame["bound_bps"] = frame["bound_rps"] / per_booking if "bound_rps" in frame.columns else float("nan")
    return frame


def is_rate_sweep(results: Results) -> bool:
    return results.x == RATE and results.ok[RATE].dropna().nunique() > 1


def plot_load_latency(results: Results, path: Path) -> Path | None:
    """Draw the pair for a rate sweep; None (nothing written) for any other run."""
    return save(load_latency_figure(results), path) if is_rate_sweep(results) else None


def load_latency_figure(results: Results) -> Figure:
    ok = with_booking_rates(results.ok[results.ok[RATE].notna()])
    fig, axes = plt.subplots(1, 3, figsize=(17, 5.5))
    rates, latency = axes[0], list(axes[1:])
    palette = colors()
    values: list[float] = []
    for i, (name, frame) in enumerate(series_frames(ok)):
        color = palette[i % len(palette)]
        line = median(frame, RATE, "achieved_bps")
        rates.plot(line.index, line.values, "-o", color=color, label=f"{name}: achieved")
        bound = median(frame, RATE, "bound_bps").dropna()
        if len(bound) and not is_ceiling(frame):
            rates.plot(
                bound.index, bound.values, "--", color=color, alpha=0.7, label=f"{name}: Little's law bound"
            )
        for ax, percentile in zip(latency, ("p50", "p99"), strict=True):
            values += draw_percentile(ax, frame, RATE, percentile, color, name)
    offered = sorted(ok[RATE].unique())
    rates.plot(offered, offered, ":", color="black", label="achieved = offered")
    rates.set_ylabel("achieved (bookings answered/s)")
    rates.set_title("achieved vs offered rate", fontsize=9)
    rates.legend(fontsize=7)
    unit = log_latency(latency, values, force=True)
    for ax, title in zip(latency, ("p50 latency", "p99 latency"), strict=True):
        ax.set_title(f"{title} vs offered rate", fontsize=9)
        ax.set_ylabel(f"latency ({unit})")
    latency[0].legend(handles=latency[0].get_legend_handles_labels()[0] + legend_keys(ok), fontsize=7)
    for ax in axes:
        x_axis(ax, ok, RATE)
    fig.suptitle(f"Load-latency: where each backend saturates\n{subtitle(results, ok)}", fontsize=9)
    return fig


def knees(frame: pd.DataFrame) -> dict[str, tuple[float | None, float | None]]:
    """Per series: the highest offered rate it keeps up with, and the first it does not (None: never/always)."""
    out: dict[str, tuple[float | None, float | None]] = {}
    for name, part in series_frames(with_booking_rates(frame[frame[RATE].notna()])):
        achieved = median(part, RATE, "achieved_bps")
        keeps = achieved / achieved.index.to_series() >= KEEPS_UP
        last_ok = float(keeps[keeps].index.max()) if keeps.any() else None
        behind = keeps[~keeps]
        out[name] = (last_ok, float(behind.index.min()) if len(behind) else None)
    return out
