"""Instructions per request of a server, counted by callgrind: the before/after figure that load cannot move.

How this works: the server runs under ``valgrind --tool=callgrind`` with
instrumentation off (start-up is not counted), the C load generator
``cload`` (built from ``shared/ref`` into a temporary folder, as
``versus_c.py`` does) drives it over N connections in its ``refill`` mode
(the load generator's Book + Cancel pattern), instrumentation is switched
on at the start of cload's measured window (``callgrind_control -i on``)
and the counts are dumped at its end (``callgrind_control -d``). The figure
is the dump's instruction count divided by the answers cload counted in
that window: user-space instructions per request of the whole server
process (CPython, uvloop/libuv, libc; the kernel's work in the syscalls is
not in it). It does not depend on what else the machine runs, so two
versions are compared by running this once on each, in any order.
``--top`` also prints callgrind_annotate's functions by own cost.

    .venv/bin/python experiments/ceiling/callgrind_server.py --backend event --connections 100
    .venv/bin/python experiments/ceiling/callgrind_server.py --command 'PYTHONPATH=/tmp/old python3 -m seatlab.server'
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from versus_c import CAPACITY, build


def _control(pid: int, *flags: str) -> None:
    subprocess.run(["callgrind_control", *flags, str(pid)], check=True, capture_output=True, timeout=120)


def _total_ir(path: Path) -> int:
    """The instruction count of one callgrind dump (its ``summary:`` or ``totals:`` line)."""
    m = re.search(r"^(?:summary|totals): (\d+)", path.read_text(errors="replace"), re.M)
    if m is None:
        raise RuntimeError(f"{path}: no summary line")
    return int(m.group(1))


def measure(
    command: list[str], env: dict[str, str], backend: str, conns: int, window_s: float, top: int
) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="seatlab-callgrind-") as tmp:
        tmpdir = Path(tmp)
        _, cload = build(tmpdir)
        out = tmpdir / "callgrind.out"
        argv = [
            "valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}",
            *command, "--backend", backend, "--port", "0", "--threads", "1", "--capacity", str(CAPACITY),
            "--delay", "0", "--max-backlog", "4096",
        ]  # fmt: skip
        # from /tmp: python -m puts the current directory first on sys.path, which would choose the code
        server = subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd="/tmp", env=env
        )
        try:
            assert server.stdout is not None
            ready = server.stdout.readline().split()
            if len(ready) < 3 or ready[0] != "READY":
                raise RuntimeError(f"no READY line from {argv}")
            load = subprocess.Popen(
                [str(cload), "-p", ready[2], "-c", str(conns), "-t", "1", "-w", "3", "-d", str(window_s),
                 "-m", "refill"],
                stdout=subprocess.PIPE, text=True,
            )  # fmt: skip
            assert load.stdout is not None
            _, ts, te, _ = load.stdout.readline().split()
            time.sleep(max(float(ts) - time.monotonic(), 0.0))
            _control(server.pid, "-i", "on")
            time.sleep(max(float(te) - time.monotonic(), 0.0))
            _control(server.pid, "-d")
            result = json.loads(load.communicate(timeout=window_s + 120)[0].strip().splitlines()[-1])
        finally:
            server.terminate()
            server.wait(120)
        dumps = sorted(p for p in tmpdir.glob("callgrind.out*") if p.name != "callgrind.out")
        first = dumps[0] if dumps else out  # the -d dump: the window only (the exit dump is what followed)
        ir = _total_ir(first)
        answers = int(result["answers"])
        annotate = ""
        if top:
            annotate = subprocess.run(
                ["callgrind_annotate", "--threshold=99", str(first)],
                check=False,
                capture_output=True,
                text=True,
            ).stdout
            annotate = "\n".join(annotate.splitlines()[: top + 25])
    return {
        "backend": backend,
        "command": shlex.join(command),
        "connections": conns,
        "answers": answers,
        "instructions": ir,
        "instructions_per_request": ir / max(answers, 1),
        "rps_under_callgrind": float(result["rps"]),
        "annotate": annotate,
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--backend", default="event")
    p.add_argument("--connections", type=int, default=100)
    p.add_argument("--window", type=float, default=8.0, help="seconds of cload's window (counted)")
    p.add_argument("--command", default=f"{sys.executable} -m seatlab.server", help="the server command")
    p.add_argument("--top", type=int, default=0, help="also print this many functions by own cost")
    args = p.parse_args()
    command = shlex.split(args.command)
    env = dict(os.environ)
    while command and "=" in command[0]:  # VAR=value prefixes: the server's environment (valgrind
        name, _, value = command.pop(0).partition("=")  # follows no exec, so not through env(1))
        env[name] = value
    r = measure(command, env, args.backend, args.connections, args.window, args.top)
    r["command"] = args.command  # as given, with its VAR=value prefixes
    annotate = r.pop("annotate")
    print(json.dumps(r))
    if annotate:
        print(annotate)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
