"""Running the checks against one target: which run, which are skipped and why, what each gave.

How this works: the checks that need no server of their own run first,
against one shared server (started from the template with capacity
``SHARED_CAPACITY``, or the one at ``--address``). Every check runs
against a seat store unless the user declared the target a fixed-answer
server (``--fixed-answer``, which ``--backend calibrate`` and
``native_calibrate`` set): then the checks registered with ``store=True``
do not apply and are left out, saying so. It is never inferred from the
wire: a server that answers Stats with a Seat fails the checks of Stats,
Cancel and idempotent booking like any other wrong answer. One Stats before
the checks says in the report what the server answers. If the shared server
dies during a check, that check fails saying so and a new one is started
for the rest. Then each ``own_server`` check runs alone with the servers it
starts itself. At most one server runs at a time, so a template without
``{port}`` works too.

A check that could not run (a placeholder missing from the template, a
restart that ``--address`` cannot do) is skipped with its reason, and a
result with skips is incomplete, never a pass (``SuiteResult.verdict``).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

import seatlab.conformance.checks  # noqa: F401  (registers every check)
from seatlab.conformance.checks.semantics import SHARED_CAPACITY
from seatlab.conformance.registry import CHECKS, Check, Context
from seatlab.conformance.target import Address, Settings, Target, Template
from seatlab.conformance.wire import CheckFailed, CheckSkipped, Transcript, Wire, kind, stats_request
from seatlab.harness.process import ServerProcess, ServerStartError

_EXITING_S = 1.0  # after a failed check: how long a shared server that is exiting gets to finish


class Status(StrEnum):
    passed = "passed"
    failed = "failed"
    skipped = "skipped"


@dataclass
class Outcome:
    """What one check gave: its status, why (a failure or skip), and the exchange behind a failure."""

    check: Check
    status: Status
    seconds: float = 0.0
    reason: str = ""
    transcript: list[str] = field(default_factory=list)
    logs: str = ""  # where the failing check's server logs are


class Verdict(StrEnum):
    """The suite's result as a whole: each has its own exit status (``EXIT``)."""

    passed = "passed"  # every check ran and passed
    failed = "failed"  # a check failed
    incomplete = "incomplete"  # nothing failed, but some checks did not run: not a pass


EXIT = {Verdict.passed: 0, Verdict.failed: 1, Verdict.incomplete: 3}
"""Exit status of ``python -m seatlab.conformance`` per verdict (2 is bad usage, argparse's)."""


@dataclass
class SuiteResult:
    """Every outcome, and what the suite learned about the server."""

    target: str
    kind: str  # what the server answered to Stats before the checks
    outcomes: list[Outcome]
    seconds: float
    work_dir: Path
    not_applicable: list[Check] = field(default_factory=list)
    """Seat-store checks left out because the target was declared a fixed-answer server."""

    def count(self, status: Status) -> int:
        return sum(1 for o in self.outcomes if o.status == status)

    @property
    def ok(self) -> bool:
        """No check failed (some may not have run: see ``verdict``)."""
        return self.count(Status.failed) == 0

    @property
    def verdict(self) -> Verdict:
        if not self.ok:
            return Verdict.failed
        return Verdict.incomplete if self.count(Status.skipped) else Verdict.passed

    def skip_reasons(self) -> dict[str, int]:
        """Why checks did not run: each reason and how many checks it kept from running."""
        reasons: dict[str, int] = {}
        for o in self.outcomes:
            if o.status == Status.skipped:
                reasons[o.reason] = reasons.get(o.reason, 0) + 1
        return reasons


GROUPS = ["semantics", "pipelining", "bad-input", "limits", "concurrency", "lifecycle"]
"""The checks' groups in running order: the protocol's parts, then the process's lifecycle."""


def all_checks() -> list[Check]:
    """Every registered check, in running order (by group, then as registered)."""
    return sorted(CHECKS, key=lambda c: GROUPS.index(c.group) if c.group in GROUPS else len(GROUPS))


