"""Each native server over real sockets: the protocol's semantics, bad input, SIGTERM, the db across restarts
and kill -9, flags. (The full contract is ``python -m seatlab.conformance``: test_conformance.py.)"""

from __future__ import annotations

import signal
import socket
import subprocess
import threading
from pathlib import Path

import pytest
from server.harness import Client, new_uuid

from seatlab import native
from seatlab.protocol import seat_pb2
from seatlab.protocol.codec import encode_varint, frame
from seatlab.protocol.messages import book_request

from .conftest import SEAT_SERVERS, StartNative

pytestmark = pytest.mark.timeout(60)


def connect(server: object) -> Client:
    return Client(server.host, server.port)  # type: ignore[attr-defined]


@pytest.mark.parametrize("name", SEAT_SERVERS)
def test_book_idempotent_sold_out_cancel_stats(start_native: StartNative, name: str) -> None:
    server = start_native(name, capacity=2, delay_ms=1)
    c = connect(server)
    a, b, d = new_uuid(), new_uuid().upper(), new_uuid()
    first = c.book(a)
    assert first.WhichOneof("result") == "seat" and first.seat.uuid == a and 1 <= first.seat.number <= 2
    assert c.book(a).seat.number == first.seat.number  # idempotent: the same seat, no second one
    second = c.book(b)
    assert second.seat.uuid == b.lower() and second.seat.number != first.seat.number
    sold = c.book(d)
    assert sold.WhichOneof("result") == "sold_out" and sold.sold_out.capacity == 2
    assert (c.stats().stats.capacity, c.stats().stats.booked) == (2, 2)
    assert c.cancel(a).released.number == first.seat.number
    missing = c.cancel(a)
    assert missing.error.code == seat_pb2.Error.NOT_FOUND and a in missing.error.message
    assert c.book(d).seat.number == first.seat.number  # the freed seat is the next taker's


@pytest.mark.parametrize("name", SEAT_SERVERS)
def test_bad_request_keeps_the_connection(start_native: StartNative, name: str) -> None:
    server = start_native(name)
    c = connect(server)
    c.send(book_request(7, "{" + new_uuid() + "}"))
    answer = c.receive()
    assert (
        answer.id == 7
        and answer.error.code == seat_pb2.Error.BAD_REQUEST
        and "canonical" in answer.error.message
    )
    c.send(frame(b"\xff\xff\xff"))  # not a Request at all: id 0
    assert c.receive().error.code == seat_pb2.Error.BAD_REQUEST
    c.send(frame(seat_pb2.Request(id=9).SerializeToString()))  # no op
    assert c.receive().error.code == seat_pb2.Error.BAD_REQUEST
    assert c.book(new_uuid()).WhichOneof("result") == "seat"


@pytest.mark.parametrize("name", SEAT_SERVERS)
@pytest.mark.parametrize(
    ("prefix", "code"),
    [
        (encode_varint(65537), seat_pb2.Error.FRAME_TOO_LARGE),
        (b"\x80\x80\x80\x80\x80", seat_pb2.Error.BAD_FRAME),
    ],
)
def test_framing_error_answers_then_closes(
    start_native: StartNative, name: str, prefix: bytes, code: int
) -> None:
    server = start_native(name)
    c = connect(server)
    c.send(prefix)
    answer = c.receive()
    assert answer.id == 0 and answer.error.code == code
    while not c.at_eof():
        pass
    assert connect(server).book(new_uuid()).WhichOneof("result") == "seat"  # the others are still served


@pytest.mark.parametrize("name", SEAT_SERVERS)
def test_pipelined_answers_in_order_then_half_close(start_native: StartNative, name: str) -> None:
    server = start_native(name, capacity=100, delay_ms=2)
    c = connect(server)
    uuids = [new_uuid() for _ in range(20)]
    c.send(b"".join(book_request(i + 1, u) for i, u in enumerate(uuids)))
    c.sock.shutdown(socket.SHUT_WR)  # half-close: every request already sent is still answered
    answers = [c.receive() for _ in uuids]
    assert [a.id for a in answers] == list(range(1, 21))
    assert [a.seat.uuid for a in answers] == uuids
    assert len({a.seat.number for a in answers}) == 20
    assert c.at_eof()


