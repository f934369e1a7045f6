"""A small seat server with one deliberate flaw, for showing that the conformance command fails it.

``python tests/conformance/flawed_server.py --port 0 --capacity 200 --flaw double-book``.
Without a flaw (``--flaw none``) it keeps the rules the checks it is run
with test: one thread per connection, the project's framing, an in-memory
store under one lock, ``READY <host> <port>``, exit 0 on SIGTERM (no db
file: it is never run with the persistence checks). The flaws:

- ``double-book``: a Book of a uuid that holds a seat takes another seat
  (the idempotency rule broken, as a server that forgets to look first);
- ``oversized-close``: a length prefix above 65536 closes the connection
  without the ``Error{FRAME_TOO_LARGE}``;
- ``oversized-crash``: a length prefix above 65536 kills the whole process
  (exit 3), as a server that asserts on it.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import socketserver
import sys
import threading
from types import FrameType

from seatlab.protocol import seat_pb2
from seatlab.protocol.codec import FrameDecoder, FrameError, encode
from seatlab.protocol.messages import ErrorCode, canonical_uuid, error_frame, parse_request

FLAWS = ["none", "double-book", "oversized-close", "oversized-crash"]


class Store:
    """Seats 1..capacity under one lock; ``double_book`` breaks idempotency on purpose."""

    def __init__(self, capacity: int, double_book: bool) -> None:
        self.capacity = capacity
        self.double_book = double_book
        self.lock = threading.Lock()
        self.by_uuid: dict[str, int] = {}
        self.free = list(range(capacity, 0, -1))

    def book(self, uuid: str) -> int:
        with self.lock:
            if uuid in self.by_uuid and not self.double_book:
                return self.by_uuid[uuid]
            if not self.free:
                return 0
            number = self.free.pop()
            self.by_uuid[uuid] = number
            return number

    def cancel(self, uuid: str) -> int:
        with self.lock:
            number = self.by_uuid.pop(uuid, 0)
            if number:
                self.free.append(number)
            return number


def answer(store: Store, payload: bytes) -> bytes:
    try:
        request = parse_request(payload)
    except Exception as exc:
        return error_frame(0, ErrorCode.BAD_REQUEST, f"not a Request: {exc}")
    op = request.WhichOneof("op")
    response = seat_pb2.Response(id=request.id)
    if op == "stats":
        response.stats.capacity = store.capacity
        response.stats.booked = len(store.by_uuid)
        return encode(response)
    if op not in ("book", "cancel"):
        return error_frame(request.id, ErrorCode.BAD_REQUEST, "no op")
    uuid = canonical_uuid(request.book.uuid if op == "book" else request.cancel.uuid)
    if uuid is None:
        return error_frame(request.id, ErrorCode.BAD_REQUEST, "uuid is not canonical")
    if op == "book":
        number = store.book(uuid)
        if number:
            response.seat.number = number
            response.seat.uuid = uuid
        else:
            response.sold_out.capacity = store.capacity
        return encode(response)
    number = store.cancel(uuid)
    if not number:
        return error_frame(request.id, ErrorCode.NOT_FOUND, f"{uuid} holds no seat")
    response.released.number = number
    return encode(response)


def make_handler(store: Store, flaw: str) -> type[socketserver.BaseRequestHandler]:
    class Handler(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            sock: socket.socket = self.request
            decoder = FrameDecoder()
            while data := sock.recv(65536):
                decoder.feed(data)
                try:
                    while (payload := decoder.next_frame()) is not None:
                        sock.sendall(answer(store, payload))
                except FrameError as exc:
                    if exc.code == ErrorCode.FRAME_TOO_LARGE and flaw == "oversized-crash":
                        os._exit(3)
                    if exc.code != ErrorCode.FRAME_TOO_LARGE or flaw != "oversized-close":
                        sock.sendall(error_frame(0, exc.code, exc.message))
                        sock.shutdown(socket.SHUT_WR)
                        sock.settimeout(1.0)  # a short lingering close: the Error arrives
                        try:
                            while sock.recv(65536):
                                pass
                        except OSError:
                            pass
                    return

    return Handler


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--address", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--capacity", type=int, default=5000)
    p.add_argument("--flaw", choices=FLAWS, default="none")
    args = p.parse_args()
    store = Store(args.capacity, args.flaw == "double-book")
    socketserver.ThreadingTCPServer.allow_reuse_address = True
    socketserver.ThreadingTCPServer.request_queue_size = 256  # the default 5 drops the checks' 100 connects
    server = socketserver.ThreadingTCPServer((args.address, args.port), make_handler(store, args.flaw))
    server.daemon_threads = True

    def stop(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    host, port = server.server_address[:2]
    print(f"READY {host} {port}", flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