_OWN_SERVER_SKIP = (
    "needs a server of its own (to choose its settings, signal, kill or restart it); "
    "--address reaches one already running"
)


def _skip_reason(check: Check, target: Target) -> str | None:
    if check.own_server:
        if isinstance(target, Address):
            return _OWN_SERVER_SKIP
        missing = target.missing(check.placeholders)
        if missing:
            names = ", ".join("{" + m + "}" for m in missing)
            return (
                f"the command template has no {names}: the settings this check needs cannot reach the server"
            )
    return None


class _SharedServer:
    """The server the shared checks run against: started from the template, or at the address."""

    def __init__(self, target: Target, work_dir: Path) -> None:
        self.target = target
        self.work_dir = work_dir
        self.process: ServerProcess | None = None
        self.starts = 0

    def endpoint(self) -> tuple[str, int]:
        """(host, port), starting a server first if there is none (raises ServerStartError)."""
        if isinstance(self.target, Address):
            return self.target.host, self.target.port
        if self.process is None or not self.process.running:
            self.stop()
            self.starts += 1
            folder = self.work_dir / f"shared{self.starts}"
            folder.mkdir(parents=True, exist_ok=True)
            process = self.target.process(Settings(capacity=SHARED_CAPACITY), folder / "db.csv", folder)
            self.process = process.__enter__()
        return self.process.host, self.process.port

    def died(self, failed: bool) -> str | None:
        """Why the shared server is gone (exit code, stderr tail), or None while it runs.

        After a failed check it is given a moment to finish exiting: a server that crashed
        closes its sockets (the check sees EOF) a little before its exit can be reaped.
        """
        if self.process is None or self.process.popen is None:
            return None
        try:
            code = self.process.popen.wait(_EXITING_S if failed else 0)
        except subprocess.TimeoutExpired:
            return None
        tail = self.process.stderr_text()[-600:].strip() or "(nothing)"
        return f"the server exited with code {code} during this check; stderr ends: {tail}"

    def logs(self) -> str:
        """The folder of the shared server's logs (none for --address)."""
        if self.process is None:
            return ""
        return str(self.process.log_dir)

    def stop(self) -> None:
        if self.process is not None:
            self.process.__exit__(None, None, None)
            self.process = None


class _Unreachable(Exception):
    """Nothing answers a connection at the server's address."""


def _probe_kind(host: str, port: int, timeout_s: float, fixed: bool) -> str:
    """What the server answers to one Stats, for the report (the checks decide what is right)."""
    try:
        wire = Wire(host, port, Transcript(), timeout_s)
    except CheckFailed as exc:
        raise _Unreachable(str(exc)) from None
    try:
        wire.send(stats_request(1))
        answer = kind(wire.receive("the answer to Stats"))
    except CheckFailed as exc:
        answer = f"nothing usable ({exc})"
    finally:
        wire.close()
    if fixed:
        return f"declared a fixed-answer server (--fixed-answer); Stats answered with {answer}"
    if answer == "stats":
        return "seat store (Stats answered with a StatsReply)"
    hint = " (a fixed-answer calibration target? say so with --fixed-answer)" if answer == "seat" else ""
    return f"checked as a seat store; Stats answered with {answer}, not a StatsReply{hint}"


