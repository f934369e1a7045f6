"""Findings in numbers: where each series follows Little's law's bound, where it leaves it, and by how much."""

from __future__ import annotations

import math

import pandas as pd

from seatlab.report.plots import CEILING_BACKEND

TRACKS = 0.9  # efficiency at or above this counts as "on its bound"


def _fmt(value: float, unit: str = "") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    text = f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}" if abs(value) < 10 else f"{value:.1f}"
    return text + unit


def _by_clients(frame: pd.DataFrame) -> pd.DataFrame:
    columns = [
        "throughput_rps",
        "starved_clients",
        "fairness",
        "bound_rps",
        "efficiency",
        "p50_ms",
        "p99_ms",
        "sellout_s",
        "predicted_sellout_s",
        "server_cpu_pct",
        "loadgen_cpu_pct",
    ]
    present = [c for c in columns if c in frame.columns]
    return frame.groupby("clients")[present].median().sort_index()


def series_findings(name: str, frame: pd.DataFrame, ceiling: pd.Series | None) -> list[str]:
    """`ceiling`: the calibration target's throughput by client count, when it ran beside this series."""
    table = _by_clients(frame)
    lines: list[str] = []
    peak_clients = int(table["throughput_rps"].idxmax())
    peak = table["throughput_rps"].max()
    if table["bound_rps"].notna().any():
        effs = ", ".join(f"{int(c)}: {e:.2f}" for c, e in table["efficiency"].items())
        lines.append(f"**{name}**: efficiency (throughput / Little's law bound) by clients: {effs}.")
        on = table["efficiency"] >= TRACKS
        if on.all():
            lines.append(
                f"  Tracks its bound (>= {TRACKS}) at every client count, up to "
                f"{_fmt(table['throughput_rps'].iloc[-1])} req/s at {int(table.index[-1])} clients."
            )
        else:
            first_off = int(on[~on].index[0])
            row = table.loc[first_off]
            lines.append(
                f"  Leaves its bound at {first_off} clients: {_fmt(row['throughput_rps'])} req/s = "
                f"{row['efficiency']:.2f} of {_fmt(row['bound_rps'])} req/s"
                f" (p99 {_fmt(row['p99_ms'], ' ms')})."
            )
        flat = _plateau(table)
        if flat is not None:
            clients, level = flat
            bound_there = table.loc[clients, "bound_rps"]
            lines.append(
                f"  Flat at about {_fmt(level)} req/s from {clients} clients on"
                f" ({level / bound_there:.2f} of the bound there, {_fmt(bound_there)} req/s)."
            )
    else:
        lines.append(f"**{name}**: no delay bound; peak {_fmt(peak)} req/s at {peak_clients} clients.")
    if "starved_clients" in table and table["starved_clients"].fillna(0).gt(0).any():
        hit = table[table["starved_clients"] > 0]
        first, last = int(hit.index[0]), int(hit.index[-1])
        lines.append(
            f"  Starves clients from {first} clients on: at {last} clients"
            f" {int(hit.loc[last, 'starved_clients'])} of {last} got no answer in the window"
            f" (fairness {hit.loc[last, 'fairness']:.2f}); its latency percentiles cover only the served ones."
        )
    if ceiling is not None and len(ceiling):
        shared = [c for c in table.index if c in ceiling.index and ceiling[c] > 0]
        if shared:
            ratios = ", ".join(f"{int(c)}: {table.loc[c, 'throughput_rps'] / ceiling[c]:.2f}" for c in shared)
            lines.append(
                f"  Share of the machine ceiling (calibration target at the same client count): {ratios}."
            )
    if "sellout_s" in table and table["sellout_s"].notna().any():
        for clients, row in table.iterrows():
            lines.append(
                f"  Sold out in {_fmt(row['sellout_s'], ' s')} with {int(clients)} clients;"
                f" Little's law predicts {_fmt(row['predicted_sellout_s'], ' s')}."
            )
    return lines


def _plateau(table: pd.DataFrame) -> tuple[int, float] | None:
    """The client count from which throughput stays within 5% while the bound keeps rising, if any."""
    values = table["throughput_rps"]
    if len(values) < 3:
        return None
    start = None
    for i in range(len(values) - 1, -1, -1):
        window = values.iloc[i:]
        if window.max() <= 1.05 * window.min():
            start = i
        else:
            break
    if start is None or len(values) - start < 3:
        return None
    return int(values.index[start]), float(values.iloc[start:].median())


def comparison(ok: pd.DataFrame) -> list[str]:
    """Side by side at the largest client count every series shares."""
    served = ok[ok["backend"] != CEILING_BACKEND]
    names = list(dict.fromkeys(served["series"]))
    if len(names) < 2:
        return []
    shared = set.intersection(*(set(served[served["series"] == n]["clients"]) for n in names))
    if not shared:
        return []
    clients = max(shared)
    columns = [c for c in ("throughput_rps", "p99_ms", "starved_clients") if c in served.columns]
    at = served[served["clients"] == clients].groupby("series")[columns].median()
    at = at.sort_values("throughput_rps", ascending=False)

    def starved(row: pd.Series) -> str:
        count = row.get("starved_clients", 0)
        return f", {int(count)} clients starved" if not math.isnan(count) and count > 0 else ""

    parts = [
        f"{name} {_fmt(row['throughput_rps'])} req/s (p99 {_fmt(row['p99_ms'], ' ms')}{starved(row)})"
        for name, row in at.iterrows()
    ]
    best, worst = at.index[0], at.index[-1]
    ratio = (
        at.loc[best, "throughput_rps"] / at.loc[worst, "throughput_rps"]
        if at.loc[worst, "throughput_rps"]
        else math.inf
    )
    return [
        f"At {int(clients)} clients: "
        + "; ".join(parts)
        + f". {best} serves {ratio:.1f}x what {worst} serves."
    ]


def findings(ok: pd.DataFrame, frame: pd.DataFrame) -> list[str]:
    lines: list[str] = []
    ceiling_rows = ok[ok["backend"] == CEILING_BACKEND]
    ceiling = ceiling_rows.groupby("clients")["throughput_rps"].median() if len(ceiling_rows) else None
    if ceiling is not None:
        by_clients = ", ".join(f"{int(c)}: {_fmt(v)}" for c, v in ceiling.items())
        lines.append(f"**machine ceiling** (calibration target), req/s by clients: {by_clients}.")
    for name in dict.fromkeys(ok["series"]):
        part = ok[ok["series"] == name]
        if (part["backend"] == CEILING_BACKEND).all():
            continue
        lines.append(" ".join(line.strip() for line in series_findings(name, part, ceiling)))
    lines.extend(comparison(ok))
    if "loadgen_saturated" in ok and ok["loadgen_saturated"].astype(str).str.lower().eq("true").any():
        hit = ok[ok["loadgen_saturated"].astype(str).str.lower() == "true"]
        where = ", ".join(
            f"{s} at {int(c)} clients" for s, c in zip(hit["series"], hit["clients"], strict=False)
        )
        lines.append(
            f"The load generator was saturated ({where}): there it, not the server, limits the figure."
        )
    bad = frame[frame["status"] != "ok"]
    for _, row in bad.iterrows():
        lines.append(
            f"FAILED: {row.get('series', row['backend'])} at {int(row['clients'])} clients: {row['reason']}"
        )
    return lines
