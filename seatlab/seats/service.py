"""The one service function: request payloads in, their answers' frames out.

No sockets, no event loop, no delay: every backend spends the delay its own
way, then calls ``SeatService.answer`` with the requests a
``ServerConnection`` handed out and writes what it returns: the answers,
already durable as promised (with ``--sync fsync`` one commit for the
batch; if it fails, ``Error{INTERNAL}`` for each request instead). The loop
backends share one commit among every connection of a loop iteration
(``seatlab.server.pacing.GroupCommit``): they call ``handle_all`` and commit through it.
"""

from __future__ import annotations

import logging

from google.protobuf.message import DecodeError

from seatlab.protocol import seat_pb2
from seatlab.protocol.codec import encode
from seatlab.protocol.messages import (
    BOOK_TAG,
    UUID_CLASSES,
    UUID_SHAPE,
    ErrorCode,
    canonical_uuid,
    error_frame,
    id_field,
    id_of,
    match_plain,
    parse_request,
    released_answer,
    seat_answer,
    sold_out_answer,
)
from seatlab.seats.shared import SharedSeatStore
from seatlab.seats.store import SeatStore

log = logging.getLogger(__name__)


class SeatService:
    """Dispatch of requests to the seat store."""

    def __init__(self, store: SeatStore | SharedSeatStore) -> None:
        self.store = store
        journal = store.journal
        self.needs_commit = journal is not None and journal.sync == "fsync"

    def handle(self, payload: bytes) -> bytes:
        """Answer one correctly framed request; never raises.

        The hot path, a plain Book or Cancel in lower case (``match_plain`` and the uuid's shape: one
        regex match and one translate, no protobuf objects), is written out here rather than through helpers: at ~100k requests/s every
        Python call is a measurable share of the server's CPU (experiments/ceiling/README.md).
        """
        match = match_plain(payload)
        if match is not None and (parts := match.groups())[2].translate(UUID_CLASSES) == UUID_SHAPE:
            field, tag, raw = parts  # raw: a canonical lower-case uuid (upper case takes the general path)
            if field is None:
                field = b""  # id 0: proto3 leaves the field out, so does the answer
            uuid = raw.decode("ascii")
            store = self.store
            try:
                if tag == BOOK_TAG:
                    number = store.book(uuid)
                    if number:
                        return seat_answer(field, number, raw)
                    return sold_out_answer(field, store.capacity)
                number = store.cancel(uuid)
                if number:
                    return released_answer(field, number)
                return _not_found(field, uuid)
            except Exception as exc:
                return self._internal(id_of(field), exc)
        try:
            request = parse_request(payload)
        except DecodeError as exc:
            return error_frame(0, ErrorCode.BAD_REQUEST, f"not a Request message: {exc}")
        try:
            return self._dispatch(request)
        except Exception as exc:
            return self._internal(request.id, exc)

    def _internal(self, rid: int, exc: Exception) -> bytes:
        # a bug or a failing disk answers INTERNAL; it must not kill the connection loop
        log.exception("request %d failed", rid)
        return error_frame(rid, ErrorCode.INTERNAL, f"internal error: {type(exc).__name__}: {exc}")

    def _book(self, field: bytes, uuid: str) -> bytes:
        """Book for a canonical lower-case uuid; ``field`` is the encoded request id the answer echoes."""
        number = self.store.book(uuid)
        if number:
            return seat_answer(field, number, uuid.encode("ascii"))
        return sold_out_answer(field, self.store.capacity)

    def _cancel(self, field: bytes, uuid: str) -> bytes:
        """Cancel for a canonical lower-case uuid; ``field`` as for ``_book``."""
        number = self.store.cancel(uuid)
        if number:
            return released_answer(field, number)
        return _not_found(field, uuid)

    def _dispatch(self, request: seat_pb2.Request) -> bytes:
        """The general path: any request protobuf parses (the plain Book and Cancel took the fast one)."""
        op = request.WhichOneof("op")
        rid = request.id
        if op == "book" or op == "cancel":
            text = request.book.uuid if op == "book" else request.cancel.uuid
            uuid = canonical_uuid(text)
            if uuid is None:
                return _bad_uuid(rid, op, text)
            return (self._book if op == "book" else self._cancel)(id_field(rid), uuid)
        if op == "stats":
            capacity, booked = self.store.stats()
            response = seat_pb2.Response(id=rid)
            response.stats.capacity = capacity
            response.stats.booked = booked
            return encode(response)
        return error_frame(rid, ErrorCode.BAD_REQUEST, "Request has no op set (book, cancel or stats)")

    def answer(self, payloads: list[bytes]) -> bytes:
        """The answers to ``payloads``, in order, committed: what a backend may send."""
        handle = self.handle
        answers = handle(payloads[0]) if len(payloads) == 1 else b"".join([handle(p) for p in payloads])
        if not self.needs_commit:
            return answers
        return self.commit_answers(answers, payloads)

    def handle_all(self, payloads: list[bytes]) -> bytes:
        """The answers to ``payloads``, in order, not yet committed (a group commit follows)."""
        handle = self.handle
        if len(payloads) == 1:
            return handle(payloads[0])
        return b"".join([handle(p) for p in payloads])

    def commit(self) -> None:
        """Make the changes so far durable (a no-op unless ``--sync fsync``)."""
        if self.needs_commit:
            self.store.commit()

    def commit_answers(self, answers: bytes, payloads: list[bytes]) -> bytes:
        """What to send after ``handle()`` of ``payloads`` gave ``answers``: commit first.

        If the commit (fsync) fails, none of those answers may claim durability:
        each request gets ``Error{INTERNAL}`` instead, and the next commit tries again.
        """
        if not self.needs_commit:
            return answers
        try:
            self.store.commit()
        except Exception as exc:
            log.exception("commit of the db file failed: %d requests answered INTERNAL", len(payloads))
            return failed_commit_answers(payloads, exc)
        return answers


def failed_commit_answers(payloads: list[bytes], exc: BaseException) -> bytes:
    """One ``Error{INTERNAL}`` per request (payload) whose answers a failed commit held back."""
    return internal_answers(payloads, f"commit of the db file failed: {type(exc).__name__}: {exc}")


def shutting_down_answers(payloads: list[bytes]) -> bytes:
    """One ``Error{INTERNAL}`` per request that arrived but was not started before the shutdown."""
    return internal_answers(payloads, "shutting down: request not started")


def internal_answers(payloads: list[bytes], why: str) -> bytes:
    """One ``Error{INTERNAL}`` "internal error: ``why``" per request (payload), each with its id."""
    message = f"internal error: {why}"
    return b"".join(error_frame(_request_id(p), ErrorCode.INTERNAL, message) for p in payloads)


def _request_id(payload: bytes) -> int:
    """The id of a request payload, 0 if it does not parse (the failure path only: protobuf is fine)."""
    try:
        return int(parse_request(payload).id)
    except DecodeError:  # a payload that handle() already answered as malformed
        return 0


def _bad_uuid(rid: int, op: str, text: str) -> bytes:
    return error_frame(
        rid, ErrorCode.BAD_REQUEST, f"{op}: uuid {text[:60]!r} is not canonical 8-4-4-4-12 hexadecimal"
    )


def _not_found(field: bytes, uuid: str) -> bytes:
    """A Cancel's ``Error{NOT_FOUND}`` for an id field (the hot path) and a canonical uuid."""
    return error_frame(id_of(field), ErrorCode.NOT_FOUND, f"cancel: uuid {uuid} holds no seat")