def run_suite(
    target: Target,
    checks: Iterable[Check] | None = None,
    *,
    timeout_s: float = 5.0,
    work_dir: Path | None = None,
    progress: Callable[[Outcome], None] | None = None,
) -> SuiteResult:
    """Run ``checks`` (default: all) against ``target``; every server started is stopped on return.

    ``work_dir`` holds the servers' logs and db files; by default a temporary
    folder, removed when every check passed and kept (its path in each
    failure) when one failed.
    """
    chosen = all_checks() if checks is None else list(checks)
    fixed = target.fixed_answer
    not_applicable = [c for c in chosen if fixed and c.store]
    chosen = [c for c in chosen if c not in not_applicable]
    own_dir = work_dir is None
    work = Path(tempfile.mkdtemp(prefix="seatlab-conformance-")) if work_dir is None else work_dir
    work.mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    shared = _SharedServer(target, work)
    outcomes: list[Outcome] = []

    def record(outcome: Outcome) -> None:
        outcomes.append(outcome)
        if progress is not None:
            progress(outcome)

    server_kind = "not probed (no check needs the shared server)"
    try:
        shared_checks = [c for c in chosen if not c.own_server]
        own_checks = [c for c in chosen if c.own_server]
        start_error = None
        if shared_checks or own_checks:
            try:
                host, port = shared.endpoint()
                server_kind = _probe_kind(host, port, timeout_s, fixed)
            except ServerStartError as exc:
                start_error = f"the server did not start: {exc}"
                server_kind = "unknown (the server did not start)"
            except _Unreachable as exc:
                start_error = str(exc)
                server_kind = "unknown (no connection)"
        for check in shared_checks:
            if start_error is not None:
                record(Outcome(check, Status.failed, reason=start_error))
                continue
            reason = _skip_reason(check, target)
            if reason is not None:
                record(Outcome(check, Status.skipped, reason=reason))
                continue
            record(_run_shared(check, shared, fixed, timeout_s, work))
        shared.stop()
        for check in own_checks:
            reason = _skip_reason(check, target)
            if reason is not None:
                record(Outcome(check, Status.skipped, reason=reason))
                continue
            if start_error is not None:
                record(Outcome(check, Status.failed, reason=start_error))
                continue
            assert isinstance(target, Template)
            ctx = Context("", 0, fixed, timeout_s, work / _folder(check), target=target)
            record(_run(check, ctx, lambda failed: None, str(ctx.work_dir)))
    finally:
        shared.stop()
    order = {c.name: i for i, c in enumerate(chosen)}
    outcomes.sort(key=lambda o: order[o.check.name])  # the table in check order, shared or not
    result = SuiteResult(
        target.describe(), server_kind, outcomes, time.monotonic() - start, work, not_applicable
    )
    if own_dir and (result.ok or not any(work.iterdir())):  # kept only for a failure's logs
        shutil.rmtree(work, ignore_errors=True)
    return result


def _folder(check: Check) -> str:
    return check.name.replace(".", "-")


def _run_shared(check: Check, shared: _SharedServer, fixed: bool, timeout_s: float, work: Path) -> Outcome:
    try:
        host, port = shared.endpoint()
    except ServerStartError as exc:
        return Outcome(check, Status.failed, reason=f"the shared server did not start again: {exc}")
    capacity = None
    if isinstance(shared.target, Template) and "capacity" in shared.target.placeholders:
        capacity = SHARED_CAPACITY
    ctx = Context(host, port, fixed, timeout_s, work / _folder(check), capacity=capacity)
    return _run(check, ctx, shared.died, shared.logs())


def _run(check: Check, ctx: Context, died: Callable[[bool], str | None], logs: str) -> Outcome:
    """Run one check in ``ctx``; its connections and servers closed, whatever happened."""
    start = time.monotonic()
    status, reason = Status.passed, ""
    try:
        check.run(ctx)
    except CheckSkipped as exc:
        status, reason = Status.skipped, str(exc)
    except CheckFailed as exc:
        status, reason = Status.failed, str(exc)
    except Exception as exc:  # a check that crashed is a failed check, with where it crashed
        status = Status.failed
        reason = f"the check itself raised {type(exc).__name__}: {exc}\n{traceback.format_exc(limit=4)}"
    finally:
        ctx.close()
    gone = died(status == Status.failed)
    if gone is not None:
        status, reason = Status.failed, f"{gone}" + (f" (and: {reason})" if reason else "")
    seconds = time.monotonic() - start
    if status != Status.failed:
        return Outcome(check, status, seconds, reason)
    return Outcome(check, status, seconds, reason, ctx.transcript.tail(), logs)
