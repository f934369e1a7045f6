"""Pinned cores: how ``cpus.server`` / ``cpus.loadgen`` resolve, what they refuse, and that a real run's
server (every thread) and load processes carry the masks (read back from ``/proc/<pid>/status``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import psutil
import pytest

from runner.test_cli import latest, seatlab
from seatlab.harness.process import pinned
from seatlab.runner.cpus import Pinning, cpu_ranges, resolve_pinning
from seatlab.runner.schema import ConfigError

SIXTEEN = range(16)


def allowed(status: Path) -> str:
    """``Cpus_allowed_list`` of a /proc status file."""
    for line in status.read_text().splitlines():
        if line.startswith("Cpus_allowed_list:"):
            return line.split(":", 1)[1].strip()
    raise AssertionError(f"no Cpus_allowed_list in {status}")


@pytest.mark.parametrize(
    ("server", "loadgen", "available", "expected"),
    [
        (
            "auto",
            "auto",
            SIXTEEN,
            Pinning(tuple(range(8)), tuple(range(8, 16)), "server on CPUs 0-7, load on 8-15"),
        ),
        ("auto", "auto", [0, 1], Pinning(None, None, "server and load generator share 2 cores")),
        ("auto", "auto", [0, 1, 2], Pinning(None, None, "server and load generator share 3 cores")),
        ("auto", "auto", [2, 3, 6, 7], Pinning((2, 3), (6, 7), "server on CPUs 2-3, load on 6-7")),
        ([0], "auto", [0, 1, 2, 3], Pinning((0,), (1, 2, 3), "server on CPU 0, load on 1-3")),
        ("auto", [3], [0, 1, 2, 3], Pinning((0, 1, 2), (3,), "server on CPUs 0-2, load on 3")),
        ([0, 1], [0, 1], [0, 1], Pinning((0, 1), (0, 1), "server and load generator share CPUs 0-1")),
        ([1], None, [0, 1], Pinning((1,), None, "server on CPU 1, load unpinned")),
        (None, None, SIXTEEN, Pinning(None, None, "server and load generator share 16 cores")),
    ],
)
def test_auto_splits_four_or_more_cpus_and_lists_are_taken_as_given(
    server: object, loadgen: object, available: range | list[int], expected: Pinning
) -> None:
    assert resolve_pinning(server, loadgen, available) == expected


@pytest.mark.parametrize(
    ("server", "loadgen", "key", "words"),
    [
        ([-1], "auto", "cpus.server", "integers >= 0"),
        ([0, 9], "auto", "cpus.server", "CPU 9 is not available to this process (available: 0-3)"),
        ("auto", [7], "cpus.loadgen", "CPU 7 is not available"),
        ([], "auto", "cpus.server", "empty"),
        ("half", "auto", "cpus.server", "expected a list of CPU ids, auto or null"),
        ([True], "auto", "cpus.server", "integers >= 0"),
        ([0, 1], [1, 2], "cpus.loadgen", "overlaps cpus.server on CPU 1"),
        ([0, 1, 2, 3], "auto", "cpus.loadgen", "no CPU left"),
    ],
)
def test_wrong_ids_name_the_key(server: object, loadgen: object, key: str, words: str) -> None:
    with pytest.raises(ConfigError) as caught:
        resolve_pinning(server, loadgen, [0, 1, 2, 3])
    assert caught.value.key == key and words in str(caught.value)


def test_cpu_ranges_read_like_the_kernel_writes_them() -> None:
    assert cpu_ranges([0, 1, 2, 3, 5, 8, 9]) == "0-3,5,8-9" and cpu_ranges([4]) == "4"


def test_pinned_changes_this_thread_for_a_while_and_restores_it() -> None:
    before = os.sched_getaffinity(0)
    target = {min(before)}
    with pinned(target):
        assert os.sched_getaffinity(0) == target
        child = subprocess.run(
            [sys.executable, "-c", "import os; print(sorted(os.sched_getaffinity(0)))"],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        assert child.stdout.strip() == str(sorted(target))  # a process started meanwhile inherits it
    assert os.sched_getaffinity(0) == before


def test_a_cpu_this_process_cannot_use_fails_the_config_check(tmp_path: Path) -> None:
    done = seatlab(tmp_path, "backend=coro", "cpus.server=[4096]")
    assert done.returncode == 2
    assert "cpus.server: CPU 4096 is not available to this process" in done.stderr


@pytest.mark.skipif(not {0, 1} <= os.sched_getaffinity(0), reason="needs CPUs 0 and 1 available")
def test_a_pinned_run_puts_the_server_and_the_load_processes_on_their_cpus(tmp_path: Path) -> None:
    args = ["backend=tpool", "cpus.server=[0]", "cpus.loadgen=[1]", "clients=[4]", "diversity=2"]
    args += ["delay=5", "warmup=0.2", "duration=2.5", f"results_dir={tmp_path / 'results'}"]
    log = tmp_path / "seatlab.stderr"  # a file, not a pipe: nothing blocks while the test polls
    with open(log, "wb") as sink:
        run = subprocess.Popen([sys.executable, "-m", "seatlab", *args], cwd=tmp_path, stderr=sink)
    seen: dict[str, set[str]] = {"server": set(), "server threads": set(), "load": set()}
    try:
        deadline = time.monotonic() + 60
        while run.poll() is None and time.monotonic() < deadline and not (seen["server"] and seen["load"]):
            for proc in psutil.Process(run.pid).children(recursive=True):
                try:
                    cmdline = " ".join(proc.cmdline())
                    if "seatlab.server" in cmdline:
                        seen["server"].add(allowed(Path(f"/proc/{proc.pid}/status")))
                        tasks = Path(f"/proc/{proc.pid}/task").glob("*/status")
                        seen["server threads"] |= {allowed(task) for task in tasks}
                    elif "seatlab.client.process_entry" in cmdline:
                        seen["load"].add(allowed(Path(f"/proc/{proc.pid}/status")))
                except (psutil.Error, FileNotFoundError, ProcessLookupError):
                    continue
            time.sleep(0.05)
        run.wait(timeout=60)
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
    assert run.returncode == 0, log.read_text()
    assert seen == {"server": {"0"}, "server threads": {"0"}, "load": {"1"}}
    result = latest(tmp_path)
    cpus = json.loads((result / "metadata.json").read_text())["cpus"]
    assert cpus == {"server": [0], "loadgen": [1], "description": "server on CPU 0, load on 1"}
    points = pd.read_csv(result / "points.csv", dtype={"server_cpus": str, "loadgen_cpus": str})
    assert list(points["server_cpus"]) == ["0"] and list(points["loadgen_cpus"]) == ["1"]


def test_auto_is_recorded_and_an_unpinned_run_says_so_once(tmp_path: Path) -> None:
    done = seatlab(tmp_path, "backend=calibrate", "clients=[1,2]", "delay=0", "duration=0.2", "warmup=0.05")
    assert done.returncode == 0, done.stderr
    cpus = json.loads((latest(tmp_path) / "metadata.json").read_text())["cpus"]
    available = sorted(os.sched_getaffinity(0))
    assert cpus == resolve_pinning("auto", "auto").to_json()
    if len(available) < 4:
        assert cpus["server"] is None and cpus["loadgen"] is None
        assert (
            done.stderr.count(f"CPUs not pinned: server and load generator share {len(available)} cores") == 1
        )
    else:
        assert cpus["server"] == available[: len(available) // 2] and "CPUs not pinned" not in done.stderr


def test_the_config_resolves_its_cpus_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """``auto`` reads the CPUs available once: a later read (the load generator pinned to its half,
    say) does not change where a point's server runs (issue 18.4)."""
    from omegaconf import OmegaConf

    from seatlab.runner.schema import SeatlabConfig, load_config

    available = [[0, 1, 2, 3]]
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(available[0]))
    config = load_config(OmegaConf.merge(OmegaConf.structured(SeatlabConfig), {"backend": {"tpool": {}}}))
    first = config.pinning
    assert first == Pinning((0, 1), (2, 3), "server on CPUs 0-1, load on 2-3")
    available[0] = [2, 3]  # as seen from inside pinned(loadgen)
    assert config.pinning == first
