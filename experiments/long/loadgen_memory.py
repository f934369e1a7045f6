"""A load process's memory over a long run: its RSS each second, minute 1 against the end (issue 22.2).

How this works: a real server (``--backend``, delay 0 by default: as many answers as the machine
gives) and the real load generator (``python -m seatlab.client``, duration mode, ``--clients`` over
``--diversity`` processes) for ``--minutes``; every second the RSS of each load process (the client
command's children) and of the server is sampled with psutil. Prints the samples at each minute and
the ratio end / minute 1 per load process, with the answers per second, as JSON lines and a table.
Server and load generator share this machine's cores: the rate is what they reach together.

    .venv/bin/python experiments/long/loadgen_memory.py --minutes 10
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--backend", default="event")
    parser.add_argument("--delay", type=float, default=0.0)
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--diversity", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        server = subprocess.Popen(
            [sys.executable, "-m", "seatlab.server", "--backend", args.backend, "--port", "0",
             "--delay", f"{args.delay:g}", "--capacity", "100000", "--db-path", f"{tmp}/db.csv"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        )  # fmt: skip
        assert server.stdout is not None
        _, host, port = server.stdout.readline().split()
        duration = args.minutes * 60
        load = subprocess.Popen(
            [sys.executable, "-m", "seatlab.client", "--address", host, "--port", port,
             "--clients", str(args.clients), "--diversity", str(args.diversity), "--mode", "duration",
             "--warmup", "2", "--duration", f"{duration:g}", "--max-time", f"{duration + 120:g}",
             "--out-dir", f"{tmp}/load", "--no-progress"],
            stdout=subprocess.DEVNULL, stderr=open(f"{tmp}/load.stderr", "w"),  # noqa: SIM115
        )  # fmt: skip
        parent = psutil.Process(load.pid)
        samples: list[tuple[int, dict[str, float]]] = []  # (seconds in, RSS MiB by process)
        started = time.monotonic()
        while load.poll() is None:
            time.sleep(1.0)
            try:
                children = parent.children()
                rss = {str(c.pid): c.memory_info().rss / 2**20 for c in children}
                rss["server"] = psutil.Process(server.pid).memory_info().rss / 2**20
            except psutil.Error:
                continue
            samples.append((round(time.monotonic() - started), rss))
        load.wait()
        err = Path(f"{tmp}/load.stderr").read_text()
        server.terminate()
        server.wait(30)
        summary = json.loads(Path(f"{tmp}/load/summary.json").read_text())
    for t_s, rss in samples:
        if t_s % 60 == 0 or (t_s, rss) == samples[-1]:
            print(json.dumps({"t_s": t_s, "rss_mib": {k: round(v, 1) for k, v in rss.items()}}))
    t_1, minute_1 = next(s for s in samples if s[0] >= 60)
    t_end, last = samples[-2] if len(samples) > 1 else samples[-1]  # the last sample inside the window
    print(
        f"\n{summary['throughput_rps']:.0f} answers/s over {summary['window_s']:.0f} s; "
        f"{summary['answers']:,} answers; load CPU {summary['loadgen_cpu_pct']:.0f}% of a core"
    )
    print(f"\n| process | RSS at t = {t_1} s | RSS at t = {t_end} s | ratio |")
    print("|---|---:|---:|---:|")
    for name, first in minute_1.items():
        end = last.get(name)
        if end is not None:
            label = "server" if name == "server" else f"load process {name}"
            print(f"| {label} | {first:.1f} MiB | {end:.1f} MiB | {end / first:.3f} |")
    if load.returncode != 0:
        print(f"load generator exit {load.returncode}: {err[-500:]}", file=sys.stderr)


if __name__ == "__main__":
    main()
