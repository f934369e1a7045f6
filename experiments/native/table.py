"""Markdown tables of a run's points.csv, Python and C++ of each model side by side, CPU per request beside each.

    .venv/bin/python experiments/native/table.py results/latest/points.csv [--sellout]

CPU per request is the server's CPU time over the answers it gave in the window
(``server_cpu_pct`` / 100 / ``throughput_rps``, in µs of one core); a point with
unanswered requests, starved clients or a saturated load generator says so in its
own columns, since its throughput then understates what was asked.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import pandas as pd

ORDER = ["calibrate", "tpool", "coro", "event"]


def model_of(backend: str) -> tuple[int, int]:
    """Sort key: the model (calibrate, tpool, coro, event), then Python before C++."""
    name = backend.removeprefix("native_")
    return (ORDER.index(name) if name in ORDER else len(ORDER), backend.startswith("native_"))


def fmt(value: float, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:,.{digits}f}"


def table(points: pd.DataFrame, sellout: bool) -> str:
    rows = []
    head = (
        "| backend | clients | sell-out | bookings/s | p50 | p99 | p99.9 | fairness | server CPU | CPU/request | load CPU |"
        if sellout
        else "| backend | clients | answers/s | Little's bound | p50 | p99 | p99.9 | unanswered | starved | "
        "server CPU | CPU/request | load CPU (saturated) |"
    )
    rows.append(head)
    rows.append("|" + "---|" * (head.count("|") - 1))
    points = points.assign(_key=points["backend"].map(model_of)).sort_values(["clients", "_key"])
    for p in points.itertuples():
        per = p.server_cpu_pct / 100 / p.throughput_rps * 1e6 if p.throughput_rps else float("nan")
        if p.status != "ok":
            reason = str(p.reason).split(";")[0][:110]
            rows.append(f"| {p.backend} | {p.clients} | failed: {reason} ... |")
            continue
        if sellout:
            rows.append(
                f"| {p.backend} | {p.clients} | {fmt(p.sellout_s)} s | {fmt(p.bookings_rps)} | {fmt(p.p50_ms)} ms | "
                f"{fmt(p.p99_ms)} ms | {fmt(p.p999_ms)} ms | {fmt(p.fairness, 2)} | {fmt(p.server_cpu_pct)}% | "
                f"{fmt(per, 0)} µs | {fmt(p.loadgen_cpu_pct)}% |"
            )
        else:
            saturated = " yes" if p.loadgen_saturated else ""
            rows.append(
                f"| {p.backend} | {p.clients} | {fmt(p.throughput_rps, 0)} | {fmt(p.bound_rps, 0)} | "
                f"{fmt(p.p50_ms)} ms | {fmt(p.p99_ms)} ms | {fmt(p.p999_ms)} ms | {int(p.unanswered)} | "
                f"{int(p.starved_clients)} | {fmt(p.server_cpu_pct)}% | {fmt(per, 0)} µs | "
                f"{fmt(p.loadgen_cpu_pct)}%{saturated} |"
            )
    return "\n".join(rows)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("points", type=Path)
    p.add_argument("--sellout", action="store_true", help="sell-out columns (the seed experiment)")
    args = p.parse_args()
    print(table(pd.read_csv(args.points), args.sellout))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
