"""A blocking client that writes down what it sent and what came back, for a failure to show.

How this works: every check talks to the server through ``Wire`` objects
(one per connection). Each send and each answer, EOF, reset or timeout is
appended to the check's shared ``Transcript`` in readable form (``Request``
frames decoded to protobuf text, anything else as hex), so a failed check
can print the exchange that broke it. Reading goes through the project's
``FrameDecoder``, so the framing rules are the ones every backend uses.
A problem on the wire (the server closed, reset, sent a bad frame, or said
nothing within the timeout) raises ``CheckFailed`` with that said plainly.
"""

from __future__ import annotations

import contextlib
import socket
import time
import uuid as uuidlib
from dataclasses import dataclass, field

from google.protobuf import text_format
from google.protobuf.message import DecodeError

from seatlab.protocol import seat_pb2
from seatlab.protocol.codec import FrameDecoder, FrameError, encode
from seatlab.protocol.messages import book_request, parse_request, parse_response

_SHOWN_BYTES = 48
_SHOWN_FRAMES = 3


class CheckFailed(AssertionError):
    """The server broke the contract; the message says what was expected and what came."""


class CheckSkipped(Exception):
    """The check cannot run against this server; the message says why."""


def new_uuid() -> str:
    """A fresh random canonical uuid (lower case)."""
    return str(uuidlib.uuid4())


def one_line(message: seat_pb2.Request | seat_pb2.Response) -> str:
    """``Response{id: 3 seat {number: 1 uuid: "..."}}``: a message as one line of protobuf text."""
    text = text_format.MessageToString(message, as_one_line=True)
    return f"{type(message).__name__}{{{text}}}"


def _hex(data: bytes) -> str:
    shown = data[:_SHOWN_BYTES].hex(" ")
    return shown + (f" ... ({len(data)} bytes)" if len(data) > _SHOWN_BYTES else "")


def describe_sent(data: bytes) -> str:
    """What ``data`` says to a server: its frames as Requests where they are plain ones, else hex."""
    decoder = FrameDecoder()
    decoder.feed(data)
    parts: list[str] = []
    frames = 0
    try:
        while (payload := decoder.next_frame()) is not None:
            frames += 1
            if len(parts) < _SHOWN_FRAMES:
                parts.append(_describe_payload(payload))
    except FrameError as exc:
        rest = data[len(data) - decoder.buffered :]
        parts.append(f"bytes that are not a valid frame ({exc.message}): {_hex(rest)}")
        return ", then ".join(parts) if frames <= _SHOWN_FRAMES else f"{frames} frames, then " + parts[-1]
    tail = decoder.buffered
    if frames > _SHOWN_FRAMES:
        parts.append(f"... {frames} frames in all")
    if tail:
        rest = data[len(data) - tail :]
        parts.append(f"{tail} bytes of an unfinished frame: {_hex(rest)}")
    return ", ".join(parts) if parts else "nothing"


def _describe_payload(payload: bytes) -> str:
    try:
        request = parse_request(payload)
    except DecodeError:
        return f"frame of {len(payload)} bytes that is not a Request: {_hex(payload)}"
    if request.SerializeToString() != payload:
        return f"frame of {len(payload)} bytes (as a Request: {one_line(request)[:200]}): {_hex(payload)}"
    return one_line(request)


@dataclass
class Transcript:
    """The exchanges of one check, in order, over all its connections."""

    lines: list[str] = field(default_factory=list)
    connections: int = 0

    def add(self, line: str) -> None:
        self.lines.append(line)

    def tail(self, n: int = 16) -> list[str]:
        """The last ``n`` lines, with a note of how many came before."""
        if len(self.lines) <= n:
            return list(self.lines)
        return [f"... {len(self.lines) - n} earlier lines", *self.lines[-n:]]


