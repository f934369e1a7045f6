"""The server process: SIGTERM, restart with the db, kill -9, the db file (protocol.md, "Persistence").

Every check here starts servers of its own (``--address`` skips them all):
it has to signal, kill or restart them, or choose their db file.
"""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

from seatlab.conformance.registry import Context, check, expect, expect_seat, stats_of
from seatlab.conformance.target import Settings
from seatlab.conformance.wire import CheckFailed, Wire, kind, new_uuid
from seatlab.harness.process import ServerProcess, ServerStartError
from seatlab.protocol.messages import book_request

_EXIT_WITHIN_S = 10.0  # the spec's bound for a graceful stop
_EXIT_SLACK_S = 5.0  # a loaded machine's margin on top, before it counts as not exiting
_LONG_DELAY_MS = 1500  # a request in its delay when SIGTERM comes: long enough to be sure it started...
_STARTED_AFTER_S = 0.4  # ...this long after it was sent, on a loaded machine too (nothing shows it)
_CLOSE_WITHIN_S = _EXIT_WITHIN_S + _EXIT_SLACK_S  # connections close before the exit: the same bound


def db_seats(path: Path) -> dict[int, str]:
    """The seats the db file says, replayed line by line; ``CheckFailed`` for a malformed file."""
    expect(path.exists(), f"there is no db file at {path}")
    lines = path.read_text().splitlines()
    expect(
        bool(lines) and lines[0] == "number,uuid", f"{path}: the first line is not 'number,uuid': {lines[:1]}"
    )
    seats: dict[int, str] = {}
    for i, line in enumerate(lines[1:], start=2):
        number, sep, uuid = line.partition(",")
        expect(bool(sep) and number.isdigit(), f"{path}: line {i} is not 'N,uuid' or 'N,': {line!r}")
        if uuid:
            seats[int(number)] = uuid
        else:
            expect(int(number) in seats, f"{path}: line {i} cancels seat {number}, which is not booked")
            del seats[int(number)]
    return seats


def sigterm(ctx: Context, server: ServerProcess) -> None:
    """SIGTERM; ``CheckFailed`` unless the server exits 0 within the spec's 10 s (plus slack)."""
    assert server.popen is not None
    ctx.transcript.add("SIGTERM  sent to the server")
    server.popen.terminate()
    _wait_exit_0(ctx, server)


def _tail(server: ServerProcess) -> str:
    return server.stderr_text()[-600:].strip() or "(nothing)"


def _book(wire: Wire, n: int) -> dict[int, str]:
    booked = {}
    for _ in range(n):
        u = new_uuid()
        booked[expect_seat(wire.book(u), u)] = u
    return booked


@check(
    "lifecycle.sigterm-exits-0",
    "on SIGTERM the server closes its connections and exits 0 within 10 s",
    own_server=True,
    store=False,
)
def sigterm_exits_0(ctx: Context) -> None:
    server = ctx.start()
    idle = ctx.connect(server)
    busy = ctx.connect(server)
    busy.book(new_uuid())
    sigterm(ctx, server)
    expect(
        idle.at_eof(_CLOSE_WITHIN_S) and busy.at_eof(_CLOSE_WITHIN_S),
        "a connection was still open after the server exited",
    )


@check(
    "lifecycle.sigterm-finishes-started",
    "a request in its --delay when SIGTERM comes is answered, written to the db, then the server exits 0",
    own_server=True,
    placeholders=("delay", "db_path"),
)
def sigterm_finishes_started(ctx: Context) -> None:
    db = ctx.db_path()
    server = ctx.start(Settings(delay_ms=_LONG_DELAY_MS, threads=2), db)
    wire = ctx.connect(server)
    idle = ctx.connect(server)
    u = new_uuid()
    wire.send(book_request(1, u))
    time.sleep(_STARTED_AFTER_S)  # the request is in its delay
    assert server.popen is not None
    ctx.transcript.add("SIGTERM  sent to the server while the Book is in its delay")
    server.popen.terminate()
    expect_seat(wire.receive("the answer to the Book started before SIGTERM"), u, rid=1)
    expect(
        wire.at_eof(_CLOSE_WITHIN_S) and idle.at_eof(_CLOSE_WITHIN_S),
        "after SIGTERM a connection stayed open",
    )
    _wait_exit_0(ctx, server)
    expect(list(db_seats(db).values()) == [u], f"the db file does not hold exactly the booking of {u}")


