"""Quick ceiling check: closed-loop Book throughput of every backend against calibrate.

Not a test and not the experiment runner: a two-minute sanity measurement.
It starts each backend with ``ServerProcess`` (delay 0, a capacity too large
to sell out), opens N persistent connections from one uvloop process, and
keeps exactly one Book in flight on each (closed loop) for the measured
window. It prints requests/s, the ratio to calibrate, and the CPU of the
server and of this load generator (% of one core; 100% means that side is
saturated, and a saturated load generator understates the server).

    .venv/bin/python experiments/ceiling/bench_servers.py --connections 100 --duration 3
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from pathlib import Path

import psutil
import uvloop

from seatlab.harness.process import ServerProcess
from seatlab.protocol.messages import book_request
from seatlab.server.calibrate import count_frames


class _ClosedLoop(asyncio.Protocol):
    """One connection with one Book in flight; answers are counted by framing, not parsed."""

    def __init__(self, index: int, counter: list[int]) -> None:
        self.prefix = f"{index:08x}-0000-4000-8000-"
        self.sent = 0
        self.counter = counter
        self.rest = b""
        self.transport: asyncio.Transport | None = None

    def _send(self, n: int) -> None:
        out = []
        for _ in range(n):
            self.sent += 1
            out.append(book_request(self.sent, f"{self.prefix}{self.sent:012x}"))
        assert self.transport is not None
        self.transport.write(b"".join(out))

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def start(self) -> None:
        """Send the first Book; every answer then sends the next."""
        self._send(1)

    def data_received(self, data: bytes) -> None:
        buf = self.rest + data if self.rest else data
        n, used, error = count_frames(buf)
        if error is not None:
            raise RuntimeError("the server sent a malformed frame")
        self.rest = buf[used:]
        self.counter[0] += n
        if n and self.transport is not None and not self.transport.is_closing():
            self._send(n)


def _cpu_s(proc: psutil.Process) -> float:
    t = proc.cpu_times()
    return float(t.user + t.system)


async def _load(
    host: str, port: int, connections: int, warmup_s: float, duration_s: float, server_pid: int | None = None
) -> dict[str, float]:
    """Drive the server; req/s and the CPU of both sides (% of one core) over the measured window."""
    loop = asyncio.get_running_loop()
    counter = [0]
    transports = []
    protocols = []
    for i in range(connections):  # connect everyone first, then start: connecting under load is slow
        transport, protocol = await loop.create_connection(lambda i=i: _ClosedLoop(i, counter), host, port)
        transports.append(transport)
        protocols.append(protocol)
    for protocol in protocols:
        protocol.start()
    await asyncio.sleep(warmup_s)
    me = psutil.Process()
    server = psutil.Process(server_pid) if server_pid else None
    m0, s0 = _cpu_s(me), _cpu_s(server) if server else 0.0
    start_count, start = counter[0], time.monotonic()
    await asyncio.sleep(duration_s)
    elapsed = time.monotonic() - start
    answers = counter[0] - start_count
    m1, s1 = _cpu_s(me), _cpu_s(server) if server else 0.0
    for transport in transports:
        transport.close()
    return {
        "rps": answers / elapsed,
        "loadgen_cpu_pct": 100 * (m1 - m0) / elapsed,
        "server_cpu_pct": 100 * (s1 - s0) / elapsed,
    }


def bench(backend: str, threads: int, args: argparse.Namespace) -> dict[str, float | str | int]:
    delay_ms = 0.0 if backend == "calibrate" else args.delay
    with ServerProcess(
        backend,
        capacity=10_000_000,
        threads=threads,
        max_backlog=4096,
        delay_ms=delay_ms,
        log_dir=args.log_dir / backend,
    ) as server:
        m = uvloop.run(
            _load(server.host, server.port, args.connections, args.warmup, args.duration, server.pid)
        )
    return {
        "backend": backend,
        "threads": threads,
        "delay_ms": delay_ms,
        **m,
        # CPU per answer: more robust on a busy machine than req/s
        "server_cpu_us_per_req": m["server_cpu_pct"] / 100 * 1e6 / m["rps"] if m["rps"] else float("nan"),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--connections", type=int, default=100)
    p.add_argument("--duration", type=float, default=3.0, help="measured seconds per backend")
    p.add_argument("--warmup", type=float, default=0.5)
    p.add_argument("--delay", type=float, default=0.0, help="--delay (ms) for every backend but calibrate")
    p.add_argument("--backends", default="calibrate,event,coro,tpool")
    p.add_argument("--loop-threads", type=int, default=1, help="--threads for calibrate/event/coro")
    p.add_argument("--tpool-threads", type=int, default=0, help="--threads for tpool (0: one per connection)")
    p.add_argument("--log-dir", type=Path, default=Path(".temp/bench_servers"))
    p.add_argument("--json", type=Path, default=None, help="also write the rows here")
    args = p.parse_args()
    rows = []
    for backend in args.backends.split(","):
        threads = (args.tpool_threads or args.connections) if backend == "tpool" else args.loop_threads
        rows.append(bench(backend, threads, args))
    base = next((r["rps"] for r in rows if r["backend"] == "calibrate"), None)
    print(
        f"{'backend':10} {'threads':>7} {'req/s':>9} {'/calibrate':>10} {'server cpu%':>11} "
        f"{'cpu us/req':>10} {'loadgen cpu%':>12}"
    )
    for r in rows:
        ratio = f"{r['rps'] / base:.2f}" if base else "-"
        print(
            f"{r['backend']:10} {r['threads']:>7} {r['rps']:>9.0f} {ratio:>10} "
            f"{r['server_cpu_pct']:>11.0f} {r['server_cpu_us_per_req']:>10.1f} {r['loadgen_cpu_pct']:>12.0f}"
        )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
