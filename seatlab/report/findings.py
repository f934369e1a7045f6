"""Findings in words: where each series follows Little's law's bound, whom it starves, and its p99 over
every request, with ``>=`` wherever a figure is only a lower bound (it falls on a request still
unanswered when the window closed). Runs from before unanswered requests were counted say that their
percentiles cover the answered requests only.
"""

from __future__ import annotations

import math

import pandas as pd

from seatlab.registry import FIXED_ANSWER, ceiling_of
from seatlab.report.collect import Results, value_text, workers_text
from seatlab.report.figure import AXIS_LABELS, bound_name, has_work, series_frames
from seatlab.report.intervals import ONE_RUN, ratio_interval
from seatlab.report.latency import counts_unanswered, flags, ms_text
from seatlab.report.load_latency import is_rate_sweep, knees, with_booking_rates
from seatlab.report.noise import noise_findings

TRACKS = 0.9  # efficiency at or above this counts as "on its bound"
_MEDIANS = (
    "throughput_rps", "starved_clients", "clients", "fairness", "bound_rps", "efficiency", "p50_ms", "p99_ms",
    "p999_ms", "max_ms", "served_p99_ms", "censored", "sellout_s", "predicted_sellout_s",
    "backlog_requests", "backlog_wait_s",
)  # fmt: skip
TAIL = 2.0  # a max this many times p99 or more: the tail (p99.9, max) is quoted beside p99


def _fmt(value: float, unit: str = "") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    text = f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}" if abs(value) < 10 else f"{value:.1f}"
    return text + unit


def _at(x: str, value: object) -> str:
    """'64 clients', 'threads 4', 'rate 300', '2 workers': where a figure was measured."""
    if x == "workers":
        return workers_text(value)
    return f"{value_text(value)} clients" if x == "clients" else f"{x} {value_text(value)}"


def by_x(frame: pd.DataFrame, x: str) -> pd.DataFrame:
    """One row per swept value: medians over repetitions, and whether p99 was a lower bound in any."""
    present = [c for c in _MEDIANS if c in frame.columns and c != x]
    table = frame.groupby(x)[present].median().sort_index()
    for name in ("p50", "p99", "p999", "max"):
        table[f"{name}_low"] = frame.assign(low=flags(frame, f"{name}_censored")).groupby(x)["low"].any()
    table["sellout"] = (frame["mode"] == "sellout").groupby(frame[x]).all() if "mode" in frame else False
    return table


def p99_text(row: pd.Series) -> str:
    """p99 over every request (``>=`` when a lower bound), or the answered-only p99 of an old run."""
    if not math.isnan(row.get("p99_ms", math.nan)):
        return f"p99 {ms_text(row['p99_ms'], bool(row['p99_low']))}"
    return f"p99 of answered requests {ms_text(row.get('served_p99_ms', math.nan))}"


def tail_text(row: pd.Series) -> str:
    """``p99_text``, and p99.9 and max beside it when the tail is far above p99: waits too few to reach
    p99 (a sell-out's starved clients, 0.16% of its requests) show there and nowhere else."""
    text = p99_text(row)
    p99, top = row.get("p99_ms", math.nan), row.get("max_ms", math.nan)
    if math.isnan(p99) or math.isnan(top) or top < TAIL * p99:
        return text
    for name, label in (("p999", "p99.9"), ("max", "max")):
        value = row.get(f"{name}_ms", math.nan)
        if not math.isnan(value):
            text += f", {label} {ms_text(value, bool(row.get(f'{name}_low', False)))}"
    return text


