"""coro at 5000 clients (issue 13, section 6): is every connection answered within 1 s of connecting?

Starts a server of ``--backend`` from ``--checkout`` (delay 50 ms, backlog 16384), then at once
the C load generator with ``--clients - --probes`` closed-loop connections and, from this process,
``--probes`` connections opened together (non-blocking; ``--after`` s later), each sending one Book as soon as it is
connected. Per probe connection: the time from its ``connect()`` to its Seat. The Recv-Q of
``accept_probe.sh`` shows the accept queue; this shows what a client sees of it.

    python experiments/core/first_answer.py --checkout . --cload /tmp/ref/cload
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests"))
from server.test_abuse import newcomers


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--checkout", type=Path, required=True)
    p.add_argument("--cload", type=Path, required=True)
    p.add_argument("--backend", default="coro")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--clients", type=int, default=5000, help="connections in all, cload's and the probes'")
    p.add_argument("--probes", type=int, default=500)
    p.add_argument(
        "--after", type=float, default=0.0, help="s after cload starts: 0 with its burst, 2 under its load"
    )
    args = p.parse_args()
    env = {**os.environ, "PYTHONPATH": str(args.checkout.resolve())}
    argv = [sys.executable, "-m", "seatlab.server", "--backend", args.backend, "--port", "0",
            "--threads", str(args.threads), "--capacity", "1000000", "--delay", "50",
            "--max-backlog", "16384"]  # fmt: skip
    server = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env, cwd="/tmp"
    )
    try:
        assert server.stdout is not None
        ready = server.stdout.readline().split()
        if ready[:1] != ["READY"]:
            raise SystemExit(f"the server did not start: {ready}")
        port = int(ready[2])
        load = [str(args.cload), "-p", str(port), "-c", str(args.clients - args.probes), "-t", "2",
                "-w", "2", "-d", "6", "-m", "refill"]  # fmt: skip
        cload = subprocess.Popen(load, stdout=subprocess.PIPE, text=True)
        time.sleep(args.after)
        took = sorted(newcomers("127.0.0.1", port, args.probes, 10.0))
        out, _ = cload.communicate(timeout=60)
    finally:
        server.terminate()
        server.wait(15)
    figures = json.loads(out.strip().splitlines()[-1])
    late = sum(1 for t in took if t > 1.0)
    print(
        f"{args.backend} threads={args.threads} after {args.after:g} s: {len(took)} of {args.probes} probe connections answered "
        f"(beside {args.clients - args.probes} cload connections); connect->Seat p50 {took[len(took) // 2]:.2f} s, "
        f"max {took[-1]:.2f} s, over 1 s: {late + args.probes - len(took)}; cload rps {figures['rps']:.0f}, "
        f"p99 {figures['p99_us'] / 1e3:.0f} ms, dead conns {figures['dead_conns']}; load {os.getloadavg()[0]:.2f}"
    )
    return 0 if not late and len(took) == args.probes else 1


if __name__ == "__main__":
    raise SystemExit(main())
