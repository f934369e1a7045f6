"""Writes report.md (parameters, machine, jobs, findings, table, plots) and the plots for a run or sweep folder.

``build_report(directory)`` is what the runner calls at the end of a run
and of a multirun, and what ``python -m seatlab.report`` calls to redraw.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import pandas as pd

from seatlab.report.collect import Results, load_results
from seatlab.report.figure import counting_text, machine_text, params_text
from seatlab.report.findings import findings
from seatlab.report.latency import counts_unanswered, flags, ms_text
from seatlab.report.noise import noise_section
from seatlab.report.plots import draw_all
from seatlab.report.repeats import repeats_section
from seatlab.report.stored import REPORT_MD
from seatlab.report.timeline import draw_timeline

# (column, title); the swept keys come first, after the series.
TABLE_COLUMNS = [
    ("clients", "clients"),
    ("rate", "offered bookings/s"),
    ("workers", "workers"),  # shown when a point ran more than one server process
    ("throughput_rps", "req/s"),
    ("bound_rps", "bound req/s"),
    ("rtt_ms", "RTT ms"),  # load on other hosts (load.hosts): their round trip to the server, in the bound
    ("efficiency", "efficiency"),
    ("sellout_s", "sell-out s"),
    ("p50_ms", "p50 ms"),
    ("p99_ms", "p99 ms"),
    ("p999_ms", "p99.9 ms"),
    ("max_ms", "max ms"),
    ("served_p99_ms", "answered p99 ms"),
    ("errors", "errors"),
    ("unanswered", "unanswered"),
    ("censored", "censored"),
    ("starved_clients", "starved"),
    ("fairness", "fairness"),
    ("server_cpu_pct", "server CPU %"),
    ("server_rss_mib", "server RSS MiB"),
    ("loadgen_cpu_pct", "loadgen CPU %"),
    ("loadgen_saturated", "loadgen full"),
    ("server_us_per_req", "server CPU us/req"),
    ("loadgen_us_per_req", "loadgen CPU us/req"),
    ("load_hosts", "load hosts"),
    ("status", "status"),
]
SWEPT_TITLES = {"delay_ms": "delay ms", "threads": "threads", "capacity": "capacity"}
_COUNTS = {"clients", "errors", "unanswered", "censored", "starved_clients", "threads", "workers", "capacity"}
_TEXT = {"series", "status", "load_hosts"}
_BOUNDABLE = {"p50_ms", "p90_ms", "p99_ms", "p999_ms", "max_ms"}


def build_report(directory: Path) -> Results:
    """Load what is stored in `directory`, redraw every plot and rewrite report.md; returns the results."""
    results = load_results(Path(directory))
    plots = draw_all(results, results.directory) + draw_timeline(results, results.directory)
    (results.directory / REPORT_MD).write_text(render(results, plots))
    return results


def cell(value: Any, key: str = "", lower_bound: bool = False) -> str:
    """One table cell: counts as integers, latencies with >= when a lower bound, NaN as blank."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if key in _BOUNDABLE:
        return ms_text(float(value), lower_bound).removesuffix(" ms")
    if key in _COUNTS and isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, float):
        return (
            f"{value:.2f}" if abs(value) < 10 else f"{value:,.1f}" if abs(value) < 1000 else f"{value:,.0f}"
        )
    return str(value).replace("|", "/")


def table(results: Results) -> str:
    """The points as a markdown table (pandas' to_markdown): only the columns with something in them."""
    frame = results.frame
    swept = [(key, SWEPT_TITLES.get(key, key)) for key in results.swept if key not in dict(TABLE_COLUMNS)]
    columns = [("series", "series"), *swept, *TABLE_COLUMNS]
    shown = [(key, title) for key, title in columns if key in frame.columns and frame[key].notna().any()]
    # columns that only say "none here": no censored request, the load generator never at a full core
    shown = [(key, title) for key, title in shown if key != "censored" or frame[key].fillna(0).gt(0).any()]
    shown = [(key, title) for key, title in shown if key != "loadgen_saturated" or flags(frame, key).any()]
    shown = [(key, title) for key, title in shown if key != "workers" or frame[key].fillna(1).ne(1).any()]
    cells = {title: _cells(frame, key) for key, title in shown}
    align = ["left" if key in _TEXT else "right" for key, _ in shown]
    markdown = pd.DataFrame(cells).to_markdown(index=False, disable_numparse=True, colalign=align)
    # without tabulate's padding: a row reads "| coro | 64 | ..." and diffs by what changed
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in markdown.splitlines()]
    rows[1] = [re.sub("-+", "---", c) for c in rows[1]]
    return "\n".join("| " + " | ".join(row) + " |" for row in rows)


