"""``python -m seatlab.client``: the load generator's command line.

Exit status: 0 done, 1 the run could not be made (no server, a process
failed), 2 bad parameters, 3 the audit failed (the server double-booked or
its Stats disagree with what clients were confirmed), 4 a failed run (it
measured nothing, or the audit could not be done: the server was killed,
stopped or closed every connection).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from seatlab.client.output import human_summary
from seatlab.client.run import run_load
from seatlab.client.spec import AuditError, FailedRunError, LoadError, LoadSpec
from seatlab.modes import Connect, Mode, Schedule, words


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m seatlab.client",
        description="Load generator for a seatlab server: closed or open loop, sell-out or duration runs.",
        epilog=(
            "exit status: 0 done; 1 the run could not be made (no server, a load process failed); "
            "2 bad parameters; 3 the audit failed (double booking, Stats that disagree); "
            "4 a failed run (0 answers in the window, or no Stats at the end: nothing to audit)"
        ),
    )
    d = LoadSpec()  # the defaults, stated once there
    p.add_argument("--address", default=d.address, help="server address (default %(default)s)")
    p.add_argument("--port", type=int, default=d.port, help="server port (default %(default)s)")
    p.add_argument(
        "--clients", type=int, default=d.clients, help="connections in total (default %(default)s)"
    )
    p.add_argument(
        "--diversity",
        type=int,
        default=d.diversity,
        help="load processes the clients are spread over (default %(default)s)",
    )
    p.add_argument(
        "--out-dir", type=Path, required=True, help="where summary.json, clients.csv, latency.hdr go"
    )
    p.add_argument("--mode", choices=words(Mode), default=str(d.mode), help="(default %(default)s)")
    p.add_argument(
        "--duration",
        type=float,
        default=d.duration_s,
        help="duration mode: measured window, s (default %(default)g)",
    )
    p.add_argument(
        "--warmup", type=float, default=d.warmup_s, help="duration mode: warm-up, s (default %(default)g)"
    )
    p.add_argument("--rate", type=float, default=d.rate, help="open loop: bookings per second in total")
    p.add_argument(
        "--loop", choices=("closed", "open"), default=None, help="optional check: open needs --rate"
    )
    p.add_argument(
        "--schedule",
        choices=words(Schedule),
        default=str(d.schedule),
        help="open loop schedule (default %(default)s)",
    )
    p.add_argument("--connect", choices=words(Connect), default=str(d.connect), help="(default %(default)s)")
    p.add_argument(
        "--timeout",
        type=float,
        default=d.timeout_s,
        help="a request unanswered this long is a timeout, s (default %(default)g)",
    )
    p.add_argument(
        "--max-time",
        type=float,
        default=d.max_time_s,
        help="hard cap on the whole run, s (default %(default)g)",
    )
    p.add_argument(
        "--answer-wait",
        type=float,
        default=d.answer_wait_s,
        help="duration mode: after the warm-up, wait at most this long for every first answer, s "
        "(default %(default)g)",
    )
    p.add_argument(
        "--drain",
        type=float,
        default=d.drain_s,
        help="wait at most this long for last answers, s (default %(default)g); answers the server "
        "still owes after that are awaited while it keeps answering (the backlog)",
    )
    p.add_argument(
        "--interval",
        type=float,
        default=d.interval_s,
        help="the timeline's step: answers and latency per interval of this many s, in latency.hlog and "
        "intervals.csv (default %(default)g)",
    )
    p.add_argument("--seed", type=int, default=None, help="seed of the Poisson schedule")
    p.add_argument(
        "--fixed-answer",
        action="store_true",
        help="the server answers every frame with one fixed Seat and books nothing (a calibration "
        "target): count its answers, check and audit nothing",
    )
    progress = p.add_mutually_exclusive_group()
    progress.add_argument(
        "--progress",
        dest="progress",
        action="store_true",
        default=None,
        help="live progress line (default: when stdout is a terminal)",
    )
    progress.add_argument("--no-progress", dest="progress", action="store_false")
    return p  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; returns the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.loop == "closed" and args.rate is not None:
        parser.error(f"--rate {args.rate:g} makes an open loop; it cannot go with --loop closed")
    if args.loop == "open" and args.rate is None:
        parser.error("--loop open needs --rate (bookings per second in total)")
    spec = LoadSpec(
        address=args.address, port=args.port, clients=args.clients, diversity=args.diversity, mode=args.mode,
        duration_s=args.duration, warmup_s=args.warmup, rate=args.rate, schedule=args.schedule,
        connect=args.connect, timeout_s=args.timeout, max_time_s=args.max_time, out_dir=args.out_dir,
        progress=sys.stdout.isatty() if args.progress is None else args.progress,
        answer_wait_s=args.answer_wait, drain_s=args.drain, seed=args.seed, fixed_answer=args.fixed_answer,
        interval_s=args.interval,
    )  # fmt: skip
    try:
        summary = run_load(spec)
    except (AuditError, FailedRunError) as exc:
        if exc.summary is not None:
            print(human_summary(exc.summary))
        print(f"seatlab.client: {exc}", file=sys.stderr)
        return 3 if isinstance(exc, AuditError) else exc.exit_code
    except LoadError as exc:
        print(f"seatlab.client: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("seatlab.client: interrupted", file=sys.stderr)
        return 130
    print(human_summary(summary))
    return 0
