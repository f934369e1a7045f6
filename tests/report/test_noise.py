"""The machine's noise in the report: busy points warned about with the thresholds named, the CPU
frequency policy, runs from before schema 8, and the warm-up trend from a per-interval log."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

from hdrh.log import HistogramLogWriter

from seatlab.client.histogram import new_histogram
from seatlab.outputs import PointRow
from seatlab.report.build import build_report
from seatlab.report.noise import OTHERS_BUSY_PCT, TREND, interval_rates, trend
from seatlab.runner.results import write_json, write_points


def quiet(point: int) -> PointRow:
    """A point measured on a quiet machine: other processes 1.5% of a core, load average 0.4."""
    clients = 4 * (point + 1)
    return PointRow(
        point=point, repetition=0, backend="coro", threads=2, delay_ms=10.0, capacity=5000, clients=clients,
        mode="duration", diversity=2, rate=math.nan, connect="persistent", duration_s=3.0,
        throughput_rps=97.5 * clients, bound_rps=100.0 * clients, efficiency=0.975,
        predicted_sellout_s=math.nan, p50_ms=10.3, p99_ms=11.0, censored=0, server_cpus="", loadgen_cpus="",
        status="ok", point_dir=f"{point:02d}-coro-c{clients}", load_avg_start=0.4, load_avg_end=0.9,
        others_cpu_pct=1.5, cpu_governor="performance", cpu_boost="off",
    )  # fmt: skip


def report_of(directory: Path, points: list[PointRow]) -> str:
    directory.mkdir()
    write_points(points, directory / "points.csv")
    write_json(
        {"swept": ["clients"], "machine": {"cores": 2, "logical_cpus": 2}}, directory / "metadata.json"
    )
    build_report(directory)
    return (directory / "report.md").read_text()


def test_a_quiet_machine_gets_no_warning_and_its_figures_are_stated(tmp_path: Path) -> None:
    report = report_of(tmp_path / "run", [quiet(0), quiet(1)])
    assert "WARNING" not in report
    assert "Other processes' CPU during a point: 1.5% of a core (median), at most 1.5%" in report
    assert f"Busy points (other processes above {OTHERS_BUSY_PCT:g}% of one core" in report
    assert "0 of 2." in report and "- CPU frequency: governor performance; boost off." in report


def test_busy_points_are_warned_about_naming_why(tmp_path: Path) -> None:
    points = [quiet(0), replace(quiet(1), others_cpu_pct=35.0), replace(quiet(2), load_avg_start=3.2)]
    report = report_of(tmp_path / "run", points)
    findings = report.split("## Findings")[1].split("## Points")[0]
    assert "WARNING: the machine was busy during 2 of 3 points" in findings
    assert "coro at 8 clients (other processes 35% of a core)" in findings
    assert "coro at 12 clients (load average 3.2 at the start, 2 CPUs)" in findings
    assert "coro at 4 clients" not in findings.split("WARNING")[1]


def test_a_moving_clock_is_named(tmp_path: Path) -> None:
    report = report_of(tmp_path / "run", [replace(quiet(0), cpu_governor="powersave", cpu_boost="on")])
    assert "governor powersave (not performance); boost on: the clock follows load and heat" in report


def test_unreadable_frequency_and_runs_before_schema_8_say_so(tmp_path: Path) -> None:
    report = report_of(tmp_path / "new", [replace(quiet(0), cpu_governor="", cpu_boost="")])
    assert "CPU frequency governor and boost: not readable on this machine." in report
    old = tmp_path / "old"
    report = report_of(old, [quiet(0)])
    frame = (old / "points.csv").read_text().splitlines()
    columns = frame[0].split(",")
    keep = [i for i, c in enumerate(columns) if c not in ("load_avg_start", "load_avg_end", "others_cpu_pct",
                                                          "cpu_governor", "cpu_boost")]  # fmt: skip
    (old / "points.csv").write_text(
        "\n".join(",".join(line.split(",")[i] for i in keep) for line in frame) + "\n"
    )
    build_report(old)
    assert (
        "Not recorded: this run's points.csv predates the machine's noise columns (schema 8)."
        in (old / "report.md").read_text()
    )


def write_interval_log(load: Path, counts: list[int], seconds: float = 0.5, tag: str | None = None) -> Path:
    """A load folder's latency.hlog as the load generator writes it: timestamps in s from the run's start,
    one interval of `seconds` per count, each of that many 10 ms answers (``tag``: ``Tag=...`` lines)."""
    load.mkdir(parents=True, exist_ok=True)
    with (load / "latency.hlog").open("a") as out:
        writer = HistogramLogWriter(out)
        for i, count in enumerate(counts):
            h = new_histogram()
            h.record_value(10_000, count)
            if tag is not None:
                out.write(f"Tag={tag},")
            writer.output_interval_histogram(h, i * seconds or 1e-9, (i + 1) * seconds)
    return load


def test_the_trend_over_an_interval_log(tmp_path: Path) -> None:
    rising = write_interval_log(tmp_path / "rising", [150, 160, 172, 181, 190, 200, 205, 212])
    rates = interval_rates(rising)
    assert len(rates) == 8 and rates[0][1] == 300.0  # 150 answers in 0.5 s
    fitted = trend(rates)
    assert fitted is not None and fitted.trending and fitted.change > TREND
    flat = write_interval_log(tmp_path / "flat", [200, 198, 203, 199, 201, 200, 202, 199])
    steady = trend(interval_rates(flat))
    assert steady is not None and not steady.trending
    assert interval_rates(tmp_path / "none") == []


def test_the_trend_fits_the_served_lines_of_the_window_only(tmp_path: Path) -> None:
    """The warm-up ramps up (20, 90 answers) and the window is flat: not a trend, once intervals.csv
    says where the window opens; the untagged every-request lines are not the answers."""
    load = write_interval_log(tmp_path / "load", [9999] * 6)  # untagged: not what is counted
    write_interval_log(load, [20, 90, 200, 198, 203, 199, 201, 200], tag="served")
    assert trend(interval_rates(load)).trending  # without the window: the ramp
    rows = ["interval,start_s,end_s,window"]
    rows += [f"{k - 2},{k * 0.5},{(k + 1) * 0.5},{int(k >= 2)}" for k in range(8)]
    (load / "intervals.csv").write_text("\n".join(rows) + "\n")
    rates = interval_rates(load)
    assert [r for _, r in rates] == [400.0, 396.0, 406.0, 398.0, 402.0, 400.0]
    assert not trend(rates).trending


def test_the_report_flags_a_point_still_warming_up_or_says_it_could_not_check(tmp_path: Path) -> None:
    report = report_of(tmp_path / "plain", [quiet(0)])
    assert "Warm-up check not run: it needs per-interval counts (load/latency.hlog)" in report
    run = tmp_path / "logged"
    write_interval_log(run / "points" / "00-coro-c4" / "load", [100, 130, 160, 190, 220])
    report = report_of_existing(run, [quiet(0)])
    assert "WARNING: throughput still moving across the window (not warmed up?): coro at 4 clients" in report


def report_of_existing(directory: Path, points: list[PointRow]) -> str:
    write_points(points, directory / "points.csv")
    write_json({"swept": ["clients"], "machine": {"cores": 2}}, directory / "metadata.json")
    build_report(directory)
    return (directory / "report.md").read_text()
