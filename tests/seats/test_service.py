"""The service function with bytes only: every answer kind and every bad request."""

from __future__ import annotations

import os
from pathlib import Path

from seatlab.protocol import seat_pb2
from seatlab.protocol.codec import FrameDecoder, encode
from seatlab.protocol.messages import book_request, parse_response
from seatlab.seats.service import SeatService, shutting_down_answers
from seatlab.seats.store import SeatStore

U1 = "123E4567-E89B-12D3-A456-426614174000"
U2 = "223e4567-e89b-12d3-a456-426614174000"


def ask(service: SeatService, request_frame: bytes) -> seat_pb2.Response:
    decoder = FrameDecoder()
    decoder.feed(request_frame)
    payload = decoder.next_frame()
    assert payload is not None
    decoder.feed(service.handle(payload))
    answer = decoder.next_frame()
    assert answer is not None and decoder.buffered == 0
    return parse_response(answer)


def request(**kwargs: object) -> bytes:
    return encode(seat_pb2.Request(**kwargs))  # type: ignore[arg-type]


def test_book_lowercases_and_is_idempotent() -> None:
    service = SeatService(SeatStore(2))
    first = ask(service, book_request(1, U1))
    assert (first.id, first.seat.number, first.seat.uuid) == (1, 1, U1.lower())
    again = ask(service, book_request(2, U1.lower()))
    assert (again.id, again.seat.number) == (2, 1)
    assert ask(service, request(id=3, stats=seat_pb2.Stats())).stats == seat_pb2.StatsReply(
        capacity=2, booked=1
    )


def test_sold_out_cancel_and_rebook() -> None:
    service = SeatService(SeatStore(1))
    assert ask(service, book_request(1, U1)).seat.number == 1
    sold = ask(service, book_request(2, U2))
    assert sold.WhichOneof("result") == "sold_out" and sold.sold_out.capacity == 1
    released = ask(service, request(id=3, cancel=seat_pb2.Cancel(uuid=U1)))
    assert released.released.number == 1
    assert ask(service, book_request(4, U2)).seat.number == 1


def test_cancel_unknown_is_not_found() -> None:
    answer = ask(SeatService(SeatStore(1)), request(id=9, cancel=seat_pb2.Cancel(uuid=U1)))
    assert answer.id == 9 and answer.error.code == seat_pb2.Error.NOT_FOUND
    assert U1.lower() in answer.error.message


def test_bad_requests_name_the_problem() -> None:
    service = SeatService(SeatStore(1))
    no_op = ask(service, request(id=5))
    assert no_op.id == 5 and no_op.error.code == seat_pb2.Error.BAD_REQUEST and "no op" in no_op.error.message
    bad_uuid = ask(service, request(id=6, book=seat_pb2.Book(uuid="{" + U1 + "}")))
    assert bad_uuid.id == 6 and bad_uuid.error.code == seat_pb2.Error.BAD_REQUEST
    assert "not canonical" in bad_uuid.error.message
    garbage = parse_response(service.handle(b"\xff\xff\xff")[1:])
    assert garbage.id == 0 and garbage.error.code == seat_pb2.Error.BAD_REQUEST
    assert "not a Request" in garbage.error.message
    assert service.store.stats() == (1, 0)


def test_a_failed_commit_answers_internal_for_each_request(tmp_path: Path) -> None:
    from seatlab.seats.journal import Journal

    journal, seats = Journal.open(tmp_path / "db.csv", 5, sync="fsync")
    service = SeatService(SeatStore(5, journal, seats))
    payloads = [book_request(7, U1)[1:], book_request(8, U2)[1:]]
    answers = service.answer(payloads)  # the fsync works: the answers go out, in order
    assert [(r.id, r.seat.uuid) for r in _responses(answers)] == [(7, U1.lower()), (8, U2)]
    # the db file's descriptor becomes a pipe: writes still succeed, fsync fails for real (EINVAL)
    read_end, write_end = os.pipe()
    os.dup2(write_end, journal._fd)
    payloads = [book_request(9, "323e4567-e89b-12d3-a456-426614174000")[1:]]
    (failed,) = _responses(service.answer(payloads))
    assert failed.id == 9 and failed.error.code == seat_pb2.Error.INTERNAL
    assert "commit of the db file failed" in failed.error.message
    assert service.store.stats() == (5, 3)  # the booking itself stands: a retry gets the same seat
    for fd in (journal._fd, read_end, write_end):
        os.close(fd)
    journal._fd = -1


def _responses(data: bytes) -> list[seat_pb2.Response]:
    decoder = FrameDecoder()
    decoder.feed(data)
    out = []
    while (payload := decoder.next_frame()) is not None:
        out.append(parse_response(payload))
    assert decoder.buffered == 0
    return out


def test_answer_is_every_handle_in_order_and_shutting_down_refuses_each() -> None:
    service = SeatService(SeatStore(1))
    payloads = [book_request(1, U1)[1:], book_request(2, U2)[1:], b"\xff", request(id=4)[1:]]
    answers = _responses(service.answer(payloads))
    assert [r.WhichOneof("result") for r in answers] == ["seat", "sold_out", "error", "error"]
    assert [r.id for r in answers] == [1, 2, 0, 4]
    refused = _responses(shutting_down_answers(payloads))
    assert [(r.id, r.error.code) for r in refused] == [(i, seat_pb2.Error.INTERNAL) for i in (1, 2, 0, 4)]
    assert all("shutting down" in r.error.message for r in refused)
    assert service.store.stats() == (1, 1)  # refusing books nothing


def test_a_plain_shaped_request_with_a_wrong_uuid_takes_the_general_path() -> None:
    """36 bytes in the uuid's place that are not a canonical uuid: refused as the protobuf path says."""
    service = SeatService(SeatStore(10))
    wrong = [
        "g" + U1[1:],  # not hex
        U1[:8] + "0" + U1[9:13] + "-" + U1[14:],  # a dash moved
        U1.replace("-", "0"),  # no dashes (36 hex digits)
    ]
    for n, text in enumerate(wrong, 1):
        for op in ("book", "cancel"):
            kwargs = {op: (seat_pb2.Book if op == "book" else seat_pb2.Cancel)(uuid=text)}
            got = ask(service, request(id=n, **kwargs))
            assert got.id == n and got.error.code == seat_pb2.Error.BAD_REQUEST, (op, text)
            assert "not canonical" in got.error.message
    # not UTF-8 in the uuid's place: protobuf refuses the message itself
    body = b"\x12\x26\x0a\x24" + b"\xff" * 36
    garbage = parse_response(service.handle(b"\x08\x07" + body)[1:])
    assert garbage.error.code == seat_pb2.Error.BAD_REQUEST and "not a Request" in garbage.error.message
    assert service.store.stats() == (10, 0)
    upper = ask(service, request(id=9, book=seat_pb2.Book(uuid=U1.upper())))
    assert (
        upper.seat.uuid == U1.lower()
    )  # upper-case hex is canonical: the general path (protobuf) lowercases it
