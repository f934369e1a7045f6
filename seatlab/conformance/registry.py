"""The checks, what each needs, and the context it runs in.

How this works: a check is a plain function ``(ctx) -> None`` registered
with ``@check(name, doc, ...)``; it talks to the server through
``ctx.connect()`` and fails by raising ``CheckFailed`` (``expect`` does
that). Its registration says what it needs, so the suite can skip it with
a reason instead of running it where it cannot mean anything:
``own_server`` (it starts, signals, kills or restarts servers itself via
``ctx.start``; impossible with ``--address``), ``placeholders`` (the
settings it starts them with must reach the server through the command
template), ``store`` (it needs a server that books seats; a fixed-answer
server like ``calibrate`` answers Stats with a Seat and gets only the
framing and lifecycle checks). Checks without ``own_server`` share one
server, started once; they use fresh uuids and count Stats relative to
what they saw first, so they do not depend on each other.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from seatlab.conformance.target import Settings, Template
from seatlab.conformance.wire import CheckFailed, CheckSkipped, Transcript, Wire
from seatlab.harness.process import ServerProcess, ServerStartError
from seatlab.protocol import seat_pb2


@dataclass(frozen=True)
class Check:
    """One check of the protocol contract."""

    name: str  # "group.what", e.g. "semantics.rebook-idempotent"
    doc: str  # the rule it checks, in one sentence
    run: Callable[[Context], None]
    own_server: bool = False
    placeholders: tuple[str, ...] = ()
    store: bool = True

    @property
    def group(self) -> str:
        return self.name.split(".", 1)[0]


CHECKS: list[Check] = []
"""Every check, in the order they run (the order their modules register them)."""


def check(
    name: str, doc: str, *, own_server: bool = False, placeholders: tuple[str, ...] = (), store: bool = True
) -> Callable[[Callable[[Context], None]], Callable[[Context], None]]:
    """Register a check function under ``name``."""

    def register(run: Callable[[Context], None]) -> Callable[[Context], None]:
        if any(c.name == name for c in CHECKS):
            raise ValueError(f"two checks named {name!r}")
        CHECKS.append(Check(name, doc, run, own_server, placeholders, store))
        return run

    return register


def expect(condition: bool, message: str) -> None:
    """Fail the check with ``message`` unless ``condition`` holds."""
    if not condition:
        raise CheckFailed(message)


def skip(reason: str) -> None:
    """Skip the check from inside it (a condition only the running server shows)."""
    raise CheckSkipped(reason)


@dataclass
class Context:
    """What a check runs with: the server (shared or its own), connections, a folder for files."""

    host: str
    port: int
    fixed: bool  # the server answers Stats with a Seat: a fixed-answer (calibrate-style) server
    timeout_s: float
    work_dir: Path
    target: Template | None = None  # None for the shared server's checks: they start nothing
    capacity: int | None = None  # the capacity the server was started with (None: not ours to know)
    transcript: Transcript = field(default_factory=Transcript)
    wires: list[Wire] = field(default_factory=list)
    started: list[ServerProcess] = field(default_factory=list)

    def connect(self, server: ServerProcess | None = None, timeout_s: float | None = None) -> Wire:
        """A new connection to ``server`` (default: the check's server); closed after the check."""
        host, port = (self.host, self.port) if server is None else (server.host, server.port)
        wire = Wire(host, port, self.transcript, self.timeout_s if timeout_s is None else timeout_s)
        self.wires.append(wire)
        return wire

    def db_path(self, name: str = "db.csv") -> Path:
        """A path for a db file in this check's own folder (not created)."""
        self.work_dir.mkdir(parents=True, exist_ok=True)
        return self.work_dir / name

    def process(self, settings: Settings, db_path: Path | None = None) -> ServerProcess:
        """A server of this check's own for ``settings``, not yet started (the caller enters it)."""
        assert self.target is not None, "an own_server check ran without a command template"
        log_dir = self.work_dir / f"server{len(self.started) + 1}"
        server = self.target.process(
            settings, db_path or self.db_path(f"db{len(self.started) + 1}.csv"), log_dir
        )
        self.started.append(server)
        return server

    def start(self, settings: Settings | None = None, db_path: Path | None = None) -> ServerProcess:
        """Start a server of this check's own and wait for READY; stopped after the check."""
        server = self.process(settings or Settings(), db_path)
        self.transcript.add(f"started  {' '.join(server.command)[:300]}")
        try:
            server.__enter__()
        except ServerStartError as exc:
            self.transcript.add(f"start failed: {exc}")
            raise CheckFailed(f"the server did not start: {exc}") from None
        self.transcript.add(f"ready at {server.host}:{server.port}")
        return server

    def close(self) -> None:
        """Close every connection and stop every server the check started (SIGTERM, then kill)."""
        for wire in self.wires:
            wire.close()
        for server in self.started:
            server.__exit__(None, None, None)


def stats_of(wire: Wire) -> tuple[int, int]:
    """(capacity, booked) by Stats on ``wire``; ``CheckFailed`` if the answer is not a StatsReply."""
    response = wire.stats()
    expect(
        response.WhichOneof("result") == "stats",
        f"Stats was answered with {response.WhichOneof('result') or 'nothing'}, not a StatsReply",
    )
    return response.stats.capacity, response.stats.booked


def expect_seat(response: seat_pb2.Response, uuid: str, rid: int | None = None) -> int:
    """The seat number of a Seat answer for ``uuid`` (echoed in lower case) to request ``rid``."""
    got = response.WhichOneof("result")
    expect(got == "seat", f"Book {uuid} was answered with {got or 'nothing'}, not a Seat")
    expect(
        response.seat.uuid == uuid.lower(),
        f"the Seat for {uuid} carries uuid {response.seat.uuid!r}, not {uuid.lower()!r}",
    )
    expect(response.seat.number >= 1, f"seat number {response.seat.number}: numbers start at 1")
    if rid is not None:
        expect(response.id == rid, f"the answer to request {rid} carries id {response.id}")
    return response.seat.number


def expect_error(response: seat_pb2.Response, code: int, rid: int | None, what: str) -> None:
    """An ``Error{code}`` with a message, answering request ``rid`` (None: any id)."""
    name = code_name(code)
    got = response.WhichOneof("result")
    expect(got == "error", f"{what} was answered with {got or 'nothing'}, not Error{{{name}}}")
    expect(
        response.error.code == code,
        f"{what} was answered with Error{{{code_name(response.error.code)}}}, not {name}",
    )
    expect(bool(response.error.message), f"the Error{{{name}}} for {what} has no message")
    if rid is not None:
        expect(response.id == rid, f"the Error for {what} carries id {response.id}, not {rid}")


def code_name(code: int) -> str:
    """The name of an Error code, or the number for one the protocol does not define."""
    try:
        return seat_pb2.Error.Code.Name(code)
    except ValueError:
        return str(code)


def free_seats(wire: Wire, needed: int) -> int:
    """Seats booked now; skips the check if fewer than ``needed`` are free (a full running server)."""
    capacity, booked = stats_of(wire)
    if capacity - booked < needed:
        skip(f"needs {needed} free seats; the server has {capacity - booked} of {capacity}")
    return booked