def _cells(frame: pd.DataFrame, key: str) -> list[str]:
    low = flags(frame, key.removesuffix("_ms") + "_censored") if key in _BOUNDABLE else [False] * len(frame)
    return [cell(value, key, bool(b)) for value, b in zip(frame[key], low, strict=True)]


def _machine_lines(meta: dict[str, Any], frame: pd.DataFrame) -> list[str]:
    out = [machine_text(meta, frame)]
    cluster = meta.get("cluster")
    if cluster:  # load.hosts: the load ran on other Ray nodes; machine_text's "share" is then this node only
        hosts = ", ".join(f"{h['hostname']} ({h['ip']}, {h['cpus']} CPUs)" for h in cluster["load_hosts"])
        out.append(
            f"Server on {cluster['server_node']}; load generator on {hosts} (Ray cluster "
            f"{cluster['ray_address']}); each point's round trip between them is the table's RTT ms, "
            "and its bound is C / (delay + RTT)."
        )
    machine = meta.get("machine") or {}
    if machine:
        out.append(
            f"Memory {machine.get('memory_gib')} GiB, Python {machine.get('python')}, {machine.get('platform')}."
        )
    server_python = (meta.get("server_python") or {}).get("path")
    if server_python:
        out.append(f"Python servers ran on {server_python} (server_python), not the runner's Python.")
    versions = meta.get("versions") or {}
    if versions:
        out.append("Versions: " + ", ".join(f"{k} {v}" for k, v in versions.items() if v) + ".")
    git = meta.get("git") or {}
    if git:
        out.append(
            f"Commit {git.get('commit', '?')[:12]}{' (with local changes)' if git.get('dirty') else ''}."
        )
    return out


def render(results: Results, plots: list[Path]) -> str:
    meta, frame = results.metadata, results.frame
    title = "seatlab sweep" if results.kind == "sweep" else "seatlab run"
    out = [f"# {title}: {results.directory.name}", ""]
    command = meta.get("command")
    if command:
        out += ["Command:", "", "```", "python -m seatlab " + " ".join(command[1:]), "```", ""]
    out += ["## Parameters", "", params_text(frame) if len(frame) else "(no points)"]
    out += ["", f"Swept: {', '.join(results.swept)} (x axis: {results.x}).", ""]
    if results.kind == "sweep":
        out += ["## Jobs", ""]
        for job in results.jobs:
            state = job.status if job.status == "ok" else f"**{job.status.upper()}**: {job.reason}"
            out.append(f"- `{job.label}` ({job.directory or 'combined.csv'}): {job.points} points, {state}")
        out.append("")
    out += ["## Machine", "", *_machine_lines(meta, frame), "", *noise_section(results), "## Findings", ""]
    out += [f"- {line}" for line in findings(results)] if len(frame) else ["- no points were measured"]
    marks = "; >= marks a lower bound" if counts_unanswered(frame) else ""
    out += ["", "## Points", "", f"Latencies: {counting_text(frame)}{marks}.", ""]
    out += [table(results) if len(frame) else "(none)", ""]
    out += repeats_section(results) if len(results.ok) else []
    if plots:
        out += ["## Plots", ""] + [f"![{p.stem}]({p.name})" for p in plots] + [""]
    if len(results.ok) and not any(p.name == "percentiles.png" for p in plots):
        out += [
            "No percentiles.png: no point folder here holds a merged latency histogram (load/latency.hdr).",
            "",
        ]
    out += ["Redraw with `python -m seatlab.report " + str(results.directory) + "`.", ""]
    return "\n".join(out)
