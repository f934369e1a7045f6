"""Issue 13's abuse, full size: does an honest client still get served, before and after the core?

500 slowloris connections (a byte every 200 ms) and 200 connections that
pipeline Books as fast as the socket takes them and never read, for
``--seconds``, from one separate process (the abusers of
``tests/server/test_abuse.py``); meanwhile one honest client books in a
closed loop (10 s timeout) and a fresh connection books once a second. Per
backend and checkout: the honest answers, their p50/p99/max, timeouts, the
fresh connections that failed or took over 1 s, and the server's CPU. The
abusers, the honest client and the server share the machine's cores.

    python experiments/core/abuse.py --old /tmp/server-old --new . --seconds 20
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import sys
import time
from pathlib import Path

import psutil
from bench import checkout_server

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests"))
from server.harness import Client, new_uuid
from server.test_abuse import abuse


def measure(checkout: Path, backend: str, seconds: float) -> str:
    """One row: the honest client's and fresh connections' figures under the abuse."""
    flags = ["--threads", "2", "--capacity", "1000000", "--max-backlog", "2048"]
    with checkout_server(checkout, backend, *flags) as (server, port):
        abusers = multiprocessing.get_context("spawn").Process(
            target=abuse, args=("127.0.0.1", port, 200, 500, seconds + 3), daemon=True
        )
        abusers.start()
        time.sleep(2.0)  # connected and flooding
        proc = psutil.Process(server.pid)
        proc.cpu_percent()
        latencies: list[float] = []
        timeouts = 0
        fresh: list[float] = []
        fresh_failed = 0
        honest: Client | None = None
        end = time.monotonic() + seconds
        next_fresh = 0.0
        while (now := time.monotonic()) < end:
            if honest is None:
                try:
                    honest = Client("127.0.0.1", port, timeout=10)
                except OSError:
                    timeouts += 1
                    continue
            start = time.monotonic()
            try:
                honest.book(new_uuid())
                latencies.append(time.monotonic() - start)
            except (OSError, AssertionError):
                timeouts += 1
                honest.close()
                honest = None
            if now >= next_fresh:
                next_fresh = now + 1.0
                start = time.monotonic()
                try:
                    newcomer = Client("127.0.0.1", port, timeout=10)
                    newcomer.book(new_uuid())
                    newcomer.close()
                    fresh.append(time.monotonic() - start)
                except (TimeoutError, OSError, AssertionError):
                    fresh_failed += 1
        cpu = proc.cpu_percent()
        if honest is not None:
            honest.close()
        abusers.kill()
        abusers.join()
    ms = sorted(1000 * x for x in latencies)
    p50 = statistics.median(ms) if ms else float("nan")
    p99 = ms[int(0.99 * (len(ms) - 1))] if ms else float("nan")
    late = sum(1 for f in fresh if f > 1.0)
    return (
        f"| {backend} | {checkout} | {len(ms):,} | {p50:.1f} | {p99:.1f} | {max(ms, default=float('nan')):.0f} "
        f"| {timeouts} | {fresh_failed + late} of {len(fresh) + fresh_failed} "
        f"(max {max(fresh, default=float('nan')):.2f} s) | {cpu:.0f}% |"
    )


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--old", type=Path, required=True)
    p.add_argument("--new", type=Path, required=True)
    p.add_argument("--seconds", type=float, default=20.0)
    p.add_argument("--backends", nargs="*", default=["coro", "event"])
    args = p.parse_args()
    print(
        "| backend | checkout | honest answers | p50 ms | p99 ms | max ms | honest timeouts "
        "| fresh failed or > 1 s | server CPU |\n|---|---|---|---|---|---|---|---|---|"
    )
    for backend in args.backends:
        for checkout in (args.old, args.new):
            print(measure(checkout, backend, args.seconds), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
