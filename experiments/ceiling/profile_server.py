"""Where a backend spends its CPU under load: py-spy samples of the server while bench_servers drives it.

Not a test: a measurement aid for experiments/ceiling/README.md. It starts the
backend (one loop), opens N closed-loop connections from this process (the
light counting client of ``bench_servers.py``), and runs
``py-spy record --format raw`` on the server for the measured window. It
prints the functions with the most samples, by self time and by total time
(their share of all samples of the serving thread).

    .venv/bin/pip install py-spy   # into the venv only; not a project dependency
    .venv/bin/python experiments/ceiling/profile_server.py --backend coro --connections 5000 --delay 50
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import uvloop

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_servers import _load

from seatlab.harness.process import ServerProcess


def _frame_name(frame: str) -> str:
    """'func (path/file.py:12)' -> 'file.py:func'."""
    name, _, where = frame.partition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    return f"{Path(path).name}:{name}" if path else name


def summarize(raw: str, top: int) -> str:
    """Self and total sample shares of the busiest functions in py-spy's collapsed stacks."""
    self_counts: Counter[str] = Counter()
    total_counts: Counter[str] = Counter()
    samples = 0
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = [_frame_name(f) for f in stack.split(";")[1:]]  # [0] is the thread
        if not frames:
            continue
        samples += n
        self_counts[frames[-1]] += n
        for name in set(frames):
            total_counts[name] += n
    lines = [f"{samples} samples"]
    lines.append("self %  function")
    lines += [f"{100 * n / samples:6.1f}  {name}" for name, n in self_counts.most_common(top)]
    lines.append("total %  function")
    lines += [f"{100 * n / samples:6.1f}  {name}" for name, n in total_counts.most_common(top)]
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--backend", default="event")
    p.add_argument("--connections", type=int, default=100)
    p.add_argument("--delay", type=float, default=0.0)
    p.add_argument("--duration", type=float, default=4.0)
    p.add_argument("--rate", type=int, default=250, help="py-spy samples per second")
    p.add_argument("--top", type=int, default=25)
    p.add_argument("--out", type=Path, default=Path(".temp/profile_server"))
    args = p.parse_args()
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    args.out.mkdir(parents=True, exist_ok=True)
    raw_path = args.out / f"{args.backend}-{args.connections}-d{args.delay:g}.txt"
    with ServerProcess(
        args.backend,
        capacity=10_000_000,
        threads=1,
        max_backlog=4096,
        delay_ms=args.delay,
        log_dir=args.out / "server",
    ) as server:

        async def drive() -> dict[str, float]:
            # connect and warm up (1 s) before py-spy starts; py-spy then samples the window
            loop = asyncio.get_running_loop()
            spy: subprocess.Popen[bytes] | None = None

            def start_spy() -> None:
                nonlocal spy
                spy = subprocess.Popen(
                    [
                        py_spy,
                        "record",
                        "--pid",
                        str(server.pid),
                        "--format",
                        "raw",
                        "--rate",
                        str(args.rate),
                        "--duration",
                        f"{args.duration:g}",
                        "--nonblocking",
                        "--output",
                        str(raw_path),
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )

            loop.call_later(1.0, start_spy)  # warm-up in _load is 1.5 s
            result = await _load(server.host, server.port, args.connections, 1.5, args.duration, server.pid)
            if spy is not None:
                await loop.run_in_executor(None, spy.wait)
            return result

        m = uvloop.run(drive())
    print(
        f"{args.backend}, {args.connections} connections, delay {args.delay:g} ms: {m['rps']:.0f} req/s, "
        f"server cpu {m['server_cpu_pct']:.0f}%, load generator cpu {m['loadgen_cpu_pct']:.0f}% "
        f"(server and load generator share 2 cores; py-spy samples cost some too)"
    )
    print(summarize(raw_path.read_text(), args.top))


if __name__ == "__main__":
    main()
