"""Instructions per request of a server, counted by callgrind: the before/after figure that load cannot move.

How this works: the server runs under ``valgrind --tool=callgrind`` with
instrumentation off (start-up is not counted), the C load generator
``cload`` (built from ``shared/ref`` into a temporary folder, as
``versus_c.py`` does) drives it over N connections in its ``refill`` mode
(the load generator's Book + Cancel pattern), instrumentation is switched
on at the start of cload's measured window (``callgrind_control -i on``)
and the counts are dumped at its end (``callgrind_control -d``). The figure
is the dump's instruction count divided by the reads the server made in it
(calls of uvloop's read callback, counted by callgrind itself; with one
request outstanding per connection a read is one request), which is exact,
whereas cload's own count of its window is off by the second or so that
``callgrind_control`` takes to act (both are printed): user-space instructions per request of the whole server
process (CPython, uvloop/libuv, libc; the kernel's work in the syscalls is
not in it). It does not depend on what else the machine runs, so two
versions are compared by running this once on each, in any order.
``--top`` also prints callgrind_annotate's functions by own cost.

    .venv/bin/python experiments/ceiling/callgrind_server.py --backend event --connections 100
    .venv/bin/python experiments/ceiling/callgrind_server.py --command 'PYTHONPATH=/tmp/old python3 -m seatlab.server'
    .venv/bin/python experiments/ceiling/callgrind_server.py --backend event --workers 2

``--workers N`` counts a server of N worker processes. callgrind_control reaches only the process
valgrind started (a forked worker has no vgdb channel of its own), so that figure is taken another
way, ``--whole-life``: every process is counted from start to exit (each forked worker writes its own
dump, ``callgrind.out.<pid>``), twice, with a short and a long window, and the instructions per
request are the difference of the two totals over the difference of their reads: start-up, the
connections' set-up and the shutdown cancel. ``--whole-life --workers 1`` is the like-for-like
figure of the one-process server.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import shutil
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


READ_CALLBACK = "__pyx_f_6uvloop_4loop___uv_stream_on_read"
"""uvloop's libuv read callback (its C name): one call per read."""


def calls_to(path: Path, function: str) -> int:
    """How many times the dump saw ``function`` called (its ``calls=`` lines, over every caller)."""
    names: dict[str, str] = {}
    total = 0
    target = False
    for line in path.read_text(errors="replace").splitlines():
        if line.startswith("cfn="):
            m = re.match(r"cfn=\((\d+)\)(?: (.*))?", line)
            if m is None:
                target = line[4:].strip() == function
                continue
            if m.group(2) is not None:
                names[m.group(1)] = m.group(2)
            target = names.get(m.group(1)) == function
        elif line.startswith("fn="):
            m = re.match(r"fn=\((\d+)\)(?: (.*))?", line)
            if m is not None and m.group(2) is not None:
                names[m.group(1)] = m.group(2)
        elif target and line.startswith("calls="):
            total += int(line[6:].split()[0])
            target = False
    return total


def _start(argv: list[str], env: dict[str, str]) -> tuple[subprocess.Popen[str], str]:
    """The server under valgrind, and the port of its READY line."""
    # from /tmp: python -m puts the current directory first on sys.path, which would choose the code
    server = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd="/tmp", env=env
    )
    assert server.stdout is not None
    ready = server.stdout.readline().split()
    if len(ready) < 3 or ready[0] != "READY":
        server.kill()
        server.wait()
        raise RuntimeError(f"no READY line from {argv}")
    return server, ready[2]


