"""Start-up time of every backend: from spawning ``python -m seatlab.server`` to its READY line.

Not a test: the start-up figure of experiments/ceiling/README.md (target:
READY within 0.5 s). Each backend is spawned ``--repeat`` times, its stdout
read line by line until ``READY``, then it is stopped with SIGTERM and
reaped. Prints min / median / max seconds per backend.

    .venv/bin/python experiments/ceiling/startup.py --repeat 5
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def time_to_ready(backend: str, db_dir: Path) -> float:
    """Seconds from spawn to the READY line (the process is then stopped and reaped)."""
    db = db_dir / f"{backend}.csv"
    db.unlink(missing_ok=True)
    cmd = [
        sys.executable,
        "-m",
        "seatlab.server",
        "--backend",
        backend,
        "--port",
        "0",
        "--capacity",
        "5000",
        "--delay",
        "50",
        "--threads",
        "2",
        "--db-path",
        str(db),
    ]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith(b"READY"):
                return time.perf_counter() - t0
        raise RuntimeError(f"{backend} exited with {proc.wait()} before READY")
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--backends", default="tpool,coro,event,calibrate")
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args()
    rows = {}
    with tempfile.TemporaryDirectory(prefix="seatlab-startup-") as tmp:
        for _ in range(args.repeat):  # interleaved, so a busy moment hits every backend alike
            for backend in args.backends.split(","):
                rows.setdefault(backend, []).append(time_to_ready(backend, Path(tmp)))
    print(f"{'backend':10} {'min s':>6} {'median s':>8} {'max s':>6}  (spawn to READY, {args.repeat} runs)")
    for backend, times in rows.items():
        print(f"{backend:10} {min(times):>6.3f} {statistics.median(times):>8.3f} {max(times):>6.3f}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
