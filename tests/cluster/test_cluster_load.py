"""Load generators on other hosts: real namespace hosts, a real Ray cluster, the real runner and server."""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from netns import RayCluster, on_host

pytestmark = pytest.mark.timeout(600)  # the session's cluster is made inside the first test's time

HEAD, LOAD = "198.18.0.1", {"198.18.0.2", "198.18.0.3"}


def only_run(results: Path) -> Path:
    (run,) = (results / "runs").glob("*/*")
    return run


def test_the_load_runs_on_two_other_hosts_and_merges_with_their_rtt_in_the_bound(
    cluster: RayCluster, tmp_path: Path
) -> None:
    done = on_host(cluster, 0, [
        sys.executable, "-m", "seatlab", "backend=coro", "clients=[4]", "delay=5", "duration=1", "warmup=0.3",
        "load.hosts=2", f"ray.address={cluster.address}", f"results_dir={tmp_path}",
    ], cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    run = only_run(tmp_path)
    row = pd.read_csv(run / "points.csv").iloc[0]
    assert row["status"] == "ok", row["reason"]
    # the hosts are named, and none of them is the server's
    named = {h.split("@")[1] for h in row["load_hosts"].split(";")}
    assert named == LOAD
    summary = json.loads(next(run.glob("points/*/load/summary.json")).read_text())
    hosts = summary["load_hosts"]
    assert sorted(w for h in hosts for w in h["workers"]) == [0, 1]  # each host ran one load process
    assert sum(h["clients"] for h in hosts) == 4
    assert all(h["shared_clock"] for h in hosts)  # namespaces share one kernel: one clock, exactly
    # every client of both hosts is in the merged result, and the audit covered them together
    clients = pd.read_csv(next(run.glob("points/*/load/clients.csv")))
    assert sorted(clients["client"]) == [0, 1, 2, 3]
    assert summary["audit"]["ok"] is True and summary["answers"] > 0
    # Little's law with the round trip: C / (delay + RTT)
    rtt = row["rtt_ms"]
    assert 0 < rtt < 50
    assert math.isclose(row["bound_rps"], 4 / ((5 + rtt) / 1000), rel_tol=1e-9)
    metadata = json.loads((run / "metadata.json").read_text())
    assert {h["ip"] for h in metadata["cluster"]["load_hosts"]} == LOAD
    assert metadata["cluster"]["server_node"] == HEAD
    # the report names the hosts and their round trip
    report = (run / "report.md").read_text()
    assert "198.18.0.2" in report and "RTT" in report


PROBE = """
import socket, statistics, sys, time
trips = []
for _ in range(41):
    with socket.socket() as c:
        t = time.perf_counter_ns()
        c.connect((sys.argv[1], int(sys.argv[2])))
        trips.append(time.perf_counter_ns() - t)
    time.sleep(0.005)
print(statistics.median(trips) / 1e6)
"""
LISTENER = """
import socket, sys, time
s = socket.create_server((sys.argv[1], 0), backlog=128)
print(s.getsockname()[1], flush=True)
time.sleep(60)
"""


def test_the_rtt_is_what_the_namespaces_give(cluster: RayCluster, tmp_path: Path) -> None:
    """The report's RTT against an independent measurement between the same two namespaces."""
    listener = subprocess.Popen(cluster.hosts.command(0, [sys.executable, "-c", LISTENER, HEAD]),
                                stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert listener.stdout is not None
        port = listener.stdout.readline().strip()
        probe = on_host(cluster, 1, [sys.executable, "-c", PROBE, HEAD, port], cwd=tmp_path, timeout_s=60)
    finally:
        listener.kill()
        listener.wait()
    assert probe.returncode == 0, probe.stderr[-2000:]
    independent_ms = float(probe.stdout.split()[-1])
    done = on_host(cluster, 0, [
        sys.executable, "-m", "seatlab", "backend=event", "clients=[2]", "delay=0", "duration=0.5",
        "warmup=0.2", "load.hosts=1", f"ray.address={cluster.address}", f"results_dir={tmp_path}",
    ], cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    row = pd.read_csv(only_run(tmp_path) / "points.csv").iloc[0]
    # a veth round trip is tens of microseconds; a loaded machine stretches both measurements alike,
    # so the bounds are wide: what must not happen is a figure of another kind (a Ray call: milliseconds)
    assert row["rtt_ms"] < max(10 * independent_ms, 2.0)
    assert row["rtt_ms"] > independent_ms / 10
    # with no delay, the round trip alone bounds each client: C / RTT
    assert math.isclose(row["bound_rps"], 2 / (row["rtt_ms"] / 1000), rel_tol=1e-9)


def test_a_seat_confirmed_to_clients_on_two_hosts_fails_the_run(cluster: RayCluster, tmp_path: Path) -> None:
    here = Path(__file__).parent
    done = on_host(cluster, 0, [sys.executable, str(here / "cross_host_audit.py"), HEAD, cluster.address],
                   cwd=tmp_path, timeout_s=120)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    outcome = json.loads(done.stdout.strip().splitlines()[-1])
    assert outcome["audit"] == "failed"
    # client 0 ran on one host, client 1 on the other: the live ledger saw both
    by_client = {h["workers"][0]: h["ip"] for h in outcome["load_hosts"]}
    assert set(by_client.values()) == LOAD
    assert re.search(r"seat 1 confirmed to uuid \S+ \(client (0|1)\) while uuid \S+ \(client (?!\1)(0|1)\)",
                     outcome["message"])  # fmt: skip


def test_a_cluster_with_too_few_nodes_is_refused_by_name(cluster: RayCluster, tmp_path: Path) -> None:
    started = time.monotonic()
    done = on_host(cluster, 0, [
        sys.executable, "-m", "seatlab", "backend=coro", "clients=[2]", "load.hosts=3",
        f"ray.address={cluster.address}", f"results_dir={tmp_path}",
    ], cwd=tmp_path)  # fmt: skip
    assert done.returncode == 1
    assert "load.hosts=3: the Ray cluster has 2 node(s) besides the runner's own" in done.stderr
    assert not list(tmp_path.glob("runs/*/*/points"))  # refused before any point
    assert time.monotonic() - started < 120


def test_netem_delay_shows_in_the_latency(cluster: RayCluster, tmp_path: Path) -> None:
    added = on_host(cluster, 1, ["tc", "qdisc", "add", "dev", "eth0", "root", "netem", "delay", "20ms"],
                    cwd=tmp_path)  # fmt: skip
    if added.returncode != 0:
        pytest.skip(f"this kernel cannot add a netem delay: {added.stderr.strip()}")
    try:
        done = on_host(cluster, 0, [
            sys.executable, "-m", "seatlab", "backend=event", "clients=[2]", "delay=0", "duration=0.5",
            "warmup=0.2", "load.hosts=1", f"ray.address={cluster.address}", f"results_dir={tmp_path}",
        ], cwd=tmp_path)  # fmt: skip
        assert done.returncode == 0, done.stderr[-3000:]
        row = pd.read_csv(only_run(tmp_path) / "points.csv").iloc[0]
        assert row["rtt_ms"] >= 15 and row["p50_ms"] >= 15
    finally:
        on_host(cluster, 1, ["tc", "qdisc", "del", "dev", "eth0", "root"], cwd=tmp_path)