def _bound_lines(table: pd.DataFrame, x: str, unit: str = "req/s") -> list[str]:
    """`unit` bookings/s: an open loop, whose throughput and bound columns hold bookings/s here."""
    lines: list[str] = []
    effs = ", ".join(f"{value_text(c)}: {e:.2f}" for c, e in table["efficiency"].items())
    what = "throughput" if unit == "req/s" else "bookings answered"
    lines.append(f"efficiency ({what} / {bound_name(table)}) by {AXIS_LABELS.get(x, x)}: {effs}.")
    on = table["efficiency"] >= TRACKS
    if on.all():
        lines.append(
            f"Tracks its bound (>= {TRACKS}) everywhere, up to "
            f"{_fmt(table['throughput_rps'].iloc[-1])} {unit} at {_at(x, table.index[-1])}."
        )
    else:
        first_off = on[~on].index[0]
        row = table.loc[first_off]
        lines.append(
            f"Leaves its bound at {_at(x, first_off)}: {_fmt(row['throughput_rps'])} {unit} = "
            f"{row['efficiency']:.2f} of {_fmt(row['bound_rps'])} {unit} ({p99_text(row)})."
        )
    flat = _plateau(table)
    if flat is not None:
        start, level = flat
        bound_there = table.loc[start, "bound_rps"]
        lines.append(
            f"Flat at about {_fmt(level)} {unit} from {_at(x, start)} on"
            f" ({level / bound_there:.2f} of the bound there, {_fmt(bound_there)} {unit})."
        )
    return lines


def _starvation_line(table: pd.DataFrame, x: str) -> str:
    hit = table[table["starved_clients"].fillna(0) > 0]
    last = hit.index[-1]
    row = hit.loc[last]
    clients = int(row["clients"]) if "clients" in row else int(last)
    # the load generator's count: in sell-out mode, the clients that booked no seat before the last went
    how = (
        "booked no seat before the sell-out"
        if bool(row.get("sellout", False))
        else "got no answer in the window"
    )
    text = (
        f"Starves clients from {_at(x, hit.index[0])} on: at {_at(x, last)},"
        f" {int(row['starved_clients'])} of {clients} {how}"
        f" (fairness {row['fairness']:.2f})"
    )
    if math.isnan(row.get("p99_ms", math.nan)):
        return (
            text
            + "; this run predates counting unanswered requests: its percentiles cover only the served ones."
        )
    waiting = (
        ""
        if math.isnan(row.get("censored", math.nan))
        else f", {int(row['censored'])} requests still waiting when the window closed"
    )
    backlog = row.get("backlog_wait_s", math.nan)
    after = (
        f" The server went on serving their queued requests for {_fmt(backlog)} s after the window"
        f" ({int(row['backlog_requests'])} answers, awaited before the audit; they count at their age"
        " when the window closed)."
        if not math.isnan(backlog) and backlog >= 1.0
        else ""
    )
    return (
        text + f"; their waits count: {tail_text(row)} over every request{waiting}"
        f" (answered requests alone: p99 {ms_text(row['served_p99_ms'])})." + after
    )


def series_findings(name: str, frame: pd.DataFrame, ceiling: pd.Series | None, x: str) -> list[str]:
    """`ceiling`: the calibration target's throughput by x, when it ran beside this series."""
    table = by_x(frame, x)
    lines = [f"**{name}**:"]
    if table["bound_rps"].notna().any() and "rate" in frame and frame["rate"].notna().all():
        # an open loop offers bookings: its line in bookings/s, as the runner's efficiency is (and as
        # it was not before: runs from then had 0.82 at 200 clients and 100 bookings/s all answered)
        booked = with_booking_rates(frame)
        booked = booked.assign(
            throughput_rps=booked["achieved_bps"],
            bound_rps=booked["bound_bps"],
            efficiency=booked["achieved_bps"] / booked["bound_bps"],
        )
        lines += _bound_lines(by_x(booked, x), x, "bookings/s")
    elif table["bound_rps"].notna().any():
        lines += _bound_lines(table, x)
    else:
        peak_at = table["throughput_rps"].idxmax()
        lines.append(
            f"no delay bound; peak {_fmt(table['throughput_rps'].max())} req/s at {_at(x, peak_at)}."
        )
    if "starved_clients" in table and table["starved_clients"].fillna(0).gt(0).any():
        lines.append(_starvation_line(table, x))
    else:
        last = table.index[-1]
        lines.append(f"No client starved; at {_at(x, last)} {p99_text(table.loc[last])}.")
    if ceiling is not None and len(ceiling):
        shared = [c for c in table.index if c in ceiling.index and ceiling[c] > 0]
        if shared:
            ratios = ", ".join(
                f"{value_text(c)}: {table.loc[c, 'throughput_rps'] / ceiling[c]:.2f}" for c in shared
            )
            lines.append(f"Share of the machine ceiling (calibration target at the same {x}): {ratios}.")
    if "sellout_s" in table and table["sellout_s"].notna().any():
        for at, row in table.iterrows():
            lines.append(
                f"Sold out in {_fmt(row['sellout_s'], ' s')} with {_at(x, at)};"
                f" Little's law predicts {_fmt(row['predicted_sellout_s'], ' s')}."
            )
    return lines


