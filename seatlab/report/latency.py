"""Which latency figures a row has, and which of them are lower bounds.

Since points.csv schema 2, ``p50_ms`` ... ``max_ms`` cover every request:
one still unanswered when the window closed counts at its age then, and a
percentile that falls on such a request is only a lower bound
(``p99_censored`` true). ``served_*`` keep the answered-only view. Runs
from before that (no ``censored`` column) have the answered-only view
alone, in the unprefixed columns: they are read here as served figures, so
nothing drawn from them claims to cover the requests that never got an
answer.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from seatlab import outputs
from seatlab.client.histogram import HIGHEST_US

# The load generator's histograms clamp what is longer than their range (an hour since schema 2, which
# is every row with a ``censored`` count): a value at that ceiling is only a lower bound too. A longer
# wait below it (a sell-out client answered after 130 s) is an answered latency, not a bound.
HISTOGRAM_CEILING_MS = HIGHEST_US / 1000.0 * 0.999

PERCENTILES: tuple[tuple[str, str], ...] = tuple((p.name, p.label) for p in outputs.PERCENTILES)


def counts_unanswered(frame: pd.DataFrame) -> bool:
    """True when the rows' default percentiles cover every request (schema 2 on), in some row at least."""
    return "censored" in frame.columns and bool(frame["censored"].notna().any())


def with_latency_views(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with both views filled in: ``served_*`` always, ``p*_ms`` NaN where not measured.

    Old rows' percentiles (no ``censored`` count: schema 1, or an old job
    in a sweep beside new ones) move to ``served_*``; their all-request
    columns become NaN and their ``*_censored`` flags False, so a plot
    draws them as what they are.
    """
    frame = frame.copy()
    old = frame["censored"].isna() if "censored" in frame.columns else pd.Series(True, index=frame.index)
    for name, _ in PERCENTILES:
        column, served = f"{name}_ms", f"served_{name}_ms"
        if column not in frame.columns:
            frame[column] = math.nan
        if served not in frame.columns:
            frame[served] = math.nan
        frame[served] = frame[served].where(~old, frame[column])
        frame[column] = frame[column].where(~old, math.nan)
        clamped = frame[column].fillna(0) >= HISTOGRAM_CEILING_MS
        frame[f"{name}_censored"] = (censored_flags(frame, name) & ~old) | clamped
    return frame


def censored_flags(frame: pd.DataFrame, name: str) -> pd.Series:
    """``{name}_censored`` as booleans."""
    return flags(frame, f"{name}_censored")


def flags(frame: pd.DataFrame, column: str) -> pd.Series:
    """A true/false column as booleans (the CSV holds True/False; missing or empty counts as False)."""
    if column not in frame.columns:
        return pd.Series(False, index=frame.index)
    return frame[column].map(_truth).astype(bool)


def _truth(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes")
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return False
    return bool(value)


def ms_text(value: float, lower_bound: bool = False) -> str:
    """A latency for prose and tables: ``>= 3,000 ms`` when it is a lower bound."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    text = f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}" if abs(value) < 10 else f"{value:.1f}"
    return (">= " if lower_bound else "") + text + " ms"
