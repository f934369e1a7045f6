"""Before/after of the connection core: two checkouts of seatlab, the same fixed C load, interleaved.

Each round starts, for every (point, backend, version), a fresh server of
that checkout (``PYTHONPATH=<checkout> python -m seatlab.server``), drives it
with ``cload`` (the C closed-loop load generator in /work/shared/ref, so the
load costs the same whatever the server) and records cload's answers per
second in its window and the server's CPU over that same window (from
/proc, sampled at the window's start and end: cload prints its window in
CLOCK_MONOTONIC, which is ``time.monotonic``). Versions alternate inside a
round and the order flips every round, so drift on the shared machine hits
both alike; the table is the median over rounds of each version's figure and
of the new/old ratio per round. The server and cload share the machine's
cores: at delay 0 they compete for them, which is why the CPU per request is
reported beside the rate.

    python experiments/core/bench.py --old /tmp/server-old --new . --cload /tmp/server-ref/cload \\
        --rounds 3 --out experiments/core/results.json
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import psutil

POINTS = {
    # name: (delay ms, connections, cload threads, backends)
    "delay0-c100": (0, 100, 1, ["tpool", "coro", "event", "calibrate"]),
    "delay50-c1000": (50, 1000, 1, ["coro", "event", "tpool"]),
}


@dataclass
class Sample:
    """One server run under one load."""

    point: str
    backend: str
    version: str
    round: int
    rps: float
    server_cpu_pct: float
    server_us_per_req: float
    cload_cpu_pct: float
    p99_us: int
    errors: int


@contextlib.contextmanager
def checkout_server(
    checkout: Path, backend: str, *flags: str, wrapper: Sequence[str] = ()
) -> Iterator[tuple[subprocess.Popen[str], int]]:
    """``python -m seatlab.server`` of ``checkout`` (PYTHONPATH, run from /tmp so the current
    directory cannot choose the code) on a free port: (the process, its port); always stopped.
    ``wrapper`` goes before the interpreter (``valgrind ...``)."""
    env = dict(os.environ, PYTHONPATH=str(checkout.resolve()))
    argv = [*wrapper, sys.executable, "-m", "seatlab.server", "--backend", backend, "--port", "0", *flags]
    server = subprocess.Popen(
        argv, env=env, cwd="/tmp", stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    try:
        assert server.stdout is not None
        ready = server.stdout.readline().split()
        if not ready or ready[0] != "READY":
            raise RuntimeError(f"{checkout} {backend}: no READY line")
        yield server, int(ready[2])
    finally:
        server.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            server.wait(15)
        if server.poll() is None:  # SIGTERM did not end it in time
            server.kill()
            server.wait()


def run_one(
    checkout: Path, cload: Path, point: str, backend: str, version: str, rnd: int, window_s: float
) -> Sample:
    delay_ms, conns, threads, _ = POINTS[point]
    flags = ["--threads", "2", "--capacity", "100000", "--delay", str(delay_ms), "--max-backlog", "4096"]
    with checkout_server(checkout, backend, *flags) as (server, port):
        load = subprocess.Popen(
            [str(cload), "-p", str(port), "-c", str(conns), "-t", str(threads), "-w", "1.5",
             "-d", str(window_s), "-m", "refill"],
            stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert load.stdout is not None
        _, ts, te, _ = load.stdout.readline().split()
        proc = psutil.Process(server.pid)
        _sleep_until(float(ts))
        c0 = proc.cpu_times()
        _sleep_until(float(te))
        c1 = proc.cpu_times()
        out, _ = load.communicate(timeout=window_s + 60)
        result = json.loads(out.strip().splitlines()[-1])
    cpu_s = (c1.user + c1.system) - (c0.user + c0.system)
    answers = max(int(result["answers"]), 1)
    return Sample(
        point=point,
        backend=backend,
        version=version,
        round=rnd,
        rps=float(result["rps"]),
        server_cpu_pct=100 * cpu_s / window_s,
        server_us_per_req=1e6 * cpu_s / answers,
        cload_cpu_pct=float(result["cload_cpu_pct"]),
        p99_us=int(result["p99_us"]),
        errors=int(result["error"]) + int(result["io_errors"]) + int(result["dead_conns"]),
    )


def _sleep_until(t: float) -> None:
    time.sleep(max(t - time.monotonic(), 0.0))


def table(samples: list[Sample]) -> str:
    """Markdown: per point and backend, median rate and CPU/request of each version, median ratio."""
    rows = [
        "| point | backend | old req/s | new req/s | new/old (median of rounds) | old µs/req | new µs/req "
        "| old CPU % | new CPU % | cload CPU % | errors |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for point, (_, _, _, backends) in POINTS.items():
        for backend in backends:
            mine = [s for s in samples if s.point == point and s.backend == backend]
            if not mine:
                continue
            old = [s for s in mine if s.version == "old"]
            new = [s for s in mine if s.version == "new"]
            ratios = [
                n.rps / o.rps for o in old for n in new if n.round == o.round and o.rps > 0
            ]  # fmt: skip

            def med(xs: list[Sample], field: str) -> float:
                return statistics.median(getattr(x, field) for x in xs)

            rows.append(
                f"| {point} | {backend} | {med(old, 'rps'):,.0f} | {med(new, 'rps'):,.0f} "
                f"| {statistics.median(ratios):.3f} ({', '.join(f'{r:.2f}' for r in ratios)}) "
                f"| {med(old, 'server_us_per_req'):.1f} | {med(new, 'server_us_per_req'):.1f} "
                f"| {med(old, 'server_cpu_pct'):.0f} | {med(new, 'server_cpu_pct'):.0f} "
                f"| {med(mine, 'cload_cpu_pct'):.0f} | {sum(s.errors for s in mine)} |"
            )
    return "\n".join(rows)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--old", type=Path, required=True, help="checkout of the old commit")
    p.add_argument("--new", type=Path, required=True, help="checkout of the new commit")
    p.add_argument("--cload", type=Path, required=True, help="the built cload binary")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--window", type=float, default=5.0, help="seconds measured per run")
    p.add_argument("--points", nargs="*", default=list(POINTS))
    p.add_argument("--out", type=Path, required=True, help="JSON file of every sample")
    args = p.parse_args()
    samples: list[Sample] = []
    versions = [("old", args.old), ("new", args.new)]
    for rnd in range(args.rounds):
        for point in args.points:
            for backend in POINTS[point][3]:
                order = versions if rnd % 2 == 0 else versions[::-1]
                for version, checkout in order:
                    sample = run_one(checkout, args.cload, point, backend, version, rnd, args.window)
                    samples.append(sample)
                    print(json.dumps(asdict(sample)), flush=True)
        args.out.write_text(json.dumps([asdict(s) for s in samples], indent=1) + "\n")
    print(table(samples))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
