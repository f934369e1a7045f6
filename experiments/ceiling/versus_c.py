"""seatlab against the physical limit: the pairings of issue 12 with the C server and load generator.

How this works: the C programs of ``shared/ref`` (an epoll server, ``cserver``,
and a closed-loop load generator, ``cload``) are compiled with ``cc -O2`` into a
temporary folder (never committed) and every pairing below runs, once per
round, in an order that rotates every round, so that drift on the shared
machine hits every pairing alike:

- ``cload -> cserver``: the limit (``-S``, the real seat store; cload's
  ``refill``: the load generator's own Book + Cancel pattern);
- ``cload -> event`` and ``cload -> coro``: the Python servers under the same
  C load (``--threads 1``: one loop, see the README);
- ``client -> cserver``: ``python -m seatlab.client`` (duration mode: the
  same refill, checked and audited) against the same C server;
- ``client -> event``: what seatlab itself reports;
- ``client2 -> cserver`` and ``client2 -> event``: the same with ``--diversity 2``,
  one load process per core (what the issue asks: as many processes as the
  cores allow; cload stays one thread, the limit as its README measured it).

Every figure is the rate in the load side's measured window and the CPU of
each side over it: the server from ``/proc`` (psutil) at the window's
start and end, cload from its own ``getrusage``, seatlab.client from its
``summary.json`` (``loadgen_cpu_us_per_answer``). seatlab.client's window
is not in summary.json in absolute time, so it is placed from the
moment the client exited minus its ``elapsed_s`` (late by the client's
last Stats and file writes), and the server's CPU beside it is sampled
over a span inside it (0.5 s after its start to 2 s before its end), at
the steady closed-loop rate, which is what the per request figure divides
by. The table gives, per pairing and connection
count, the median over rounds of the rate and of the ratio to the limit
*in the same round*; ratios, never absolute rates, compare pairings.

    .venv/bin/python experiments/ceiling/versus_c.py --rounds 3 --connections 100,1000 \\
        --out experiments/ceiling/data/versus-c.json
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import psutil

from seatlab.registry import FIXED_ANSWER

REF = next(
    (
        d / "shared" / "ref"
        for d in Path(__file__).resolve().parents
        if (d / "shared" / "ref" / "cload.c").is_file()
    ),
    Path("/work/shared/ref"),
)
"""The C programs' sources: the nearest ``shared/ref`` above this file (``/work/shared/ref``)."""

PAIRINGS = [
    "cload->cserver", "cload->event", "cload->coro", "client->cserver", "client->event",
    "client2->cserver", "client2->event",
]  # fmt: skip
FLOORS = ["cload->calibrate", "cload->native_event"]
"""Not in the default run (``--pairings``): Python's floor on uvloop (``calibrate``: the same
callbacks and framing, a fixed answer, no seat service) and the original's libevent server in
C++ (``native_event``, built by ``python -m seatlab.native build``): what a compiled request path
reaches on the same machine."""
LIMIT = "cload->cserver"
CAPACITY = 10_000_000  # far more seats than the refill ever holds: nothing sells out


@dataclass
class Sample:
    """One pairing at one connection count in one round."""

    pairing: str
    connections: int
    round: int
    rps: float
    server_cpu_pct: float
    server_us_per_req: float
    load_cpu_pct: float
    load_us_per_req: float
    errors: int
    load_avg: float


def build(into: Path) -> tuple[Path, Path]:
    """Compile cserver and cload from ``shared/ref`` into ``into``: (cserver, cload)."""
    out = []
    for name in ("cserver", "cload"):
        source = REF / f"{name}.c"
        if not source.is_file():
            raise SystemExit(f"versus_c: {source} not found (the C reference programs, shared/ref)")
        binary = into / name
        subprocess.run(
            ["cc", "-O2", "-Wall", "-Wextra", "-pthread", "-o", str(binary), str(source)], check=True
        )
        out.append(binary)
    return out[0], out[1]


@contextlib.contextmanager
def server(argv: list[str], checkout: Path | None = None) -> Iterator[tuple[psutil.Process, int]]:
    """A server that prints ``READY <host> <port>``: (its process, its port); always stopped.

    ``checkout``: run seatlab from that folder (PYTHONPATH, from /tmp so that the current
    directory, which ``python -m`` puts first on sys.path, cannot choose the code).
    """
    env = dict(os.environ, PYTHONPATH=str(checkout.resolve())) if checkout else None
    cwd = "/tmp" if checkout else None
    proc = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env, cwd=cwd
    )
    try:
        assert proc.stdout is not None
        ready = proc.stdout.readline().split()
        if len(ready) < 3 or ready[0] != "READY":
            raise RuntimeError(f"{argv[0]}: no READY line (got {ready!r})")
        yield psutil.Process(proc.pid), int(ready[2])
    finally:
        proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(15)
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def server_argv(name: str, cserver: Path) -> list[str]:
    if name == "cserver":
        return [str(cserver), "-p", "0", "-S", "-c", str(CAPACITY), "-b", "4096"]
    if name.startswith("native_"):
        from seatlab.native import binary

        program = [str(binary(name.removeprefix("native_")))]
    else:
        program = [sys.executable, "-m", "seatlab.server", "--backend", name]
    return [
        *program, "--port", "0", "--threads", "1",
        "--capacity", str(CAPACITY), "--delay", "0", "--max-backlog", "4096",
    ]  # fmt: skip


