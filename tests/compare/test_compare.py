"""``python -m seatlab.compare``: the same data is no significant difference, a five-fold slowdown over
repetitions is significant, the gate fails only on it, and what matches nothing is named."""

from __future__ import annotations

from pathlib import Path

import pytest

from compare.runs import point_rows, write_multirun, write_run
from seatlab.compare.__main__ import main

# five repetitions at 4 clients: delay 10 ms gives about 400 req/s, delay 50 ms about 80 (Little's law)
FAST = [396.0, 401.5, 389.0, 398.2, 392.7]
FAST_AGAIN = [393.1, 399.0, 402.2, 390.5, 395.8]  # the same machine, the same point, another run
SLOW = [79.1, 80.2, 78.4, 79.8, 80.5]


def run(
    tmp_path: Path, name: str, throughputs: list[float], delay_ms: float = 10.0, clients: int = 4
) -> Path:
    return write_run(tmp_path / name, point_rows(throughputs, delay_ms=delay_ms, clients=clients))


def lines_of(out: str, metric: str) -> list[str]:
    return [line for line in out.splitlines() if f"| {metric}" in line]


def test_two_runs_of_the_same_point_are_no_significant_difference(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a, b = run(tmp_path, "a", FAST), run(tmp_path, "b", FAST_AGAIN)
    assert main([str(a), str(b), "--fail-if-slower", "5"]) == 0
    out = capsys.readouterr().out
    for metric in ("throughput req/s", "efficiency", "p50 ms", "p99 ms"):
        (line,) = lines_of(out, metric)
        assert "not significant" in line and "significant:" not in line, line
    assert "Not significant (4): coro clients=4 throughput req/s" in out
    assert "Points matched by: backend, clients" in out
    assert "Gate --fail-if-slower 5%: passed" in out


def test_delay_50_against_delay_10_is_significant_and_fails_the_gate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a, b = run(tmp_path, "a", FAST), run(tmp_path, "b", SLOW, delay_ms=50.0)
    assert main([str(a), str(b), "--fail-if-slower", "5"]) == 1
    out = capsys.readouterr().out
    (throughput,) = lines_of(out, "throughput req/s")
    assert "significant: B 4.9" in throughput and "x slower" in throughput, throughput
    (p50,) = lines_of(out, "p50 ms")
    assert "significant: B 4.9" in p50 and "x slower" in p50  # latency up: slower
    # the ratio's interval is printed beside the ratio of the medians, 79.8 / 396
    assert "0.202 [" in throughput
    assert "FAILED, B's throughput significantly slower: coro clients=4 0.202 [" in out
    # the other way round B is faster: the gate passes
    assert main([str(b), str(a), "--fail-if-slower", "5"]) == 0
    out = capsys.readouterr().out
    assert "significant: B 4.9" in lines_of(out, "throughput req/s")[0] and "x faster" in out


def test_the_gate_allows_a_slowdown_smaller_than_its_percentage(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a = run(tmp_path, "a", FAST)
    b = run(tmp_path, "b", [t * 0.95 for t in FAST])  # 5% slower, significantly (the same spread)
    assert main([str(a), str(b), "--fail-if-slower", "10"]) == 0
    assert "significant: B 1.05x slower" in lines_of(capsys.readouterr().out, "throughput req/s")[0]
    assert main([str(a), str(b), "--fail-if-slower", "2"]) == 1


def test_points_that_match_nothing_are_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a = write_run(tmp_path / "a", point_rows(FAST) + point_rows(SLOW, clients=16, start=5))
    b = write_run(tmp_path / "b", point_rows(FAST_AGAIN) + point_rows(SLOW, clients=64, start=5))
    assert main([str(a), str(b)]) == 0
    out = capsys.readouterr().out
    assert "Only in A (1): coro clients=16" in out and "Only in B (1): coro clients=64" in out
    assert len(lines_of(out, "throughput req/s")) == 1  # only clients=4 is in the table


def test_failed_points_are_named_not_compared(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a = run(tmp_path, "a", FAST)
    b = write_run(tmp_path / "b", point_rows(FAST_AGAIN[:3]) + point_rows([1.0], status="failed", start=3))
    assert main([str(a), str(b)]) == 0
    out = capsys.readouterr().out
    assert "Failed in B (1): coro clients=4: server exited 1" in out
    assert "(3)" in lines_of(out, "throughput req/s")[0]  # B's three ok repetitions


def test_one_repetition_per_side_says_there_is_no_interval_and_the_gate_cannot_judge(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a, b = run(tmp_path, "a", FAST[:1]), run(tmp_path, "b", SLOW[:1], delay_ms=50.0)
    assert main([str(a), str(b), "--fail-if-slower", "5"]) == 0
    out = capsys.readouterr().out
    assert "one run per side: no interval" in lines_of(out, "throughput req/s")[0]
    assert "1 point(s) not judged, one run on a side: coro clients=4" in out


def test_a_multirun_is_matched_job_by_job_on_what_varies_within_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a = write_multirun(
        tmp_path / "a",
        {"delay=10": point_rows(FAST), "delay=50": point_rows(SLOW, delay_ms=50.0)},
    )
    b = run(tmp_path, "b", FAST_AGAIN)
    assert main([str(a), str(b)]) == 0
    out = capsys.readouterr().out
    assert "Points matched by: backend, clients, delay_ms" in out
    assert "not significant" in lines_of(out, "throughput req/s")[0]
    assert "coro clients=4 delay_ms=10" in out and "Only in A (1): coro clients=4 delay_ms=50" in out


def test_plot_draws_both_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a, b = run(tmp_path, "a", FAST), run(tmp_path, "b", SLOW, delay_ms=50.0)
    assert main([str(a), str(b), "--plot", str(tmp_path / "ab.png")]) == 0
    assert (tmp_path / "ab.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert f"Plot: {tmp_path / 'ab.png'}" in capsys.readouterr().out


def test_bad_input_exits_2_naming_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = run(tmp_path, "good", FAST)
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main([str(good), str(empty)]) == 2
    assert f"B: {empty}: no points.csv" in capsys.readouterr().err
    other = tmp_path / "other"
    other.mkdir()
    (other / "points.csv").write_text("name,seconds\nbench,1.5\n")
    assert main([str(other), str(good)]) == 2
    err = capsys.readouterr().err
    assert (
        f"A: {other / 'points.csv'}: not a seatlab points.csv" in err and "no column backend, status" in err
    )
    assert main([str(good), str(tmp_path / "missing")]) == 2
    assert "not a directory" in capsys.readouterr().err
