"""What every plot shares: its subtitle, its lines (one per series), its x axis (the first swept key).

The subtitle carries the parameters common to every line, the machine and
the fact that server and load generator share its cores, and how
unanswered requests are counted, so a plot read alone does not mislead.
"""

from __future__ import annotations

import math
from itertools import pairwise
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd
from matplotlib import ticker
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from seatlab.registry import FIXED_ANSWER
from seatlab.report.collect import Results, constant_params, workers_text
from seatlab.report.intervals import METHOD, ONE_RUN, by_value, error_bars, repeated
from seatlab.report.latency import counts_unanswered

_PARAM_TEXT = {
    "delay_ms": "delay {:g} ms",
    "work_ms": "work {:g} ms",
    "work_kind": "{} work",
    "offload": "offload {}",
    "threads": "threads {:g}",
    "capacity": "capacity {:g}",
    "mode": "{} mode",
    "duration_s": "{:g} s windows",
    "diversity": "diversity {:g}",
    "connect": "{} connections",
}
AXIS_LABELS = {
    "clients": "concurrent clients",
    "rate": "offered rate (bookings/s)",
    "delay_ms": "delay (ms)",
    "work_ms": "CPU work per request (ms)",
    "threads": "threads",
    "workers": "server worker processes",
    "capacity": "capacity (seats)",
}


def params_text(frame: pd.DataFrame) -> str:
    """The parameters every point shares, in words (a swept one is left to the axis or the legend)."""
    parts = []
    for key, value in constant_params(frame).items():
        if key == "workers":  # said when not 1: one process, as every run before schema 7
            parts += [workers_text(value)] if value != 1 else []
        elif key in _PARAM_TEXT and not (isinstance(value, float) and math.isnan(value)):
            parts.append(_PARAM_TEXT[key].format(value))
    rates = frame["rate"].dropna() if "rate" in frame.columns else pd.Series(dtype=float)
    if rates.empty:
        parts.append("closed loop")
    elif rates.nunique() == 1:
        parts.append(f"open loop {rates.iloc[0]:g} bookings/s")
    else:
        parts.append("open loop")
    return ", ".join(parts)


def machine_text(metadata: dict[str, Any], frame: pd.DataFrame | None = None) -> str:
    """The machine, and the Python its Python servers ran on (``python_text``)."""
    machine = metadata.get("machine") or {}
    python = python_text(metadata, frame)
    if not machine:
        return "machine unknown" + (f" - {python}" if python else "")
    return (
        f"{machine.get('cpu_model', '?')} - server and load generator share {machine.get('cores', '?')} cores"
        + (f" - {python}" if python else "")
    )


def python_text(metadata: dict[str, Any], frame: pd.DataFrame | None = None) -> str:
    """``server on Python 3.12.1, GIL on``: the interpreter of the Python servers (``server_python``),
    from the rows (several when a multirun's jobs differ), else metadata.json's; "" when unknown
    (before schema 7) or when no Python server ran."""
    found: list[tuple[str, str]] = []
    if frame is not None and {"server_python_version", "server_gil"} <= set(frame.columns):
        pairs = zip(frame["server_python_version"], frame["server_gil"], strict=True)
        found = list(dict.fromkeys((str(v), str(g)) for v, g in pairs if isinstance(v, str) and v))
    if not found:
        stored = metadata.get("server_python") or {}
        if stored.get("version"):
            found = [(str(stored["version"]), str(stored.get("gil") or ""))]
    if not found:
        return ""
    said = [f"Python {version}" + (f", GIL {gil}" if gil else "") for version, gil in found]
    return ("server on " if len(said) == 1 else "servers on ") + "; ".join(said)


def counting_text(frame: pd.DataFrame) -> str:
    """How the latencies count requests that got no answer: the line every latency subtitle carries."""
    if counts_unanswered(frame):
        return "unanswered requests counted at their age when the window closed (lower bounds)"
    return "answered requests only: this run predates counting unanswered ones"