@pytest.mark.parametrize("name", SEAT_SERVERS)
def test_one_uuid_from_many_connections_takes_one_seat(start_native: StartNative, name: str) -> None:
    server = start_native(name, capacity=50, delay_ms=5, threads=4)
    uuid = new_uuid()
    numbers: list[int] = []

    def book() -> None:
        numbers.append(connect(server).book(uuid).seat.number)

    threads = [threading.Thread(target=book) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(numbers) == 8 and len(set(numbers)) == 1
    assert connect(server).stats().stats.booked == 1


@pytest.mark.parametrize("name", SEAT_SERVERS)
@pytest.mark.parametrize("sync", ["os", "fsync"])
def test_db_survives_sigterm_restart_and_kill_9(
    start_native: StartNative, tmp_path: Path, name: str, sync: str
) -> None:
    db = tmp_path / "seats.csv"
    server = start_native(name, capacity=20, db_path=db, sync=sync)
    c = connect(server)
    held = {u: c.book(u).seat.number for u in (new_uuid() for _ in range(5))}
    gone = next(iter(held))
    c.cancel(gone)
    del held[gone]
    c.close()
    assert server.stop() == 0  # SIGTERM: exit 0
    assert db.read_text().splitlines()[0] == "number,uuid"
    server = start_native(name, capacity=20, db_path=db, sync=sync)
    c = connect(server)
    assert c.stats().stats.booked == 4
    for uuid, number in held.items():
        assert c.book(uuid).seat.number == number  # restored: the same seats, none taken twice
    late = new_uuid()
    held[late] = c.book(late).seat.number  # acknowledged: in the file before the answer
    server.kill()  # kill -9
    server = start_native(name, capacity=20, db_path=db, sync=sync)
    c = connect(server)
    assert c.stats().stats.booked == 5
    assert all(c.book(u).seat.number == n for u, n in held.items())


@pytest.mark.parametrize("name", SEAT_SERVERS)
def test_torn_last_line_is_cut_and_corrupt_db_is_named(
    start_native: StartNative, native_build: Path, tmp_path: Path, name: str
) -> None:
    uuid = new_uuid()
    db = tmp_path / "seats.csv"
    db.write_text(f"number,uuid\n3,{uuid}\n4,{new_uuid()[:10]}")  # a torn last line
    server = start_native(name, capacity=10, db_path=db)
    assert "torn" in server.stderr_text()
    assert db.read_text() == f"number,uuid\n3,{uuid}\n"  # cut before anything is appended
    assert connect(server).book(uuid).seat.number == 3
    server.stop()
    for text, what in [
        (f"number,uuid\n3,{uuid}\nthree,{new_uuid()}\n", "line 3: not 'number,uuid'"),
        (f"number,uuid\n11,{uuid}\n", "line 2: seat number 11 is outside 1..10"),
        (f"number,uuid\n1,{uuid}\n2,{uuid}\n", "line 3: seat 2 / uuid"),
        ("seat,who\n", "line 1: expected the header"),
    ]:
        db.write_text(text)
        done = subprocess.run(
            [str(native_build / f"native_{name}"), "--port", "0", "--capacity", "10", "--db-path", str(db)],
            capture_output=True,
            text=True,
            timeout=20,
            check=False,
        )
        assert done.returncode == 1 and str(db) in done.stderr and what in done.stderr, done.stderr


@pytest.mark.parametrize("name", native.SERVERS)
@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--port", "70000"], "--port"),
        (["--capacity", "0"], "--capacity"),
        (["--delay", "-1"], "--delay"),
        (["--threads", "x"], "--threads"),
        (["--sync", "never"], "--sync"),
        (["--colour", "red"], "--colour"),
        (["--backend", "fibers"], "--backend"),
    ],
)
def test_bad_flag_exits_2_naming_it(native_build: Path, name: str, args: list[str], named: str) -> None:
    done = subprocess.run(
        [str(native_build / f"native_{name}"), *args], capture_output=True, text=True, timeout=20, check=False
    )
    assert done.returncode == 2 and named in done.stderr, done.stderr


@pytest.mark.parametrize("name", SEAT_SERVERS)
def test_sigterm_finishes_the_request_in_its_delay(start_native: StartNative, name: str) -> None:
    server = start_native(name, delay_ms=800)
    c = connect(server)
    uuid = new_uuid()
    c.send(book_request(1, uuid))
    threading.Timer(0.3, lambda: server.popen.send_signal(signal.SIGTERM)).start()  # type: ignore[union-attr]
    answer = c.receive()
    assert answer.id == 1 and answer.seat.uuid == uuid  # started before the stop: answered
    assert server.popen is not None and server.popen.wait(15) == 0


def test_calibrate_answers_every_frame_with_the_fixed_seat(start_native: StartNative) -> None:
    server = start_native("calibrate")
    c = connect(server)
    c.send(b"".join(book_request(i, new_uuid()) for i in range(1, 6)) + frame(b"not even protobuf"))
    answers = [c.receive() for _ in range(6)]
    assert all(a.id == 1 and a.seat.number == 1 for a in answers)
    assert answers[0].seat.uuid == "00000000-0000-4000-8000-000000000001"
    c.send(encode_varint(1 << 20))
    assert c.receive().error.code == seat_pb2.Error.FRAME_TOO_LARGE


@pytest.mark.parametrize("name", SEAT_SERVERS)
def test_a_short_write_is_cut_back_answered_internal_and_served_on(
    start_native: StartNative, tmp_path: Path, name: str
) -> None:
    """A file size limit makes the same short write as a full disk: the line is cut off the file,
    the booking undone and answered INTERNAL; once the limit is lifted the server books again."""
    import resource

    db = tmp_path / "seats.csv"
    server = start_native(name, capacity=100, db_path=db)
    assert server.popen is not None
    limit = len(db.read_bytes()) + 3 * 39 + 20  # the header, three whole lines and part of a fourth
    resource.prlimit(server.popen.pid, resource.RLIMIT_FSIZE, (limit, resource.RLIM_INFINITY))
    c = connect(server)
    held = {}
    for _ in range(3):
        uuid = new_uuid()
        held[uuid] = c.book(uuid).seat.number
    refused = c.book(new_uuid())
    assert refused.error.code == seat_pb2.Error.INTERNAL and str(db) in refused.error.message
    assert db.read_text().endswith("\n") and len(db.read_text().splitlines()) == 4  # cut back whole
    assert c.stats().stats.booked == 3  # undone in memory too
    resource.prlimit(
        server.popen.pid, resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY)
    )
    late = new_uuid()
    held[late] = c.book(late).seat.number
    server.kill()
    server = start_native(name, capacity=100, db_path=db)
    c = connect(server)
    assert c.stats().stats.booked == 4 and all(c.book(u).seat.number == n for u, n in held.items())