def _wait_exit_0(ctx: Context, server: ServerProcess) -> None:
    """Wait for the exit after SIGTERM: 0 within the spec's 10 s plus slack, or ``CheckFailed``."""
    assert server.popen is not None
    start = time.monotonic()
    try:
        code = server.popen.wait(_EXIT_WITHIN_S + _EXIT_SLACK_S)
    except subprocess.TimeoutExpired:
        server.kill()
        raise CheckFailed(
            f"the server did not exit within {_EXIT_WITHIN_S + _EXIT_SLACK_S:g} s of SIGTERM"
        ) from None
    ctx.transcript.add(f"exited   with code {code} after {time.monotonic() - start:.2f} s")
    expect(code == 0, f"the server exited with code {code} on SIGTERM, not 0; stderr ends: {_tail(server)}")


@check(
    "lifecycle.sigterm-answers-pipelined",
    "requests pipelined behind one in its delay at SIGTERM are each answered (Seat or Error), in order; "
    "the db holds exactly the acknowledged ones",
    own_server=True,
    placeholders=("delay", "db_path"),
)
def sigterm_answers_pipelined(ctx: Context) -> None:
    db = ctx.db_path()
    server = ctx.start(Settings(delay_ms=_LONG_DELAY_MS, threads=2), db)
    wire = ctx.connect(server)
    uuids = [new_uuid() for _ in range(5)]
    wire.send(b"".join(book_request(i + 1, u) for i, u in enumerate(uuids)))
    time.sleep(_STARTED_AFTER_S)  # the first is in its delay, four wait behind it
    assert server.popen is not None
    ctx.transcript.add("SIGTERM  sent to the server while the first Book is in its delay")
    server.popen.terminate()
    answers = wire.receive_many(5, "answers to the pipelined Books")
    expect([a.id for a in answers] == [1, 2, 3, 4, 5], f"answers came with ids {[a.id for a in answers]}")
    expect_seat(answers[0], uuids[0], rid=1)
    for a, u in zip(answers[1:], uuids[1:], strict=True):
        expect(kind(a) in ("seat", "error"), f"Book {u} was answered with {kind(a)}")
        if kind(a) == "seat":
            expect_seat(a, u)
    expect(wire.at_eof(_CLOSE_WITHIN_S), "after SIGTERM the connection stayed open")
    _wait_exit_0(ctx, server)
    acknowledged = {a.seat.uuid for a in answers if kind(a) == "seat"}
    in_file = set(db_seats(db).values())
    expect(
        in_file == acknowledged,
        f"the db file holds {sorted(in_file)}, the answers acknowledged {sorted(acknowledged)}",
    )


def _register_restart(sync: str) -> None:
    @check(
        f"lifecycle.restart-keeps-bookings-{sync}",
        f"with --sync {sync}: after SIGTERM the db file replays to the seats; a restart restores every one",
        own_server=True,
        placeholders=("db_path",) + (("sync",) if sync != "os" else ()),
    )
    def run(ctx: Context) -> None:
        db = ctx.db_path()
        server = ctx.start(Settings(sync=sync), db)
        booked: dict[int, str] = {}
        for _ in range(3):
            wire = ctx.connect(server)
            booked |= _book(wire, 10)
            wire.close()  # a thread-pool server: frees its pool thread
        cancelled = next(iter(booked))
        released = ctx.connect(server).cancel(booked.pop(cancelled))
        expect(kind(released) == "released", f"Cancel was answered with {kind(released)}")
        sigterm(ctx, server)
        expect(db_seats(db) == booked, "the db file does not replay to the seats the server acknowledged")
        again = ctx.start(Settings(sync=sync), db)
        wire = ctx.connect(again)
        booked_after = stats_of(wire)[1]
        expect(booked_after == 29, f"after the restart Stats says {booked_after} booked, not 29")
        for number, u in booked.items():
            expect(
                expect_seat(wire.book(u), u) == number,
                f"after the restart {u} did not get back seat {number}",
            )


for _sync in ("os", "fsync"):
    _register_restart(_sync)


@check(
    "lifecycle.kill-9-keeps-acknowledged",
    "after kill -9, a restart with the db restores every acknowledged booking",
    own_server=True,
    placeholders=("db_path",),
)
def kill_9_keeps_acknowledged(ctx: Context) -> None:
    db = ctx.db_path()
    server = ctx.start(Settings(), db)
    booked = _book(ctx.connect(server), 25)
    ctx.transcript.add("SIGKILL  sent to the server")
    server.kill()
    wire = ctx.connect(ctx.start(Settings(), db))
    expect(stats_of(wire)[1] == 25, "after kill -9 and a restart Stats does not say 25 booked")
    for number, u in booked.items():
        expect(expect_seat(wire.book(u), u) == number, f"after kill -9 {u} did not get back seat {number}")


