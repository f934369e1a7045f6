"""C10K: 10,000 concurrent connections at 50 ms delay, every connection served, and what each costs in memory.

Not a test: the C10K measurement of experiments/ceiling/README.md. For each
backend it starts the server (one loop, ``--max-backlog 16384``), samples its
RSS once it is idle, runs seatlab's load generator (closed loop, duration
mode, ``--diversity`` processes) with N persistent connections, samples the
server's RSS every 50 ms while they are open, and prints throughput,
connections served (``starved_clients`` must be 0), errors, p99, the CPU of
both sides, and memory per connection = (peak RSS - idle RSS) / N. The
calibration target (no delay, the machine's ceiling) runs first at the same
N, so each row also reads as a share of the ceiling. Server and load
generator share the machine's 2 cores.

    .venv/bin/python experiments/ceiling/c10k.py --clients 10000
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from pathlib import Path
from typing import Any

import psutil

from seatlab.client.run import run_load
from seatlab.client.spec import LoadSpec
from seatlab.harness.process import ServerProcess


def _rss(proc: psutil.Process) -> int:
    return int(proc.memory_info().rss)


def measure(backend: str, args: argparse.Namespace) -> dict[str, Any]:
    """One backend at ``args.clients`` connections: the load summary's figures, CPU and memory."""
    delay = 0.0 if backend == "calibrate" else args.delay
    out = args.out / backend
    with ServerProcess(
        backend,
        capacity=2 * args.clients,
        threads=1,
        max_backlog=16384,
        delay_ms=delay,
        log_dir=out / "server",
    ) as server:
        proc = psutil.Process(server.pid)
        time.sleep(0.5)
        idle = _rss(proc)
        peak = [idle]
        cpu = [0.0, 0.0]
        stop = threading.Event()

        def sample() -> None:
            while not stop.wait(0.05):
                try:
                    peak[0] = max(peak[0], _rss(proc))
                except psutil.Error:
                    return

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        t = proc.cpu_times()
        cpu[0] = t.user + t.system
        wall0 = time.monotonic()
        try:
            summary = run_load(
                LoadSpec(
                    port=server.port,
                    clients=args.clients,
                    diversity=args.diversity,
                    mode="duration",
                    duration_s=args.duration,
                    warmup_s=args.warmup,
                    answer_wait_s=10.0,
                    drain_s=2.0,
                    timeout_s=30.0,
                    out_dir=out / "load",
                )
            )
        finally:
            stop.set()
            sampler.join()
        t = proc.cpu_times()
        cpu[1] = t.user + t.system
        wall = time.monotonic() - wall0
    rps = summary.throughput_rps
    server_cpu_pct = 100 * (cpu[1] - cpu[0]) / wall
    return {
        "backend": backend,
        "delay_ms": delay,
        "clients": args.clients,
        "rps": rps,
        "bound_rps": args.clients / (delay / 1000) if delay else None,
        "connections": summary.connections,
        "starved_clients": summary.starved_clients,
        "errors": summary.errors,
        "unanswered": summary.unanswered,
        "p50_ms": summary.latency_ms.p50,
        "p99_ms": summary.latency_ms.p99,
        "server_cpu_pct": server_cpu_pct,  # over the whole load run (connect, warm-up, window, drain)
        "server_us_per_req": server_cpu_pct / 100 * 1e6 / rps if rps else None,
        "loadgen_cpu_pct": summary.loadgen_cpu_pct,
        "loadgen_us_per_req": summary.loadgen_cpu_us_per_answer,
        "rss_idle_mib": idle / 2**20,
        "rss_peak_mib": peak[0] / 2**20,
        "kib_per_connection": (peak[0] - idle) / args.clients / 1024,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--clients", type=int, default=10_000)
    p.add_argument("--delay", type=float, default=50.0)
    p.add_argument("--diversity", type=int, default=2)
    p.add_argument("--duration", type=float, default=3.0)
    p.add_argument("--warmup", type=float, default=2.0)
    p.add_argument("--backends", default="calibrate,event,coro")
    p.add_argument("--out", type=Path, default=Path(".temp/c10k"))
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args()
    rows = [measure(b, args) for b in args.backends.split(",")]
    base = next((r["rps"] for r in rows if r["backend"] == "calibrate"), None)
    print(f"{args.clients} connections; server and load generator share 2 cores")
    print(
        f"{'backend':9} {'delay':>5} {'req/s':>8} {'/bound':>6} {'/calib':>6} {'conns':>6} {'starved':>7} "
        f"{'errors':>6} {'p99 ms':>7} {'srv cpu%':>8} {'srv us/r':>8} {'lg cpu%':>7} {'lg us/r':>7} "
        f"{'idle MiB':>8} {'peak MiB':>8} {'KiB/conn':>8}"
    )
    for r in rows:
        bound = f"{r['rps'] / r['bound_rps']:.2f}" if r["bound_rps"] else "-"
        calib = f"{r['rps'] / base:.2f}" if base else "-"
        print(
            f"{r['backend']:9} {r['delay_ms']:>5g} {r['rps']:>8.0f} {bound:>6} {calib:>6} {r['connections']!s:>6} "
            f"{r['starved_clients']!s:>7} {r['errors']!s:>6} {r['p99_ms'] or float('nan'):>7.1f} "
            f"{r['server_cpu_pct']:>8.0f} {r['server_us_per_req'] or float('nan'):>8.1f} "
            f"{r['loadgen_cpu_pct'] or float('nan'):>7.0f} {r['loadgen_us_per_req'] or float('nan'):>7.1f} "
            f"{r['rss_idle_mib']:>8.1f} {r['rss_peak_mib']:>8.1f} {r['kib_per_connection']:>8.2f}"
        )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