def subtitle(results: Results, frame: pd.DataFrame) -> str:
    failed = int((results.frame["status"] != "ok").sum()) if "status" in results.frame else 0
    note = f" ({failed} failed point{'s' * (failed != 1)}: see report.md)" if failed else ""
    machine = machine_text(results.metadata, results.frame)
    return f"{params_text(frame)}{note}\n{machine}\n{counting_text(results.frame)}"


def has_work(frame: pd.DataFrame) -> bool:
    """Whether any point computed per request (``work``): its bound may be the CPU, not Little's law."""
    if frame.index.name == "work_ms":  # a table by work
        return bool((frame.index.to_series().fillna(0) > 0).any())
    return "work_ms" in frame.columns and bool((frame["work_ms"].fillna(0) > 0).any())


def bound_name(frame: pd.DataFrame) -> str:
    """How the plots and findings name the bound: Little's law's, or with work also the CPU's."""
    return "bound (Little's law or the CPU)" if has_work(frame) else "Little's law bound"


def series_frames(ok: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    """One frame per line, in the order the series first appear."""
    return [(name, ok[ok["series"] == name]) for name in dict.fromkeys(ok["series"])]


def is_ceiling(frame: pd.DataFrame) -> bool:
    """A fixed-answer series (``seatlab.registry``): the machine's ceiling, drawn as such."""
    return bool(frame["backend"].isin(FIXED_ANSWER).all())


def median(frame: pd.DataFrame, x: str, column: str) -> pd.Series:
    """The line through repeated points: their median at each x."""
    return frame.groupby(x)[column].median().sort_index()


def draw_intervals(ax: Axes, frame: pd.DataFrame, x: str, column: str, color: str) -> None:
    """Error bars for one series' `column`: the 95% interval of the median at each x run more than once."""
    if not repeated(frame, x):
        return
    xs, values, bars = error_bars(by_value(frame, x, column))
    if xs:
        ax.errorbar(xs, values, yerr=bars, fmt="none", ecolor=color, elinewidth=1.2, capsize=4)


def interval_note(frame: pd.DataFrame, x: str) -> str:
    """The title's line naming the intervals drawn: the method, or that there is one run per point."""
    if "series" in frame.columns and any(repeated(part, x) for _, part in series_frames(frame)):
        return f"\nerror bars: {METHOD}"
    return f"\n{ONE_RUN} (repeat=1)" if len(frame) else ""


def x_axis(ax: Axes, frame: pd.DataFrame, x: str) -> None:
    """Log x when the swept values grow by factors (1, 4, 16, 64) over a span of 8 or more; linear when
    they are evenly spaced (a ``range(...)``); ticks at the measured values when there are few."""
    values = frame[x].dropna()
    ticks = sorted(values.unique())
    steps = {round(float(b - a), 9) for a, b in pairwise(ticks)}
    evenly = len(ticks) > 2 and len(steps) == 1
    if len(values) and values.min() > 0 and values.max() / values.min() >= 8 and not evenly:
        ax.set_xscale("log")
    if 0 < len(ticks) <= 12:
        ax.set_xticks(ticks, [f"{t:g}" for t in ticks], rotation=45 if len(ticks) > 7 else 0)
        ax.minorticks_off()
    ax.set_xlabel(AXIS_LABELS.get(x, x))
    ax.grid(True, which="both", alpha=0.3)


def log_ms_axis(ax: Axes) -> None:
    """A log latency axis labelled in plain ms at 1-2-5 steps, so even a narrow range has a few labels."""
    ax.set_yscale("log")
    ax.yaxis.set_major_locator(ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
    ax.yaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:g}"))
    ax.yaxis.set_minor_formatter(ticker.NullFormatter())


def colors() -> list[str]:
    return list(plt.rcParams["axes.prop_cycle"].by_key()["color"])


def save(fig: Figure, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=110, bbox_inches="tight")  # a legend placed beside the axes stays in
    plt.close(fig)
    return path