@check(
    "lifecycle.db-written-before-answer",
    "each acknowledged Book and Cancel is in the db file ('N,uuid', 'N,') when its answer arrives",
    own_server=True,
    placeholders=("db_path",),
)
def db_written_before_answer(ctx: Context) -> None:
    db = ctx.db_path()
    server = ctx.start(Settings(), db)
    wire = ctx.connect(server)
    for _ in range(5):
        u = new_uuid()
        number = expect_seat(wire.book(u), u)
        expect(db_seats(db).get(number) == u, f"seat {number} of {u} was answered but is not in {db}")
        released = wire.cancel(u)
        expect(kind(released) == "released", f"Cancel {u} was answered with {kind(released)}")
        expect(number not in db_seats(db), f"the Cancel of seat {number} was answered but is not in {db}")
        expect_seat(wire.book(u), u)


@check(
    "lifecycle.torn-last-line",
    "a last db line without its newline is dropped at start; the file stays one a restart reads",
    own_server=True,
    placeholders=("db_path",),
)
def torn_last_line(ctx: Context) -> None:
    db = ctx.db_path()
    u1, u2 = new_uuid(), new_uuid()
    db.write_text(f"number,uuid\n1,{u1}\n2,{u2[:20]}")
    ctx.transcript.add(f"wrote    {db}: header, '1,{u1}', then '2,{u2[:20]}' without a newline")
    server = ctx.start(Settings(), db)
    wire = ctx.connect(server)
    expect(stats_of(wire)[1] == 1, "with a torn last line, Stats does not say 1 booked")
    expect(expect_seat(wire.book(u1), u1) == 1, f"{u1} did not get back seat 1")
    u3 = new_uuid()
    number = expect_seat(wire.book(u3), u3)
    sigterm(ctx, server)
    expect(db_seats(db) == {1: u1, number: u3}, f"{db} does not replay to seat 1 and the new booking")


_BAD_DBS = {
    "corrupt-line": ("number,uuid\n1,{u}\nbanana\n", 3),
    "above-capacity": ("number,uuid\n1,{u}\n201,{v}\n", 3),
    "bad-header": ("seat,owner\n", 1),
}


def refused_start(ctx: Context, settings: Settings, db: Path, what: str) -> tuple[int, str]:
    """Start a server expected to refuse ``what``: (its exit code, what it said), ``CheckFailed`` if READY."""
    server = ctx.process(settings, db)
    try:
        server.__enter__()
    except ServerStartError as exc:
        ctx.transcript.add(f"start failed: {str(exc)[:300]}")
        code = server.popen.returncode if server.popen is not None else None
        expect(code is not None, f"the server did not exit before READY: {exc}")
        assert code is not None
        return code, server.stderr_text() + server.stdout_path.read_text(errors="replace")
    raise CheckFailed(f"the server started (READY) with {what}")


def _register_bad_db(name: str, content: str, line: int) -> None:
    @check(
        f"lifecycle.bad-db-{name}",
        f"a db file with {name.replace('-', ' ')} (line {line}) stops the start: exit non-zero, naming file and line",
        own_server=True,
        placeholders=("db_path", "capacity"),
    )
    def run(ctx: Context) -> None:
        db = ctx.db_path()
        db.write_text(content.format(u=new_uuid(), v=new_uuid()))
        ctx.transcript.add(f"wrote    {db}: {db.read_text()!r}")
        code, said = refused_start(
            ctx, Settings(capacity=200), db, f"a db file with {name.replace('-', ' ')}"
        )
        expect(code != 0, f"the server exited with code 0 before READY: {said[-400:]!r}")
        said = said.replace(str(db), f"<{db.name}>")
        expect(db.name in said, f"the server's error does not name the db file {db}: {said[-400:]!r}")
        expect(
            re.search(rf"\b{line}\b", said) is not None,
            f"the server's error does not name line {line}: {said[-400:]!r}",
        )


for _name, (_content, _line) in _BAD_DBS.items():
    _register_bad_db(_name, _content, _line)


@check(
    "lifecycle.bad-value-exits-2",
    "a bad flag value (--capacity -1) exits 2 before READY with a message that names the flag",
    own_server=True,
    placeholders=("capacity",),
    store=False,
)
def bad_value_exits_2(ctx: Context) -> None:
    code, said = refused_start(ctx, Settings(capacity=-1), ctx.db_path(), "--capacity -1")
    expect(code == 2, f"the server exited with code {code} for --capacity -1, not 2: {said[-400:]!r}")
    expect("capacity" in said.lower(), f"the server's message does not name the capacity: {said[-400:]!r}")
