"""The report names a server's worker processes (issue 19) and the Python its servers ran on, and reads
runs from before either was recorded as one process."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from seatlab.report.build import build_report, table
from seatlab.report.collect import load_results
from seatlab.report.figure import params_text, subtitle
from seatlab.report.findings import findings
from seatlab.report.plots import throughput_figure

RunFolders = Any  # conftest's RunFolders (the `runs` fixture), not imported: tests/report is no package


def with_workers(runs: RunFolders, workers: list[int], clients: tuple[int, ...] = (4, 16)) -> list[Any]:
    """coro's closed-loop points at each worker count and client count."""
    points = []
    for n in workers:
        for c in clients:
            point = runs.closed_loop_point("coro", c)
            point.columns["workers"] = n
            points.append(point)
    return points


def legend(results_dir: Path) -> list[str]:
    fig = throughput_figure(load_results(results_dir))
    return [text.get_text() for text in fig.axes[0].get_legend().get_texts()]


def test_a_run_from_before_workers_reads_as_one_process_and_says_nothing_of_them(legacy_run: Path) -> None:
    assert "workers" not in pd.read_csv(legacy_run / "points.csv").columns
    results = load_results(legacy_run)
    assert (results.frame["workers"] == 1).all()
    assert list(results.frame.columns).index("workers") == list(results.frame.columns).index("threads") + 1
    assert "worker" not in params_text(results.frame) and "worker" not in table(results)
    assert "worker" not in " ".join(findings(results)) and "Python" not in subtitle(results, results.ok)


def test_workers_swept_beside_clients_draw_one_line_per_count(runs: RunFolders) -> None:
    run = runs.write("run", with_workers(runs, [1, 2]), swept=["clients", "workers"])
    assert legend(run) == [
        "coro 1 worker: measured", "coro 1 worker: Little's law bound",
        "coro 2 workers: measured", "coro 2 workers: Little's law bound",
    ]  # fmt: skip
    said = " ".join(findings(load_results(run)))
    assert "**coro 1 worker**:" in said and "**coro 2 workers**:" in said
    assert "| workers |" in table(load_results(run))


def test_workers_as_the_x_axis(runs: RunFolders) -> None:
    run = runs.write("run", with_workers(runs, [1, 2, 4], clients=(16,)), swept=["workers"])
    results = load_results(run)
    assert set(results.frame["series"]) == {"coro"}  # the axis names the workers, not the lines
    fig = throughput_figure(results)
    assert fig.axes[0].get_xlabel() == "server worker processes"
    assert "at 4 workers" in " ".join(findings(results))


def test_one_count_of_workers_not_1_is_in_the_subtitle_and_the_table(runs: RunFolders) -> None:
    run = runs.write("run", with_workers(runs, [2]), swept=["clients"])
    results = load_results(run)
    assert "threads 2, 2 workers, capacity 5000" in subtitle(results, results.ok)
    assert "| workers |" in table(results) and "| coro | 4 | 2 |" in table(results)


def test_workers_that_differ_but_are_not_swept_still_name_the_lines(runs: RunFolders) -> None:
    # e.g. a combined.csv without the run's metadata: the lines would otherwise merge both counts
    run = runs.write("run", with_workers(runs, [1, 3]), swept=None)
    assert set(load_results(run).frame["series"]) == {"coro 1 worker", "coro 3 workers"}


def test_the_subtitles_and_the_report_name_the_servers_python(runs: RunFolders) -> None:
    points = with_workers(runs, [1])
    for point in points:
        point.columns.update(
            server_python="/opt/py313t/bin/python", server_python_version="3.10.12", server_gil="off"
        )
    run = runs.write("run", points, swept=["clients"])
    metadata = json.loads((run / "metadata.json").read_text())
    metadata["server_python"] = {"path": "/opt/py313t/bin/python", "version": "3.10.12", "gil": "off"}
    (run / "metadata.json").write_text(json.dumps(metadata))
    results = build_report(run)
    assert results.frame["server_python_version"].tolist() == ["3.10.12", "3.10.12"]  # text, not 3.1
    machine = subtitle(results, results.ok).splitlines()[1]
    assert (
        machine
        == "Test CPU @ 2.20GHz - server and load generator share 2 cores - server on Python 3.10.12, GIL off"
    )
    report = (run / "report.md").read_text()
    assert "server on Python 3.10.12, GIL off" in report and "ran on /opt/py313t/bin/python" in report


@pytest.mark.parametrize("stored", [True, False])
def test_the_python_comes_from_the_rows_else_from_the_metadata(runs: RunFolders, stored: bool) -> None:
    run = runs.write("run", with_workers(runs, [1]), swept=["clients"])
    if stored:
        metadata = json.loads((run / "metadata.json").read_text())
        metadata["server_python"] = {"path": "", "version": "3.12.1", "gil": "on"}
        (run / "metadata.json").write_text(json.dumps(metadata))
    results = load_results(run)
    said = subtitle(results, results.ok)
    assert ("server on Python 3.12.1, GIL on" in said) is stored