def measure(
    command: list[str],
    env: dict[str, str],
    backend: str,
    conns: int,
    window_s: float,
    top: int,
    delay_ms: float = 0.0,
) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="seatlab-callgrind-") as tmp:
        tmpdir = Path(tmp)
        _, cload = build(tmpdir)
        out = tmpdir / "callgrind.out"
        argv = [
            "valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}",
            *command, "--backend", backend, "--port", "0", "--threads", "1", "--capacity", str(CAPACITY),
            "--delay", f"{delay_ms:g}", "--max-backlog", "4096",
        ]  # fmt: skip
        server, port = _start(argv, env)
        try:
            load = subprocess.Popen(
                [str(cload), "-p", port, "-c", str(conns), "-t", "1", "-w", "3", "-d", str(window_s),
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
        # uvloop's read callback runs once per read, and a closed-loop client's read is one request:
        # counted in the dump itself, this is exact, whereas cload's window and the dump's are up to
        # a second or so apart (callgrind_control through vgdb); the regex is a cross-check (one call
        # per plain request in match_plain; two per Cancel before it)
        reads = calls_to(first, READ_CALLBACK)
        matched = calls_to(first, "_sre_SRE_Pattern_fullmatch")
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
        "delay_ms": delay_ms,
        "instructions": ir,
        "reads": reads,
        "instructions_per_request": ir / reads if reads else None,
        "cload_answers": answers,
        "instructions_per_cload_answer": ir / max(answers, 1),
        "regex_fullmatch_calls": matched,
        "rps_under_callgrind": float(result["rps"]),
        "annotate": annotate,
    }


def _whole_life_run(
    cload: Path,
    command: list[str],
    env: dict[str, str],
    backend: str,
    conns: int,
    window_s: float,
    delay_ms: float,
    workers: int,
    tmpdir: Path,
    keep: Path | None = None,
) -> tuple[int, int, list[int]]:
    """One run counted from start to exit in every process: (instructions, reads, reads per process)."""
    for old in tmpdir.glob("callgrind.out.*"):
        old.unlink()
    argv = [
        "valgrind", "--tool=callgrind", f"--callgrind-out-file={tmpdir}/callgrind.out.%p",
        *command, "--backend", backend, "--port", "0", "--threads", "1", "--capacity", str(CAPACITY),
        "--delay", f"{delay_ms:g}", "--max-backlog", "4096", "--workers", str(workers),
    ]  # fmt: skip
    server, port = _start(argv, env)
    try:
        subprocess.run(
            [str(cload), "-p", port, "-c", str(conns), "-t", "1", "-w", "1", "-d", str(window_s), "-m", "refill"],
            check=True, capture_output=True, timeout=window_s + 120,
        )  # fmt: skip
    finally:
        server.terminate()
        server.wait(120)
    dumps = sorted(tmpdir.glob("callgrind.out.*"))
    reads = [calls_to(d, READ_CALLBACK) for d in dumps]
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        for d in dumps:
            shutil.copy(d, keep / d.name)
    return sum(_total_ir(d) for d in dumps), sum(reads), reads


def measure_whole_life(
    command: list[str],
    env: dict[str, str],
    backend: str,
    conns: int,
    window_s: float,
    delay_ms: float,
    workers: int,
    keep: Path | None = None,
) -> dict[str, object]:
    """Instructions per request of a server of ``workers`` processes: two whole-life runs, a short and
    a long window, differenced (see the module docstring)."""
    with tempfile.TemporaryDirectory(prefix="seatlab-callgrind-") as tmp:
        tmpdir = Path(tmp)
        _, cload = build(tmpdir)
        short = _whole_life_run(cload, command, env, backend, conns, window_s / 4, delay_ms, workers, tmpdir)
        long = _whole_life_run(cload, command, env, backend, conns, window_s, delay_ms, workers, tmpdir, keep)
    return {
        "backend": backend,
        "workers": workers,
        "method": "whole life, long minus short window",
        "command": shlex.join(command),
        "connections": conns,
        "delay_ms": delay_ms,
        "instructions": [short[0], long[0]],
        "reads": [short[1], long[1]],
        "reads_per_process_long": long[2],
        "instructions_per_request": (long[0] - short[0]) / (long[1] - short[1])
        if long[1] > short[1]
        else None,
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--backend", default="event")
    p.add_argument("--connections", type=int, default=100)
    p.add_argument("--window", type=float, default=8.0, help="seconds of cload's window (counted)")
    p.add_argument("--command", default=f"{sys.executable} -m seatlab.server", help="the server command")
    p.add_argument("--delay", type=float, default=0.0, help="the server's --delay in ms (the delay path)")
    p.add_argument("--top", type=int, default=0, help="also print this many functions by own cost")
    p.add_argument(
        "--workers", type=int, default=1, help="the server's --workers (implies --whole-life above 1)"
    )
    p.add_argument(
        "--whole-life", action="store_true", help="count every process start to exit, twice, differenced"
    )
    p.add_argument(
        "--keep", type=Path, help="--whole-life: copy the long run's dumps here (callgrind_annotate)"
    )
    args = p.parse_args()
    command = shlex.split(args.command)
    env = dict(os.environ)
    while command and "=" in command[0]:  # VAR=value prefixes: the server's environment (valgrind
        name, _, value = command.pop(0).partition("=")  # follows no exec, so not through env(1))
        env[name] = value
    if args.whole_life or args.workers > 1:
        whole = measure_whole_life(
            command, env, args.backend, args.connections, args.window, args.delay, args.workers, args.keep
        )
        whole["command"] = args.command
        print(json.dumps(whole))
        return 0
    r = measure(command, env, args.backend, args.connections, args.window, args.top, args.delay)
    r["command"] = args.command  # as given, with its VAR=value prefixes
    annotate = r.pop("annotate")
    print(json.dumps(r))
    if annotate:
        print(annotate)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