def _plateau(table: pd.DataFrame) -> tuple[object, float] | None:
    """The x from which throughput stays within 5% to the last point, if that is 3 points or more."""
    values = table["throughput_rps"]
    start = None
    for i in range(len(values) - 1, -1, -1):
        window = values.iloc[i:]
        if window.max() <= 1.05 * window.min():
            start = i
        else:
            break
    if start is None or len(values) - start < 3:
        return None
    return values.index[start], float(values.iloc[start:].median())


def comparison(ok: pd.DataFrame, x: str) -> list[str]:
    """Side by side at the largest x every series shares: throughput, p99 over every request, starvation."""
    served = ok[~ok["backend"].isin(FIXED_ANSWER)]
    names = list(dict.fromkeys(served["series"]))
    if len(names) < 2:
        return []
    shared = set.intersection(*(set(served[served["series"] == n][x]) for n in names))
    if not shared:
        return []
    at_x = max(shared)
    at = pd.DataFrame(
        {name: by_x(part, x).loc[at_x] for name, part in series_frames(served[served[x] == at_x])}
    ).T
    at = at.sort_values("throughput_rps", ascending=False)

    def starved(row: pd.Series) -> str:
        count = row.get("starved_clients", 0)
        return f", {int(count)} clients starved" if not math.isnan(count) and count > 0 else ""

    parts = [
        f"{name} {_fmt(row['throughput_rps'])} req/s ({tail_text(row)}{starved(row)})"
        for name, row in at.iterrows()
    ]
    best, worst = at.index[0], at.index[-1]
    there = served[served[x] == at_x]
    runs = {name: there.loc[there["series"] == name, "throughput_rps"] for name in (best, worst)}
    return [f"At {_at(x, at_x)}: " + "; ".join(parts) + ". " + versus(best, worst, runs[best], runs[worst])]


def versus(best: str, worst: str, best_runs: pd.Series, worst_runs: pd.Series) -> str:
    """Whether `best` serves more than `worst`: said only when the 95% interval of the ratio of their
    median throughputs excludes 1 (``seatlab.report.intervals``); with one run each, the plain ratio."""
    ratio = ratio_interval(worst_runs, best_runs)
    if not ratio.known:
        value = ratio.value if not math.isnan(ratio.value) else math.inf
        return f"{best} serves {value:.1f}x what {worst} serves ({ONE_RUN})."
    if ratio.excludes(1.0):
        return (
            f"{best} serves {ratio.value:.1f}x what {worst} serves (95% interval {ratio.low:.2f}x to"
            f" {ratio.high:.2f}x, bootstrap over the repetitions: significant)."
        )
    return (
        f"No significant difference in throughput between {best} and {worst}: {best} / {worst} ="
        f" {ratio.text()} (the 95% interval includes 1)."
    )


