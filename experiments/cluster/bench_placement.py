"""Where the load runs, at delay 0: shared cores, pinned apart, or on another (namespace) host.

``sudo .venv/bin/python experiments/cluster/bench_placement.py [--rounds 3] [--clients 16]``
(root: it makes two network namespaces and a Ray cluster across them, like the tests, and
always takes them down). Each round runs the same point three ways, interleaved so a
neighbour's load hits every placement alike:

- ``shared``: server and load generator unpinned on this machine's cores (``cpus.server=null``);
- ``pinned``: server on CPU 0, load on CPU 1 (``cpus.server=[0] cpus.loadgen=[1]``);
- ``remote``: the server on host 0, the load on host 1 through Ray (``load.hosts=1``); on one
  machine the "hosts" are namespaces on the same cores, so this measures the cost of the path
  (veth + Ray relay), not a second machine's capacity.

Prints one markdown table: median throughput per placement and its ratio to ``shared``, with the
server's and the load generator's CPU (percent of one core) beside it, and the round trip that
``remote`` measured. Every run's folder stays under ``--results``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "cluster"))
from netns import RayCluster, TestHosts  # noqa: E402

PLACEMENTS = {
    "shared": ["cpus.server=null", "cpus.loadgen=null"],
    "pinned": ["cpus.server=[0]", "cpus.loadgen=[1]"],
    "remote": ["cpus.server=null", "cpus.loadgen=null", "load.hosts=1"],
}


def run(cluster: RayCluster, args: argparse.Namespace, name: str, results: Path) -> dict[str, float]:
    extra = PLACEMENTS[name] + ([f"ray.address={cluster.address}"] if name == "remote" else [])
    out = results / name
    argv = [
        sys.executable, "-m", "seatlab", f"backend={args.backend}", "delay=0", "threads=1", "diversity=1",
        f"clients=[{args.clients}]", f"duration={args.duration}", "warmup=1", f"results_dir={out}", *extra,
    ]  # fmt: skip
    # every placement starts from host 0's namespace, so the server's side of the path is the same
    done = subprocess.run(cluster.hosts.command(0, argv), env=cluster.env | {"PYTHONPATH": str(REPO)},
                          capture_output=True, text=True, check=False)  # fmt: skip
    if done.returncode != 0:
        raise SystemExit(f"{name} failed ({done.returncode}): {done.stderr[-2000:]}")
    latest = max((out / "runs").glob("*/*"), key=os.path.getmtime)
    row = pd.read_csv(latest / "points.csv").iloc[-1]
    return {
        k: float(row[k]) for k in ("throughput_rps", "server_cpu_pct", "loadgen_cpu_pct", "p50_ms", "rtt_ms")
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--duration", type=float, default=3.0)
    parser.add_argument("--backend", default="event")
    parser.add_argument("--results", type=Path, default=Path("/tmp/seatlab-bench-placement"))
    args = parser.parse_args()
    hosts = TestHosts(2).up()
    try:
        cluster = RayCluster(hosts, python=sys.executable).up()
        try:
            measured: dict[str, list[dict[str, float]]] = {name: [] for name in PLACEMENTS}
            for r in range(args.rounds):
                for name in PLACEMENTS:
                    measured[name].append(run(cluster, args, name, args.results))
                    print(f"round {r + 1} {name}: {measured[name][-1]}", file=sys.stderr)
        finally:
            cluster.down()
    finally:
        hosts.down()
    base = statistics.median(m["throughput_rps"] for m in measured["shared"])
    print(f"{args.backend}, delay 0, {args.clients} clients, 1 load process, {args.duration:g} s windows, "
          f"median of {args.rounds} interleaved rounds, {os.cpu_count()} CPUs (shared with other work; "
          f"load average {os.getloadavg()[0]:.1f} at the end)\n")  # fmt: skip
    print("| placement | req/s | vs shared | server CPU % | loadgen CPU % | p50 ms | RTT ms |")
    print("|---|---|---|---|---|---|---|")
    for name, rows in measured.items():
        med = {k: statistics.median(r[k] for r in rows) for k in rows[0]}
        rtt = "" if med["rtt_ms"] != med["rtt_ms"] else f"{med['rtt_ms']:.3f}"
        print(f"| {name} | {med['throughput_rps']:,.0f} | {med['throughput_rps'] / base:.2f} | "
              f"{med['server_cpu_pct']:.0f} | {med['loadgen_cpu_pct']:.0f} | {med['p50_ms']:.2f} | {rtt} |")  # fmt: skip


if __name__ == "__main__":
    main()