class Wire:
    """One connection to the server under test; every exchange goes into the transcript."""

    def __init__(self, host: str, port: int, transcript: Transcript, timeout_s: float) -> None:
        transcript.connections += 1
        self.label = f"c{transcript.connections}"
        self.transcript = transcript
        self.timeout_s = timeout_s
        try:
            self.sock = socket.create_connection((host, port), timeout=timeout_s)
        except OSError as exc:
            transcript.add(f"{self.label} cannot connect to {host}:{port}: {exc}")
            raise CheckFailed(f"cannot connect to {host}:{port}: {exc}") from None
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.decoder = FrameDecoder()
        self.next_id = 1

    def note(self, text: str) -> None:
        self.transcript.add(f"{self.label} {text}")

    def send(self, data: bytes, what: str | None = None) -> None:
        """Send ``data`` (all of it); ``what`` describes it instead of decoding it."""
        self.note(f"sent     {what or describe_sent(data)}")
        try:
            self.sock.sendall(data)
        except OSError as exc:
            self.note(f"send failed: {exc}")
            raise CheckFailed(f"{self.label}: sending failed: {exc}") from None

    def take_id(self) -> int:
        rid = self.next_id
        self.next_id += 1
        return rid

    def receive(self, what: str = "an answer") -> seat_pb2.Response:
        """The next Response; ``CheckFailed`` if the server closes, resets, misframes or stays silent."""
        while True:
            try:
                payload = self.decoder.next_frame()
            except FrameError as exc:
                self.note(f"received a bad frame: {exc.message}")
                raise CheckFailed(
                    f"{self.label}: expected {what}, the server sent a bad frame: {exc}"
                ) from None
            if payload is not None:
                break
            data = self._recv(what)
            if not data:
                self.note("received EOF (the server closed the connection)")
                raise CheckFailed(f"{self.label}: expected {what}, the server closed the connection")
            self.decoder.feed(data)
        try:
            response = parse_response(payload)
        except DecodeError:
            self.note(f"received a frame that is not a Response: {_hex(payload)}")
            raise CheckFailed(f"{self.label}: expected {what}, got a frame that is not a Response") from None
        self.note(f"received {one_line(response)}")
        return response

    def _recv(self, what: str) -> bytes:
        try:
            return self.sock.recv(65536)
        except TimeoutError:
            self.note(f"received nothing within {self.timeout_s:g} s")
            raise CheckFailed(
                f"{self.label}: expected {what}, nothing came within {self.timeout_s:g} s"
            ) from None
        except OSError as exc:
            self.note(f"receive failed: {exc}")
            raise CheckFailed(f"{self.label}: expected {what}, the connection failed: {exc}") from None

    def receive_many(self, n: int, what: str = "answers") -> list[seat_pb2.Response]:
        """The next ``n`` Responses (the transcript keeps the first few and the last)."""
        out = []
        for i in range(n):
            out.append(self.receive(f"{what} ({i + 1} of {n})"))
        return out

    def at_eof(self, timeout_s: float | None = None) -> bool:
        """True if the server has closed its side, with nothing more to read (waits up to the timeout)."""
        wait = self.timeout_s if timeout_s is None else timeout_s
        start = time.monotonic()
        self.sock.settimeout(wait)
        try:
            data = self.sock.recv(65536)
        except TimeoutError:
            self.note(f"still open after {wait:g} s")
            return False
        except ConnectionResetError:
            self.note("received a reset (the server closed the connection)")
            return True
        finally:
            self.sock.settimeout(self.timeout_s)
        if data:
            self.decoder.feed(data)
            self.note(f"received {len(data)} more bytes: {_hex(data)}")
            return False
        self.note(f"received EOF (the server closed the connection) after {time.monotonic() - start:.2f} s")
        return True

    def request(self, request: seat_pb2.Request) -> seat_pb2.Response:
        """Send one Request and read its answer."""
        self.send(encode(request), one_line(request))
        return self.receive(f"the answer to request {request.id}")

    def book(self, uuid: str, rid: int | None = None) -> seat_pb2.Response:
        rid = self.take_id() if rid is None else rid
        self.send(book_request(rid, uuid), f'Request{{id: {rid} book {{uuid: "{uuid}"}}}}')
        return self.receive(f"the answer to Book {uuid} (id {rid})")

    def cancel(self, uuid: str, rid: int | None = None) -> seat_pb2.Response:
        request = seat_pb2.Request(id=self.take_id() if rid is None else rid)
        request.cancel.uuid = uuid
        return self.request(request)

    def stats(self, rid: int | None = None) -> seat_pb2.Response:
        request = seat_pb2.Request(id=self.take_id() if rid is None else rid)
        request.stats.SetInParent()
        return self.request(request)

    def shutdown_write(self) -> None:
        """Half-close: the server sees EOF, this side can still read."""
        self.note("shut down its write side (half-close)")
        self.sock.shutdown(socket.SHUT_WR)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()


def stats_request(rid: int) -> bytes:
    """The frame of ``Request{id, stats{}}``."""
    request = seat_pb2.Request(id=rid)
    request.stats.SetInParent()
    return encode(request)


def kind(response: seat_pb2.Response) -> str:
    """Which result the Response holds (``seat``, ``sold_out``, ..., or ``nothing``)."""
    return response.WhichOneof("result") or "nothing"
