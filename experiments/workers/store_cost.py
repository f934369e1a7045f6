"""What sharing the seat store costs a request: ``SeatService.handle`` on SeatStore against SharedSeatStore.

How this works: one process, no sockets: the service answers the same Book + Cancel pairs (the load
generator's pattern, wire bytes in, answer bytes out) over each store, with and without a db file,
in interleaved rounds so that the machine's noise falls on both alike; the figure is the median of
each round's ratio (shared / one-process). This is the part of a request that ``--workers`` changes:
everything else a worker runs (the connection core, the backend, the kernel's socket work) is the
one-process server's code. The whole server's instructions per request, workers 1 against 2, are
``experiments/ceiling/callgrind_server.py --workers 2``.

    .venv/bin/python experiments/workers/store_cost.py            # prints one JSON line per case
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
import uuid as uuidlib
from pathlib import Path

from seatlab.protocol.messages import book_request
from seatlab.protocol.seat_pb2 import Request
from seatlab.seats.journal import Journal
from seatlab.seats.service import SeatService
from seatlab.seats.shared import SharedSeatStore
from seatlab.seats.store import SeatStore

CAPACITY = 5000


def cancel_request(rid: int, uuid: str) -> bytes:
    request = Request(id=rid)
    request.cancel.uuid = uuid
    return request.SerializeToString()


def payloads(n: int) -> list[bytes]:
    """``n`` Book + Cancel pairs' payloads (as a connection hands them to the service)."""
    out: list[bytes] = []
    for i in range(n):
        u = str(uuidlib.uuid4())
        out += [book_request(2 * i + 1, u)[1:], cancel_request(2 * i + 2, u)]
    return out


def service(kind: str, db: Path | None) -> SeatService:
    journal = None
    if db is not None:
        journal, _ = Journal.open(db, CAPACITY)
    store = SharedSeatStore(CAPACITY, journal) if kind == "shared" else SeatStore(CAPACITY, journal)
    return SeatService(store)


def per_request_us(svc: SeatService, work: list[bytes]) -> float:
    handle = svc.handle
    started = time.perf_counter()
    for p in work:
        handle(p)
    return (time.perf_counter() - started) / len(work) * 1e6


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--pairs", type=int, default=20_000, help="Book + Cancel pairs per round")
    p.add_argument("--rounds", type=int, default=9)
    args = p.parse_args()
    work = payloads(args.pairs)
    with tempfile.TemporaryDirectory(prefix="seatlab-store-cost-") as tmp:
        for db in (None, Path(tmp)):
            one = service("one", db / "one.csv" if db else None)
            shared = service("shared", db / "shared.csv" if db else None)
            assert one.handle(work[0]) == shared.handle(work[0])  # the same answer bytes
            one.handle(work[1]), shared.handle(work[1])
            ratios, us_one, us_shared = [], [], []
            for _ in range(args.rounds):
                a = per_request_us(one, work)
                b = per_request_us(shared, work)
                us_one.append(a)
                us_shared.append(b)
                ratios.append(b / a)
            print(
                json.dumps(
                    {
                        "db": "file (--sync os)" if db else "memory only",
                        "requests_per_round": len(work),
                        "rounds": args.rounds,
                        "one_process_us": round(statistics.median(us_one), 3),
                        "shared_us": round(statistics.median(us_shared), 3),
                        "ratio_median": round(statistics.median(ratios), 3),
                        "ratio_range": [round(min(ratios), 3), round(max(ratios), 3)],
                    }
                )
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
