"""Writes report.md (parameters, machine, jobs, findings, table, plots) and the plots for a run or sweep folder."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pandas as pd

from seatlab.report.collect import Results, load_results
from seatlab.report.findings import findings
from seatlab.report.plots import draw_all, machine_text, params_text
from seatlab.runner.results import REPORT_MD

TABLE_COLUMNS = [
    ("series", "series"),
    ("clients", "clients"),
    ("throughput_rps", "req/s"),
    ("bound_rps", "bound req/s"),
    ("efficiency", "efficiency"),
    ("sellout_s", "sell-out s"),
    ("p50_ms", "p50 ms"),
    ("p99_ms", "p99 ms"),
    ("p999_ms", "p99.9 ms"),
    ("max_ms", "max ms"),
    ("errors", "errors"),
    ("unanswered", "unanswered"),
    ("starved_clients", "starved"),
    ("fairness", "fairness"),
    ("server_cpu_pct", "server CPU %"),
    ("server_rss_mib", "server RSS MiB"),
    ("loadgen_cpu_pct", "loadgen CPU %"),
    ("server_us_per_req", "server CPU us/req"),
    ("loadgen_us_per_req", "loadgen CPU us/req"),
    ("status", "status"),
]


def build_report(directory: Path) -> Results:
    """Load what is stored in `directory`, redraw every plot and rewrite report.md; returns the results."""
    results = load_results(Path(directory))
    plots = draw_all(results, results.directory)
    (results.directory / REPORT_MD).write_text(render(results, plots))
    return results


_COUNTS = {"clients", "errors", "unanswered", "starved_clients"}


def _cell(value: Any, key: str = "") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if key in _COUNTS and isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, float):
        return (
            f"{value:.2f}" if abs(value) < 10 else f"{value:,.1f}" if abs(value) < 1000 else f"{value:,.0f}"
        )
    return str(value).replace("|", "/")


def table(frame: pd.DataFrame) -> str:
    columns = [(key, title) for key, title in TABLE_COLUMNS if key in frame.columns]
    if "sellout_s" in frame and frame["sellout_s"].isna().all():
        columns = [c for c in columns if c[0] != "sellout_s"]
    lines = ["| " + " | ".join(title for _, title in columns) + " |", "|" + "---|" * len(columns)]
    for _, row in frame.iterrows():
        lines.append("| " + " | ".join(_cell(row[key], key) for key, _ in columns) + " |")
    return "\n".join(lines)


def render(results: Results, plots: list[Path]) -> str:
    meta = results.metadata
    frame = results.frame
    title = "seatlab sweep" if results.kind == "sweep" else "seatlab run"
    out = [f"# {title}: {results.directory.name}", ""]
    command = meta.get("command")
    if command:
        out += ["Command:", "", "```", "python -m seatlab " + " ".join(command[1:]), "```", ""]
    out += ["## Parameters", "", params_text(frame) if len(frame) else "(no points)", ""]
    if results.kind == "sweep":
        out += ["## Jobs", ""]
        for job in results.jobs:
            state = job.status if job.status == "ok" else f"**{job.status.upper()}**: {job.reason}"
            out.append(f"- `{job.label}` ({job.directory or 'combined.csv'}): {job.points} points, {state}")
        out.append("")
    out += ["## Machine", "", machine_text(meta)]
    machine = meta.get("machine") or {}
    if machine:
        out.append(
            f"Memory {machine.get('memory_gib')} GiB, Python {machine.get('python')}, {machine.get('platform')}."
        )
    versions = meta.get("versions") or {}
    if versions:
        out.append("Versions: " + ", ".join(f"{k} {v}" for k, v in versions.items() if v) + ".")
    git = meta.get("git") or {}
    if git:
        out.append(
            f"Commit {git.get('commit', '?')[:12]}{' (with local changes)' if git.get('dirty') else ''}."
        )
    out += ["", "## Findings", ""]
    out += (
        [f"- {line}" for line in findings(results.ok, frame)] if len(frame) else ["- no points were measured"]
    )
    out += ["", "## Points", "", table(frame) if len(frame) else "(none)", ""]
    if plots:
        out += ["## Plots", ""] + [f"![{p.stem}]({p.name})" for p in plots] + [""]
    out += ["Redraw with `python -m seatlab.report " + str(results.directory) + "`.", ""]
    return "\n".join(out)
