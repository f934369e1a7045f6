"""The plots follow the swept keys: x is the first, one line per value of the second, the bound for any."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from seatlab.report.build import build_report
from seatlab.report.collect import load_results
from seatlab.report.plots import throughput_figure


def _line(ax, label: str) -> dict[float, float]:  # a drawn line's points, by label
    line = next(line for line in ax.get_lines() if line.get_label() == label)
    return dict(zip(map(float, line.get_xdata()), map(float, line.get_ydata()), strict=True))


def _threads_sweep(runs) -> Path:
    points = []
    for threads in (1, 2, 4, 8, 16):
        for backend in ("tpool", "coro"):
            point = runs.closed_loop_point(backend, 64, threads=threads)
            point.columns["point_dir"] = f"{backend}-t{threads}"
            points.append(point)
    return runs.write("threads", points, swept=["threads"])


def test_a_threads_sweep_has_threads_on_x_and_each_backends_bound(runs) -> None:
    results = load_results(_threads_sweep(runs))
    assert results.x == "threads"
    ax = throughput_figure(results).axes[0]
    assert ax.get_xlabel() == "threads"
    tpool, coro = _line(ax, "tpool: measured"), _line(ax, "coro: measured")
    assert list(tpool) == [1, 2, 4, 8, 16] and list(tpool.values()) == sorted(tpool.values())  # rises
    assert max(coro.values()) == pytest.approx(min(coro.values()))  # flat: every client in service
    assert _line(ax, "tpool: Little's law bound")[16] == pytest.approx(320.0)  # 16 threads / 50 ms
    assert _line(ax, "coro: Little's law bound")[1] == pytest.approx(1280.0)  # 64 clients / 50 ms
    notes = [text.get_text() for text in ax.texts]
    assert "63/64 starved" in notes and "48/64 starved" in notes


def test_a_second_swept_key_makes_one_line_per_value(runs, pngs: Callable[[Path], set[str]]) -> None:
    points = []
    for delay in (10.0, 50.0):
        for clients in (1, 4, 16):
            for backend in ("tpool", "coro"):
                point = runs.closed_loop_point(backend, clients, delay_ms=delay)
                point.columns["point_dir"] = f"{backend}-c{clients}-d{delay:g}"
                points.append(point)
    run = runs.write("two", points, swept=["clients", "delay_ms"])
    results = build_report(run)
    assert list(dict.fromkeys(results.frame["series"])) == [
        "tpool delay_ms=10",
        "coro delay_ms=10",
        "tpool delay_ms=50",
        "coro delay_ms=50",
    ]
    ax = throughput_figure(results).axes[0]
    assert _line(ax, "coro delay_ms=10: measured")[16] == pytest.approx(1600.0)  # 16 / 10 ms
    assert _line(ax, "coro delay_ms=50: measured")[16] == pytest.approx(320.0)
    assert {"throughput.png", "latency.png", "percentiles.png", "cpu.png"} <= pngs(run)


def test_old_runs_without_swept_use_clients(legacy_run: Path) -> None:
    assert load_results(legacy_run).x == "clients"


def test_a_single_point_run_still_draws_every_plot(runs, pngs: Callable[[Path], set[str]]) -> None:
    run = runs.write("single", [runs.closed_loop_point("tpool", 4)], swept=["clients"])
    build_report(run)
    assert pngs(run) == {"throughput.png", "latency.png", "percentiles.png", "cpu.png"}
