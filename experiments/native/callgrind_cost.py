"""CPU per request, Python vs C++, as callgrind instruction counts (repeatable on a loaded machine).

Not a test and not the experiment runner. For each server it runs it under
``valgrind --tool=callgrind`` twice, once answering ``--small`` Books and once
``--large``, from ``--connections`` persistent connections (closed loop, one
Book in flight on each, delay 0, a capacity that never sells out), stops it with
SIGTERM, and reads the total instruction count (``Ir``, every thread) from the
callgrind file. The difference of the two runs over the difference of their
request counts is the instructions one request costs the server: start-up, imports
and shutdown cancel out. Rounds are interleaved: small and large of every server,
then the next round. Wall time under valgrind means nothing; only counts are kept.

    .venv/bin/python experiments/native/callgrind_cost.py --rounds 1 --out experiments/native/data/callgrind.json
"""

from __future__ import annotations

import argparse
import json
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid as uuidlib
from pathlib import Path

from seatlab import native
from seatlab.protocol.codec import FrameDecoder
from seatlab.protocol.messages import book_request

PYTHON = ["tpool", "coro", "event", "calibrate"]
FLAGS = ["--address", "127.0.0.1", "--port", "0", "--capacity", "1000000", "--delay", "0", "--threads", "2"]


def command(server: str) -> list[str]:
    """The server's argv without valgrind: ``tpool`` is Python's, ``native_tpool`` the C++ one."""
    if server.startswith("native_"):
        return [str(native.binary(server.removeprefix("native_"))), *FLAGS]
    return [sys.executable, "-m", "seatlab.server", "--backend", server, *FLAGS]


def drive(host: str, port: int, connections: int, total: int) -> int:
    """Answer ``total`` Books over ``connections`` connections, one in flight on each; the answers counted."""
    socks = [socket.create_connection((host, port), timeout=120) for _ in range(connections)]
    decoders = [FrameDecoder() for _ in socks]
    answered = 0
    per = total // connections
    for rid in range(1, per + 1):
        for sock in socks:
            sock.sendall(book_request(rid, str(uuidlib.uuid4())))
        for sock, decoder in zip(socks, decoders, strict=True):
            while decoder.next_frame() is None:
                data = sock.recv(65536)
                if not data:
                    raise RuntimeError("the server closed a connection")
                decoder.feed(data)
            answered += 1
    for sock in socks:
        sock.close()
    return answered


def instructions(server: str, requests: int, connections: int, work: Path) -> tuple[int, int]:
    """(Ir of the whole process, requests answered) for one callgrind run of ``server``."""
    out = work / f"{server}-{requests}-{time.monotonic_ns()}.callgrind"
    argv = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", *command(server)]
    stdout = work / "stdout.txt"
    with open(stdout, "wb") as so, open(work / "stderr.txt", "wb") as se:
        proc = subprocess.Popen(argv, stdout=so, stderr=se)
        deadline = time.monotonic() + 300
        while b"\n" not in stdout.read_bytes():
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError(
                    f"{server} under valgrind did not print READY: {(work / 'stderr.txt').read_text()}"
                )
            time.sleep(0.2)
        _, host, port = stdout.read_text().split()[:3]
        answered = drive(host, int(port), connections, requests)
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(300)
    if code != 0:
        raise RuntimeError(f"{server} under valgrind exited {code}")
    totals = [int(m[1]) for m in re.finditer(r"^(?:summary|totals): (\d+)", out.read_text(), re.M)]
    # one file per thread is possible; with the default (no --separate-threads) one file holds all
    return max(totals), answered


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--servers", nargs="+", default=[*PYTHON, *(f"native_{n}" for n in native.SERVERS)])
    p.add_argument("--small", type=int, default=400)
    p.add_argument("--large", type=int, default=2000)
    p.add_argument("--connections", type=int, default=2)  # <= --threads: a pool serves no more at once
    p.add_argument("--rounds", type=int, default=1)
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args()
    results: dict[str, list[float]] = {s: [] for s in args.servers}
    with tempfile.TemporaryDirectory(prefix="seatlab-callgrind-") as tmp:
        work = Path(tmp)
        for round_ in range(args.rounds):
            for server in args.servers:
                small, n_small = instructions(server, args.small, args.connections, work)
                large, n_large = instructions(server, args.large, args.connections, work)
                per = (large - small) / (n_large - n_small)
                results[server].append(per)
                print(f"round {round_ + 1} {server:18s} {per:12,.0f} instructions/request", flush=True)
    summary = {s: min(v) for s, v in results.items()}
    for s, v in summary.items():
        print(f"{s:18s} {v:12,.0f} Ir/request")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(
            json.dumps(
                {
                    "connections": args.connections,
                    "small": args.small,
                    "large": args.large,
                    "rounds": results,
                },
                indent=1,
            )
            + "\n"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
