"""A blocking test client for the server suite (imported by its tests; a unique module name, not conftest)."""

from __future__ import annotations

import socket
import uuid as uuidlib
from collections.abc import Callable

from seatlab.harness.process import ServerProcess
from seatlab.protocol import seat_pb2
from seatlab.protocol.codec import FrameDecoder, encode
from seatlab.protocol.messages import book_request, parse_response

SERVING_BACKENDS = ["tpool", "tpool_dispatch", "coro", "event"]
IO_TIMEOUT_S = 15.0


class Client:
    """A blocking test client on one connection: frames out, parsed Responses in."""

    def __init__(self, host: str, port: int, timeout: float = IO_TIMEOUT_S) -> None:
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.decoder = FrameDecoder()
        self.next_id = 1

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def receive(self) -> seat_pb2.Response:
        """The next Response; AssertionError if the server closes first."""
        while (payload := self.decoder.next_frame()) is None:
            data = self.sock.recv(65536)
            assert data, "the server closed the connection before answering"
            self.decoder.feed(data)
        return parse_response(payload)

    def at_eof(self) -> bool:
        """True once the server has closed its side (after any answers still unread)."""
        try:
            data = self.sock.recv(65536)
        except ConnectionResetError:
            return True
        if data:
            self.decoder.feed(data)
            return False
        return True

    def _id(self) -> int:
        rid = self.next_id
        self.next_id += 1
        return rid

    def book(self, uuid: str) -> seat_pb2.Response:
        self.send(book_request(self._id(), uuid))
        return self.receive()

    def cancel(self, uuid: str) -> seat_pb2.Response:
        request = seat_pb2.Request(id=self._id())
        request.cancel.uuid = uuid
        self.send(encode(request))
        return self.receive()

    def stats(self) -> seat_pb2.Response:
        request = seat_pb2.Request(id=self._id())
        request.stats.SetInParent()
        self.send(encode(request))
        return self.receive()

    def close(self) -> None:
        self.sock.close()


def new_uuid() -> str:
    return str(uuidlib.uuid4())


StartServer = Callable[..., ServerProcess]
Connect = Callable[[ServerProcess], Client]