def starvation(ok: pd.DataFrame, x: str) -> list[str]:
    """Who starves whom: the series that left clients without an answer, and the ones that did not."""
    if "starved_clients" not in ok.columns:
        return []
    served = ok[~ok["backend"].isin(FIXED_ANSWER)]
    worst = {
        name: part.loc[part["starved_clients"].fillna(0).idxmax()] for name, part in series_frames(served)
    }
    starving = {n: r for n, r in worst.items() if r["starved_clients"] > 0}
    if not starving:
        return []
    said = "; ".join(
        f"{n} starves {int(r['starved_clients'])} of {int(r['clients'])} clients at {_at(x, r[x])}"
        for n, r in starving.items()
    )
    fair = [n for n in worst if n not in starving]
    verb = "starves" if len(fair) == 1 else "starve"
    return [f"Starvation: {said}" + (f"; {', '.join(fair)} {verb} no one." if fair else ".")]


def same_bound(ok: pd.DataFrame, x: str) -> list[str]:
    """Two series with the same Little's-law bound where one starves clients and the other does not
    (tpool beside tpool_dispatch): the bound is the threads, the starvation is how they are held."""
    if not {"starved_clients", "bound_rps", "p50_ms"} <= set(ok.columns):
        return []
    served = ok[~ok["backend"].isin(FIXED_ANSWER)]
    tables = {name: by_x(part, x) for name, part in series_frames(served)}
    lines = []
    for a, ta in tables.items():
        for b, tb in tables.items():
            shared = sorted(set(ta.index) & set(tb.index))
            if a == b or not shared:
                continue
            at = shared[-1]
            ra, rb = ta.loc[at], tb.loc[at]
            bound = ra["bound_rps"]
            if math.isnan(bound) or not math.isclose(bound, rb["bound_rps"], rel_tol=0.01):
                continue
            if ra["starved_clients"] > 0 and tb["starved_clients"].fillna(0).eq(0).all():
                clients = float(at) if x == "clients" else float(rb["clients"])
                lines.append(
                    f"Same bound, no starvation: {b} has {a}'s bound ({_fmt(bound)} req/s at {_at(x, at)}) and"
                    f" serves {_fmt(rb['throughput_rps'])} req/s there, but starves no client at any point"
                    f" ({a}: {int(ra['starved_clients'])} at {_at(x, at)}): a thread held for a connection's"
                    f" life starves the others, a thread held for a request does not. Its p50 there,"
                    f" {ms_text(rb['p50_ms'], bool(rb['p50_low']))},"
                    f" is the wait its turn takes (clients / bound: {_fmt(1000 * clients / bound)} ms)."
                )
    return lines


def lower_bound_note(ok: pd.DataFrame) -> list[str]:
    if not counts_unanswered(ok):
        return [
            "Latency percentiles here cover the answered requests only: this run predates counting "
            "unanswered ones, so a starved client's wait is missing from them."
        ]
    if any(flags(ok, f"{name}_censored").any() for name in ("p50", "p90", "p99", "p999", "max")):
        return [
            "Figures marked >= are lower bounds: the percentile falls on a request still unanswered when "
            "the window closed, counted at its age then; the true latency is at least that."
        ]
    return []


def rate_findings(ok: pd.DataFrame) -> list[str]:
    """For a rate sweep: up to which offered rate each series keeps up, and where it falls behind."""
    lines = []
    keeps = "keeps up (achieved >= 0.95 of offered)"
    for name, (last_ok, behind) in knees(ok).items():
        if last_ok is not None and behind is None:
            said = f"{keeps} at every rate offered, up to {_fmt(last_ok)} bookings/s: no knee in this range"
        elif last_ok is not None and behind is not None:
            said = f"{keeps} up to {_fmt(last_ok)} bookings/s, falls behind from {_fmt(behind)} bookings/s"
        else:
            said = "never keeps up" + (f", falls behind from {_fmt(behind)} bookings/s" if behind else "")
        lines.append(f"Load-latency: {name} {said}.")
    return lines


