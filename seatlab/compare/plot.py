"""``--plot FILE``: both runs on one figure, throughput and p99 for every matched point, each the median
of its repetitions with its 95% interval as an error bar (A left, B right of each point's tick)."""

from __future__ import annotations

from pathlib import Path

from seatlab.compare.match import Matching, Side
from seatlab.report.figure import colors, save
from seatlab.report.intervals import METHOD, ONE_RUN, median_interval

PANELS = (("throughput_rps", "throughput (answers/s)"), ("p99_ms", "p99 over every request (ms)"))


def plot_compare(a: Side, b: Side, matching: Matching, path: Path) -> Path:
    import matplotlib.pyplot as plt

    labels = [m.label for m in matching.matched]
    fig, axes = plt.subplots(1, len(PANELS), figsize=(max(9.0, 1.1 * len(labels) + 5), 5.5), squeeze=False)
    palette = colors()
    for ax, (column, title) in zip(axes[0], PANELS, strict=True):
        for k, (side, frames) in enumerate(
            ((a, [m.a for m in matching.matched]), (b, [m.b for m in matching.matched]))
        ):
            shift = -0.12 if k == 0 else 0.12
            figures = [median_interval(frame[column]) for frame in frames]
            xs = [i + shift for i in range(len(figures))]
            values = [f.value for f in figures]
            below = [f.value - f.low if f.known else 0.0 for f in figures]
            above = [f.high - f.value if f.known else 0.0 for f in figures]
            ax.errorbar(
                xs, values, yerr=[below, above], fmt="o" if k == 0 else "s", color=palette[k], capsize=4,
                label=f"{side.name}: {side.directory.resolve().name}",
            )  # fmt: skip
        ax.set_xticks(range(len(labels)), labels, rotation=30 if len(labels) > 3 else 0, ha="right")
        ax.set_xlim(-0.5, len(labels) - 0.5)
        ax.set_ylabel(title)
        ax.grid(True, axis="y", alpha=0.3)
        ax.legend(fontsize=8)
    repeated = any(len(m.a) > 1 or len(m.b) > 1 for m in matching.matched)
    fig.suptitle(
        f"A: {a.directory.resolve()}\nB: {b.directory.resolve()}\nerror bars: {METHOD if repeated else ONE_RUN}",
        fontsize=9,
    )
    return save(fig, path)
