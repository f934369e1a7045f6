"""Restart time and memory against history length: the db journal with and without compaction (issue 22).

How this works: for each history length, the same churn (``--held`` seats kept, then N bookings each
cancelled again, as a duration run's refill does) is written twice through the real ``SeatStore`` and
``Journal``: once with compaction off (``--compact-min-bytes`` past the file: the journal as it was
before compaction existed, every line kept) and once with the server's default (compaction past 4 MiB
and twice the last compacted size). Then a real server (``python -m seatlab.server --backend event``)
is started on each file, side by side, ``--repeat`` times: the time from its start to its READY line
(the replay) and its peak RSS then (``VmHWM``). Prints one JSON line per file and a table.

    .venv/bin/python experiments/long/restart.py --pairs 10000 100000 1000000
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
import uuid as uuidlib
from pathlib import Path

from seatlab.seats.journal import COMPACT_MIN_BYTES, Journal
from seatlab.seats.store import SeatStore

CAPACITY = 100_000


def write_history(path: Path, pairs: int, held: int, compact_min_bytes: int) -> tuple[int, int]:
    """The churn through the real store and journal; (file bytes, compactions)."""
    journal, seats = Journal.open(path, CAPACITY, "os", compact_min_bytes)
    store = SeatStore(CAPACITY, journal, seats)
    for i in range(held):
        store.book(str(uuidlib.UUID(int=i + 1, version=4)))
    for i in range(held, held + pairs):
        u = str(uuidlib.UUID(int=i + 1, version=4))
        store.book(u)
        store.cancel(u)
    compactions = journal.compactions
    store.close()
    return path.stat().st_size, compactions


def restart(path: Path) -> tuple[float, float]:
    """(seconds from start to READY, peak RSS in MiB then) of a real server on ``path``."""
    started = time.perf_counter()
    server = subprocess.Popen(
        [sys.executable, "-m", "seatlab.server", "--backend", "event", "--port", "0",
         "--capacity", str(CAPACITY), "--db-path", str(path)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    try:
        assert server.stdout is not None
        line = server.stdout.readline()
        ready = time.perf_counter() - started
        if not line.startswith("READY"):
            raise RuntimeError(f"no READY line from the server on {path}: {line!r}")
        status = Path(f"/proc/{server.pid}/status").read_text()
        hwm = next(int(row.split()[1]) for row in status.splitlines() if row.startswith("VmHWM:"))
        return ready, hwm / 1024
    finally:
        server.terminate()
        server.wait(30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--held", type=int, default=300, help="seats kept through the churn")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for pairs in args.pairs:
            files = {}
            for name, minimum in (("full history", 1 << 62), ("compacted", COMPACT_MIN_BYTES)):
                path = Path(tmp) / f"{pairs}-{name.replace(' ', '-')}.csv"
                files[name] = (path, *write_history(path, pairs, args.held, minimum))
            runs: dict[str, list[tuple[float, float]]] = {name: [] for name in files}
            for _ in range(args.repeat):  # side by side, alternating
                for name, (path, *_rest) in files.items():
                    runs[name].append(restart(path))
            for name, (_path, size, compactions) in files.items():
                row = {
                    "pairs": pairs, "held": args.held, "file": name, "bytes": size, "compactions": compactions,
                    "ready_s": statistics.median(r for r, _ in runs[name]),
                    "peak_rss_mib": statistics.median(m for _, m in runs[name]),
                }  # fmt: skip
                rows.append(row)
                print(json.dumps(row), flush=True)
    print("\n| history (book+cancel pairs) | file | size | compactions | start to READY | peak RSS |")
    print("|---:|---|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['pairs']:,} | {r['file']} | {r['bytes'] / 2**20:.1f} MiB | {r['compactions']} | "
            f"{r['ready_s']:.2f} s | {r['peak_rss_mib']:.0f} MiB |"
        )


if __name__ == "__main__":
    main()
