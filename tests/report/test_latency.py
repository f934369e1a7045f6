"""The two latency views of a row: every request (lower bounds flagged) and answered only."""

from __future__ import annotations

import math

import pandas as pd

from seatlab.report.latency import counts_unanswered, flags, ms_text, with_latency_views


def test_old_rows_are_read_as_the_answered_only_view() -> None:
    old = pd.DataFrame({"p50_ms": [50.6], "p99_ms": [53.1], "p999_ms": [58.4], "max_ms": [69.0]})
    views = with_latency_views(old)
    assert not counts_unanswered(views)
    assert views.loc[0, "served_p99_ms"] == 53.1 and math.isnan(views.loc[0, "p99_ms"])
    assert not views["p99_censored"].any()


def test_new_rows_keep_both_views_and_read_the_flags_from_csv_text() -> None:
    new = pd.DataFrame(
        {
            "p99_ms": [3500.0, 51.4, 52.0],
            "p99_censored": ["True", "False", math.nan],
            "served_p99_ms": [51.4, 51.4, 52.0],
            "censored": [62, 0, 0],
        }
    )
    views = with_latency_views(new)
    assert counts_unanswered(views)
    assert list(views["p99_ms"]) == [3500.0, 51.4, 52.0]
    assert list(views["p99_censored"]) == [True, False, False]
    assert list(flags(views, "no_such_column")) == [False, False, False]


def test_ms_text_says_when_a_figure_is_a_lower_bound() -> None:
    assert ms_text(3500.0, lower_bound=True) == ">= 3,500 ms"
    assert ms_text(51.44) == "51.4 ms" and ms_text(0.123) == "0.123 ms" and ms_text(math.nan) == "n/a"


def test_a_sweep_of_old_and_new_jobs_reads_each_row_by_its_own_schema() -> None:
    mixed = pd.DataFrame(
        {
            "p99_ms": [53.1, 3500.0],
            "served_p99_ms": [math.nan, 51.4],
            "p99_censored": [math.nan, True],
            "censored": [math.nan, 62],
        }
    )
    views = with_latency_views(mixed)
    assert counts_unanswered(views)
    assert math.isnan(views.loc[0, "p99_ms"]) and views.loc[0, "served_p99_ms"] == 53.1  # the old job
    assert views.loc[1, "p99_ms"] == 3500.0 and views.loc[1, "served_p99_ms"] == 51.4
    assert list(views["p99_censored"]) == [False, True]


def test_a_value_at_the_histograms_ceiling_is_a_lower_bound() -> None:
    # the load generator's histograms hold an hour and clamp what is longer to that
    row = pd.DataFrame(
        {"p99_ms": [55.0], "p999_ms": [3_600_000.0], "p999_censored": [False], "censored": [0]}
    )
    views = with_latency_views(row)
    assert not views.loc[0, "p99_censored"] and views.loc[0, "p999_censored"]


def test_a_sellout_clients_two_minute_wait_is_an_answered_latency_not_a_bound() -> None:
    # the seed experiment: 8 starved clients answered after ~130 s, every request answered in the end
    row = pd.DataFrame(
        {"p99_ms": [71.5], "p999_ms": [131_596.3], "max_ms": [131_792.9], "p999_censored": ["False"],
         "max_censored": ["False"], "censored": [0]}
    )  # fmt: skip
    views = with_latency_views(row)
    assert not views.loc[0, "p999_censored"] and not views.loc[0, "max_censored"]
