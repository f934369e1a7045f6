"""Where the load generator spends its CPU: py-spy samples of one load process against a server.

Not a test: a measurement aid for experiments/ceiling/README.md. It starts
the server (calibrate by default, one loop), runs ``python -m seatlab.client``
with one load process under ``py-spy record --subprocesses`` and prints the
busiest functions of the load process (self and total share of its samples)
and the client's own summary line (answers/s, CPU us per answer).

    .venv/bin/python experiments/ceiling/profile_loadgen.py --clients 100
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from profile_server import summarize

from seatlab.harness.process import ServerProcess
from seatlab.registry import FIXED_ANSWER


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--backend", default="calibrate")
    p.add_argument("--clients", type=int, default=100)
    p.add_argument("--delay", type=float, default=0.0)
    p.add_argument("--duration", type=float, default=4.0)
    p.add_argument("--top", type=int, default=25)
    p.add_argument("--out", type=Path, default=Path(".temp/profile_loadgen"))
    args = p.parse_args()
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    args.out.mkdir(parents=True, exist_ok=True)
    raw_path = args.out / f"loadgen-{args.backend}-{args.clients}.txt"
    with ServerProcess(
        args.backend,
        capacity=10_000,
        threads=1,
        max_backlog=4096,
        delay_ms=args.delay,
        log_dir=args.out / "server",
    ) as server:
        subprocess.run(
            [
                py_spy,
                "record",
                "--subprocesses",
                "--format",
                "raw",
                "--rate",
                "250",
                "--nonblocking",
                "--output",
                str(raw_path),
                "--",
                sys.executable,
                "-m",
                "seatlab.client",
                "--port",
                str(server.port),
                "--clients",
                str(args.clients),
                "--diversity",
                "1",
                "--duration",
                f"{args.duration:g}",
                "--warmup",
                "1",
                "--mode",
                "duration",
                "--out-dir",
                str(args.out / "client"),
                "--no-progress",
                *(["--fixed-answer"] if args.backend in FIXED_ANSWER else []),
            ],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    summary = json.loads((args.out / "client" / "summary.json").read_text())
    keys = ("throughput_rps", "loadgen_cpu_pct", "loadgen_us_per_answer", "cpu_kernel_share")
    print({k: summary.get(k) for k in keys if k in summary} or sorted(summary))
    # only the worker process's stacks: the parent mostly sleeps
    raw = "\n".join(line for line in raw_path.read_text().splitlines() if "worker_main" in line)
    print(summarize(raw, args.top))


if __name__ == "__main__":
    main()
