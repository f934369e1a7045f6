"""Restart time and memory against history length: the db journal with and without compaction (issue 22).

How this works: for each history length, the same churn (``--held`` seats kept, then N bookings each
cancelled again, as a duration run's refill does) is written twice through the real ``SeatStore`` and
``Journal``: once with compaction off (``--compact-min-bytes`` past the file: the journal as it was
before compaction existed, every line kept) and once with the server's default (compaction past 4 MiB
and twice the last compacted size). Then a real server (``python -m seatlab.server --backend event``)
is started on each file, side by side, ``--repeat`` times: the time from its start to its READY line
(the replay) and its peak RSS then (``VmHWM``), each start on a fresh copy of the file (a server
compacts a long journal when it opens it). ``--old CHECKOUT`` also starts that checkout's server on
the full history (``PYTHONPATH``; one from before compaction replays it all, every time). Prints one
JSON line per measurement and a table.

    git worktree add --detach /tmp/w/base 74302da
    .venv/bin/python experiments/long/restart.py --pairs 10000 100000 1000000 --old /tmp/w/base
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
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


def restart(path: Path, checkout: Path | None = None) -> tuple[float, float]:
    """(seconds from start to READY, peak RSS in MiB then) of a real server on a fresh copy of ``path``
    (``checkout``: that checkout's server)."""
    copy = path.with_name(path.name + ".run")
    shutil.copyfile(path, copy)
    env = dict(os.environ, PYTHONPATH=str(checkout.resolve())) if checkout is not None else None
    started = time.perf_counter()
    server = subprocess.Popen(
        [sys.executable, "-m", "seatlab.server", "--backend", "event", "--port", "0",
         "--capacity", str(CAPACITY), "--db-path", str(copy)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env, cwd="/tmp",
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
        copy.unlink(missing_ok=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--held", type=int, default=300, help="seats kept through the churn")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--old", type=Path, help="a checkout whose server also opens the full history")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for pairs in args.pairs:
            files = {}
            for name, minimum in (("full history", 1 << 62), ("compacted", COMPACT_MIN_BYTES)):
                path = Path(tmp) / f"{pairs}-{name.replace(' ', '-')}.csv"
                files[name] = (path, *write_history(path, pairs, args.held, minimum))
            starts = [("full history", "this server", None), ("compacted", "this server", None)]
            if args.old is not None:
                starts.insert(0, ("full history", f"{args.old.name} (before)", args.old))
            runs: dict[tuple[str, str], list[tuple[float, float]]] = {(f, w): [] for f, w, _ in starts}
            for _ in range(args.repeat):  # side by side, alternating
                for name, who, checkout in starts:
                    runs[(name, who)].append(restart(files[name][0], checkout))
            for name, who, _checkout in starts:
                _path, size, compactions = files[name]
                row = {
                    "pairs": pairs, "held": args.held, "file": name, "server": who, "bytes": size,
                    "compactions": compactions,
                    "ready_s": statistics.median(r for r, _ in runs[(name, who)]),
                    "peak_rss_mib": statistics.median(m for _, m in runs[(name, who)]),
                }  # fmt: skip
                rows.append(row)
                print(json.dumps(row), flush=True)
    print(
        "\n| history (book+cancel pairs) | file | size | compactions while written | server | start to READY | peak RSS |"
    )
    print("|---:|---|---:|---:|---|---:|---:|")
    for r in rows:
        print(
            f"| {r['pairs']:,} | {r['file']} | {r['bytes'] / 2**20:.1f} MiB | {r['compactions']} | {r['server']} | "
            f"{r['ready_s']:.2f} s | {r['peak_rss_mib']:.0f} MiB |"
        )


if __name__ == "__main__":
    main()
