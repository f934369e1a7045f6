"""The command line of ``python -m seatlab.conformance``.

Exit status: 0 when every check ran and passed, 1 when one failed, 3 when
none failed but some did not run (incomplete: a placeholder missing from
the template, ``--address``), 2 for bad usage (argparse's message names
the flag or the placeholder). ``--check PATTERN`` (repeatable, shell-style:
``'bad-input.*'``) runs a subset; ``--list`` names every check and what it
checks. ``--fixed-answer`` declares a server that answers every frame with
one fixed Seat (``calibrate``): the checks of the seat store are then left
out; it is never inferred from what the server answers.
"""

from __future__ import annotations

import argparse
import dataclasses
import fnmatch
import sys
from collections.abc import Sequence
from pathlib import Path

from seatlab import native
from seatlab.conformance.output import outcome_line, text_report, write_junit
from seatlab.conformance.registry import Check
from seatlab.conformance.suite import EXIT, Outcome, all_checks, run_suite
from seatlab.conformance.target import Address, Target, Template
from seatlab.harness.templates import PLACEHOLDERS, TemplateError
from seatlab.server.backends import BACKENDS


def _address(text: str) -> Address:
    """An argparse type: ``host:port`` (``[::1]:port`` for IPv6)."""
    host, sep, port = text.rpartition(":")
    if not sep or not host:
        raise argparse.ArgumentTypeError(f"{text!r} is not host:port")
    host = host.removeprefix("[").removesuffix("]")
    try:
        number = int(port)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: port {port!r} is not a number") from None
    if not 1 <= number <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r}: port {number} is not between 1 and 65535")
    return Address(host, number)


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be more than 0 seconds")
    return value


def build_parser() -> argparse.ArgumentParser:
    placeholders = " ".join("{" + name + "}" for name in PLACEHOLDERS)
    p = argparse.ArgumentParser(
        prog="python -m seatlab.conformance",
        description="Check that a server speaks the seatlab wire protocol (protocol.md): semantics, "
        "pipelining, half-close, bad input, limits, SIGTERM, restart with the db, kill -9, concurrency.",
        epilog="Exit status: 0 every check ran and passed; 1 a check failed; 3 incomplete: none failed but "
        "some checks did not run (the summary says how many and why; not a pass); 2 bad usage.",
    )
    server = p.add_mutually_exclusive_group()
    server.add_argument(
        "--command",
        metavar="TEMPLATE",
        help=f"the command that starts the server, with placeholders {placeholders} "
        "(as backend=external's server_command); it must print 'READY <host> <port>' and exit 0 on SIGTERM",
    )
    server.add_argument(
        "--backend",
        choices=[*BACKENDS, *(f"native_{name}" for name in native.SERVERS)],
        help="one of seatlab's own servers (python -m seatlab.server, or native_*: the C++ ones, "
        "built on first use); calibrate and native_calibrate imply --fixed-answer",
    )
    server.add_argument(
        "--address",
        type=_address,
        metavar="HOST:PORT",
        help="a server already running: the checks that start, signal or restart servers are skipped",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=1,
        metavar="N",
        help="with --backend: start seatlab's Python server as N worker processes sharing one seat "
        "store (--workers N); default 1",
    )
    p.add_argument(
        "--fixed-answer",
        action="store_true",
        help="the server is a fixed-answer calibration target (every frame answered with one Seat, "
        "nothing booked): leave out the checks of the seat store. Never inferred: without it, such a "
        "server fails them",
    )
    p.add_argument("--junit", type=Path, metavar="FILE", help="also write the results as JUnit XML")
    p.add_argument(
        "--check",
        action="append",
        metavar="PATTERN",
        help="run only the checks whose names match (shell-style, repeatable), e.g. 'bad-input.*'",
    )
    p.add_argument("--list", action="store_true", help="list the checks and exit")
    p.add_argument(
        "--timeout",
        type=_positive,
        default=5.0,
        metavar="S",
        help="seconds to wait for one answer before failing (default 5)",
    )
    p.add_argument(
        "--ready-timeout",
        type=_positive,
        default=10.0,
        metavar="S",
        help="seconds to wait for READY (default 10)",
    )
    p.add_argument(
        "--work-dir",
        type=Path,
        metavar="DIR",
        help="where server logs and db files go (default: a temporary folder, kept only when a check fails)",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="no line per check as it finishes")
    return p


def select(patterns: Sequence[str] | None, parser: argparse.ArgumentParser) -> list[Check]:
    """The checks matching any of ``patterns`` (all if none); a pattern matching nothing is a usage error."""
    checks = all_checks()
    if not patterns:
        return checks
    for pattern in patterns:
        if not any(fnmatch.fnmatchcase(c.name, pattern) for c in checks):
            parser.error(f"--check {pattern!r} matches no check (see --list)")
    return [c for c in checks if any(fnmatch.fnmatchcase(c.name, p) for p in patterns)]


def _target(args: argparse.Namespace, parser: argparse.ArgumentParser) -> Target:
    if args.address is not None:
        address: Address = args.address
        return dataclasses.replace(address, fixed_answer=args.fixed_answer)
    if args.backend is not None:
        if args.workers < 1:
            parser.error(f"--workers {args.workers}: must be at least 1")
        try:
            target = Template.for_backend(args.backend, args.ready_timeout, args.workers)
        except (TemplateError, ValueError) as exc:
            parser.error(f"--backend {args.backend}: {exc}")
        target.fixed_answer = target.fixed_answer or args.fixed_answer
        return target
    if args.workers != 1:
        parser.error("--workers goes with --backend (a --command states its own flags)")
    if args.command is None:
        parser.error("give the server: --command TEMPLATE, --backend NAME or --address HOST:PORT")
    try:
        return Template(args.command, "command", args.ready_timeout, args.fixed_answer)
    except TemplateError as exc:
        parser.error(f"--command: {exc}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    checks = select(args.check, parser)
    if args.list:
        for c in checks:
            needs = " [own server]" if c.own_server else ""
            print(f"{c.name:<48} {c.doc}{needs}")
        return 0
    target = _target(args, parser)

    def progress(outcome: Outcome) -> None:
        print(outcome_line(outcome), file=sys.stderr, flush=True)

    result = run_suite(
        target,
        checks,
        timeout_s=args.timeout,
        work_dir=args.work_dir,
        progress=None if args.quiet else progress,
    )
    print(text_report(result), flush=True)
    if args.junit is not None:
        write_junit(result, args.junit)
        print(f"JUnit XML: {args.junit}")
    if not result.ok and args.work_dir is None and result.work_dir.exists():
        print(f"server logs and db files kept in {result.work_dir}")
    return EXIT[result.verdict]