def what_binds(ok: pd.DataFrame, x: str) -> list[str]:
    """With CPU work per request: for each series, which limit sets its bound where (``bound_by``), and
    how close it came."""
    if not has_work(ok) or "bound_by" not in ok.columns:
        return []
    lines = []
    for name, part in series_frames(ok):
        said = []
        for by, rows in part.groupby(part["bound_by"].fillna(""), sort=False):
            if not by:
                continue
            table = by_x(rows, x)
            where = ", ".join(
                f"{value_text(v)} ({_fmt(r['throughput_rps'])} req/s, {r['efficiency']:.2f})"
                for v, r in table.iterrows()
            )
            said.append(f"{by} at {AXIS_LABELS.get(x, x)} {where}")
        if said:
            lines.append(f"What binds {name} (throughput, share of that bound): " + "; ".join(said) + ".")
    lines += _machine_full(ok, x)
    return lines


def _machine_full(ok: pd.DataFrame, x: str) -> list[str]:
    """CPU-bound points where server and load generator together used nearly every core they share:
    there the machine, not only the bound, cut the figure short."""
    if not {"server_cores", "server_cpus", "server_cpu_pct", "loadgen_cpu_pct"} <= set(ok.columns):
        return []
    if ok["server_cpus"].fillna("").astype(str).str.len().gt(0).any():
        return []  # pinned: each side has cores of its own
    used = ok["server_cpu_pct"].fillna(0) + ok["loadgen_cpu_pct"].fillna(0)
    full = ok[
        ok["bound_by"].fillna("").str.startswith("CPU") & (used >= 0.9 * 100 * ok["server_cores"].fillna(1))
    ]
    if full.empty:
        return []
    where = ", ".join(
        f"{r['series']} at {_at(x, r[x])} ({r['server_cpu_pct']:.0f}% + {r['loadgen_cpu_pct']:.0f}%)"
        for _, r in full.iterrows()
    )
    cores = int(full["server_cores"].max())
    return [
        f"Server and load generator together used 90% or more of the {cores} cores they share ({where}): "
        "there the machine, not only the CPU bound, cut the figure short."
    ]


def findings(results: Results) -> list[str]:
    """The findings of a run or sweep, one bullet each."""
    ok, frame, x = results.ok, results.frame, results.x
    lines: list[str] = []
    chosen = ceiling_of(ok["backend"])
    ceiling = ok[ok["backend"] == chosen].groupby(x)["throughput_rps"].median() if chosen else None
    for name in dict.fromkeys(b for b in ok["backend"] if b in FIXED_ANSWER):  # every ceiling measured
        levels = ok[ok["backend"] == name].groupby(x)["throughput_rps"].median()
        by_value = ", ".join(f"{value_text(c)}: {_fmt(v)}" for c, v in levels.items())
        what = "(calibration target)" if name == "calibrate" else f"({name}, a fixed-answer server)"
        several = len(set(ok["backend"]) & FIXED_ANSWER) > 1
        shares = " (the shares below are of this one)" if name == chosen and several else ""
        lines.append(f"**machine ceiling** {what}, req/s by {AXIS_LABELS.get(x, x)}: {by_value}{shares}.")
    for name, part in series_frames(ok):
        if (~part["backend"].isin(FIXED_ANSWER)).any():
            lines.append(" ".join(series_findings(name, part, ceiling, x)))
    lines += what_binds(ok, x) + starvation(ok, x) + same_bound(ok, x) + comparison(ok, x)
    if is_rate_sweep(results):
        lines += rate_findings(ok)
    lines += lower_bound_note(ok) + noise_findings(results)
    full = ok[flags(ok, "loadgen_saturated")]
    if len(full):
        where = ", ".join(f"{s} at {_at(x, v)}" for s, v in zip(full["series"], full[x], strict=True))
        lines.append(
            f"The load generator was saturated ({where}): there it, not the server, limits the figure."
        )
    for _, row in frame[frame["status"] != "ok"].iterrows():
        lines.append(f"FAILED: {row.get('series', row['backend'])} at {_at(x, row[x])}: {row['reason']}")
    return lines