def _cpu_s(proc: psutil.Process) -> float:
    t = proc.cpu_times()
    return float(t.user + t.system)


def _sleep_until(t: float) -> None:
    time.sleep(max(t - time.monotonic(), 0.0))


def run_cload(
    cload: Path, proc: psutil.Process, port: int, conns: int, window_s: float, fixed: bool = False
) -> dict[str, float]:
    load = subprocess.Popen(
        [str(cload), "-p", str(port), "-c", str(conns), "-t", "1", "-w", "1.5", "-d", str(window_s),
         "-m", "refill"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert load.stdout is not None
    _, ts, te, _ = load.stdout.readline().split()
    _sleep_until(float(ts))
    c0 = _cpu_s(proc)
    _sleep_until(float(te))
    c1 = _cpu_s(proc)
    out, _ = load.communicate(timeout=window_s + 60)
    r = json.loads(out.strip().splitlines()[-1])
    answers = max(int(r["answers"]), 1)
    return {
        "rps": float(r["rps"]),
        "server_cpu_s": c1 - c0,
        "window_s": float(te) - float(ts),
        "answers": answers,
        "load_cpu_pct": float(r["cload_cpu_pct"]),
        "load_us_per_req": float(r["cload_us_per_req"]),
        # a fixed-answer server (calibrate) answers every request with one Seat: not an error there
        "errors": int(r["io_errors"])
        + int(r["dead_conns"])
        + (0 if fixed else int(r["error"]) + int(r["uuid_mismatch"])),
    }


def run_client(
    proc: psutil.Process,
    port: int,
    conns: int,
    window_s: float,
    out_dir: Path,
    diversity: int = 1,
    fixed_answer: bool = False,
) -> dict[str, float]:
    """``python -m seatlab.client`` in duration mode; the server's CPU over the middle of its window."""
    warmup = 1.5
    window_s = max(window_s, 4.0)  # room for the sampled span's margins
    argv = [
        sys.executable, "-m", "seatlab.client", "--port", str(port), "--clients", str(conns),
        "--mode", "duration", "--warmup", str(warmup), "--duration", str(window_s),
        "--out-dir", str(out_dir), "--no-progress", "--diversity", str(diversity),
        *(["--fixed-answer"] if fixed_answer else []),
    ]  # fmt: skip
    samples: list[tuple[float, float]] = []
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            with contextlib.suppress(psutil.Error):
                samples.append((time.monotonic(), _cpu_s(proc)))
            stop.wait(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    done = subprocess.run(argv, check=False, capture_output=True, text=True, timeout=window_s + 120)
    stop.set()
    sampler.join()
    t_exit = time.monotonic()
    summary = json.loads((out_dir / "summary.json").read_text())
    rps = float(summary["throughput_rps"])
    # its window in our clock: the run ended (t0 + elapsed_s) a little before the process did, so
    # t0 is at most that little earlier than this estimate; the margins (0.5 s after the window's
    # start, 2 s before its end) keep the sampled span inside the window for up to 2 s of it
    t0 = t_exit - float(summary["elapsed_s"])
    start = t0 + float(summary["window_start_s"])
    a, b = start + 0.5, start + float(summary["window_s"]) - 2.0
    inside = [(t, c) for t, c in samples if a <= t <= b]
    if len(inside) >= 2 and rps > 0:
        (ta, ca), (tb, cb) = inside[0], inside[-1]
        server_cpu_s, span = cb - ca, tb - ta
    else:
        server_cpu_s, span = float("nan"), float("nan")
    errors = sum(int(v) for v in (summary.get("errors") or {}).values()) + int(done.returncode != 0)
    return {
        "rps": rps,
        "server_cpu_s": server_cpu_s,
        "window_s": span,
        "answers": rps * span,
        "load_cpu_pct": float(summary["loadgen_cpu_pct"]),
        "load_us_per_req": float(summary["loadgen_cpu_us_per_answer"] or float("nan")),
        "errors": errors,
    }


def run_one(pairing: str, conns: int, rnd: int, args: argparse.Namespace, bins: tuple[Path, Path]) -> Sample:
    cserver, cload = bins
    load, target = pairing.split("->")
    target, _, version = target.partition("@")  # NAME@base: the --base checkout's seatlab
    with server(server_argv(target, cserver), args.base if version else None) as (proc, port):
        if load == "cload":
            m = run_cload(cload, proc, port, conns, args.window, fixed=target == "calibrate")
        else:
            out = args.tmp / f"{pairing.replace('->', '-')}-{conns}-{rnd}"
            # calibrate and native_calibrate answer every frame with one Seat: declared, never sniffed
            m = run_client(
                proc, port, conns, args.window, out, int(load[len("client") :] or 1), target in FIXED_ANSWER
            )
    return Sample(
        pairing=pairing,
        connections=conns,
        round=rnd,
        rps=m["rps"],
        server_cpu_pct=100 * m["server_cpu_s"] / m["window_s"],
        server_us_per_req=1e6 * m["server_cpu_s"] / m["answers"],
        load_cpu_pct=m["load_cpu_pct"],
        load_us_per_req=m["load_us_per_req"],
        errors=m["errors"],
        load_avg=os.getloadavg()[0],
    )


def _order(pairing: str) -> tuple[int, str]:
    base = pairing.partition("@")[0]
    return (PAIRINGS.index(base) if base in PAIRINGS else len(PAIRINGS), pairing)


def table(samples: list[Sample], commit: str) -> str:
    """Markdown: per connection count and pairing, medians over rounds; the ratio is per round."""
    rows = [
        "| connections | load -> server | req/s (median) | ÷ limit, same round (median; each round) "
        "| server µs/req | server CPU % | load µs/req | load CPU % | errors | commit |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for conns in sorted({s.connections for s in samples}):
        limit = {s.round: s.rps for s in samples if s.connections == conns and s.pairing == LIMIT}
        for pairing in sorted({s.pairing for s in samples}, key=_order):
            mine = [s for s in samples if s.connections == conns and s.pairing == pairing]
            if not mine:
                continue
            ratios = [s.rps / limit[s.round] for s in mine if limit.get(s.round)]

            def med(field: str, xs: list[Sample] = mine) -> float:
                return statistics.median(getattr(x, field) for x in xs)

            ratio = (
                f"{statistics.median(ratios):.2f} ({', '.join(f'{r:.2f}' for r in ratios)})"
                if ratios
                else "-"
            )
            rows.append(
                f"| {conns} | {pairing} | {med('rps'):,.0f} | {ratio} | {med('server_us_per_req'):.1f} "
                f"| {med('server_cpu_pct'):.0f} | {med('load_us_per_req'):.1f} | {med('load_cpu_pct'):.0f} "
                f"| {sum(s.errors for s in mine)} | {commit} |"
            )
    return "\n".join(rows)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--window", type=float, default=5.0, help="seconds measured per run")
    p.add_argument("--connections", default="100,1000", help="comma-separated connection counts")
    p.add_argument("--pairings", default=",".join(PAIRINGS), help=f"comma-separated, of {PAIRINGS + FLOORS}")
    p.add_argument("--out", type=Path, default=None, help="JSON file of every sample")
    p.add_argument(
        "--base", type=Path, default=None,
        help="a checkout (e.g. a git export) whose seatlab servers also run, as NAME@base, in every round",
    )  # fmt: skip
    args = p.parse_args()
    pairings = args.pairings.split(",")
    unknown = [x for x in pairings if x not in PAIRINGS + FLOORS]
    if unknown:
        p.error(f"--pairings: unknown {unknown}; choose from {PAIRINGS + FLOORS}")
    if args.base is not None:
        if not (args.base / "seatlab" / "server" / "__main__.py").is_file():
            p.error(f"--base {args.base}: no seatlab/server/__main__.py there")
        pairings += [f"{x}@base" for x in pairings if not x.endswith("cserver")]
    connections = [int(c) for c in args.connections.split(",")]
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],
        check=False,
        capture_output=True,
        text=True,
        cwd=Path(__file__).parent,
    ).stdout.strip()
    samples: list[Sample] = []
    with tempfile.TemporaryDirectory(prefix="seatlab-versus-c-") as tmp:
        args.tmp = Path(tmp)
        bins = build(args.tmp)
        for rnd in range(args.rounds):
            for conns in connections:
                k = rnd % len(pairings)
                for pairing in pairings[k:] + pairings[:k]:  # rotate: no pairing always first
                    sample = run_one(pairing, conns, rnd, args, bins)
                    samples.append(sample)
                    print(json.dumps(asdict(sample)), flush=True)
            if args.out:
                args.out.write_text(json.dumps([asdict(s) for s in samples], indent=1) + "\n")
    print(table(samples, commit))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
