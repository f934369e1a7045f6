"""Instructions per request, before and after the connection core: callgrind, not the clock.

The wall-clock before/after (``bench.py``) moves by ±30% between rounds on
this shared 2-core machine. ``valgrind --tool=callgrind`` counts the
instructions the server executes, which do not depend on what else runs
(the same binary, inputs and environment give the same count). Each run
starts the server of a checkout under callgrind with instrumentation off,
switches it on (``callgrind_control``), warms it up, zeroes the counters,
drives a fixed amount of work (100 connections in a closed loop, each
booking a fresh uuid and cancelling it, ``--requests`` in all), dumps the
counters and divides the instructions by the answers. The load is a Python
client in this script: its own cost is not counted, only the server's. Under valgrind the server runs ~50x slower, so the window is long
and the request rate low; what is compared is the Python work per request.

    python experiments/core/instructions.py --old /tmp/server-old --new . --out experiments/core/instructions.json
"""

from __future__ import annotations

import argparse
import json
import os
import re
import selectors
import socket
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

from bench import checkout_server

from seatlab.protocol import seat_pb2
from seatlab.protocol.codec import FrameDecoder, encode
from seatlab.protocol.messages import book_request

BACKENDS = ["event", "coro", "tpool", "calibrate"]
CONNECTIONS = 100
WARMUP = 20
"""Requests per connection before the counters are zeroed."""


def drive(port: int, connections: int, per_connection: int) -> int:
    """A fixed amount of work: each connection books a fresh uuid and cancels it, closed loop,
    ``per_connection`` requests; returns the answers (all of them, or the server broke)."""
    socks = [socket.create_connection(("127.0.0.1", port)) for _ in range(connections)]
    sel = selectors.DefaultSelector()
    left = dict.fromkeys(range(connections), per_connection)
    booked: dict[int, str] = {}
    decoders = [FrameDecoder() for _ in socks]

    def send(i: int) -> None:
        n = left[i]
        if n % 2 == 0:
            booked[i] = str(uuid.uuid4())
            socks[i].sendall(book_request(n, booked[i]))
        else:
            request = seat_pb2.Request(id=n)
            request.cancel.uuid = booked[i]
            socks[i].sendall(encode(request))

    for i, sock in enumerate(socks):
        sel.register(sock, selectors.EVENT_READ, i)
        send(i)
    answers = 0
    while left:
        for key, _ in sel.select(timeout=60):
            i = key.data
            data = socks[i].recv(65536)
            assert data, "the server closed a connection"
            decoders[i].feed(data)
            while decoders[i].next_frame() is not None:
                answers += 1
                left[i] -= 1
                if left[i]:
                    send(i)
                else:
                    del left[i]
                    sel.unregister(socks[i])
    for sock in socks:
        sock.close()
    return answers


def measure(checkout: Path, backend: str, requests: int, work: Path) -> dict[str, float]:
    """One server of ``checkout`` under callgrind, a fixed load counted: instructions per answer."""
    out_file = work / f"callgrind.{backend}.{checkout.name}.out"
    wrapper = ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out_file}"]
    flags = ["--threads", "1", "--capacity", "1000000", "--delay", "0"]
    with checkout_server(checkout, backend, *flags, wrapper=wrapper) as (proc, port):
        _control(proc.pid, "--instr=on")
        drive(port, CONNECTIONS, WARMUP)  # switching it on re-translates the code: warm it up
        _control(proc.pid, "--zero")
        answers = drive(port, CONNECTIONS, requests // CONNECTIONS)
        _control(proc.pid, "--dump")  # the counts in the next numbered dump file
    dumps = sorted(work.glob(out_file.name + ".*"), key=lambda p: int(p.suffix[1:]))
    totals = re.search(r"^totals:\s+(\d+)", dumps[-1].read_text(errors="replace"), re.M) if dumps else None
    assert totals, f"no callgrind dump among {sorted(p.name for p in work.iterdir())}"
    instructions = int(totals.group(1))
    return {"instructions": instructions, "answers": answers, "per_answer": instructions / answers}


def _control(pid: int, what: str) -> None:
    done = subprocess.run(
        ["callgrind_control", what, str(pid)], check=False, capture_output=True, text=True, timeout=60
    )
    if "OK" not in done.stdout:  # it exits 0 whatever happened
        raise RuntimeError(f"callgrind_control {what} {pid}: {done.stdout.strip()} {done.stderr.strip()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--old", type=Path, required=True, help="the checkout before")
    parser.add_argument("--new", type=Path, required=True, help="the checkout after")
    parser.add_argument("--requests", type=int, default=20_000, help="requests counted per server")
    parser.add_argument("--backends", nargs="+", default=BACKENDS)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as work:
        for backend in args.backends:
            row: dict[str, object] = {"backend": backend}
            for name, checkout in (("old", args.old), ("new", args.new)):
                row[name] = measure(checkout.resolve(), backend, args.requests, Path(work))
            old, new = row["old"], row["new"]
            assert isinstance(old, dict) and isinstance(new, dict)
            row["ratio"] = new["per_answer"] / old["per_answer"]
            rows.append(row)
            print(
                f"{backend:10} old {old['per_answer']:9.0f} instr/answer ({old['answers']} answers)   "
                f"new {new['per_answer']:9.0f} ({new['answers']})   new/old {row['ratio']:.3f}",
                flush=True,
            )
    if args.out:
        meta = {
            "python": sys.version.split()[0],
            "old": str(args.old),
            "new": str(args.new),
            "pid": os.getpid(),
        }
        args.out.write_text(json.dumps({"meta": meta, "rows": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
